// PBFT-style finality for one run, as a deterministic reducer:
//
//   step(state, input, now, env) -> { state, outputs }
//
// No I/O, clocks or randomness: time (`now`, ms) and messages are inputs; outputs are messages to
// send, timers to set, decisions and equivocation proofs. `step` may update `state` in place and
// returns it (treat the argument as consumed). The state is plain data: `encodeState` /
// `decodeState` persist and resume it mid-run. `env` holds what must not be persisted: the node's
// ed25519 signing key and the signature verifier.
//
// Message pattern (collector): the proposer of view v also collects the votes of view v.
//   1. every member broadcasts its signed report;
//   2. the proposer proposes {decision, counted report hashes} (signed 'propose' vote);
//   3. members check every counted report and recompute the decision, then send a prepare vote
//      to the proposer only;
//   4. with prepares from > threshold of power the proposer broadcasts a prepare certificate;
//      members lock on it and send a commit vote to the proposer;
//   5. with commits from > threshold the proposer broadcasts the commit certificate: final.
// View change: on timeout (exponential backoff) a member broadcasts a signed view change carrying
// its lock (highest prepare certificate). The next proposer, with view changes from > threshold,
// must re-propose the value of the highest lock among them (justification attached), else it may
// propose freely. Members that already decided answer laggards with the commit certificate.
import { fromHex, sha256Hex } from '../proto/codec.ts';
import {
  decisionHash,
  decodeMessage,
  encodeMessage,
  signVote,
  signViewChange,
  viewChangeSigningBytes,
  type Certificate,
  type ConsensusMessage,
  type Decision,
  type EquivocationProof,
  type Proposal,
  type ViewChange,
  type Vote,
} from '../proto/consensus.ts';
import { scoreReportHash, type SignedScoreReport } from '../proto/score-report.ts';
import type { BindingRecord } from '../proto/binding.ts';
import type { Ed25519Signer } from '../proto/signer.ts';
import { reportMismatch, type RosterSlot, type RunContext } from './aggregate.ts';
import { computeDecision, type CountedInput } from './decision.ts';
import { verifyEncodedReport, verifyEquivocationProof, verifyReportSignature, verifyVoteSignature, type Verifier } from './equivocation.ts';
import { checkThreshold, meetsThreshold, proposerIndex, type Threshold } from './validator-set.ts';
import type { WinnerPolicy } from './winner.ts';

export interface PeerInfo {
  uid: number;
  hotkey: string;
  stake: bigint;
  /** ed25519 node key (hex), bound to the hotkey by a verified binding record. */
  nodeKey: string;
}

export interface Timing {
  /** How long the view-0 proposer waits for reports beyond a quorum before proposing. */
  proposeDelayMs: number;
  /** Base view timeout; view v waits viewTimeoutMs * 2^min(v, maxBackoffExponent). */
  viewTimeoutMs: number;
  maxBackoffExponent: number;
}

export const DEFAULT_TIMING: Timing = { proposeDelayMs: 2_000, viewTimeoutMs: 10_000, maxBackoffExponent: 4 };

export interface RunSetup {
  context: RunContext;
  /** Sorted by uid; the index is the member's position in proposer rotation and in `from`. */
  members: PeerInfo[];
  selfIndex: number;
  threshold: Threshold;
  policy: WinnerPolicy;
  incumbentUid: number | null;
  roster: RosterSlot[];
  /** On-chain report commitments (hotkey -> report hash). null disables the check (dev only). */
  commitments: Record<string, string> | null;
  timing: Timing;
  ownReport: SignedScoreReport | null;
  /** Verified bindings by node key, attached to vote-equivocation proofs. Optional. */
  bindings?: Record<string, BindingRecord>;
}

export interface Env {
  signer: Ed25519Signer;
  verifier: Verifier;
}

export type Input =
  | { type: 'start' }
  /** The member's own signed report, when it was not ready at setup time. */
  | { type: 'own-report'; signed: SignedScoreReport }
  | { type: 'message'; from: number; bytes: Uint8Array }
  | { type: 'timeout'; timer: string };

export type Output =
  | { type: 'send'; to: number; kind: ConsensusMessage['type']; bytes: Uint8Array }
  | { type: 'broadcast'; kind: ConsensusMessage['type']; bytes: Uint8Array }
  | { type: 'set-timer'; timer: string; at: number }
  | { type: 'decided'; decision: Decision; hash: string; certificate: Certificate }
  | { type: 'equivocation'; proof: EquivocationProof; offender: string }
  | { type: 'rejected'; from: number; reason: string };

