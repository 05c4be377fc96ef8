// Consensus wire formats (owned by consensus/): decision, votes, proposals, certificates,
// view changes, report requests and equivocation proofs. Canonical bytes via proto/codec.ts.
//
// Envelope: u8 version=1 | u8 tag | body. Tags: 1 report, 2 proposal, 3 vote, 4 certificate,
// 5 view-change, 6 request-reports, 7 equivocation.
//
// Decision v1: u8 version=1 | u16 netuid | u64 runId | [32] rosterHash | [32] policyHash
//   | u32-len utf8 hardwareClass | u8 outcome (0 winner, 1 hold) | opt-u16 winnerUid | opt-u16 incumbentUid
//   | u16 n, n x (u16 uid, u32 weightPpm) | u16 n, n x (u16 uid, u64 score)
//   | u16 n, n x [32] report hash (ascending) | u64 countedPower | u64 totalPower
//   (opt-u16 = u8 present flag, then u16 when present)
// decisionHash = sha256(utf8("conclave/consensus-decision/v1") || 0x00 || decision bytes).
//
// Vote v1 (proposals are votes of phase 'propose'):
//   u8 phase (0 propose, 1 prepare, 2 commit) | u16 netuid | u64 runId | u32 view | [32] decisionHash
//   | [32] voter node key (ed25519) | [64] signature
// Signature = ed25519(node key, utf8("conclave/consensus-vote/v1") || 0x00 || first 47 bytes).
//
// ViewChange v1: u16 netuid | u64 runId | u32 newView | opt certificate (prepared lock)
//   | [32] voter | [64] signature
// Signature = ed25519(node key, utf8("conclave/consensus-view-change/v1") || 0x00 ||
//   u16 netuid | u64 runId | u32 newView | u8 hasLock | [u32 lockView | [32] lockDecisionHash]).
//
// Certificate v1: u8 phase (1 prepare, 2 commit) | u32 view | decision (u32-len) | u16 n, n x vote
//   (votes strictly ascending by voter key; each vote's phase/run/view/hash must match).
import { CodecError, Reader, Writer, expectUint, fromHex, sha256Hex, signingBytes, toHex } from './codec.ts';
import { MAX_SIGNED_REPORT_BYTES, decodeSignedScoreReport, encodeSignedScoreReport, type SignedScoreReport } from './score-report.ts';
import { MAX_BINDING_BYTES, decodeBinding, encodeBinding, type BindingRecord } from './binding.ts';

export const WIRE_VERSION = 1;
export const DECISION_DOMAIN = 'conclave/consensus-decision/v1';
export const VOTE_DOMAIN = 'conclave/consensus-vote/v1';
export const VIEW_CHANGE_DOMAIN = 'conclave/consensus-view-change/v1';
export const MAX_MEMBERS = 1024;
export const MAX_DECISION_SCORES = 4096;
export const MAX_HASH_REQUEST = 1024;
const MAX_DECISION_BYTES = 200 + 8 * 6 + MAX_DECISION_SCORES * 10 + MAX_MEMBERS * 32 + 16;
const VOTE_BYTES = 1 + 2 + 8 + 4 + 32 + 32 + 64;
const MAX_CERT_BYTES = 1 + 4 + 4 + MAX_DECISION_BYTES + 2 + MAX_MEMBERS * VOTE_BYTES;
export const MAX_MESSAGE_BYTES = 2 + MAX_DECISION_BYTES + 4 + VOTE_BYTES + 2 + MAX_MEMBERS * (2 + 8 + 4 + 1 + MAX_CERT_BYTES + 96);

export type Phase = 'propose' | 'prepare' | 'commit';
const PHASES: readonly Phase[] = ['propose', 'prepare', 'commit'];

export interface Weight {
  uid: number;
  weightPpm: number;
}

export interface Decision {
  version: 1;
  netuid: number;
  runId: number;
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  /** 'winner': a winner was chosen (possibly the incumbent, held within the margin); 'hold': no candidate or quorum miss, incumbent's weights held. */
  outcome: 'winner' | 'hold';
  /** Who receives the non-burn weight; null sends everything to the burn uid. */
  winnerUid: number | null;
  incumbentUid: number | null;
  weights: Weight[];
  /** Consensus scores of the miners that have one, ascending uid. */
  scores: { uid: number; score: number }[];
  /** The exact set of counted report hashes, ascending. */
  reportHashes: string[];
  countedPower: bigint;
  totalPower: bigint;
}

