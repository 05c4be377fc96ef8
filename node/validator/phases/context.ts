// What a phase of the run loop is given. The phase machine (node/validator/validator.ts) owns the
// order of phases and persists each transition; a phase module does the work of one phase on the
// live run and reports back, never choosing the next phase itself.
import type { ConsensusSession, ValidatorDeps } from '../ports.ts';
import type { RunRecord } from '../store.ts';

/** A run the loop is stepping: its persisted record plus what only lives in memory. */
export interface LiveRun {
  record: RunRecord;
  evaluation?: Promise<void>;
  evalAbort?: AbortController;
  session?: ConsensusSession;
  consensusStartedAt?: number;
  /** when the current phase began (ms; unknown for a run resumed from the store) */
  phaseSince?: number;
  busy: boolean;
  /** consecutive failed steps, and when the next try may run (backoff) */
  failures?: number;
  retryAt?: number;
  /** causes already logged at warn for this run */
  logged?: Set<string>;
  /** report commitments on chain by the commit deadline, read once the window closed (reveal.ts, certify.ts) */
  committed?: Map<string, { hash: string; block: number }>;
  /** committed hotkeys whose held reveal opens their commitment (publishing: may consensus start early?) */
  opened?: Set<string>;
}

export interface PhaseContext {
  readonly d: ValidatorDeps;
  readonly now: () => number;
  /** this node's hotkey (the signer's) */
  readonly hotkey: string;
  /** the best block the current tick read */
  readonly lastBlock: number;
}

/** A chain call whose failure is counted under `op` (and rethrown: the step is retried next tick). */
export async function chainCall<T>(ctx: PhaseContext, op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    ctx.d.metrics.chainErrors.inc({ op });
    throw err;
  }
}