interface StoredReport {
  signed: SignedScoreReport;
  hotkey: string;
  countable: boolean;
}

export interface PbftState {
  setup: RunSetup;
  started: boolean;
  view: number;
  reports: Record<string, StoredReport>;
  byHotkey: Record<string, string[]>;
  /** Hotkeys excluded for this run (proven equivocators). */
  equivocators: Record<string, true>;
  /** First vote seen per `${phase}:${view}:${voter}` (equivocation detection). */
  votesSeen: Record<string, Vote>;
  /** The decision hash this member prepared in each view. */
  prepared: Record<number, string>;
  pending: { proposal: Proposal; from: number } | null;
  requested: Record<string, true>;
  lock: Certificate | null;
  sentCommit: Record<number, true>;
  validCerts: Record<string, true>;
  /** Collector role: the proposals this member made, and the votes it collected per view. */
  myProposals: Record<number, Decision>;
  tallies: Record<string, Record<string, Vote>>;
  certIssued: Record<string, true>;
  issuedCerts: Record<string, Certificate>;
  viewChanges: Record<number, Record<string, ViewChange>>;
  proposeReady: boolean;
  decided: { decision: Decision; hash: string; certificate: Certificate } | null;
  helped: Record<number, number>;
}

export function viewTimeout(t: Timing, view: number): number {
  return t.viewTimeoutMs * 2 ** Math.min(view, t.maxBackoffExponent);
}

export function initState(setup: RunSetup): PbftState {
  checkThreshold(setup.threshold);
  if (setup.members.length === 0) throw new Error('run setup: empty validator set');
  if (!Number.isInteger(setup.selfIndex) || setup.selfIndex < 0 || setup.selfIndex >= setup.members.length) {
    throw new Error(`run setup: selfIndex ${setup.selfIndex} is not a member position (0..${setup.members.length - 1})`);
  }
  return {
    setup,
    started: false,
    view: 0,
    reports: {},
    byHotkey: {},
    equivocators: {},
    votesSeen: {},
    prepared: {},
    pending: null,
    requested: {},
    lock: null,
    sentCommit: {},
    validCerts: {},
    myProposals: {},
    tallies: {},
    certIssued: {},
    issuedCerts: {},
    viewChanges: {},
    proposeReady: false,
    decided: null,
    helped: {},
  };
}

// ---- derived, non-persisted lookups (cached per setup object) ----

interface Derived {
  byNodeKey: Map<string, number>;
  byHotkey: Map<string, number>;
  roster: Map<number, RosterSlot>;
  total: bigint;
  proposerStart: number;
}

const derivedCache = new WeakMap<RunSetup, Derived>();

function derived(setup: RunSetup): Derived {
  let d = derivedCache.get(setup);
  if (!d) {
    d = {
      byNodeKey: new Map(setup.members.map((m, i) => [m.nodeKey, i])),
      byHotkey: new Map(setup.members.map((m, i) => [m.hotkey, i])),
      roster: new Map(setup.roster.map((r) => [r.uid, r])),
      total: setup.members.reduce((s, m) => s + m.stake, 0n),
      proposerStart: proposerIndex(setup.members.length, setup.context.runId, 0),
    };
    derivedCache.set(setup, d);
  }
  return d;
}

// ---- the reducer ----

class Ctx {
  s: PbftState;
  now: number;
  env: Env;
  out: Output[] = [];
  d: Derived;
  constructor(s: PbftState, now: number, env: Env) {
    this.s = s;
    this.now = now;
    this.env = env;
    this.d = derived(s.setup);
  }
  get setup(): RunSetup {
    return this.s.setup;
  }
  get self(): number {
    return this.s.setup.selfIndex;
  }
  proposerOf(view: number): number {
    const n = this.setup.members.length;
    return (this.d.proposerStart + (view % n)) % n;
  }
  power(indices: Iterable<number>): bigint {
    let p = 0n;
    for (const i of indices) p += this.setup.members[i].stake;
    return p;
  }
  quorum(indices: Iterable<number>): boolean {
    return meetsThreshold(this.power(indices), this.d.total, this.setup.threshold);
  }
  send(to: number, m: ConsensusMessage): void {
    if (to === this.self) return;
    this.out.push({ type: 'send', to, kind: m.type, bytes: encodeMessage(m) });
  }
  broadcast(m: ConsensusMessage): void {
    this.out.push({ type: 'broadcast', kind: m.type, bytes: encodeMessage(m) });
  }
  reject(from: number, reason: string): void {
    this.out.push({ type: 'rejected', from, reason });
  }
  timer(name: string, at: number): void {
    this.out.push({ type: 'set-timer', timer: name, at });
  }
}

