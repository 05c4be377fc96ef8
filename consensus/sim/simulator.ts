// Deterministic Byzantine simulator: every member runs the real consensus state machine
// (consensus/pbft.ts) with real sr25519 reports and ed25519 votes, in one process, on virtual time.
// Randomness comes only from the seeded PRNG; the same options give the same result (except the
// CPU and wall-clock measurements).
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { decisionHash, decodeMessage, encodeMessage, signVote, type Certificate, type Decision, type Proposal, type Vote } from '../../proto/consensus.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { scoreReportHash, signScoreReport, type ScoreEntry, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { signBinding, type BindingRecord } from '../../proto/binding.ts';
import { cryptoReady, ed25519SignerFromSeed, publicKeyToHotkey, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import type { RunContext } from '../aggregate.ts';
import { VOTING_STATUSES } from '../aggregate.ts';
import { computeDecision } from '../decision.ts';
import { initState, step, type Output, type PbftState, type RunSetup, type Timing } from '../pbft.ts';
import { checkThreshold, meetsThreshold, proposerIndex, type Threshold } from '../validator-set.ts';
import { DEFAULT_WINNER_POLICY, type WinnerPolicy } from '../winner.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { MemoVerifier } from './verifier.ts';

export const FAULTS = ['equivocate', 'inflate', 'withhold', 'conflict-vote', 'garbage', 'replay', 'silent-proposer'] as const;
export type Fault = (typeof FAULTS)[number];
export const STAKE_DISTRIBUTIONS = ['equal', 'uniform', 'zipf', 'whale'] as const;
export type StakeDistribution = (typeof STAKE_DISTRIBUTIONS)[number];

export interface Partition {
  /** Relative to the start of each affected run. */
  fromMs: number;
  toMs: number;
  /** Members are split into this many contiguous groups (by position); no message crosses groups. */
  groups: number;
}

export interface SimOptions {
  validators: number;
  byzantine: number;
  runs: number;
  seed: number;
  miners: number;
  faults: Fault[];
  stake: StakeDistribution;
  threshold: Threshold;
  minDelayMs: number;
  maxDelayMs: number;
  loss: number;
  duplicate: number;
  partitions: Partition[];
  /** Partitions apply to runs whose index is a multiple of this. */
  partitionEvery: number;
  timing: Timing;
  /** A run must be decided by every honest member within this long after the network heals. */
  livenessBoundMs: number;
  policy: WinnerPolicy;
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  validators: 16,
  byzantine: 5,
  runs: 10,
  seed: 1,
  miners: 16,
  faults: [...FAULTS],
  stake: 'equal',
  threshold: { num: 2, den: 3 },
  minDelayMs: 5,
  maxDelayMs: 120,
  loss: 0.01,
  duplicate: 0.01,
  partitions: [],
  partitionEvery: 1,
  timing: { proposeDelayMs: 500, viewTimeoutMs: 2_000, maxBackoffExponent: 4 },
  livenessBoundMs: 180_000,
  policy: DEFAULT_WINNER_POLICY,
};

export interface SimResult {
  validators: number;
  byzantine: number;
  byzantinePowerShare: number;
  runs: number;
  decided: number;
  safetyViolations: number;
  livenessFailures: number;
  messages: number;
  messagesPerRun: number;
  messagesByKind: Record<string, number>;
  signatureVerifications: number;
  verificationsPerMemberPerRun: number;
  sr25519Verifications: number;
  ed25519Verifications: number;
  realVerifications: number;
  simulatedLatencyMs: { p50: number; p99: number; max: number };
  cpuMsPerMember: number;
  cpuMsPerMemberMax: number;
  /** Mean CPU ms of one real verification, charged for memoised repeats. */
  verifyCostMs: { sr25519: number; ed25519: number };
  maxView: number;
  viewChangesRuns: number;
  equivocationDetections: number;
  rejectedMessages: number;
  scoreOutsideHonestRange: number;
  holds: number;
  wallMs: number;
  violations: { run: number; hashes: string[] }[];
}

interface SimMember {
  index: number;
  uid: number;
  sr: Sr25519Signer;
  ed: Ed25519Signer;
  nodeKey: string;
  stake: bigint;
  fault: Fault | null;
  binding: BindingRecord;
}

interface Ev {
  at: number;
  seq: number;
  to: number;
  from: number;
  bytes: Uint8Array | null;
  timer: string | null;
}

export function checkSimOptions(o: SimOptions): SimOptions {
  const bad = (m: string) => {
    throw new RangeError(m);
  };
  if (!Number.isInteger(o.validators) || o.validators < 1 || o.validators > 1024) bad(`--validators must be 1..1024, got ${o.validators}`);
  if (!Number.isInteger(o.byzantine) || o.byzantine < 0 || o.byzantine >= o.validators) bad(`--byzantine must be 0..validators-1, got ${o.byzantine}`);
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 100_000) bad(`--runs must be 1..100000, got ${o.runs}`);
  if (!Number.isInteger(o.miners) || o.miners < 1 || o.miners > 4096) bad(`--miners must be 1..4096, got ${o.miners}`);
  if (!Number.isSafeInteger(o.seed)) bad(`--seed must be an integer, got ${o.seed}`);
  if (o.faults.some((f) => !(FAULTS as readonly string[]).includes(f))) bad(`--faults: unknown behaviour in ${o.faults.join(',')} (known: ${FAULTS.join(', ')})`);
  if (o.byzantine > 0 && o.faults.length === 0) bad('--faults must name at least one behaviour when --byzantine > 0');
  if (!(STAKE_DISTRIBUTIONS as readonly string[]).includes(o.stake)) bad(`--stake must be one of ${STAKE_DISTRIBUTIONS.join(', ')}`);
  if (!(o.minDelayMs >= 0 && o.maxDelayMs >= o.minDelayMs)) bad('--delay must be MIN-MAX with 0 <= MIN <= MAX');
  for (const [name, p] of [['--loss', o.loss], ['--duplicate', o.duplicate]] as const) if (!(p >= 0 && p < 1)) bad(`${name} must be in [0, 1)`);
  for (const p of o.partitions) if (!(p.fromMs >= 0 && p.toMs > p.fromMs && Number.isInteger(p.groups) && p.groups >= 2)) bad('--partition must be FROM-TO/GROUPS with FROM < TO and GROUPS >= 2');
  if (!Number.isInteger(o.partitionEvery) || o.partitionEvery < 1) bad('--partition-every must be a positive integer');
  checkThreshold(o.threshold);
  return o;
}