export interface Vote {
  phase: Phase;
  netuid: number;
  runId: number;
  view: number;
  decisionHash: string;
  /** ed25519 node key, hex. */
  voter: string;
  signature: string;
}

export interface Certificate {
  phase: 'prepare' | 'commit';
  view: number;
  decision: Decision;
  votes: Vote[];
}

export interface ViewChange {
  netuid: number;
  runId: number;
  newView: number;
  /** Highest prepared certificate the sender holds (its lock), if any. */
  prepared: Certificate | null;
  voter: string;
  signature: string;
}

export interface Proposal {
  /** The proposer's signed 'propose' vote on hash(decision). */
  vote: Vote;
  decision: Decision;
  /** For view > 0: view changes for this view from > threshold of voting power. */
  justification: ViewChange[];
}

export type EquivocationProof =
  | { kind: 'report'; a: SignedScoreReport; b: SignedScoreReport }
  /** Two votes by one node key, same run/view/phase, different decision; the binding attributes the key to a hotkey. */
  | { kind: 'vote'; a: Vote; b: Vote; binding: BindingRecord | null };

export type ConsensusMessage =
  | { type: 'report'; signed: SignedScoreReport }
  | { type: 'proposal'; proposal: Proposal }
  | { type: 'vote'; vote: Vote }
  | { type: 'certificate'; cert: Certificate }
  | { type: 'view-change'; viewChange: ViewChange }
  | { type: 'request-reports'; netuid: number; runId: number; hashes: string[] }
  | { type: 'equivocation'; proof: EquivocationProof };

const TAGS: Record<ConsensusMessage['type'], number> = {
  report: 1, proposal: 2, vote: 3, certificate: 4, 'view-change': 5, 'request-reports': 6, equivocation: 7,
};


function optU16(w: Writer, v: number | null, what: string): void {
  if (v === null) w.u8(0);
  else w.u8(1).u16(expectUint(v, what, 0xffff));
}

function readOptU16(r: Reader, what: string): number | null {
  const f = r.u8();
  if (f === 0) return null;
  if (f !== 1) throw new CodecError(`${what}: non-canonical presence flag ${f}`);
  return r.u16();
}

// ---- decision ----

export function encodeDecision(d: Decision): Uint8Array {
  if (d.version !== 1) throw new CodecError(`decision: unsupported version ${String(d.version)}`);
  const w = new Writer();
  w.u8(1).u16(expectUint(d.netuid, 'decision netuid', 0xffff)).u64(expectUint(d.runId, 'decision runId'));
  w.fixed(fromHex(d.rosterHash, 32, 'decision rosterHash'), 32).fixed(fromHex(d.policyHash, 32, 'decision policyHash'), 32);
  w.string(d.hardwareClass, 64);
  if (d.outcome !== 'winner' && d.outcome !== 'hold') throw new CodecError(`decision outcome: expected 'winner' or 'hold'`);
  w.u8(d.outcome === 'winner' ? 0 : 1);
  optU16(w, d.winnerUid, 'decision winnerUid');
  optU16(w, d.incumbentUid, 'decision incumbentUid');
  if (d.weights.length > MAX_DECISION_SCORES) throw new CodecError('decision: too many weights');
  w.u16(d.weights.length);
  let prev = -1;
  for (const x of d.weights) {
    if (expectUint(x.uid, 'weight uid', 0xffff) <= prev) throw new CodecError('decision weights: uids must be strictly ascending');
    prev = x.uid;
    w.u16(x.uid).u32(expectUint(x.weightPpm, 'weight ppm', 1_000_000));
  }
  if (d.scores.length > MAX_DECISION_SCORES) throw new CodecError('decision: too many scores');
  w.u16(d.scores.length);
  prev = -1;
  for (const x of d.scores) {
    if (expectUint(x.uid, 'score uid', 0xffff) <= prev) throw new CodecError('decision scores: uids must be strictly ascending');
    prev = x.uid;
    w.u16(x.uid).u64(expectUint(x.score, 'score'));
  }
  if (d.reportHashes.length > MAX_MEMBERS) throw new CodecError('decision: too many report hashes');
  w.u16(d.reportHashes.length);
  let prevHash = '';
  for (const h of d.reportHashes) {
    if (h <= prevHash) throw new CodecError('decision reportHashes: must be strictly ascending');
    prevHash = h;
    w.fixed(fromHex(h, 32, 'report hash'), 32);
  }
  w.u64(d.countedPower).u64(d.totalPower);
  return w.finish();
}

