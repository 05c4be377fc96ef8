// PBFT reducer, incoming bytes: decode a peer's message (duplicate reveals are dropped by report hash
// before decoding) and hand it to the handler of its kind.
import { sha256Hex } from '../../proto/codec.ts';
import { decodeMessage, type ConsensusMessage } from '../../proto/consensus.ts';
import { onCertificate } from './certificate.ts';
import type { Ctx } from './context.ts';
import { onProof } from './equivocators.ts';
import { onPrior, onPriorRequest } from './prior.ts';
import { onProposal } from './proposal.ts';
import { ingestReveal, onInventory, onRequest } from './reports.ts';
import { onViewChange } from './view-change.ts';
import { onVote } from './votes.ts';

// The reveal frame is u8 wire version=2 | u8 tag=1 | u8 reveal version=1 | [32] salt | u32 len
// | canonical report | [64] sig: the report hash can be read before decoding, so the many duplicate
// deliveries of a reveal cost one sha256. Decoding is strict (one value, one encoding), so once the
// frame decodes, these raw bytes ARE the report's canonical encoding: its hash and signing bytes need
// no re-encoding.
function peekReveal(bytes: Uint8Array): { raw: Uint8Array; hash: string } | null {
  if (bytes.length < 39 || bytes[0] !== 2 || bytes[1] !== 1 || bytes[2] !== 1) return null;
  const len = ((bytes[35] << 24) | (bytes[36] << 16) | (bytes[37] << 8) | bytes[38]) >>> 0;
  if (39 + len + 64 !== bytes.length) return null;
  const raw = bytes.subarray(39, 39 + len);
  return { raw, hash: sha256Hex(raw) };
}

export function onBytes(c: Ctx, from: number, bytes: Uint8Array): void {
  const peek = peekReveal(bytes);
  if (peek !== null && c.s.reports[peek.hash]?.countable) return;
  let msg: ConsensusMessage;
  try {
    msg = decodeMessage(bytes);
  } catch (err) {
    c.reject(from, `undecodable message: ${(err as Error).message}`);
    return;
  }
  switch (msg.type) {
    case 'reveal':
      ingestReveal(c, msg.reveal, from, false, peek ?? undefined);
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
    case 'inventory':
      onInventory(c, msg, from);
      return;
    case 'equivocation':
      onProof(c, msg.proof, from);
      return;
    case 'request-prior':
      onPriorRequest(c, msg, from);
      return;
    case 'prior':
      onPrior(c, msg.evidence, from);
      return;
  }
}
