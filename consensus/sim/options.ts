// The simulator's options (the `conclave sim` flags), their defaults and checks, and the shape of its
// result.
import { checkThreshold, type Threshold } from '../validator-set.ts';
import { DEFAULT_WINNER_POLICY, type WinnerPolicy } from '../winner.ts';
import type { Timing } from '../pbft.ts';

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
