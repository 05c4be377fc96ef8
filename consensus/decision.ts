// From a counted set of reports to the run's Decision: aggregation, quorum, winner, weights.
import type { Decision } from '../proto/consensus.ts';
import type { ScoreReport } from '../proto/score-report.ts';
import { aggregateScores, type RosterSlot, type RunContext } from './aggregate.ts';
import { meetsThreshold, type Threshold } from './validator-set.ts';
import { chooseWinner, weightsFor, type WinnerPolicy } from './winner.ts';

export interface DecisionRules {
  context: RunContext;
  roster: readonly RosterSlot[];
  totalPower: bigint;
  threshold: Threshold;
  policy: WinnerPolicy;
  incumbentUid: number | null;
}

export interface CountedInput {
  report: ScoreReport;
  hash: string;
  power: bigint;
}

/**
 * The decision for a counted set. Counted power at or below the threshold is a quorum miss: the
 * decision is 'hold' (incumbent keeps its weights) and no miner gets a score — never one
 * validator's view. Callers guarantee one report per validator (see the state machine).
 */
export function computeDecision(rules: DecisionRules, counted: readonly CountedInput[]): Decision {
  const { context, policy } = rules;
  const countedPower = counted.reduce((s, c) => s + c.power, 0n);
  const reportHashes = counted.map((c) => c.hash).sort();
  const base = {
    version: 1 as const,
    netuid: context.netuid,
    runId: context.runId,
    rosterHash: context.rosterHash,
    policyHash: context.policyHash,
    hardwareClass: context.hardwareClass,
    incumbentUid: rules.incumbentUid,
    reportHashes,
    countedPower,
    totalPower: rules.totalPower,
  };
  const hold = (): Decision => ({ ...base, outcome: 'hold', winnerUid: rules.incumbentUid, weights: weightsFor(rules.incumbentUid, policy), scores: [] });
  if (!meetsThreshold(countedPower, rules.totalPower, rules.threshold)) return hold();
  const consensus = aggregateScores(counted, rules.totalPower, rules.threshold);
  const scores = consensus.filter((m) => m.score !== null).map((m) => ({ uid: m.uid, score: m.score as number }));
  const blocks = new Map(rules.roster.map((r) => [r.uid, r.commitBlock]));
  const choice = chooseWinner(
    scores.map((s) => ({ ...s, commitBlock: blocks.get(s.uid) ?? Number.MAX_SAFE_INTEGER })),
    rules.incumbentUid,
    policy,
  );
  if (choice.winnerUid === null) return { ...hold(), scores };
  return { ...base, outcome: 'winner', winnerUid: choice.winnerUid, weights: weightsFor(choice.winnerUid, policy), scores };
}
