// The run loop's backoff after a failed step (pure but for the log): a refusal by the chain waits longer
// than a transient error, and each cause is logged once per run (then at debug).
import { ChainWriteRefused, type Logger } from './ports.ts';
import type { LiveRun } from './phases/context.ts';

/** Backoff after a failed step: a refusal by the chain waits longer than a transient error. */
const BACKOFF = { refusedMs: 2_000, refusedMaxMs: 60_000, errorMs: 500, errorMaxMs: 10_000 };

/**
 * A failed step waits before the next try (doubling: a refused write from 2 s to 60 s, anything else
 * from 0.5 s to 10 s) and is logged once per run and cause — with the chain's error — then at debug.
 * Sets `l.failures` and `l.retryAt` (from `now`).
 */
export function backoffRun(l: LiveRun, err: Error, now: number, log: Logger): void {
  const refused = err instanceof ChainWriteRefused;
  const failures = (l.failures ?? 0) + 1;
  l.failures = failures;
  const base = refused ? BACKOFF.refusedMs : BACKOFF.errorMs;
  const max = refused ? BACKOFF.refusedMaxMs : BACKOFF.errorMaxMs;
  const delay = Math.min(max, base * 2 ** Math.min(failures - 1, 20));
  l.retryAt = now + delay;
  const key = refused ? `${err.op}:${err.errorName ?? err.kind}` : `${l.record.phase}:${err.message.slice(0, 120)}`;
  l.logged ??= new Set();
  const fields = { runId: l.record.runId, phase: l.record.phase, error: err.message, retryInMs: delay, attempt: failures };
  if (l.logged.has(key)) {
    log.debug('run step failed again; backing off', fields);
    return;
  }
  l.logged.add(key);
  if (refused) log.warn('chain refused a write; backing off (logged once per run)', { ...fields, op: err.op, kind: err.kind, chainError: err.errorName });
  else log.warn('run step failed; backing off', fields);
}
