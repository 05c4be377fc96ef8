// Consensus wire formats (owned by consensus/): decision, votes, proposals, certificates,
// view changes, report requests, equivocation proofs, prior-run evidence and report inventories.
// Canonical bytes via proto/codec.ts; every decoder is strict (one value, one encoding).
//
// Envelope v2: u8 version=2 | u8 tag | body. Tags: 1 reveal, 2 proposal, 3 vote, 4 certificate,
// 5 view-change, 6 request-reports, 7 equivocation, 8 request-prior, 9 prior, 10 inventory.
// Version 1 messages are refused (their decisions carry no incumbent evidence and their reports no salt).
//
// Decision v2: u8 version=2 | u16 netuid | u64 runId | [32] rosterHash | [32] policyHash
//   | u32-len utf8 hardwareClass | u8 outcome (0 winner, 1 hold) | opt-u16 winnerUid | opt-[32] winnerHotkey
//   | opt-u16 incumbentUid | u8 hasPrevious [u64 previous runId | [32] previous decisionHash]
//   | u16 n, n x (u16 uid, u32 weightPpm) | u16 n, n x (u16 uid, u64 score)
//   | u16 n, n x [32] report hash (ascending) | u64 countedPower | u64 totalPower
//   | u16 n, n x ([32] hotkey, u32 streak) missed reveals (ascending by key) | u16 n, n x [32] excluded hotkey (ascending)
//   (opt-X = u8 present flag, then X when present; hotkeys as 32-byte public keys)
// decisionHash = sha256(utf8("conclave/consensus-decision/v2") || 0x00 || decision bytes).
//
// Vote (proposals are votes of phase 'propose'):
//   u8 phase (0 propose, 1 prepare, 2 commit) | u16 netuid | u64 runId | u32 view | [32] decisionHash
//   | [32] voter node key (ed25519) | [64] signature
// Signature = ed25519(node key, utf8("conclave/consensus-vote/v2") || 0x00 || first 47 bytes).
//
// ViewChange: u16 netuid | u64 runId | u32 newView | opt certificate (prepared lock)
//   | [32] voter | [64] signature
// Signature = ed25519(node key, utf8("conclave/consensus-view-change/v2") || 0x00 ||
//   u16 netuid | u64 runId | u32 newView | u8 hasLock | [u32 lockView | [32] lockDecisionHash]).
//
// Certificate: u8 phase (1 prepare, 2 commit) | u32 view | decision (u32-len) | u16 n, n x vote
//   (votes strictly ascending by voter key; each vote's phase/run/view/hash must match).
//
// CertifiedRun v1 (a commit certificate with the bindings that attribute its voters to hotkeys; what a
// member lacking a previous run's certificate fetches, what archives and audits keep):
//   u8 version=1 | u32-len certificate | u16 n, n x u32-len binding (proto/binding.ts)
//
// Reveal (tag 1): proto/reveal.ts bytes, to the end of the message.
import { CodecError, Reader, Writer, expectUint, fromHex, sha256Hex, signingBytes, toHex } from './codec.ts';
import { MAX_SIGNED_REPORT_BYTES, decodeSignedScoreReport, encodeSignedScoreReport, type SignedScoreReport } from './score-report.ts';
import { MAX_BINDING_BYTES, decodeBinding, encodeBinding, type BindingRecord } from './binding.ts';
import { MAX_REVEAL_BYTES, decodeReveal, encodeReveal, type Reveal } from './reveal.ts';
import { hotkeyToPublicKey, publicKeyToHotkey } from './signer.ts';

export const WIRE_VERSION = 2;
export const DECISION_VERSION = 2;
export const CERTIFIED_RUN_VERSION = 1;
export const DECISION_DOMAIN = 'conclave/consensus-decision/v2';
export const VOTE_DOMAIN = 'conclave/consensus-vote/v2';
export const VIEW_CHANGE_DOMAIN = 'conclave/consensus-view-change/v2';
export const MAX_MEMBERS = 1024;
export const MAX_DECISION_SCORES = 4096;
export const MAX_HASH_REQUEST = 1024;
const MAX_DECISION_BYTES = 240 + 8 * 6 + MAX_DECISION_SCORES * 10 + MAX_MEMBERS * 32 + 16 + 4 + MAX_MEMBERS * (36 + 32);
const VOTE_BYTES = 1 + 2 + 8 + 4 + 32 + 32 + 64;
export const MAX_CERT_BYTES = 1 + 4 + 4 + MAX_DECISION_BYTES + 2 + MAX_MEMBERS * VOTE_BYTES;
export const MAX_CERTIFIED_RUN_BYTES = 1 + 4 + MAX_CERT_BYTES + 2 + MAX_MEMBERS * (4 + MAX_BINDING_BYTES);
export const MAX_MESSAGE_BYTES = 2 + Math.max(MAX_DECISION_BYTES + 4 + VOTE_BYTES + 2 + MAX_MEMBERS * (2 + 8 + 4 + 1 + MAX_CERT_BYTES + 96), MAX_CERTIFIED_RUN_BYTES);

