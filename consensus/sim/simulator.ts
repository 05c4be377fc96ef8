// Deterministic Byzantine simulator: every member runs the real consensus state machine
// (consensus/pbft.ts) with real sr25519 reports, salted commitments, ed25519 votes and real binding
// rules (consensus/bindings.ts), in one process, on virtual time. Randomness comes only from the
// seeded PRNG; the same options give the same result (except the CPU and wall-clock measurements).
//
// A run: every member commits sha256(salt || report), reveals during the reveal window (delivered
// before the consensus start: on time), then starts consensus. Runs chain: each member takes its
// incumbent from the last certificate it holds (the node's role of verifying a certified run a peer
// sends is played here with consensus/prior.ts, against the same validator set).
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { decodeMessage, encodeMessage, signVote, type CertifiedRun, type Decision, type Vote } from '../../proto/consensus.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { scoreReportHash, signScoreReport, type ScoreEntry, type ScoreReport } from '../../proto/score-report.ts';
import { revealCommitment, type Reveal } from '../../proto/reveal.ts';
import { signBinding, verifyBinding, type BindingRecord } from '../../proto/binding.ts';
import { cryptoReady, ed25519SignerFromSeed, publicKeyToHotkey, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import type { RunContext } from '../aggregate.ts';
import { BindingBook } from '../bindings.ts';
import { initState, step, type Output, type PbftState, type PriorRun, type RunSetup, type Timing } from '../pbft.ts';
import { verifyCertifiedRun } from '../prior.ts';
import { checkThreshold, proposerIndex, type Threshold } from '../validator-set.ts';
import { DEFAULT_WINNER_POLICY, type WinnerPolicy } from '../winner.ts';
import { EquivocationAttack, equivocatorSide, forgedBindings, selectiveDropSet, type AttackWorld } from './attacks.ts';
import { clearlyBeaten, closeRace, scoresOutsideHonestRange } from './outcome.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { MemoVerifier } from './verifier.ts';

export const FAULTS = [
  'equivocate', 'inflate', 'withhold', 'conflict-vote', 'garbage', 'replay', 'silent-proposer',
  'selective-count', 'abstain', 'binding-hijack', 'stale-incumbent', 'withhold-certificate', 'late-reveal',
] as const;
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
  /** Reveals are published this long before consensus starts (the reveal window). */
  revealWindowMs: number;
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
  timing: { proposeDelayMs: 500, viewTimeoutMs: 2_000, maxBackoffExponent: 2 },
  revealWindowMs: 2_000,
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
  /** Runs where every honest validator scored some miner A above the certified winner B (a clear race), yet B was certified. */
  winnerChangedByByzantine: number;
  clearRacesFlippedRuns: number[];
  /** Runs where the honest reports disagree on the order of the honest winner and its runner-up. */
  closeRaces: number;
  /** ... of which the certified winner differs from the decision of the honest reports alone. */
  closeRacesFlipped: number;
  closeRaceFlipShare: number;
  /** Forged bindings (another hotkey naming an honest node key, replays from another subnet) offered and accepted. */
  bindingForgeriesOffered: number;
  bindingForgeriesAccepted: number;
  /** Certified runs members fetched and had verified (stale incumbent, withheld certificates). */
  priorRunsVerified: number;
  /** Members that started a run without the latest certificate (stale-incumbent) and certified it anyway. */
  staleMembersCertified: number;
  staleMembers: number;
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
  /** Proposals refused for leaving out a reveal held on time. */
  incompleteProposalsRefused: number;
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
  if (!(o.revealWindowMs > o.maxDelayMs)) bad('the reveal window must be longer than the largest network delay');
  checkThreshold(o.threshold);
  return o;
}