export function step(state: PbftState, input: Input, now: number, env: Env): { state: PbftState; outputs: Output[] } {
  const c = new Ctx(state, now, env);
  // Messages are accepted before 'start' (peers may finish evaluating first); 'start' only
  // publishes the member's own report and arms its timers.
  if (input.type === 'start') onStart(c);
  else if (input.type === 'own-report') onOwnReport(c, input.signed);
  else if (input.type === 'timeout') onTimeout(c, input.timer);
  else onBytes(c, input.from, input.bytes);
  return { state, outputs: c.out };
}

function onStart(c: Ctx): void {
  const s = c.s;
  if (s.started) return;
  s.started = true;
  s.view = 0;
  const own = c.setup.ownReport;
  if (own) {
    ingestReport(c, own, c.self, true);
    c.broadcast({ type: 'report', signed: own });
  }
  c.timer('view:0', c.now + viewTimeout(c.setup.timing, 0));
  c.timer('retry:0', c.now + retryInterval(c.setup.timing, 0));
  if (c.proposerOf(0) === c.self) c.timer('propose', c.now + c.setup.timing.proposeDelayMs);
  tryPropose(c);
}

function onOwnReport(c: Ctx, signed: SignedScoreReport): void {
  if (c.setup.ownReport) return;
  if (signed.report.validatorHotkey !== c.setup.members[c.self].hotkey) {
    return c.reject(c.self, `own report names ${signed.report.validatorHotkey}, but this member is ${c.setup.members[c.self].hotkey}`);
  }
  c.setup.ownReport = signed;
  ingestReport(c, signed, c.self, true);
  if (c.s.started) c.broadcast({ type: 'report', signed });
}

function onTimeout(c: Ctx, timer: string): void {
  const s = c.s;
  if (timer === 'propose') {
    s.proposeReady = true;
    tryPropose(c);
    return;
  }
  const r = /^retry:(\d+)$/.exec(timer);
  if (r) return onRetry(c, Number(r[1]));
  const m = /^view:(\d+)$/.exec(timer);
  if (!m) return;
  const v = Number(m[1]);
  if (s.decided || v !== s.view) return;
  enterView(c, v + 1);
  const vc = signViewChange({ netuid: c.setup.context.netuid, runId: c.setup.context.runId, newView: v + 1, prepared: s.lock }, c.env.signer);
  c.broadcast({ type: 'view-change', viewChange: vc });
  // The next proposer gets this member's report again, in case it was lost (loss, partition).
  if (c.setup.ownReport) c.send(c.proposerOf(v + 1), { type: 'report', signed: c.setup.ownReport });
  if (c.proposerOf(v + 1) === c.self) acceptViewChange(c, vc);
  tryPropose(c);
}

/**
 * Retransmission period inside a view: half the BASE view timeout, whatever the view. Long
 * (backed-off) views then get many retries, so a lossy network still completes a view.
 */
export function retryInterval(t: Timing, _view: number): number {
  return Math.max(1, Math.floor(t.viewTimeoutMs / 2));
}

/**
 * Messages are not acknowledged; instead, while a view is undecided, a member periodically resends
 * what the collector may have missed (its view change, prepare, commit, report requests) and a
 * collector answers a repeated vote with the certificate the voter evidently lacks.
 */