const RAO = 1_000_000_000n;
const NETUID = 7;
const POLICY_HASH = sha256Hex('conclave-sim-policy');
const HARDWARE = 'sim-H100';

function makeStakes(n: number, dist: StakeDistribution, rng: Prng): bigint[] {
  switch (dist) {
    case 'equal':
      return new Array(n).fill(1000n * RAO);
    case 'uniform':
      return Array.from({ length: n }, () => BigInt(100 + rng.int(9900)) * RAO);
    case 'zipf':
      return Array.from({ length: n }, (_, i) => BigInt(Math.round(100_000 / (i + 1))) * RAO);
    case 'whale':
      // One validator holds 30 % of the stake, the rest share 70 % equally.
      return Array.from({ length: n }, (_, i) => (i === 0 ? BigInt(Math.round((0.3 / 0.7) * (n - 1) * 1000)) * RAO : 1000n * RAO));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export async function simulate(opts: SimOptions): Promise<SimResult> {
  checkSimOptions(opts);
  await cryptoReady();
  const wall0 = performance.now();
  const rng = new Prng(opts.seed);
  const n = opts.validators;
  const stakes = makeStakes(n, opts.stake, rng.fork(1));
  const keyRng = rng.fork(2);
  const byzRng = rng.fork(3);
  const byzSet = new Set(byzRng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, opts.byzantine));
  let byzCount = 0;
  const members: SimMember[] = [];
  for (let i = 0; i < n; i++) {
    const sr = sr25519SignerFromSeed(keyRng.bytes(32));
    const ed = ed25519SignerFromSeed(keyRng.bytes(32));
    const fault = byzSet.has(i) ? opts.faults[byzCount++ % opts.faults.length] : null;
    const binding = signBinding({ nodePublicKey: ed.publicKey, multiaddrs: [`/ip4/127.0.0.1/tcp/${40000 + i}`], issuedAt: 1_700_000_000_000, expiresAt: 1_700_000_000_000 + 7 * 86_400_000 }, sr);
    members.push({ index: i, uid: i + 1, sr, ed, nodeKey: toHex(ed.publicKey), stake: stakes[i], fault, binding });
  }
  const totalStake = stakes.reduce((s, x) => s + x, 0n);
  const byzStake = members.filter((m) => m.fault).reduce((s, m) => s + m.stake, 0n);
  const peers = members.map((m) => ({ uid: m.uid, hotkey: m.sr.hotkey, stake: m.stake, nodeKey: m.nodeKey }));
  const bindings = Object.fromEntries(members.map((m) => [m.nodeKey, m.binding]));
  const byHotkey = new Map(members.map((m) => [m.sr.hotkey, m]));
  const byNodeKey = new Map(members.map((m) => [m.nodeKey, m]));
  const honest = members.filter((m) => !m.fault).map((m) => m.index);
  const coalition = members.filter((m) => m.fault && m.fault !== 'withhold');
  const verifier = new MemoVerifier(n);
  const verifiers = members.map((m) => verifier.forMember(m.index));

  const minerRng = rng.fork(4);
  const miners = Array.from({ length: opts.miners }, (_, i) => ({
    uid: 1000 + i,
    minerHotkey: publicKeyToHotkey(minerRng.bytes(32)),
    codeSha256: toHex(minerRng.bytes(32)),
    commitBlock: 10 + minerRng.int(1000),
  }));

  const res: SimResult = {
    validators: n,
    byzantine: opts.byzantine,
    byzantinePowerShare: Number((byzStake * 1_000_000n) / totalStake) / 1_000_000,
    runs: opts.runs,
    decided: 0,
    safetyViolations: 0,
    livenessFailures: 0,
    messages: 0,
    messagesPerRun: 0,
    messagesByKind: {},
    signatureVerifications: 0,
    verificationsPerMemberPerRun: 0,
    sr25519Verifications: 0,
    ed25519Verifications: 0,
    realVerifications: 0,
    simulatedLatencyMs: { p50: 0, p99: 0, max: 0 },
    cpuMsPerMember: 0,
    cpuMsPerMemberMax: 0,
    verifyCostMs: { sr25519: 0, ed25519: 0 },
    maxView: 0,
    viewChangesRuns: 0,
    equivocationDetections: 0,
    rejectedMessages: 0,
    scoreOutsideHonestRange: 0,
    holds: 0,
    wallMs: 0,
    violations: [],
  };
  const cpuUs = new Array<number>(n).fill(0);
  const latencies: number[] = [];
  let incumbent: number | null = null;
  let previousOutgoing: Uint8Array[][] = members.map(() => []);
  const queue = new EventQueue<Ev>();

  for (let run = 0; run < opts.runs; run++) {
    const runRng = rng.fork(100 + run);
    const runId = 1000 + run * 360;
    const t0 = run * 100_000_000;
    const roster: RosterEntry[] = miners.map((m) => ({ ...m, url: `https://example.invalid/${m.uid}.zip` }));
    const context: RunContext = { netuid: NETUID, runId, rosterHash: rosterHash(roster), policyHash: POLICY_HASH, hardwareClass: HARDWARE };
    // Ground truth this run: most submissions score, some fail at runtime.
    const truth = miners.map((m) => ({ uid: m.uid, failed: runRng.chance(0.1), mfu: 200_000 + runRng.int(400_000) }));
    const honestBest = truth.filter((t) => !t.failed).sort((a, b) => b.mfu - a.mfu)[0]?.uid ?? miners[0].uid;
    const friend = miners[runRng.int(miners.length)].uid;
    const makeReport = (m: SimMember, skew: 'honest' | 'inflate'): SignedScoreReport => {
      const entries: ScoreEntry[] = truth.map((t, i) => {
        const base = { uid: t.uid, minerHotkey: miners[i].minerHotkey, codeSha256: miners[i].codeSha256 };
        if (skew === 'inflate' && t.uid === friend) return { ...base, score: 990_000, status: 'scored' };
        if (skew === 'inflate' && t.uid === honestBest) return { ...base, score: 0, status: 'rejected-runtime' };
        if (t.failed) return { ...base, score: 0, status: 'rejected-runtime' };
        // Honest measurement noise: +-0.5 %.
        return { ...base, score: Math.round(t.mfu * (1 + (runRng.float() - 0.5) * 0.01)), status: 'scored' };
      });
      const report: ScoreReport = { version: 1, ...context, validatorHotkey: m.sr.hotkey, entries, issuedAt: 1_700_000_000_000 + run * 4_320_000 };
      const c0 = process.cpuUsage();
      const signed = signScoreReport(report, m.sr);
      const c1 = process.cpuUsage(c0);
      cpuUs[m.index] += c1.user + c1.system;
      return signed;
    };
    const own: (SignedScoreReport | null)[] = [];
    const twin: (SignedScoreReport | null)[] = [];
    const commitments: Record<string, string> = {};
    const honestReports: ScoreReport[] = [];
    for (const m of members) {
      let r: SignedScoreReport | null = null;
      let b: SignedScoreReport | null = null;
      if (m.fault === 'withhold') r = null;
      else if (m.fault === 'inflate') r = makeReport(m, 'inflate');
      else if (m.fault === 'equivocate') {
        r = makeReport(m, 'honest');
        b = makeReport(m, 'inflate');
      } else r = makeReport(m, 'honest');
      own.push(r);
      twin.push(b);
      if (r) commitments[m.sr.hotkey] = scoreReportHash(r.report);
      if (r && !m.fault) honestReports.push(r.report);
    }
    const setups: RunSetup[] = members.map((m) => ({
      context,
      members: peers,
      selfIndex: m.index,
      threshold: opts.threshold,
      policy: opts.policy,
      incumbentUid: incumbent,
      roster: miners,
      commitments,
      timing: opts.timing,
      ownReport: own[m.index],
      bindings,
    }));
    const states: PbftState[] = setups.map((s) => initState(s));
    const envs = members.map((m) => ({ signer: m.ed, verifier: verifiers[m.index] }));
    const decidedAt = new Array<number>(n).fill(-1);
    const decidedHash = new Array<string | null>(n).fill(null);
    let decidedDecision: Decision | null = null;
    const outgoing: Uint8Array[][] = members.map(() => []);
    let seq = 0;
    queue.clear();
    const partitionsActive = run % opts.partitionEvery === 0 ? opts.partitions : [];
    const healAt = t0 + partitionsActive.reduce((mx, p) => Math.max(mx, p.toMs), 0);
    const horizon = healAt + opts.livenessBoundMs;
    const groupOf = (i: number, groups: number) => Math.floor((i * groups) / n);
    const blocked = (from: number, to: number, at: number) =>
      partitionsActive.some((p) => at >= t0 + p.fromMs && at < t0 + p.toMs && groupOf(from, p.groups) !== groupOf(to, p.groups));

    const deliver = (from: number, to: number, bytes: Uint8Array, now: number, kind: string) => {
      res.messages++;
      res.messagesByKind[kind] = (res.messagesByKind[kind] ?? 0) + 1;
      if (members[from].fault === 'replay' && outgoing[from].length < 64) outgoing[from].push(bytes);
      const copies = runRng.chance(opts.duplicate) ? 2 : 1;
      for (let k = 0; k < copies; k++) {
        if (runRng.chance(opts.loss)) continue;
        const at = now + opts.minDelayMs + runRng.float() * (opts.maxDelayMs - opts.minDelayMs);
        if (blocked(from, to, now) || blocked(from, to, at)) continue;
        queue.push({ at, seq: seq++, to, from, bytes, timer: null });
      }
    };

    // ---- Byzantine behaviour (wrappers around the honest machine's outputs) ----
    interface EquivAttack {
      view: number;
      hashes: Map<string, { decision: Decision; group: Set<number> }>;
      tallies: Map<string, Map<string, Vote>>;
      issued: Set<string>;
    }
    const attacks = new Map<number, EquivAttack>();
    const honestSplit = (): [Set<number>, Set<number>] => {
      const a = new Set<number>();
      const b = new Set<number>();
      honest.forEach((h, k) => (k % 2 === 0 ? a : b).add(h));
      for (const m of members) if (m.fault) a.add(m.index);
      return [a, b];
    };
    const coalitionVotes = (att: EquivAttack, phase: 'prepare' | 'commit', hash: string) => {
      for (const cm of coalition) {
        const v = signVote({ phase, netuid: NETUID, runId, view: att.view, decisionHash: hash }, cm.ed);
        tallyAttack(att, v, -1, 0);
      }
    };
    const tallyAttack = (att: EquivAttack, v: Vote, self: number, now: number) => {
      const target = att.hashes.get(v.decisionHash);
      if (!target || v.view !== att.view) return;
      const key = `${v.phase}:${v.decisionHash}`;
      let t = att.tallies.get(key);
      if (!t) att.tallies.set(key, (t = new Map()));
      t.set(v.voter, v);
      if (att.issued.has(key)) return;
      const power = [...t.keys()].reduce((s, k) => s + (byNodeKey.get(k)?.stake ?? 0n), 0n);
      if (!meetsThreshold(power, totalStake, opts.threshold)) return;
      if (self < 0) return; // certificates go out when the attacker next acts
      att.issued.add(key);
      const cert: Certificate = { phase: v.phase as 'prepare' | 'commit', view: att.view, decision: target.decision, votes: [...t.keys()].sort().map((k) => t!.get(k)!) };
      const bytes = encodeMessage({ type: 'certificate', cert });
      for (const to of target.group) if (to !== self) deliver(self, to, bytes, now, 'certificate');
      if (v.phase === 'prepare') coalitionVotes(att, 'commit', v.decisionHash);
    };
    const startAttack = (i: number, proposalBytes: Uint8Array, now: number): boolean => {
      const p = (decodeMessage(proposalBytes) as { type: 'proposal'; proposal: Proposal }).proposal;
      const st = states[i];
      const x = p.decision;
      // Y: the same rules over another valid counted set: a colluder's committed report added
      // (honest members check reports against commitments, not against proofs they may lack),
      // or else one honest report dropped.
      const inX = new Set(x.reportHashes);
      const extra = members.map((m) => own[m.index]).find((r, k) => r && members[k].fault && !inX.has(scoreReportHash(r.report)));
      const counted = x.reportHashes.map((h) => ({ report: st.reports[h].signed.report, hash: h, power: byHotkey.get(st.reports[h].hotkey)!.stake }));
      if (extra) counted.push({ report: extra.report, hash: scoreReportHash(extra.report), power: byHotkey.get(extra.report.validatorHotkey)!.stake });
      else {
        const dropIdx = counted.findIndex((c) => !byHotkey.get(c.report.validatorHotkey)?.fault);
        if (dropIdx < 0) return false;
        counted.splice(dropIdx, 1);
      }
      const y = computeDecision({ context, roster: miners, totalPower: totalStake, threshold: opts.threshold, policy: opts.policy, incumbentUid: incumbent }, counted);
      if (!meetsThreshold(y.countedPower, totalStake, opts.threshold)) return false;
      const [ga, gb] = honestSplit();
      const att: EquivAttack = { view: p.vote.view, hashes: new Map(), tallies: new Map(), issued: new Set() };
      const hx = decisionHash(x);
      const hy = decisionHash(y);
      att.hashes.set(hx, { decision: x, group: ga });
      att.hashes.set(hy, { decision: y, group: gb });
      attacks.set(i, att);
      const py: Proposal = { vote: signVote({ phase: 'propose', netuid: NETUID, runId, view: p.vote.view, decisionHash: hy }, members[i].ed), decision: y, justification: p.justification };
      const by = encodeMessage({ type: 'proposal', proposal: py });
      for (const to of ga) if (to !== i) deliver(i, to, proposalBytes, now, 'proposal');
      for (const to of gb) if (to !== i) deliver(i, to, by, now, 'proposal');
      coalitionVotes(att, 'prepare', hx);
      coalitionVotes(att, 'prepare', hy);
      return true;
    };

    const emit = (i: number, outputs: Output[], now: number) => {
      const fault = members[i].fault;
      for (const o of outputs) {
        if (o.type === 'set-timer') {
          queue.push({ at: Math.max(o.at, now), seq: seq++, to: i, from: i, bytes: null, timer: o.timer });
          continue;
        }
        if (o.type === 'decided') {
          if (!fault) {
            decidedAt[i] = now;
            decidedHash[i] = o.hash;
            decidedDecision ??= o.decision;
          }
          continue;
        }
        if (o.type === 'equivocation') {
          res.equivocationDetections++;
          continue;
        }
        if (o.type === 'rejected') {
          res.rejectedMessages++; if (process.env.SIM_DEBUG) console.error(`run ${run} t=${(now - t0).toFixed(0)} member ${i}${fault ? "(byz)" : ""} rejected from ${o.from}: ${o.reason}`);
          continue;
        }
        // send / broadcast
        if (process.env.SIM_TRACE && Number(process.env.SIM_TRACE) === run && o.kind !== 'report') {
          const m = decodeMessage(o.bytes);
          const view = m.type === 'proposal' ? m.proposal.vote.view : m.type === 'vote' ? `${m.vote.view}/${m.vote.phase}` : m.type === 'certificate' ? `${m.cert.view}/${m.cert.phase}` : m.type === 'view-change' ? m.viewChange.newView : '';
          console.error(`t=${(now - t0).toFixed(0)} ${i}${fault ? '(' + fault + ')' : ''} ${o.type} ${o.kind} ${o.type === 'send' ? 'to ' + o.to : ''} view ${view} [member view ${states[i].view}]`);
        }
        if (fault === 'withhold') continue;
        if (fault === 'silent-proposer' && (o.kind === 'proposal' || o.kind === 'certificate')) continue;
        if (fault === 'equivocate' && o.type === 'broadcast' && o.kind === 'report') {
          const b = twin[i];
          const bBytes = b ? encodeMessage({ type: 'report', signed: b }) : o.bytes;
          for (let to = 0; to < n; to++) {
            if (to === i) continue;
            deliver(i, to, to % 2 === 0 ? o.bytes : bBytes, now, 'report');
          }
          continue;
        }
        if (fault === 'equivocate' && o.type === 'broadcast' && o.kind === 'proposal' && startAttack(i, o.bytes, now)) continue;
        const att = attacks.get(i);
        if (att && o.kind === 'certificate') continue; // the attacker hands out its own certificates
        const targets = o.type === 'send' ? [o.to] : members.map((m) => m.index).filter((j) => j !== i);
        for (const to of targets) deliver(i, to, o.bytes, now, o.kind);
        if (fault === 'conflict-vote' && o.type === 'send' && o.kind === 'vote') {
          const v = (decodeMessage(o.bytes) as { type: 'vote'; vote: Vote }).vote;
          const fake = signVote({ phase: v.phase, netuid: v.netuid, runId: v.runId, view: v.view, decisionHash: toHex(runRng.bytes(32)) }, members[i].ed);
          deliver(i, o.to, encodeMessage({ type: 'vote', vote: fake }), now, 'vote');
        }
        if (fault === 'garbage' && runRng.chance(0.3)) {
          const junk = runRng.chance(0.5) ? runRng.bytes(1 + runRng.int(200)) : Uint8Array.from(o.bytes);
          if (junk.length === o.bytes.length) junk[runRng.int(junk.length)] ^= 1 + runRng.int(255);
          deliver(i, targets[runRng.int(targets.length)], junk, now, 'garbage');
        }
      }
    };

    // process.cpuUsage() per step would cost more than many steps; steps are timed with
    // performance.now() and the run's step time is scaled by the loop's measured CPU/wall ratio.
    const stepMs = new Array<number>(n).fill(0);
    const runStep = (i: number, input: Parameters<typeof step>[1], now: number) => {
      const w0 = performance.now();
      const { outputs } = step(states[i], input, now, envs[i]);
      stepMs[i] += performance.now() - w0;
      emit(i, outputs, now);
    };

    // Start every member with a small clock skew; replayers resend last run's traffic.
    for (const m of members) queue.push({ at: t0 + runRng.int(200), seq: seq++, to: m.index, from: m.index, bytes: null, timer: '__start' });
    for (const m of members) {
      if (m.fault !== 'replay') continue;
      for (const bytes of previousOutgoing[m.index]) deliver(m.index, runRng.int(n), bytes, t0 + 50, 'replay');
    }

    let events = 0;
    const maxEvents = 5_000_000;
    const loopCpu0 = process.cpuUsage();
    const loopWall0 = performance.now();
    for (;;) {
      const ev = queue.pop();
      if (!ev || ev.at > horizon || events++ > maxEvents) break;
      const now = ev.at;
      if (ev.timer === '__start') runStep(ev.to, { type: 'start' }, now);
      else if (ev.timer !== null) runStep(ev.to, { type: 'timeout', timer: ev.timer }, now);
      else {
        const att = attacks.get(ev.to);
        if (att) {
          try {
            const m = decodeMessage(ev.bytes!);
            if (m.type === 'vote') tallyAttack(att, m.vote, ev.to, now);
          } catch {
            /* garbage */
          }
        }
        runStep(ev.to, { type: 'message', from: ev.from, bytes: ev.bytes! }, now);
      }
      if (honest.every((h) => decidedAt[h] >= 0)) break;
    }

    const loopCpu = process.cpuUsage(loopCpu0);
    const loopWall = performance.now() - loopWall0;
    const cpuShare = loopWall > 0 ? Math.min(1, (loopCpu.user + loopCpu.system) / 1000 / loopWall) : 1;
    for (let i = 0; i < n; i++) cpuUs[i] += stepMs[i] * cpuShare * 1000;

    // ---- checks for this run ----
    const hashes = new Set(honest.map((h) => decidedHash[h]).filter((h): h is string => h !== null));
    if (hashes.size > 1) {
      res.safetyViolations++;
      if (res.violations.length < 10) res.violations.push({ run, hashes: [...hashes] });
    }
    if (honest.some((h) => decidedAt[h] < 0)) res.livenessFailures++;
    else res.decided++;
    for (const h of honest) if (decidedAt[h] >= 0) latencies.push(decidedAt[h] - t0);
    for (const h of honest) res.maxView = Math.max(res.maxView, states[h].view);
    if (honest.some((h) => states[h].view > 0)) res.viewChangesRuns++;
    if (process.env.SIM_DEBUG) {
      const views = honest.map((h) => states[h].view);
      const maxV = Math.max(...views);
      const props = Array.from({ length: maxV + 1 }, (_, v) => members[proposerIndex(n, runId, v)].fault ?? 'honest');
      console.error(`run ${run}: views ${Math.min(...views)}..${Math.max(...views)}, proposers ${props.join(',')}, messages so far ${res.messages}`);
    }
    const d = decidedDecision as Decision | null;
    if (d) {
      if (d.outcome === 'hold') res.holds++;
      for (const s of d.scores) {
        const votes = honestReports.map((r) => r.entries.find((e) => e.uid === s.uid)!).filter((e) => VOTING_STATUSES.has(e.status)).map((e) => (e.status === 'scored' ? e.score : 0));
        if (votes.length && (s.score < Math.min(...votes) || s.score > Math.max(...votes))) res.scoreOutsideHonestRange++;
      }
      incumbent = d.winnerUid;
    }
    previousOutgoing = outgoing;
  }

  const vs = verifier.stats;
  res.signatureVerifications = vs.sr25519 + vs.ed25519;
  res.sr25519Verifications = vs.sr25519;
  res.ed25519Verifications = vs.ed25519;
  res.realVerifications = vs.realSr25519 + vs.realEd25519;
  res.verificationsPerMemberPerRun = round(res.signatureVerifications / (n * opts.runs));
  res.messagesPerRun = round(res.messages / opts.runs);
  latencies.sort((a, b) => a - b);
  res.simulatedLatencyMs = { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies[latencies.length - 1] ?? 0) };
  const perMember = cpuUs.map((us, i) => (us / 1000 + verifier.chargedMs[i]) / opts.runs);
  res.cpuMsPerMember = round(perMember.reduce((s, x) => s + x, 0) / n);
  res.cpuMsPerMemberMax = round(Math.max(...perMember));
  res.verifyCostMs = { sr25519: round(verifier.meanSrMs()), ed25519: round(verifier.meanEdMs()) };
  res.wallMs = Math.round(performance.now() - wall0);
  return res;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