const RAO = 1_000_000_000n;
const NETUID = 7;
const GENESIS = sha256Hex('conclave-sim-genesis');
const POLICY_HASH = sha256Hex('conclave-sim-policy');
const HARDWARE = 'sim-H100';
const BIND_AT = 1_700_000_000_000;

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
    const binding = signBinding({ genesisHash: GENESIS, netuid: NETUID, node: ed, multiaddrs: [`/ip4/127.0.0.1/tcp/${40000 + i}`], issuedAt: BIND_AT, expiresAt: BIND_AT + 7 * 86_400_000 }, sr);
    members.push({ index: i, uid: i + 1, sr, ed, nodeKey: toHex(ed.publicKey), stake: stakes[i], fault, binding });
  }
  const totalStake = stakes.reduce((s, x) => s + x, 0n);
  const byzStake = members.filter((m) => m.fault).reduce((s, m) => s + m.stake, 0n);
  const bindingOf = new Map(members.map((m) => [m.nodeKey, m.binding]));
  const honest = members.filter((m) => !m.fault).map((m) => m.index);
  const has = (f: Fault) => members.some((m) => m.fault === f);
  const verifier = new MemoVerifier(n);
  const verifiers = members.map((m) => verifier.forMember(m.index));
  const isValidator = new Set(members.map((m) => m.sr.hotkey));
  // binding checks are pure and repeated by every member: verified once per record
  const bindingMemo = new Map<string, { ok: true } | { ok: false; reason: string }>();
  const memoBinding = (b: BindingRecord, now: number) => {
    const k = `${b.signature}|${b.nodeSignature}|${b.nodePublicKey}|${b.hotkey}|${b.netuid}|${b.issuedAt}`;
    let v = bindingMemo.get(k);
    if (!v) bindingMemo.set(k, (v = verifyBinding(b, now, { scope: { genesisHash: GENESIS, netuid: NETUID } })));
    return v;
  };
  // every member's admission table (consensus/bindings.ts), loaded with the genuine bindings
  const books = members.map(() => new BindingBook({ genesisHash: GENESIS, netuid: NETUID }));
  for (const book of books) for (const m of members) book.consider(m.binding, BIND_AT + 1000, { isValidator: (h) => isValidator.has(h), verify: memoBinding });

  const minerRng = rng.fork(4);
  const miners = Array.from({ length: opts.miners }, (_, i) => ({
    uid: 1000 + i,
    minerHotkey: publicKeyToHotkey(minerRng.bytes(32)),
    codeSha256: toHex(minerRng.bytes(32)),
    commitBlock: 10 + minerRng.int(1000),
  }));
  const uids = miners.map((m) => m.uid);

  const res: SimResult = {
    validators: n, byzantine: opts.byzantine, byzantinePowerShare: Number((byzStake * 1_000_000n) / totalStake) / 1_000_000, runs: opts.runs,
    decided: 0, safetyViolations: 0, livenessFailures: 0, winnerChangedByByzantine: 0, clearRacesFlippedRuns: [], closeRaces: 0, closeRacesFlipped: 0, closeRaceFlipShare: 0,
    bindingForgeriesOffered: 0, bindingForgeriesAccepted: 0, priorRunsVerified: 0, staleMembersCertified: 0, staleMembers: 0,
    messages: 0, messagesPerRun: 0, messagesByKind: {}, signatureVerifications: 0, verificationsPerMemberPerRun: 0, sr25519Verifications: 0, ed25519Verifications: 0,
    realVerifications: 0, simulatedLatencyMs: { p50: 0, p99: 0, max: 0 }, cpuMsPerMember: 0, cpuMsPerMemberMax: 0, verifyCostMs: { sr25519: 0, ed25519: 0 },
    maxView: 0, viewChangesRuns: 0, equivocationDetections: 0, rejectedMessages: 0, incompleteProposalsRefused: 0, scoreOutsideHonestRange: 0, holds: 0, wallMs: 0, violations: [],
  };
  const cpuUs = new Array<number>(n).fill(0);
  const latencies: number[] = [];
  /** Each member's certified runs, newest last (its own memory; the stale-incumbent fault drops the newest). */
  const priors: PriorRun[][] = members.map(() => []);
  let previousOutgoing: Uint8Array[][] = members.map(() => []);
  const queue = new EventQueue<Ev>();
  const vsMembers = members.map((m) => ({ hotkey: m.sr.hotkey, stake: m.stake }));

  for (let run = 0; run < opts.runs; run++) {
    const runRng = rng.fork(100 + run);
    const runId = 1000 + run * 361;
    const t0 = run * 100_000_000 + opts.revealWindowMs;
    const seed = toHex(runRng.bytes(32));
    const roster: RosterEntry[] = miners.map((m) => ({ ...m, url: `https://example.invalid/${m.uid}.zip` }));
    const context: RunContext = { netuid: NETUID, runId, rosterHash: rosterHash(roster), policyHash: POLICY_HASH, hardwareClass: HARDWARE };
    // Ground truth this run: most submissions score, some fail at runtime.
    const truth = miners.map((m) => ({ uid: m.uid, failed: runRng.chance(0.1), mfu: 200_000 + runRng.int(400_000) }));
    const ranked = truth.filter((t) => !t.failed).sort((a, b) => b.mfu - a.mfu);
    const honestBest = ranked[0]?.uid ?? miners[0].uid;
    const friend = (ranked[1] ?? ranked[0])?.uid ?? miners[0].uid;
    const makeReveal = (m: SimMember, skew: 'honest' | 'inflate' | 'abstain' | 'veto'): Reveal => {
      const entries: ScoreEntry[] = truth.map((t, i) => {
        const base = { uid: t.uid, minerHotkey: miners[i].minerHotkey, codeSha256: miners[i].codeSha256 };
        if (skew === 'abstain') return { ...base, score: 0, status: 'fetch-failed' };
        if (skew === 'veto' && t.uid === honestBest) return { ...base, score: 0, status: 'fetch-failed' };
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
      return { salt: toHex(runRng.bytes(32)), signed };
    };
    const own: (Reveal | null)[] = [];
    const twin: (Reveal | null)[] = [];
    const commitments: Record<string, string> = {};
    for (const m of members) {
      let r: Reveal | null = null;
      let b: Reveal | null = null;
      if (m.fault === 'withhold') r = null;
      else if (m.fault === 'inflate') r = makeReveal(m, 'inflate');
      else if (m.fault === 'abstain') r = makeReveal(m, 'abstain');
      else if (m.fault === 'selective-count') r = makeReveal(m, 'veto');
      else if (m.fault === 'equivocate') {
        r = makeReveal(m, 'honest');
        b = makeReveal(m, 'inflate');
      } else r = makeReveal(m, 'honest');
      own.push(r);
      twin.push(b);
      if (r) commitments[m.sr.hotkey] = revealCommitment(r);
    }
    const honestReports = honest.flatMap((h) => (own[h] ? [{ report: own[h]!.signed.report, hash: scoreReportHash(own[h]!.signed.report), hotkey: members[h].sr.hotkey, power: members[h].stake }] : []));

    // binding-hijack: forged bindings offered to every honest member's admission table
    if (has('binding-hijack')) {
      for (const hj of members.filter((m) => m.fault === 'binding-hijack')) {
        for (const v of honest) {
          for (const forged of forgedBindings(hj, members[v], { genesisHash: GENESIS, netuid: NETUID }, BIND_AT + 2000 + run)) {
            for (const h of honest) {
              res.bindingForgeriesOffered++;
              if (books[h].consider(forged, BIND_AT + 3000 + run, { isValidator: (x) => isValidator.has(x), verify: memoBinding }).ok) res.bindingForgeriesAccepted++;
            }
          }
        }
      }
    }

    // stale-incumbent: one honest member (rotating) starts without the latest certificate it holds
    const staleVictim = opts.faults.includes('stale-incumbent') && opts.byzantine > 0 && run > 0 && honest.length ? honest[run % honest.length] : -1;
    const priorFor = (i: number): PriorRun | null => {
      const list = priors[i];
      if (i === staleVictim || members[i].fault === 'stale-incumbent') return list.length >= 2 ? list[list.length - 2] : null;
      return list[list.length - 1] ?? null;
    };
    if (staleVictim >= 0 && priors[staleVictim].length > 0) res.staleMembers++;

    const setups: RunSetup[] = members.map((m) => ({
      context,
      members: members.map((x) => ({ uid: x.uid, hotkey: x.sr.hotkey, stake: x.stake, nodeKey: books[m.index].nodeKeyOf(x.sr.hotkey) ?? '' })),
      selfIndex: m.index,
      threshold: opts.threshold,
      policy: opts.policy,
      roster: miners,
      seed,
      commitments,
      timing: opts.timing,
      ownReveal: own[m.index],
      prior: priorFor(m.index),
      chainIncumbent: null,
      maxMissedReveals: 0,
      bindings: Object.fromEntries(members.map((x) => [x.nodeKey, x.binding])),
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
    const world: AttackWorld = {
      netuid: NETUID, runId, context, roster: miners, threshold: opts.threshold, policy: opts.policy, members, totalStake, honest,
      reveals: own, committed: Object.keys(commitments), deliver,
    };
    const attacks = new Map<number, EquivocationAttack>();
    const dropSets = new Map<number, Set<string>>();
    for (const m of members) if (m.fault === 'selective-count') dropSets.set(m.index, selectiveDropSet(world, honestBest));
    const lateAt = t0 + opts.timing.proposeDelayMs + 50;
    /** Certified runs the node verified for a member, handed back to its reducer on the next event. */
    const pendingPriors = new Map<string, CertifiedRun>();

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
          res.rejectedMessages++;
          if (/leaves out \d+ valid report/.test(o.reason)) res.incompleteProposalsRefused++;
          if (process.env.SIM_DEBUG) console.error(`run ${run} t=${(now - t0).toFixed(0)} member ${i}${fault ? '(byz)' : ''} rejected from ${o.from}: ${o.reason}`);
          continue;
        }
        if (o.type === 'verify-prior') {
          // the node's role: verify the certified run against the validator set at its run (the same set here)
          const check = verifyCertifiedRun(o.evidence, { netuid: NETUID, genesisHash: GENESIS, members: vsMembers, threshold: opts.threshold }, verifiers[i], (b) => memoBinding(b, b.issuedAt).ok);
          if (process.env.SIM_DEBUG) console.error(`run ${run} member ${i}${fault ? '(' + fault + ')' : ''} verifies certified run ${o.evidence.certificate.decision.runId} from ${o.from}: ${check.ok ? 'ok' : check.reason}`);
          if (check.ok) {
            res.priorRunsVerified++;
            queue.push({ at: now + 1, seq: seq++, to: i, from: i, bytes: null, timer: `__prior:${JSON.stringify(priorKey(o.evidence))}` });
            pendingPriors.set(priorKeyString(i, o.evidence), o.evidence);
          }
          continue;
        }
        // send / broadcast
        if (process.env.SIM_TRACE && Number(process.env.SIM_TRACE) === run && o.kind !== 'reveal') {
          const m = decodeMessage(o.bytes);
          const view = m.type === 'proposal' ? m.proposal.vote.view : m.type === 'vote' ? `${m.vote.view}/${m.vote.phase}` : m.type === 'certificate' ? `${m.cert.view}/${m.cert.phase}` : m.type === 'view-change' ? m.viewChange.newView : '';
          console.error(`t=${(now - t0).toFixed(0)} ${i}${fault ? '(' + fault + ')' : ''} ${o.type} ${o.kind} ${o.type === 'send' ? 'to ' + o.to : ''} view ${view} [member view ${states[i].view}]`);
        }
        if (fault === 'withhold') continue;
        if (fault === 'silent-proposer' && (o.kind === 'proposal' || o.kind === 'certificate')) continue;
        if (fault === 'late-reveal' && o.kind === 'reveal' && now < lateAt) continue;
        if (fault === 'equivocate' && o.type === 'broadcast' && o.kind === 'reveal') {
          const b = twin[i];
          const bBytes = b ? encodeMessage({ type: 'reveal', reveal: b }) : o.bytes;
          for (let to = 0; to < n; to++) if (to !== i) deliver(i, to, equivocatorSide(world, to) === 'x' ? o.bytes : bBytes, now, 'reveal');
          continue;
        }
        if (fault === 'equivocate' && o.type === 'broadcast' && o.kind === 'proposal') {
          const p = states[i].prior;
          const basis = p ? { previous: { ref: { runId: p.runId, decisionHash: p.decisionHash }, decision: p.decision }, chain: null } : { previous: null, chain: null };
          const att = EquivocationAttack.start(world, i, states[i], basis, o.bytes, now);
          if (att) {
            attacks.set(i, att);
            continue;
          }
        }
        if (attacks.get(i) && o.kind === 'certificate') continue; // the attacker hands out its own certificates
        let targets = o.type === 'send' ? [o.to] : members.map((m) => m.index).filter((j) => j !== i);
        if (fault === 'withhold-certificate' && o.kind === 'certificate' && decodeMessage(o.bytes).type === 'certificate') {
          const cert = (decodeMessage(o.bytes) as { type: 'certificate'; cert: { phase: string } }).cert;
          if (cert.phase === 'commit') targets = targets.filter((j) => members[j].fault || honest.indexOf(j) % 2 === 0);
        }
        for (const to of targets) deliver(i, to, o.bytes, now, o.kind);
        if (fault === 'conflict-vote' && o.type === 'send' && o.kind === 'vote') {
          const v = (decodeMessage(o.bytes) as { type: 'vote'; vote: Vote }).vote;
          const fake = signVote({ phase: v.phase, netuid: v.netuid, runId: v.runId, view: v.view, decisionHash: toHex(runRng.bytes(32)) }, members[i].ed);
          deliver(i, o.to, encodeMessage({ type: 'vote', vote: fake }), now, 'vote');
        }
        if (fault === 'garbage' && runRng.chance(0.3)) {
          const junk = runRng.chance(0.5) ? runRng.bytes(1 + runRng.int(200)) : Uint8Array.from(o.bytes);
          if (junk.length === o.bytes.length) junk[runRng.int(junk.length)] ^= 1 + runRng.int(255);
          if (targets.length) deliver(i, targets[runRng.int(targets.length)], junk, now, 'garbage');
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

    // The reveal window: each member publishes its reveal before consensus starts (late-revealers
    // hold theirs back and send it to half of the members right after the first proposal).
    for (const m of members) {
      const r = own[m.index];
      if (!r || m.fault === 'withhold') continue;
      const at = t0 - opts.revealWindowMs + runRng.int(200);
      if (m.fault === 'late-reveal') {
        const bytes = encodeMessage({ type: 'reveal', reveal: r });
        for (const to of honest.filter((_, k) => k % 2 === 0)) deliver(m.index, to, bytes, lateAt, 'reveal');
        continue;
      }
      const bytes = encodeMessage({ type: 'reveal', reveal: r });
      const bBytes = twin[m.index] ? encodeMessage({ type: 'reveal', reveal: twin[m.index]! }) : bytes;
      // an equivocator reveals its committed report to side x only, its twin to side y
      for (let to = 0; to < n; to++) if (to !== m.index) deliver(m.index, to, m.fault === 'equivocate' && equivocatorSide(world, to) === 'y' ? bBytes : bytes, at, 'reveal');
    }
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
      else if (ev.timer !== null && ev.timer.startsWith('__prior:')) {
        const evidence = pendingPriors.get(`${ev.to}|${ev.timer.slice(8)}`);
        if (evidence) runStep(ev.to, { type: 'verified-prior', evidence }, now);
      } else if (ev.timer !== null) runStep(ev.to, { type: 'timeout', timer: ev.timer }, now);
      else {
        const drop = dropSets.get(ev.to);
        let msg: ReturnType<typeof decodeMessage> | null = null;
        if (drop || attacks.get(ev.to)) {
          try {
            msg = decodeMessage(ev.bytes!);
          } catch {
            msg = null;
          }
        }
        // a selective-counting proposer ignores the reveals it wants left out
        if (drop && msg?.type === 'reveal' && drop.has(msg.reveal.signed.report.validatorHotkey)) continue;
        const att = attacks.get(ev.to);
        if (att && msg?.type === 'vote') att.tally(msg.vote, ev.to, now);
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
    if (staleVictim >= 0 && priors[staleVictim].length > 0 && decidedAt[staleVictim] >= 0) res.staleMembersCertified++;
    for (const h of honest) if (decidedAt[h] >= 0) latencies.push(decidedAt[h] - t0);
    for (const h of honest) res.maxView = Math.max(res.maxView, states[h].view);
    if (honest.some((h) => states[h].view > 0)) res.viewChangesRuns++;
    if (process.env.SIM_DEBUG) {
      const views = honest.map((h) => states[h].view);
      const maxV = Math.max(...views);
      const props = Array.from({ length: maxV + 1 }, (_, v) => members[proposerIndex(n, runId, v, seed)].fault ?? 'honest');
      console.error(`run ${run}: views ${Math.min(...views)}..${Math.max(...views)}, proposers ${props.join(',')}, messages so far ${res.messages}`);
    }
    const d = decidedDecision as Decision | null;
    if (d) {
      if (d.outcome === 'hold') res.holds++;
      const hr = honestReports.map((x) => x.report);
      res.scoreOutsideHonestRange += scoresOutsideHonestRange(d, hr);
      if (clearlyBeaten(d, hr, opts.policy, uids, opts.threshold) !== null) {
        res.winnerChangedByByzantine++;
        if (res.clearRacesFlippedRuns.length < 10) res.clearRacesFlippedRuns.push(run);
      }
      const cr = closeRace(d, honestReports, { context, roster: miners, threshold: opts.threshold, policy: opts.policy });
      if (cr.close) {
        res.closeRaces++;
        if (cr.flipped) res.closeRacesFlipped++;
      }
    }
    // what each member holds for the next run: the certificate it decided, with its voters' bindings
    for (const m of members) {
      const dec = states[m.index].decided;
      if (!dec) continue;
      const evidence: CertifiedRun = { certificate: dec.certificate, bindings: dec.certificate.votes.map((v) => bindingOf.get(v.voter)!).filter(Boolean) };
      priors[m.index].push({ runId, decisionHash: dec.hash, decision: dec.decision, evidence });
      if (priors[m.index].length > 3) priors[m.index].shift();
    }
    previousOutgoing = outgoing;
  }

  res.closeRaceFlipShare = res.closeRaces ? round(res.closeRacesFlipped / res.closeRaces) : 0;
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

function priorKey(ev: CertifiedRun): [number, string] {
  return [ev.certificate.decision.runId, ev.certificate.votes[0]?.decisionHash ?? ''];
}

function priorKeyString(member: number, ev: CertifiedRun): string {
  return `${member}|${JSON.stringify(priorKey(ev))}`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