function onRetry(c: Ctx, v: number): void {
  const s = c.s;
  if (s.decided || v !== s.view) return;
  const ctx = c.setup.context;
  const collector = c.proposerOf(v);
  if (collector !== c.self) {
    if (v > 0 && s.prepared[v] === undefined) {
      const vc = signViewChange({ netuid: ctx.netuid, runId: ctx.runId, newView: v, prepared: s.lock }, c.env.signer);
      c.send(collector, { type: 'view-change', viewChange: vc });
      if (c.setup.ownReport) c.send(collector, { type: 'report', signed: c.setup.ownReport });
    }
    if (s.pending) {
      const missing = s.pending.proposal.decision.reportHashes.filter((h) => !s.reports[h]);
      if (missing.length) c.send(collector, { type: 'request-reports', netuid: ctx.netuid, runId: ctx.runId, hashes: missing });
    }
    const prepared = s.prepared[v];
    if (prepared !== undefined && !(s.lock && s.lock.view === v)) {
      c.send(collector, { type: 'vote', vote: signVote({ phase: 'prepare', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: prepared }, c.env.signer) });
    }
    if (s.sentCommit[v] && s.lock && s.lock.view === v) {
      const h = decisionHash(s.lock.decision);
      c.send(collector, { type: 'vote', vote: signVote({ phase: 'commit', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: h }, c.env.signer) });
    }
  } else if (s.myProposals[v] && !s.certIssued[`prepare:${v}`]) {
    // Some members may have missed the proposal itself.
    const decision = s.myProposals[v];
    const vote = signVote({ phase: 'propose', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: decisionHash(decision) }, c.env.signer);
    const vcs = s.viewChanges[v] ?? {};
    const justification = v === 0 ? [] : Object.keys(vcs).sort().map((k) => vcs[k]);
    c.broadcast({ type: 'proposal', proposal: { vote, decision, justification } });
  }
  c.timer(`retry:${v}`, c.now + retryInterval(c.setup.timing, v));
}

function enterView(c: Ctx, v: number): void {
  if (v <= c.s.view) return;
  c.s.view = v;
  c.s.pending = null;
  c.timer(`view:${v}`, c.now + viewTimeout(c.setup.timing, v));
  c.timer(`retry:${v}`, c.now + retryInterval(c.setup.timing, v));
}

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

