// The decision of a run from a set of counted reports, by the pure consensus rules
// (consensus/decision.ts: stake-weighted lower median, quorum, winner with dethrone margin, burn
// split), mapped to the run record's view. Used by the run loop and by `conclave audit`.
import { computeDecision as consensusDecision, type IncumbentBasis } from '../../consensus/decision.ts';
import { buildValidatorSet, meetsThreshold, type Neuron, type Threshold } from '../../consensus/validator-set.ts';
import { PPM, type WinnerPolicy } from '../../consensus/winner.ts';
import type { Decision } from '../../proto/consensus.ts';
import type { RosterEntry } from '../../proto/roster.ts';
import { scoreReportHash, type ScoreReport } from '../../proto/score-report.ts';
import type { NodeConfig } from '../config.ts';
import type { RunDecision } from './store.ts';

export interface DecisionRules {
  threshold: Threshold;
  winner: WinnerPolicy;
  minStake: bigint;
  /** Missed reveals in a row after which a validator sits out a run (consensus.max_missed_reveals; 0 never). */
  maxMissedReveals: number;
}

/** Config fractions → the exact integer forms consensus uses. */
export function rulesFromConfig(c: NodeConfig): DecisionRules {
  const q = c.consensus.quorum;
  const threshold: Threshold = Math.abs(q - 2 / 3) < 1e-6 ? { num: 2, den: 3 } : { num: Math.round(q * PPM), den: PPM };
  return {
    threshold,
    minStake: c.consensus.minStake,
    maxMissedReveals: c.consensus.maxMissedReveals,
    winner: { burnUid: c.consensus.burnUid, burnRatePpm: Math.round(c.consensus.burnRate * PPM), dethroneMarginPpm: Math.round(c.consensus.dethroneMargin * PPM) },
  };
}

export function decisionView(d: Decision, roster: RosterEntry[], threshold: Threshold): RunDecision {
  const score = new Map(d.scores.map((s) => [s.uid, s.score]));
  return {
    quorumMet: meetsThreshold(d.countedPower, d.totalPower, threshold),
    outcome: d.outcome,
    scores: roster.map((e) => ({ uid: e.uid, hotkey: e.minerHotkey, score: score.get(e.uid) ?? null })),
    winner: d.winnerUid,
    weights: d.weights.map((w) => ({ uid: w.uid, weight: w.weightPpm / PPM })),
    reportHashes: d.reportHashes,
    incumbentUid: d.incumbentUid ?? null,
    countedStakeShare: d.totalPower > 0n ? Number((d.countedPower * 1_000_000n) / d.totalPower) / 1e6 : 0,
    previous: d.previous,
    missedReveals: d.missedReveals,
    excluded: d.excluded,
  };
}

/**
 * The consensus Decision for `reports` (one per member, already verified against their commitments)
 * under `rules`, with the incumbent from `basis` and the missed reveals of the `committed` members.
 * Reports of excluded members are the caller's to leave out (see consensus/decision.ts countingPower).
 */
export function decide(
  reports: ScoreReport[],
  members: { hotkey: string; stake: bigint }[],
  roster: RosterEntry[],
  ctx: { netuid: number; runId: number; rosterHash: string; policyHash: string; hardwareClass: string },
  basis: IncumbentBasis,
  rules: DecisionRules,
  committed: string[] = [],
  /** Each report's hash; a caller holding the reports' canonical bytes passes their sha256 instead of re-encoding. */
  hashOf: (r: ScoreReport) => string = scoreReportHash,
): Decision {
  const power = new Map(members.map((m) => [m.hotkey, m.stake]));
  const counted = reports.filter((r) => power.has(r.validatorHotkey)).map((r) => ({ report: r, hash: hashOf(r), power: power.get(r.validatorHotkey)! }));
  return consensusDecision({ context: ctx, roster, members, threshold: rules.threshold, policy: rules.winner, basis, committed, maxMissedReveals: rules.maxMissedReveals }, counted);
}

export function membersOf(neurons: Neuron[], minStake: bigint) {
  return buildValidatorSet(neurons, { minStake }).members;
}