function decodeDecisionFrom(r: Reader): Decision {
  const version = r.u8();
  if (version !== 1) throw new CodecError(`decision: unknown version ${version}`);
  const netuid = r.u16();
  const runId = r.u64();
  const rosterHash = toHex(r.fixed(32));
  const policyHash = toHex(r.fixed(32));
  const hardwareClass = r.string(64);
  const oc = r.u8();
  if (oc > 1) throw new CodecError(`decision: unknown outcome ${oc}`);
  const winnerUid = readOptU16(r, 'decision winnerUid');
  const incumbentUid = readOptU16(r, 'decision incumbentUid');
  const weights: Weight[] = [];
  let n = r.u16();
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const uid = r.u16();
    if (uid <= prev) throw new CodecError('decision weights: uids must be strictly ascending');
    prev = uid;
    const weightPpm = r.u32();
    if (weightPpm > 1_000_000) throw new CodecError('decision weight above 1e6 ppm');
    weights.push({ uid, weightPpm });
  }
  const scores: { uid: number; score: number }[] = [];
  n = r.u16();
  if (n > MAX_DECISION_SCORES) throw new CodecError('decision: too many scores');
  prev = -1;
  for (let i = 0; i < n; i++) {
    const uid = r.u16();
    if (uid <= prev) throw new CodecError('decision scores: uids must be strictly ascending');
    prev = uid;
    scores.push({ uid, score: r.u64() });
  }
  const reportHashes: string[] = [];
  n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('decision: too many report hashes');
  let prevHash = '';
  for (let i = 0; i < n; i++) {
    const h = toHex(r.fixed(32));
    if (h <= prevHash) throw new CodecError('decision reportHashes: must be strictly ascending');
    prevHash = h;
    reportHashes.push(h);
  }
  const countedPower = r.u64big();
  const totalPower = r.u64big();
  return { version: 1, netuid, runId, rosterHash, policyHash, hardwareClass, outcome: oc === 0 ? 'winner' : 'hold', winnerUid, incumbentUid, weights, scores, reportHashes, countedPower, totalPower };
}

export function decodeDecision(bytes: Uint8Array): Decision {
  const r = new Reader(bytes, 'decision');
  const d = decodeDecisionFrom(r);
  r.end();
  return d;
}

export function decisionHash(d: Decision): string {
  return sha256Hex(signingBytes(DECISION_DOMAIN, encodeDecision(d)));
}

// ---- votes ----

function voteBody(v: Omit<Vote, 'signature' | 'voter'>): Uint8Array {
  const phase = PHASES.indexOf(v.phase);
  if (phase < 0) throw new CodecError(`vote phase: unknown ${JSON.stringify(v.phase)}`);
  return new Writer()
    .u8(phase)
    .u16(expectUint(v.netuid, 'vote netuid', 0xffff))
    .u64(expectUint(v.runId, 'vote runId'))
    .u32(expectUint(v.view, 'vote view', 0xffffffff))
    .fixed(fromHex(v.decisionHash, 32, 'vote decisionHash'), 32)
    .finish();
}

export function voteSigningBytes(v: Omit<Vote, 'signature' | 'voter'>): Uint8Array {
  return signingBytes(VOTE_DOMAIN, voteBody(v));
}

export function signVote(v: Omit<Vote, 'signature' | 'voter'>, signer: { publicKey: Uint8Array; sign(m: Uint8Array): Uint8Array }): Vote {
  const body = { phase: v.phase, netuid: v.netuid, runId: v.runId, view: v.view, decisionHash: v.decisionHash };
  return { ...body, voter: toHex(signer.publicKey), signature: toHex(signer.sign(voteSigningBytes(body))) };
}

