// From a counted set of reports to the run's Decision: aggregation, quorum, incumbent, winner,
// weights, and the per-validator record of missed reveals (and the exclusions it leads to).
import { compareHotkeys, type Decision, type PreviousRef } from '../proto/consensus.ts';
import type { ScoreReport } from '../proto/score-report.ts';
import { aggregateScores, type RosterSlot, type RunContext } from './aggregate.ts';
import { incumbentFromDecision, type IncumbentRef } from './incumbent.ts';
import { meetsThreshold, type Threshold } from './validator-set.ts';
import { chooseWinner, weightsFor, type WinnerPolicy } from './winner.ts';

/**
 * What the incumbent (and the missed-reveal streaks) of a run are derived from: the latest certified
 * run a member knows, or, when it knows none, the incumbent on chain at the run's start block.
 */
export interface IncumbentBasis {
  previous: { ref: PreviousRef; decision: Decision } | null;
  /** consensus/incumbent.ts incumbentFromWeights at the run's start block; used only when `previous` is null. */
  chain: IncumbentRef | null;
}

export interface DecisionRules {
  context: RunContext;
  roster: readonly RosterSlot[];
  /** The validator set at the run's start block (voting power = stake). */
  members: readonly { hotkey: string; stake: bigint }[];
  threshold: Threshold;
  policy: WinnerPolicy;
  basis: IncumbentBasis;
  /** Members with a commitment for this run on chain by the commit deadline. */
  committed: readonly string[];
  /** Missed reveals in a row after which a member sits out the next run; 0 never excludes. */
  maxMissedReveals: number;
}

export interface CountedInput {
  report: ScoreReport;
  hash: string;
  power: bigint;
}

/** Members excluded from a run by the subnet's rule: their streak of missed reveals reached the limit in the previous certified run. */
export function excludedBy(previous: Decision | null, maxMissedReveals: number, members: readonly { hotkey: string }[]): string[] {
  if (!previous || maxMissedReveals <= 0) return [];
  const isMember = new Set(members.map((m) => m.hotkey));
  return previous.missedReveals.filter((m) => m.streak >= maxMissedReveals && isMember.has(m.hotkey)).map((m) => m.hotkey).sort(compareHotkeys);
}

/** The incumbent a run is decided against (see IncumbentBasis). */
export function incumbentOf(basis: IncumbentBasis, roster: readonly RosterSlot[]): IncumbentRef | null {
  if (basis.previous) return incumbentFromDecision(basis.previous.decision, roster);
  if (!basis.chain) return null;
  const slot = roster.find((r) => r.uid === basis.chain!.uid);
  return slot && slot.minerHotkey === basis.chain.hotkey ? { uid: slot.uid, hotkey: slot.minerHotkey } : null;
}

/** The power the run's counting is measured against: the validator set less the excluded members. */
export function countingPower(rules: Pick<DecisionRules, 'members' | 'basis' | 'maxMissedReveals'>): { total: bigint; excluded: string[] } {
  const excluded = excludedBy(rules.basis.previous?.decision ?? null, rules.maxMissedReveals, rules.members);
  const out = new Set(excluded);
  return { total: rules.members.reduce((s, m) => (out.has(m.hotkey) ? s : s + m.stake), 0n), excluded };
}

/**
 * The decision for a counted set. Counted power at or below the threshold of the counting power is
 * a quorum miss: the decision is 'hold' (incumbent keeps its weights) and no miner gets a score —
 * never one validator's view. Callers guarantee one report per validator and that no excluded
 * member is counted (see the state machine).
 */
export function computeDecision(rules: DecisionRules, counted: readonly CountedInput[]): Decision {
  const { context, policy } = rules;
  const countedPower = counted.reduce((s, c) => s + c.power, 0n);
  const reportHashes = counted.map((c) => c.hash).sort();
  const { total, excluded } = countingPower(rules);
  const incumbent = incumbentOf(rules.basis, rules.roster);
  const incumbentUid = incumbent?.uid ?? null;
  const countedHotkeys = new Set(counted.map((c) => c.report.validatorHotkey));
  const isMember = new Set(rules.members.map((m) => m.hotkey));
  const previousStreak = new Map((rules.basis.previous?.decision.missedReveals ?? []).map((m) => [m.hotkey, m.streak]));
  const excludedSet = new Set(excluded);
  const missedReveals = [...new Set(rules.committed)]
    .filter((h) => isMember.has(h) && !excludedSet.has(h) && !countedHotkeys.has(h))
    .sort(compareHotkeys)
    .map((hotkey) => ({ hotkey, streak: (previousStreak.get(hotkey) ?? 0) + 1 }));
  const hotkeyOf = new Map(rules.roster.map((r) => [r.uid, r.minerHotkey]));
  const base = {
    version: 2 as const,
    netuid: context.netuid,
    runId: context.runId,
    rosterHash: context.rosterHash,
    policyHash: context.policyHash,
    hardwareClass: context.hardwareClass,
    incumbentUid,
    previous: rules.basis.previous ? { ...rules.basis.previous.ref } : null,
    reportHashes,
    countedPower,
    totalPower: total,
    missedReveals,
    excluded,
  };
  const hold = (): Decision => ({
    ...base, outcome: 'hold', winnerUid: incumbentUid, winnerHotkey: incumbent?.hotkey ?? null, weights: weightsFor(incumbentUid, policy), scores: [],
  });
  if (!meetsThreshold(countedPower, total, rules.threshold)) return hold();
  const consensus = aggregateScores(counted, countedPower, rules.threshold);
  const scores = consensus.filter((m) => m.score !== null).map((m) => ({ uid: m.uid, score: m.score as number }));
  const blocks = new Map(rules.roster.map((r) => [r.uid, r.commitBlock]));
  const choice = chooseWinner(
    scores.map((s) => ({ ...s, commitBlock: blocks.get(s.uid) ?? Number.MAX_SAFE_INTEGER })),
    incumbentUid,
    policy,
  );
  if (choice.winnerUid === null) return { ...hold(), scores };
  return { ...base, outcome: 'winner', winnerUid: choice.winnerUid, winnerHotkey: hotkeyOf.get(choice.winnerUid) ?? null, weights: weightsFor(choice.winnerUid, policy), scores };
}