export type Phase = 'propose' | 'prepare' | 'commit';
const PHASES: readonly Phase[] = ['propose', 'prepare', 'commit'];

export interface Weight {
  uid: number;
  weightPpm: number;
}

/** The certified run a decision takes its incumbent from (its decision hash; any valid commit certificate proves it). */
export interface PreviousRef {
  runId: number;
  decisionHash: string;
}

export interface Decision {
  version: 2;
  netuid: number;
  runId: number;
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  /** 'winner': a winner was chosen (possibly the incumbent, held within the margin); 'hold': no candidate or quorum miss, incumbent's weights held. */
  outcome: 'winner' | 'hold';
  /** Who receives the non-burn weight; null sends everything to the burn uid. */
  winnerUid: number | null;
  /** The miner hotkey of winnerUid in this run's roster: the next run checks its incumbent still holds that uid. */
  winnerHotkey: string | null;
  incumbentUid: number | null;
  /** Where the incumbent comes from: the previous certified run, or null = on-chain weights at the run's start block. */
  previous: PreviousRef | null;
  weights: Weight[];
  /** Consensus scores of the miners that have one, ascending uid. */
  scores: { uid: number; score: number }[];
  /** The exact set of counted report hashes, ascending. */
  reportHashes: string[];
  countedPower: bigint;
  /** Voting power of the run's counting members (the validator set less the excluded). */
  totalPower: bigint;
  /** Members that committed on chain by the commit deadline but whose report is not counted, with their run streak. */
  missedReveals: { hotkey: string; streak: number }[];
  /** Members excluded from this run's counting by the subnet's rule on missed reveals. */
  excluded: string[];
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

/** A commit certificate and the bindings (node key → hotkey) of its voters: verifiable with the chain alone. */
export interface CertifiedRun {
  certificate: Certificate;
  bindings: BindingRecord[];
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
  | { kind: 'vote'; a: Vote; b: Vote; binding: BindingRecord | null }
  /** Two bindings of one node key to two hotkeys, both countersigned by that node key, with overlapping validity. */
  | { kind: 'binding'; a: BindingRecord; b: BindingRecord };

export type ConsensusMessage =
  | { type: 'reveal'; reveal: Reveal }
  | { type: 'proposal'; proposal: Proposal }
  | { type: 'vote'; vote: Vote }
  | { type: 'certificate'; cert: Certificate }
  | { type: 'view-change'; viewChange: ViewChange }
  | { type: 'request-reports'; netuid: number; runId: number; hashes: string[] }
  | { type: 'equivocation'; proof: EquivocationProof }
  /** Ask for a commit certificate of an earlier run (the one a proposal takes its incumbent from). */
  | { type: 'request-prior'; netuid: number; runId: number; priorRunId: number; decisionHash: string }
  | { type: 'prior'; evidence: CertifiedRun }
  /** The report hashes of the valid reveals the sender held when consensus started (sent to the collector). */
  | { type: 'inventory'; netuid: number; runId: number; hashes: string[] };

const TAGS: Record<ConsensusMessage['type'], number> = {
  reveal: 1, proposal: 2, vote: 3, certificate: 4, 'view-change': 5, 'request-reports': 6, equivocation: 7, 'request-prior': 8, prior: 9, inventory: 10,
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

function hotkeyKey(hotkey: string, what: string): Uint8Array {
  try {
    return hotkeyToPublicKey(hotkey);
  } catch (err) {
    throw new CodecError(`${what}: ${(err as Error).message}`);
  }
}

/** Ascending order of hotkeys as the wire sorts them (by 32-byte public key). */
export function compareHotkeys(a: string, b: string): number {
  const ka = toHex(hotkeyToPublicKey(a));
  const kb = toHex(hotkeyToPublicKey(b));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function encodeDecision(d: Decision): Uint8Array {
  if (d.version !== DECISION_VERSION) throw new CodecError(`decision: unsupported version ${String(d.version)} (this node speaks version ${DECISION_VERSION})`);
  const w = new Writer();
  w.u8(DECISION_VERSION).u16(expectUint(d.netuid, 'decision netuid', 0xffff)).u64(expectUint(d.runId, 'decision runId'));
  w.fixed(fromHex(d.rosterHash, 32, 'decision rosterHash'), 32).fixed(fromHex(d.policyHash, 32, 'decision policyHash'), 32);
  w.string(d.hardwareClass, 64);
  if (d.outcome !== 'winner' && d.outcome !== 'hold') throw new CodecError(`decision outcome: expected 'winner' or 'hold'`);
  w.u8(d.outcome === 'winner' ? 0 : 1);
  optU16(w, d.winnerUid, 'decision winnerUid');
  if (d.winnerHotkey === null) w.u8(0);
  else w.u8(1).fixed(hotkeyKey(d.winnerHotkey, 'decision winnerHotkey'), 32);
  optU16(w, d.incumbentUid, 'decision incumbentUid');
  if (d.previous === null) w.u8(0);
  else {
    if (expectUint(d.previous.runId, 'decision previous runId') >= d.runId) throw new CodecError('decision previous: must be an earlier run');
    w.u8(1).u64(d.previous.runId).fixed(fromHex(d.previous.decisionHash, 32, 'decision previous decisionHash'), 32);
  }
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
  if (d.missedReveals.length > MAX_MEMBERS) throw new CodecError('decision: too many missed reveals');
  w.u16(d.missedReveals.length);
  let prevKey = '';
  for (const m of d.missedReveals) {
    const k = toHex(hotkeyKey(m.hotkey, 'decision missedReveals hotkey'));
    if (k <= prevKey) throw new CodecError('decision missedReveals: hotkeys must be strictly ascending by public key');
    prevKey = k;
    w.fixed(fromHex(k, 32), 32).u32(expectUint(m.streak, 'missed-reveal streak', 0xffffffff));
  }
  if (d.excluded.length > MAX_MEMBERS) throw new CodecError('decision: too many excluded members');
  w.u16(d.excluded.length);
  prevKey = '';
  for (const h of d.excluded) {
    const k = toHex(hotkeyKey(h, 'decision excluded hotkey'));
    if (k <= prevKey) throw new CodecError('decision excluded: hotkeys must be strictly ascending by public key');
    prevKey = k;
    w.fixed(fromHex(k, 32), 32);
  }
  return w.finish();
}

function decodeDecisionFrom(r: Reader): Decision {
  const version = r.u8();
  if (version !== DECISION_VERSION) throw new CodecError(`decision: unknown version ${version} (this node speaks version ${DECISION_VERSION})`);
  const netuid = r.u16();
  const runId = r.u64();
  const rosterHash = toHex(r.fixed(32));
  const policyHash = toHex(r.fixed(32));
  const hardwareClass = r.string(64);
  const oc = r.u8();
  if (oc > 1) throw new CodecError(`decision: unknown outcome ${oc}`);
  const winnerUid = readOptU16(r, 'decision winnerUid');
  const wf = r.u8();
  if (wf > 1) throw new CodecError(`decision winnerHotkey: non-canonical presence flag ${wf}`);
  const winnerHotkey = wf === 1 ? publicKeyToHotkey(r.fixed(32)) : null;
  const incumbentUid = readOptU16(r, 'decision incumbentUid');
  const pf = r.u8();
  if (pf > 1) throw new CodecError(`decision previous: non-canonical presence flag ${pf}`);
  let previous: PreviousRef | null = null;
  if (pf === 1) {
    const prevRun = r.u64();
    if (prevRun >= runId) throw new CodecError('decision previous: must be an earlier run');
    previous = { runId: prevRun, decisionHash: toHex(r.fixed(32)) };
  }
  const weights: Weight[] = [];
  let n = r.u16();
  if (n > MAX_DECISION_SCORES) throw new CodecError('decision: too many weights');
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
  const missedReveals: { hotkey: string; streak: number }[] = [];
  n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('decision: too many missed reveals');
  let prevKey = '';
  for (let i = 0; i < n; i++) {
    const k = r.fixed(32);
    const kh = toHex(k);
    if (kh <= prevKey) throw new CodecError('decision missedReveals: hotkeys must be strictly ascending by public key');
    prevKey = kh;
    missedReveals.push({ hotkey: publicKeyToHotkey(k), streak: r.u32() });
  }
  const excluded: string[] = [];
  n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('decision: too many excluded members');
  prevKey = '';
  for (let i = 0; i < n; i++) {
    const k = r.fixed(32);
    const kh = toHex(k);
    if (kh <= prevKey) throw new CodecError('decision excluded: hotkeys must be strictly ascending by public key');
    prevKey = kh;
    excluded.push(publicKeyToHotkey(k));
  }
  return {
    version: DECISION_VERSION, netuid, runId, rosterHash, policyHash, hardwareClass, outcome: oc === 0 ? 'winner' : 'hold',
    winnerUid, winnerHotkey, incumbentUid, previous, weights, scores, reportHashes, countedPower, totalPower, missedReveals, excluded,
  };
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

/**
 * The netuid and run of an encoded certificate of ANY decision version (1 or 2), read from its header
 * (u8 phase | u32 view | u32 len | decision: u8 version | u16 netuid | u64 runId ...), or null. For
 * archives, which file certificates by run and keep those of older protocol versions: it does not
 * validate the certificate (decodeCertificate does, for the current version only).
 */
export function certificateRunOf(bytes: Uint8Array): { netuid: number; runId: number; decisionVersion: number } | null {
  try {
    const r = new Reader(bytes, 'certificate');
    const phase = r.u8();
    if (phase !== 1 && phase !== 2) return null;
    r.u32();
    const len = r.u32();
    if (len > r.remaining || len < 11) return null;
    const decisionVersion = r.u8();
    if (decisionVersion !== 1 && decisionVersion !== DECISION_VERSION) return null;
    return { netuid: r.u16(), runId: r.u64(), decisionVersion };
  } catch {
    return null;
  }
}

// ---- certified runs (commit certificate + voter bindings) ----

function writeCertifiedRun(w: Writer, x: CertifiedRun): void {
  if (x.certificate.phase !== 'commit') throw new CodecError('certified run: the certificate must be a commit certificate');
  if (x.bindings.length > MAX_MEMBERS) throw new CodecError('certified run: too many bindings');
  const cw = new Writer();
  writeCertificate(cw, x.certificate);
  w.u8(CERTIFIED_RUN_VERSION).bytes(cw.finish()).u16(x.bindings.length);
  for (const b of x.bindings) w.bytes(encodeBinding(b));
}

function readCertifiedRun(r: Reader): CertifiedRun {
  const version = r.u8();
  if (version !== CERTIFIED_RUN_VERSION) throw new CodecError(`certified run: unknown version ${version} (this node speaks version ${CERTIFIED_RUN_VERSION})`);
  const certificate = decodeCertificate(r.bytes(MAX_CERT_BYTES));
  if (certificate.phase !== 'commit') throw new CodecError('certified run: the certificate must be a commit certificate');
  const n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('certified run: too many bindings');
  const bindings: BindingRecord[] = [];
  for (let i = 0; i < n; i++) bindings.push(decodeBinding(r.bytes(MAX_BINDING_BYTES)));
  return { certificate, bindings };
}

export function encodeCertifiedRun(x: CertifiedRun): Uint8Array {
  const w = new Writer();
  writeCertifiedRun(w, x);
  return w.finish();
}

export function decodeCertifiedRun(bytes: Uint8Array): CertifiedRun {
  if (bytes.length > MAX_CERTIFIED_RUN_BYTES) throw new CodecError(`certified run: ${bytes.length} bytes exceed the limit`);
  const r = new Reader(bytes, 'certified run');
  const x = readCertifiedRun(r);
  r.end();
  return x;
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
  } else if (p.kind === 'vote') {
    w.u8(2);
    writeVote(w, p.a);
    writeVote(w, p.b);
    if (p.binding) w.u8(1).bytes(encodeBinding(p.binding));
    else w.u8(0);
  } else if (p.kind === 'binding') {
    w.u8(3).bytes(encodeBinding(p.a)).bytes(encodeBinding(p.b));
  } else {
    throw new CodecError(`equivocation proof: unknown kind ${(p as { kind: string }).kind}`);
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
  if (k === 3) return { kind: 'binding', a: decodeBinding(r.bytes(MAX_BINDING_BYTES)), b: decodeBinding(r.bytes(MAX_BINDING_BYTES)) };
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
