// When a run's consensus must give up (pure). Two bounds, whichever comes first:
// - the protocol's: max(consensus.consensus_timeout_s, n views) of wall time since consensus opened —
//   every member gets its view as proposer (consensus/pbft/timers.ts runTimeoutMs);
// - the chain's: the block at which the NEXT run's consensus starts (its reveal deadline: the next
//   epoch's start + its commit and reveal windows, derived from the tempo as the run loop does). Past
//   it this run's outcome could no longer be the next run's incumbent basis, and its weights would
//   land an epoch late or never. The chain is the clock every validator shares, so the deadline is a
//   block number compared with the head block, not a duration.
// With 64 members and 30 s views the first bound is ≈ 2.1 h against a 72 min finney epoch: the chain
// bound caps it. The node warns once when n views do not fit the epoch's post-reveal time (the time
// weights still land in this epoch) and names the largest view timeout that would.
import { maxViewTimeoutMs, runTimeoutMs, type Timing } from '../../consensus/pbft.ts';

export interface NextRunWindows {
  commitBlocks: number;
  revealBlocks: number;
}

/** The block the next run's consensus starts at: its start (the next epoch) + its commit and reveal windows. */
export function consensusDeadlineBlock(nextRunAt: number, next: NextRunWindows): number {
  return nextRunAt + next.commitBlocks + next.revealBlocks;
}

export interface BudgetInput {
  /** this run's reveal deadline (block): consensus opens there */
  revealEnd: number;
  /** the block the next run (epoch) starts at, by the chain's schedule */
  nextRunAt: number;
  /** the next run's windows (the tempo's, as the run loop derives them) */
  windows: NextRunWindows;
  /** the chain's target block time (ms): converts blocks to time for estimates and the warning only */
  blockTimeMs: number;
  /** members of the run (each gets a view as proposer) */
  members: number;
  timing: Timing;
  /** consensus.consensus_timeout_s in ms */
  configTimeoutMs: number;
}

export interface ConsensusBudget {
  /** quorum miss at the latest when the head block reaches this */
  deadlineBlock: number;
  /** blocks and time this epoch leaves after the reveal window (weights set in it land this epoch) */
  tailBlocks: number;
  tailMs: number;
  /** propose delay + one view per member (capped backoff) */
  viewsMs: number;
  /** the protocol's bound: max(consensus_timeout_s, viewsMs) */
  timeoutMs: number;
  /** the chain's bound as time from the reveal deadline, at the target block time (an estimate: blocks decide) */
  deadlineMs: number;
  /** min(timeoutMs, deadlineMs): how long consensus may take at most, as an estimate */
  effectiveMs: number;
  /** whether n views fit the post-reveal time */
  fits: boolean;
  /** the largest base view timeout (whole seconds) with which n views fit the post-reveal time */
  maxViewTimeoutS: number;
}

export function consensusBudget(x: BudgetInput): ConsensusBudget {
  const deadlineBlock = consensusDeadlineBlock(x.nextRunAt, x.windows);
  const tailBlocks = Math.max(0, x.nextRunAt - x.revealEnd);
  const tailMs = tailBlocks * x.blockTimeMs;
  const views = Math.max(1, x.members);
  const viewsMs = runTimeoutMs(x.timing, views);
  const timeoutMs = Math.max(x.configTimeoutMs, viewsMs);
  const deadlineMs = Math.max(0, deadlineBlock - x.revealEnd) * x.blockTimeMs;
  return {
    deadlineBlock, tailBlocks, tailMs, viewsMs, timeoutMs, deadlineMs,
    effectiveMs: Math.min(timeoutMs, deadlineMs),
    fits: viewsMs <= tailMs,
    maxViewTimeoutS: maxViewTimeoutMs(x.timing, views, tailMs, 1000) / 1000,
  };
}

/**
 * Whether consensus gives up now: 'chain-deadline' once the head block reached the deadline block,
 * 'timeout' once max(consensus_timeout_s, n views) of wall time passed, else null.
 */
export function quorumMissDue(x: { block: number; deadlineBlock: number; elapsedMs: number; timeoutMs: number }): 'chain-deadline' | 'timeout' | null {
  if (x.block >= x.deadlineBlock) return 'chain-deadline';
  if (x.elapsedMs > x.timeoutMs) return 'timeout';
  return null;
}

/** The warning's fields when n views do not fit the epoch's post-reveal time, else null. */
export function fitWarning(b: ConsensusBudget, members: number, viewTimeoutS: number): Record<string, unknown> | null {
  if (b.fits) return null;
  const s = (ms: number) => Math.round(ms / 100) / 10;
  return {
    members,
    viewTimeoutS,
    secondsNeeded: s(b.viewsMs),
    secondsAvailable: s(b.tailMs),
    postRevealBlocks: b.tailBlocks,
    largestViewTimeoutSThatFits: b.maxViewTimeoutS,
    quorumMissAtLatestAfterS: s(b.deadlineMs),
    hint: b.maxViewTimeoutS >= 1
      ? `set consensus.view_timeout_s <= ${b.maxViewTimeoutS} so that every member's view fits before the next epoch; a run needing them all (n-1 faulty proposers in a row) otherwise sets its weights an epoch late, and gives up at the next run's reveal deadline`
      : 'no view timeout of 1 s or more fits: a run needing every member\'s view sets its weights an epoch late, and gives up at the next run\'s reveal deadline',
  };
}