function writeVote(w: Writer, v: Vote): void {
  const body = voteBody(v);
  w.fixed(body, body.length).fixed(fromHex(v.voter, 32, 'vote voter'), 32).fixed(fromHex(v.signature, 64, 'vote signature'), 64);
}

function readVote(r: Reader): Vote {
  const p = r.u8();
  const phase = PHASES[p];
  if (phase === undefined) throw new CodecError(`vote: unknown phase ${p}`);
  return { phase, netuid: r.u16(), runId: r.u64(), view: r.u32(), decisionHash: toHex(r.fixed(32)), voter: toHex(r.fixed(32)), signature: toHex(r.fixed(64)) };
}

export function encodeVote(v: Vote): Uint8Array {
  const w = new Writer();
  writeVote(w, v);
  return w.finish();
}

export function decodeVote(bytes: Uint8Array): Vote {
  const r = new Reader(bytes, 'vote');
  const v = readVote(r);
  r.end();
  return v;
}

// ---- certificates ----

function writeCertificate(w: Writer, c: Certificate): void {
  if (c.phase !== 'prepare' && c.phase !== 'commit') throw new CodecError(`certificate phase: expected prepare or commit`);
  if (c.votes.length > MAX_MEMBERS) throw new CodecError('certificate: too many votes');
  w.u8(c.phase === 'prepare' ? 1 : 2).u32(expectUint(c.view, 'certificate view', 0xffffffff)).bytes(encodeDecision(c.decision));
  w.u16(c.votes.length);
  let prev = '';
  for (const v of c.votes) {
    if (v.voter <= prev) throw new CodecError('certificate votes: voters must be strictly ascending');
    prev = v.voter;
    writeVote(w, v);
  }
}

function readCertificate(r: Reader): Certificate {
  const p = r.u8();
  if (p !== 1 && p !== 2) throw new CodecError(`certificate: unknown phase ${p}`);
  const view = r.u32();
  const decision = decodeDecision(r.bytes(MAX_DECISION_BYTES));
  const n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('certificate: too many votes');
  const votes: Vote[] = [];
  let prev = '';
  for (let i = 0; i < n; i++) {
    const v = readVote(r);
    if (v.voter <= prev) throw new CodecError('certificate votes: voters must be strictly ascending');
    prev = v.voter;
    votes.push(v);
  }
  return { phase: p === 1 ? 'prepare' : 'commit', view, decision, votes };
}

export function encodeCertificate(c: Certificate): Uint8Array {
  const w = new Writer();
  writeCertificate(w, c);
  return w.finish();
}

export function decodeCertificate(bytes: Uint8Array): Certificate {
  const r = new Reader(bytes, 'certificate');
  const c = readCertificate(r);
  r.end();
  return c;
}

// ---- view changes ----

export function viewChangeSigningBytes(vc: Omit<ViewChange, 'voter' | 'signature'>): Uint8Array {
  const w = new Writer().u16(expectUint(vc.netuid, 'view-change netuid', 0xffff)).u64(expectUint(vc.runId, 'view-change runId')).u32(expectUint(vc.newView, 'view-change view', 0xffffffff));
  if (vc.prepared) w.u8(1).u32(vc.prepared.view).fixed(fromHex(decisionHash(vc.prepared.decision), 32), 32);
  else w.u8(0);
  return signingBytes(VIEW_CHANGE_DOMAIN, w.finish());
}

export function signViewChange(vc: Omit<ViewChange, 'voter' | 'signature'>, signer: { publicKey: Uint8Array; sign(m: Uint8Array): Uint8Array }): ViewChange {
  const body = { netuid: vc.netuid, runId: vc.runId, newView: vc.newView, prepared: vc.prepared };
  return { ...body, voter: toHex(signer.publicKey), signature: toHex(signer.sign(viewChangeSigningBytes(body))) };
}