function onBytes(c: Ctx, from: number, bytes: Uint8Array): void {
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

function sameRun(c: Ctx, netuid: number, runId: number): boolean {
  return netuid === c.setup.context.netuid && runId === c.setup.context.runId;
}

// ---- reports ----

function ingestReport(c: Ctx, signed: SignedScoreReport, from: number, own: boolean, canonical?: { raw: Uint8Array; hash: string }): void {
  const s = c.s;
  const report = signed.report;
  const why = reportMismatch(report, c.setup.context, c.d.roster);
  if (why) return c.reject(from, why);
  const member = c.d.byHotkey.get(report.validatorHotkey);
  if (member === undefined) return c.reject(from, `report signed by ${report.validatorHotkey}, which is not a member of this run's validator set`);
  const hash = canonical ? canonical.hash : scoreReportHash(report);
  if (s.reports[hash]) return;
  const sigOk = own || (canonical ? verifyEncodedReport(canonical.raw, signed, c.env.verifier) : verifyReportSignature(signed, c.env.verifier));
  if (!sigOk) return c.reject(from, `report signature does not verify for ${report.validatorHotkey}`);
  const commitments = c.setup.commitments;
  const countable = commitments === null || commitments[report.validatorHotkey] === hash;
  s.reports[hash] = { signed, hotkey: report.validatorHotkey, countable };
  const list = (s.byHotkey[report.validatorHotkey] ??= []);
  list.push(hash);
  // A signed report that contradicts its author's on-chain commitment is half of an equivocation:
  // relay it to the current proposer, which holds (or will fetch) the committed one, assembles
  // the proof, excludes the author and broadcasts the proof. Relayed once per author.
  if (!own && commitments !== null && commitments[report.validatorHotkey] !== undefined && !countable && list.length === 1) {
    c.send(c.proposerOf(s.view), { type: 'report', signed });
  }
  if (list.length === 2) {
    const proof: EquivocationProof = { kind: 'report', a: s.reports[list[0]].signed, b: signed };
    markEquivocator(c, report.validatorHotkey, proof, true);
  }
  tryPropose(c);
  retryPending(c);
}

function markEquivocator(c: Ctx, hotkey: string, proof: EquivocationProof, broadcast: boolean): void {
  if (c.s.equivocators[hotkey]) return;
  c.s.equivocators[hotkey] = true;
  c.out.push({ type: 'equivocation', proof, offender: hotkey });
  if (broadcast) c.broadcast({ type: 'equivocation', proof });
}

function countable(c: Ctx): CountedInput[] {
  const s = c.s;
  const out: CountedInput[] = [];
  for (const [hotkey, hashes] of Object.entries(s.byHotkey)) {
    if (s.equivocators[hotkey]) continue;
    const h = hashes.find((x) => s.reports[x].countable);
    if (h === undefined) continue;
    out.push({ report: s.reports[h].signed.report, hash: h, power: c.setup.members[c.d.byHotkey.get(hotkey)!].stake });
  }
  return out;
}

function rules(c: Ctx) {
  const st = c.setup;
  return { context: st.context, roster: st.roster, totalPower: c.d.total, threshold: st.threshold, policy: st.policy, incumbentUid: st.incumbentUid };
}

function onRequest(c: Ctx, m: { netuid: number; runId: number; hashes: string[] }, from: number): void {
  if (!sameRun(c, m.netuid, m.runId)) return c.reject(from, 'report request for another run');
  if (from < 0 || from >= c.setup.members.length) return;
  for (const h of m.hashes.slice(0, c.setup.members.length * 2)) {
    const r = c.s.reports[h];
    if (r) c.send(from, { type: 'report', signed: r.signed });
  }
}

function onProof(c: Ctx, proof: EquivocationProof, from: number): void {
  const offenderHotkey = proof.kind === 'report' ? proof.a.report.validatorHotkey : (() => {
    const i = c.d.byNodeKey.get(proof.a.voter);
    return i === undefined ? null : c.setup.members[i].hotkey;
  })();
  if (offenderHotkey === null) return c.reject(from, 'equivocation proof against a key outside this run');
  if (c.s.equivocators[offenderHotkey]) return;
  // Attribution comes from this run's member table (bindings verified when the set was built),
  // so the attached binding is not re-verified here; offline verifiers check it.
  const check = verifyEquivocationProof(proof.kind === 'vote' ? { ...proof, binding: null } : proof, c.env.verifier);
  if (!check.ok) return c.reject(from, `invalid equivocation proof: ${check.reason}`);
  if (!sameRun(c, check.netuid, check.runId)) return c.reject(from, 'equivocation proof for another run');
  if (check.offender.hotkey !== null && check.offender.hotkey !== offenderHotkey) return c.reject(from, 'equivocation proof binding names another hotkey');
  markEquivocator(c, offenderHotkey, proof, false);
}

// ---- proposals ----

function tryPropose(c: Ctx): void {
  const s = c.s;
  const v = s.view;
  if (s.decided || !s.started || c.proposerOf(v) !== c.self || s.myProposals[v]) return;
  let decision: Decision | null = null;
  let justification: ViewChange[] = [];
  if (v === 0) {
    const counted = countable(c);
    const all = counted.length === c.setup.members.length;
    if (!s.proposeReady && !all) return;
    const d = computeDecision(rules(c), counted);
    if (!meetsThreshold(d.countedPower, c.d.total, c.setup.threshold)) return;
    decision = d;
  } else {
    const vcs = s.viewChanges[v] ?? {};
    const voters = Object.keys(vcs).map((k) => c.d.byNodeKey.get(k)!);
    if (!c.quorum(voters)) return;
    justification = Object.keys(vcs).sort().map((k) => vcs[k]);
    const forced = highestLock(justification);
    if (forced) decision = forced.decision;
    else {
      const d = computeDecision(rules(c), countable(c));
      if (!meetsThreshold(d.countedPower, c.d.total, c.setup.threshold)) return;
      decision = d;
    }
  }
  const hash = decisionHash(decision);
  const ctx = c.setup.context;
  const vote = signVote({ phase: 'propose', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: hash }, c.env.signer);
  const proposal: Proposal = { vote, decision, justification };
  s.myProposals[v] = decision;
  c.broadcast({ type: 'proposal', proposal });
  onProposal(c, proposal, c.self, true);
}

function highestLock(vcs: readonly ViewChange[]): Certificate | null {
  let best: Certificate | null = null;
  for (const vc of vcs) if (vc.prepared && (!best || vc.prepared.view > best.view)) best = vc.prepared;
  return best;
}

function recordVote(c: Ctx, vote: Vote): boolean {
  const key = `${vote.phase}:${vote.view}:${vote.voter}`;
  const first = c.s.votesSeen[key];
  if (!first) {
    c.s.votesSeen[key] = vote;
    return true;
  }
  if (first.decisionHash === vote.decisionHash) return true;
  const i = c.d.byNodeKey.get(vote.voter)!;
  const hotkey = c.setup.members[i].hotkey;
  const binding = c.setup.bindings?.[vote.voter] ?? null;
  markEquivocator(c, hotkey, { kind: 'vote', a: first, b: vote, binding }, true);
  return false;
}

function decisionFitsRun(c: Ctx, d: Decision): string | null {
  const ctx = c.setup.context;
  if (d.netuid !== ctx.netuid || d.runId !== ctx.runId) return 'decision is for another run';
  if (d.rosterHash !== ctx.rosterHash || d.policyHash !== ctx.policyHash || d.hardwareClass !== ctx.hardwareClass) return 'decision names another roster, policy or hardware class';
  if (d.totalPower !== c.d.total) return 'decision uses another validator set (total power differs)';
  if (d.incumbentUid !== c.setup.incumbentUid) return 'decision assumes another incumbent';
  return null;
}

function onProposal(c: Ctx, p: Proposal, from: number, own = false): void {
  const s = c.s;
  const v = p.vote.view;
  if (!sameRun(c, p.vote.netuid, p.vote.runId)) return c.reject(from, `proposal for run ${p.vote.runId} (stale or replayed)`);
  if (s.decided) return help(c, from, v);
  if (v < s.view) return;
  const proposer = c.proposerOf(v);
  if (p.vote.voter !== c.setup.members[proposer].nodeKey) return c.reject(from, `proposal for view ${v} not signed by its proposer (member ${proposer})`);
  const hash = decisionHash(p.decision);
  if (hash !== p.vote.decisionHash) return c.reject(from, 'proposal vote does not match its decision');
  if (!own && !verifyVoteSignature(p.vote, c.env.verifier)) return c.reject(from, 'proposal signature does not verify');
  if (!recordVote(c, p.vote)) return c.reject(from, `conflicting proposal from member ${proposer} in view ${v}`);
  if (s.prepared[v] !== undefined) return;
  const misfit = decisionFitsRun(c, p.decision);
  if (misfit) return c.reject(from, `proposal: ${misfit}`);
  let forced: Certificate | null = null;
  if (v > 0) {
    const j = checkJustification(c, p.justification, v);
    if (typeof j === 'string') return c.reject(from, `proposal for view ${v}: ${j}`);
    forced = j.forced;
    if (forced && decisionHash(forced.decision) !== hash) return c.reject(from, `proposal for view ${v} ignores the highest lock in its justification`);
  }
  if (!forced && !own) {
    const problem = checkContent(c, p, from);
    if (problem === 'pending') return;
    if (problem) return c.reject(from, `proposal for view ${v}: ${problem}`);
  }
  if (v > s.view) enterView(c, v);
  s.prepared[v] = hash;
  if (s.pending && s.pending.proposal.vote.view <= v) s.pending = null;
  const ctx = c.setup.context;
  const vote = signVote({ phase: 'prepare', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: hash }, c.env.signer);
  if (proposer === c.self) collectVote(c, vote);
  else c.send(proposer, { type: 'vote', vote });
}

/** Checks every counted report and recomputes the decision. 'pending' when reports are missing. */
function checkContent(c: Ctx, p: Proposal, from: number): string | null | 'pending' {
  const s = c.s;
  const missing = p.decision.reportHashes.filter((h) => !s.reports[h]);
  if (missing.length > 0) {
    s.pending = { proposal: p, from };
    const ask = missing.filter((h) => !s.requested[h]);
    if (ask.length > 0) {
      for (const h of ask) s.requested[h] = true;
      const ctx = c.setup.context;
      const proposer = c.proposerOf(p.vote.view);
      c.send(proposer, { type: 'request-reports', netuid: ctx.netuid, runId: ctx.runId, hashes: ask });
    }
    return 'pending';
  }
  const counted: CountedInput[] = [];
  const seen = new Set<string>();
  for (const h of p.decision.reportHashes) {
    const r = s.reports[h];
    if (!r.countable) return `counts report ${h.slice(0, 12)}… that does not match ${r.hotkey}'s on-chain commitment`;
    // Proven equivocators are excluded by honest proposers, but a member does not reject a
    // proposal for counting one: proofs arrive at different times at different members, and
    // refusing on them would let each equivocator force a view change after every proposal.
    // The counted report is still the one its author committed on chain, counted once.
    if (seen.has(r.hotkey)) return `counts two reports by ${r.hotkey}`;
    seen.add(r.hotkey);
    counted.push({ report: r.signed.report, hash: h, power: c.setup.members[c.d.byHotkey.get(r.hotkey)!].stake });
  }
  const mine = computeDecision(rules(c), counted);
  if (!meetsThreshold(mine.countedPower, c.d.total, c.setup.threshold)) return 'counted reports do not reach the quorum';
  if (decisionHash(mine) !== p.vote.decisionHash) return 'decision differs from the one recomputed from its counted reports';
  return null;
}

function retryPending(c: Ctx): void {
  const p = c.s.pending;
  if (!p) return;
  if (p.proposal.decision.reportHashes.every((h) => c.s.reports[h])) {
    c.s.pending = null;
    onProposal(c, p.proposal, p.from);
  }
}

function checkJustification(c: Ctx, vcs: readonly ViewChange[], v: number): { forced: Certificate | null } | string {
  const voters = new Set<number>();
  for (const vc of vcs) {
    if (!sameRun(c, vc.netuid, vc.runId) || vc.newView !== v) return 'justification holds a view change for another run or view';
    const i = c.d.byNodeKey.get(vc.voter);
    if (i === undefined) return 'justification holds a view change from a non-member';
    if (voters.has(i)) return 'justification holds two view changes from one member';
    const why = checkViewChange(c, vc);
    if (why) return `justification: ${why}`;
    voters.add(i);
  }
  if (!c.quorum(voters)) return 'justification lacks view changes from a quorum of voting power';
  return { forced: highestLock(vcs) };
}

function checkViewChange(c: Ctx, vc: ViewChange): string | null {
  let ok = false;
  try {
    ok = c.env.verifier.ed25519(viewChangeSigningBytes(vc), fromHex(vc.signature, 64), fromHex(vc.voter, 32));
  } catch {
    ok = false;
  }
  if (!ok) return 'view change signature does not verify';
  if (vc.prepared) {
    if (vc.prepared.phase !== 'prepare' || vc.prepared.view >= vc.newView) return 'view change carries a lock from a later view';
    const why = checkCertificate(c, vc.prepared);
    if (why) return `view change lock: ${why}`;
  }
  return null;
}

// ---- votes and certificates ----

function onVote(c: Ctx, vote: Vote, from: number): void {
  const s = c.s;
  if (!sameRun(c, vote.netuid, vote.runId)) return c.reject(from, `vote for run ${vote.runId} (stale or replayed)`);
  if (s.decided) return help(c, from, vote.view);
  if (vote.phase === 'propose') return c.reject(from, 'bare propose vote without a proposal');
  // Only the collector of a view tallies, and only for a view it proposed in: votes for other
  // views are dropped before any work, so no signer can grow this member's state at will.
  const i = c.d.byNodeKey.get(vote.voter);
  if (i === undefined) return c.reject(from, 'vote from a node key not bound to a member');
  if (c.proposerOf(vote.view) !== c.self || !s.myProposals[vote.view]) return;
  if (!verifyVoteSignature(vote, c.env.verifier)) return c.reject(from, 'vote signature does not verify');
  collectVote(c, vote);
}

function collectVote(c: Ctx, vote: Vote): void {
  const s = c.s;
  const repeated = s.votesSeen[`${vote.phase}:${vote.view}:${vote.voter}`]?.decisionHash === vote.decisionHash;
  if (!recordVote(c, vote)) return;
  const i = c.d.byNodeKey.get(vote.voter)!;
  if (s.equivocators[c.setup.members[i].hotkey]) return;
  const key = `${vote.phase}:${vote.view}`;
  if (s.certIssued[key]) {
    // A repeated vote means the voter lacks the certificate: send it the one already issued.
    const issued = s.issuedCerts[key];
    if (repeated && issued && i !== c.self) c.send(i, { type: 'certificate', cert: issued });
    return;
  }
  const decision = s.myProposals[vote.view];
  if (!decision || decisionHash(decision) !== vote.decisionHash) return;
  const tally = (s.tallies[key] ??= {});
  tally[vote.voter] = vote;
  const voters = Object.keys(tally).map((k) => c.d.byNodeKey.get(k)!);
  if (!c.quorum(voters)) return;
  s.certIssued[key] = true;
  const cert: Certificate = {
    phase: vote.phase as 'prepare' | 'commit',
    view: vote.view,
    decision,
    votes: Object.keys(tally).sort().map((k) => tally[k]),
  };
  s.issuedCerts[key] = cert;
  s.validCerts[certKey(cert.phase, cert.view, vote.decisionHash)] = true;
  c.broadcast({ type: 'certificate', cert });
  onCertificate(c, cert, c.self);
}

function certKey(phase: string, view: number, hash: string): string {
  return `${phase}:${view}:${hash}`;
}

/** Signature and power checks of a certificate; a certificate already checked is remembered by (phase, view, hash). */
function checkCertificate(c: Ctx, cert: Certificate): string | null {
  const hash = decisionHash(cert.decision);
  const key = certKey(cert.phase, cert.view, hash);
  if (c.s.validCerts[key]) return null;
  const misfit = decisionFitsRun(c, cert.decision);
  if (misfit) return misfit;
  const voters: number[] = [];
  for (const v of cert.votes) {
    if (v.phase !== cert.phase || v.view !== cert.view || v.decisionHash !== hash || !sameRun(c, v.netuid, v.runId)) return 'certificate holds a vote for something else';
    const i = c.d.byNodeKey.get(v.voter);
    if (i === undefined) return 'certificate holds a vote from a non-member';
    voters.push(i);
  }
  if (!c.quorum(voters)) return 'certificate votes do not reach the quorum';
  for (const v of cert.votes) if (!verifyVoteSignature(v, c.env.verifier)) return 'certificate holds a vote whose signature does not verify';
  c.s.validCerts[key] = true;
  return null;
}

function onCertificate(c: Ctx, cert: Certificate, from: number): void {
  const s = c.s;
  if (!sameRun(c, cert.decision.netuid, cert.decision.runId)) return c.reject(from, `certificate for run ${cert.decision.runId} (stale or replayed)`);
  if (s.decided) return;
  const why = checkCertificate(c, cert);
  if (why) return c.reject(from, `certificate: ${why}`);
  const hash = decisionHash(cert.decision);
  if (cert.phase === 'commit') {
    s.decided = { decision: cert.decision, hash, certificate: cert };
    s.pending = null;
    c.out.push({ type: 'decided', decision: cert.decision, hash, certificate: cert });
    return;
  }
  if (!s.lock || cert.view > s.lock.view) s.lock = cert;
  if (cert.view === s.view && !s.sentCommit[cert.view]) {
    s.sentCommit[cert.view] = true;
    const ctx = c.setup.context;
    const vote = signVote({ phase: 'commit', netuid: ctx.netuid, runId: ctx.runId, view: cert.view, decisionHash: hash }, c.env.signer);
    const collector = c.proposerOf(cert.view);
    if (collector === c.self) collectVote(c, vote);
    else c.send(collector, { type: 'vote', vote });
  }
}

// ---- view changes ----

function onViewChange(c: Ctx, vc: ViewChange, from: number): void {
  const s = c.s;
  if (!sameRun(c, vc.netuid, vc.runId)) return c.reject(from, `view change for run ${vc.runId} (stale or replayed)`);
  if (s.decided) return help(c, from, vc.newView);
  // Far-future views are ignored (bounded state); honest views stay close through the timeouts.
  if (c.proposerOf(vc.newView) !== c.self || vc.newView < s.view || vc.newView === 0 || vc.newView > s.view + c.setup.members.length + 1) return;
  const i = c.d.byNodeKey.get(vc.voter);
  if (i === undefined) return c.reject(from, 'view change from a node key not bound to a member');
  if (s.viewChanges[vc.newView]?.[vc.voter]) return;
  const why = checkViewChange(c, vc);
  if (why) return c.reject(from, why);
  acceptViewChange(c, vc);
}

function acceptViewChange(c: Ctx, vc: ViewChange): void {
  const s = c.s;
  const bucket = (s.viewChanges[vc.newView] ??= {});
  bucket[vc.voter] = vc;
  const voters = Object.keys(bucket).map((k) => c.d.byNodeKey.get(k)!);
  if (vc.newView > s.view && c.quorum(voters)) enterView(c, vc.newView);
  tryPropose(c);
}

/** A decided member answers a laggard (once per view it reports) with the commit certificate. */
function help(c: Ctx, to: number, theirView: number): void {
  const s = c.s;
  if (!s.decided || to === c.self || to < 0 || to >= c.setup.members.length) return;
  if ((s.helped[to] ?? -1) >= theirView) return;
  s.helped[to] = theirView;
  c.send(to, { type: 'certificate', cert: s.decided.certificate });
}

// ---- persistence ----

/** JSON with tagged bigints; `decodeState(encodeState(s))` resumes exactly where `s` was. */
export function encodeState(s: PbftState): string {
  return JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

export function decodeState(json: string): PbftState {
  return JSON.parse(json, (_k, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' && Object.keys(v).length === 1 ? BigInt(v.$bigint) : v));
}

