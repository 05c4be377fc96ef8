// The envelope: u8 version | u8 tag | body, for every consensus message (layout: ../consensus.ts).
import { CodecError, Reader, Writer, expectUint, fromHex, toHex } from '../codec.ts';
import { MAX_REVEAL_BYTES, decodeReveal, encodeReveal } from '../reveal.ts';
import { type ConsensusMessage, MAX_DECISION_BYTES, MAX_HASH_REQUEST, MAX_MEMBERS, MAX_MESSAGE_BYTES, type ViewChange, WIRE_VERSION } from './types.ts';
import { decodeDecision, encodeDecision } from './decision.ts';
import { readVote, writeVote } from './vote.ts';
import { readCertificate, readCertifiedRun, writeCertificate, writeCertifiedRun } from './certificate.ts';
import { readViewChange, writeViewChange } from './view-change.ts';
import { readProof, writeProof } from './equivocation.ts';

const TAGS: Record<ConsensusMessage['type'], number> = {
  reveal: 1, proposal: 2, vote: 3, certificate: 4, 'view-change': 5, 'request-reports': 6, equivocation: 7, 'request-prior': 8, prior: 9, inventory: 10,
};

// ---- envelope ----

function writeHashes(w: Writer, netuid: number, runId: number, hashes: string[], what: string): void {
  if (hashes.length > MAX_HASH_REQUEST) throw new CodecError(`${what}: too many hashes`);
  w.u16(expectUint(netuid, 'netuid', 0xffff)).u64(expectUint(runId, 'runId')).u16(hashes.length);
  for (const h of hashes) w.fixed(fromHex(h, 32, 'report hash'), 32);
}

function readHashes(r: Reader, what: string): { netuid: number; runId: number; hashes: string[] } {
  const netuid = r.u16();
  const runId = r.u64();
  const n = r.u16();
  if (n > MAX_HASH_REQUEST) throw new CodecError(`${what}: too many hashes`);
  const hashes: string[] = [];
  for (let i = 0; i < n; i++) hashes.push(toHex(r.fixed(32)));
  return { netuid, runId, hashes };
}

export function encodeMessage(m: ConsensusMessage): Uint8Array {
  const w = new Writer().u8(WIRE_VERSION).u8(TAGS[m.type]);
  switch (m.type) {
    case 'reveal': {
      const b = encodeReveal(m.reveal);
      w.fixed(b, b.length);
      break;
    }
    case 'proposal': {
      const p = m.proposal;
      if (p.vote.phase !== 'propose') throw new CodecError('proposal: its vote must have phase propose');
      writeVote(w, p.vote);
      w.bytes(encodeDecision(p.decision));
      if (p.justification.length > MAX_MEMBERS) throw new CodecError('proposal: justification too long');
      w.u16(p.justification.length);
      for (const vc of p.justification) writeViewChange(w, vc);
      break;
    }
    case 'vote':
      writeVote(w, m.vote);
      break;
    case 'certificate':
      writeCertificate(w, m.cert);
      break;
    case 'view-change':
      writeViewChange(w, m.viewChange);
      break;
    case 'request-reports':
      writeHashes(w, m.netuid, m.runId, m.hashes, 'request-reports');
      break;
    case 'inventory':
      writeHashes(w, m.netuid, m.runId, m.hashes, 'inventory');
      break;
    case 'equivocation':
      writeProof(w, m.proof);
      break;
    case 'request-prior':
      w.u16(expectUint(m.netuid, 'netuid', 0xffff)).u64(expectUint(m.runId, 'runId')).u64(expectUint(m.priorRunId, 'prior runId'));
      w.fixed(fromHex(m.decisionHash, 32, 'prior decisionHash'), 32);
      break;
    case 'prior':
      writeCertifiedRun(w, m.evidence);
      break;
    default:
      throw new CodecError(`consensus message: unknown type ${(m as { type: string }).type}`);
  }
  return w.finish();
}

export function decodeMessage(bytes: Uint8Array): ConsensusMessage {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('consensus message: expected bytes');
  if (bytes.length > MAX_MESSAGE_BYTES) throw new CodecError(`consensus message: ${bytes.length} bytes exceed the limit`);
  const r = new Reader(bytes, 'consensus message');
  const version = r.u8();
  if (version !== WIRE_VERSION) throw new CodecError(`consensus message: unknown wire version ${version} (this node speaks ${WIRE_VERSION})`);
  const tag = r.u8();
  let m: ConsensusMessage;
  switch (tag) {
    case 1:
      if (r.remaining > MAX_REVEAL_BYTES) throw new CodecError('reveal: too long');
      m = { type: 'reveal', reveal: decodeReveal(r.fixed(r.remaining)) };
      break;
    case 2: {
      const vote = readVote(r);
      if (vote.phase !== 'propose') throw new CodecError('proposal: its vote must have phase propose');
      const decision = decodeDecision(r.bytes(MAX_DECISION_BYTES));
      const n = r.u16();
      if (n > MAX_MEMBERS) throw new CodecError('proposal: justification too long');
      const justification: ViewChange[] = [];
      for (let i = 0; i < n; i++) justification.push(readViewChange(r));
      m = { type: 'proposal', proposal: { vote, decision, justification } };
      break;
    }
    case 3:
      m = { type: 'vote', vote: readVote(r) };
      break;
    case 4:
      m = { type: 'certificate', cert: readCertificate(r) };
      break;
    case 5:
      m = { type: 'view-change', viewChange: readViewChange(r) };
      break;
    case 6:
      m = { type: 'request-reports', ...readHashes(r, 'request-reports') };
      break;
    case 7:
      m = { type: 'equivocation', proof: readProof(r) };
      break;
    case 8: {
      const netuid = r.u16();
      const runId = r.u64();
      const priorRunId = r.u64();
      m = { type: 'request-prior', netuid, runId, priorRunId, decisionHash: toHex(r.fixed(32)) };
      break;
    }
    case 9:
      m = { type: 'prior', evidence: readCertifiedRun(r) };
      break;
    case 10:
      m = { type: 'inventory', ...readHashes(r, 'inventory') };
      break;
    default:
      throw new CodecError(`consensus message: unknown tag ${tag}`);
  }
  r.end();
  return m;
}