function writeViewChange(w: Writer, vc: ViewChange): void {
  w.u16(expectUint(vc.netuid, 'view-change netuid', 0xffff)).u64(expectUint(vc.runId, 'view-change runId')).u32(expectUint(vc.newView, 'view-change view', 0xffffffff));
  if (vc.prepared) {
    w.u8(1);
    writeCertificate(w, vc.prepared);
  } else w.u8(0);
  w.fixed(fromHex(vc.voter, 32, 'view-change voter'), 32).fixed(fromHex(vc.signature, 64, 'view-change signature'), 64);
}

function readViewChange(r: Reader): ViewChange {
  const netuid = r.u16();
  const runId = r.u64();
  const newView = r.u32();
  const f = r.u8();
  if (f > 1) throw new CodecError(`view-change: non-canonical lock flag ${f}`);
  const prepared = f === 1 ? readCertificate(r) : null;
  if (prepared && prepared.phase !== 'prepare') throw new CodecError('view-change: the lock must be a prepare certificate');
  return { netuid, runId, newView, prepared, voter: toHex(r.fixed(32)), signature: toHex(r.fixed(64)) };
}

// ---- equivocation proofs ----

function writeProof(w: Writer, p: EquivocationProof): void {
  if (p.kind === 'report') {
    w.u8(1).bytes(encodeSignedScoreReport(p.a)).bytes(encodeSignedScoreReport(p.b));
  } else {
    w.u8(2);
    writeVote(w, p.a);
    writeVote(w, p.b);
    if (p.binding) w.u8(1).bytes(encodeBinding(p.binding));
    else w.u8(0);
  }
}

function readProof(r: Reader): EquivocationProof {
  const k = r.u8();
  if (k === 1) return { kind: 'report', a: decodeSignedScoreReport(r.bytes(MAX_SIGNED_REPORT_BYTES)), b: decodeSignedScoreReport(r.bytes(MAX_SIGNED_REPORT_BYTES)) };
  if (k === 2) {
    const a = readVote(r);
    const b = readVote(r);
    const f = r.u8();
    if (f > 1) throw new CodecError(`equivocation proof: non-canonical binding flag ${f}`);
    return { kind: 'vote', a, b, binding: f === 1 ? decodeBinding(r.bytes(MAX_BINDING_BYTES)) : null };
  }
  throw new CodecError(`equivocation proof: unknown kind ${k}`);
}

export function encodeEquivocationProof(p: EquivocationProof): Uint8Array {
  const w = new Writer();
  writeProof(w, p);
  return w.finish();
}

export function decodeEquivocationProof(bytes: Uint8Array): EquivocationProof {
  const r = new Reader(bytes, 'equivocation proof');
  const p = readProof(r);
  r.end();
  return p;
}

// ---- envelope ----

export function encodeMessage(m: ConsensusMessage): Uint8Array {
  const w = new Writer().u8(WIRE_VERSION).u8(TAGS[m.type]);
  switch (m.type) {
    case 'report':
      w.bytes(encodeSignedScoreReport(m.signed));
      break;
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
      if (m.hashes.length > MAX_HASH_REQUEST) throw new CodecError('request-reports: too many hashes');
      w.u16(expectUint(m.netuid, 'netuid', 0xffff)).u64(expectUint(m.runId, 'runId')).u16(m.hashes.length);
      for (const h of m.hashes) w.fixed(fromHex(h, 32, 'report hash'), 32);
      break;
    case 'equivocation':
      writeProof(w, m.proof);
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
      m = { type: 'report', signed: decodeSignedScoreReport(r.bytes(MAX_SIGNED_REPORT_BYTES)) };
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
    case 6: {
      const netuid = r.u16();
      const runId = r.u64();
      const n = r.u16();
      if (n > MAX_HASH_REQUEST) throw new CodecError('request-reports: too many hashes');
      const hashes: string[] = [];
      for (let i = 0; i < n; i++) hashes.push(toHex(r.fixed(32)));
      m = { type: 'request-reports', netuid, runId, hashes };
      break;
    }
    case 7:
      m = { type: 'equivocation', proof: readProof(r) };
      break;
    default:
      throw new CodecError(`consensus message: unknown tag ${tag}`);
  }
  r.end();
  return m;
}
