// PBFT reducer, incoming bytes: decode a peer's message (duplicate reports are dropped by hash
// before decoding) and hand it to the handler of its kind.
import { sha256Hex } from '../../proto/codec.ts';
import { decodeMessage, type ConsensusMessage } from '../../proto/consensus.ts';
import { onCertificate } from './certificate.ts';
import type { Ctx } from './context.ts';
import { onProof } from './equivocators.ts';
import { onProposal } from './proposal.ts';
import { ingestReport, onRequest } from './reports.ts';
import { onViewChange } from './view-change.ts';
import { onVote } from './votes.ts';

// The report frame is u8 version | u8 tag=1 | u32 len | canonical report | sig: its hash can be
// read before decoding, so the many duplicate deliveries of a report cost one sha256.
// Decoding is strict (one value, one encoding), so once the frame decodes, these raw bytes ARE the
// report's canonical encoding: its hash and signing bytes need no re-encoding.
function peekReport(bytes: Uint8Array): { raw: Uint8Array; hash: string } | null {
  if (bytes.length < 6 || bytes[0] !== 1 || bytes[1] !== 1) return null;
  const len = ((bytes[2] << 24) | (bytes[3] << 16) | (bytes[4] << 8) | bytes[5]) >>> 0;
  if (6 + len + 64 !== bytes.length) return null;
  const raw = bytes.subarray(6, 6 + len);
  return { raw, hash: sha256Hex(raw) };
}

export function onBytes(c: Ctx, from: number, bytes: Uint8Array): void {
  const peek = peekReport(bytes);
  if (peek !== null && c.s.reports[peek.hash]) return;
  let msg: ConsensusMessage;
  try {
    msg = decodeMessage(bytes);
  } catch (err) {
    c.reject(from, `undecodable message: ${(err as Error).message}`);
    return;
  }
  switch (msg.type) {
    case 'report':
      ingestReport(c, msg.signed, from, false, peek ?? undefined);
      return;
    case 'proposal':
      onProposal(c, msg.proposal, from);
      return;
    case 'vote':
      onVote(c, msg.vote, from);
      return;
    case 'certificate':
      onCertificate(c, msg.cert, from);
      return;
    case 'view-change':
      onViewChange(c, msg.viewChange, from);
      return;
    case 'request-reports':
      onRequest(c, msg, from);
      return;
    case 'equivocation':
      onProof(c, msg.proof, from);
      return;
  }
}
