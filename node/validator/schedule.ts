// Where a run sits in the chain's epoch schedule (pure): the legacy epoch rule, a run's commit and reveal
// deadlines as absolute blocks, and the block the next run starts at.
import type { RunWindows } from './windows.ts';
import type { RunRecord } from './store.ts';

/**
 * The legacy (pre-spec 423) epoch boundary at or before `block`: (block + netuid + 1) % (tempo + 1) == 0.
 * Negative before the first boundary. Current runtimes key runs by LastEpochBlock (ChainPort.epoch).
 */
export function epochStart(block: number, tempo: number, netuid: number): number {
  const t = tempo + 1;
  return block - ((block + netuid + 1) % t);
}

/** A run's windows as absolute blocks: fixed in its record when it opened (older records: the current windows `w`). */
export function runDeadlines(r: RunRecord, w: RunWindows): { commitEnd: number; revealEnd: number } {
  const commitEnd = r.commitEnd ?? r.runId + w.commitBlocks;
  return { commitEnd, revealEnd: r.revealEnd ?? commitEnd + w.revealBlocks };
}

/** The chain's schedule as the loop last read it. */
export interface ScheduleView {
  model: 'stateful' | 'legacy';
  tempo: number;
  /** the run (epoch) the chain is in (null: none yet) */
  runStart: number | null;
  /** the block the chain expects the next epoch at */
  nextEpochAt: number;
}

/**
 * The block the run after `r` starts at, by the chain's schedule: while the chain is still in `r`, the
 * next epoch it expects now (a triggered epoch or a tempo change moves it); once it is in a later run,
 * that run's start (or the expectation when `r` opened, if earlier: the node missed epochs).
 */
export function nextRunStart(r: RunRecord, s: ScheduleView): number {
  const expected = r.nextRunAt ?? r.runId + (s.model === 'legacy' ? s.tempo + 1 : s.tempo);
  if (s.runStart === r.runId && s.nextEpochAt > r.runId) return s.nextEpochAt;
  if (s.runStart !== null && s.runStart > r.runId) return Math.min(s.runStart, expected);
  return expected;
}
