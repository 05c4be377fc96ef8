// Faults of the validator itself (Docker down, disk full, the reviewer not starting) are not verdicts on
// a submission: they are retried with backoff, never cached, and logged once per cause while they last
// (not once per miner or per attempt), with one line when they clear.
import { IntakeFault } from '../../runtime/intake-fault.ts';
import { ReviewError } from '../../runtime/review.ts';
import type { Logger } from './ports.ts';

export const DEFAULT_FAULT_BACKOFF_MS = [1_000, 2_000, 4_000];

/** The error a caller sees once the retries are spent; `logged` tells the run loop it was logged already. */
export class ValidatorFault extends Error {
  readonly cause: string;
  readonly logged = true;
  constructor(cause: string, message: string) {
    super(message);
    this.name = 'ValidatorFault';
    this.cause = cause;
  }
}

/** A short stable cause for an error (the same fault on every miner gives the same cause). */
export function faultCause(err: unknown): string {
  if (err instanceof IntakeFault) return `intake:${err.cause}`;
  if (err instanceof ReviewError) return 'reviewer';
  if (err instanceof ValidatorFault) return err.cause;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return `error:${code}`;
  const msg = (err as Error)?.message ?? String(err);
  if (/docker|sandbox/i.test(msg)) return 'sandbox';
  return `error:${(err as Error)?.name ?? 'unknown'}`;
}

export class FaultLog {
  private readonly log: Logger;
  private readonly active = new Map<string, { first: number; count: number }>();
  constructor(log: Logger) {
    this.log = log;
  }

  report(cause: string, err: unknown, now = Date.now()): void {
    const a = this.active.get(cause);
    if (a) {
      a.count++;
      return;
    }
    this.active.set(cause, { first: now, count: 1 });
    this.log.error('validator fault (retried with backoff; submissions are not blamed or cached)', {
      cause, error: (err as Error)?.message ?? String(err),
      fix: 'check the Docker engine (docker info), the data directory (disk space, permissions) and python3',
    });
  }

  recovered(now = Date.now()): void {
    if (this.active.size === 0) return;
    for (const [cause, a] of this.active) this.log.info('validator fault cleared', { cause, occurrences: a.count, lastedMs: now - a.first });
    this.active.clear();
  }

  activeCauses(): string[] {
    return [...this.active.keys()];
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn`; a thrown error is a fault: reported to `faults` (logged once per cause), retried after each
 * delay in `backoffMs` unless `signal` aborts, then rethrown as a ValidatorFault.
 */
export async function withFaultRetry<T>(fn: () => Promise<T>, faults: FaultLog, opts: { backoffMs?: number[]; signal?: AbortSignal } = {}): Promise<T> {
  const delays = opts.backoffMs ?? DEFAULT_FAULT_BACKOFF_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const out = await fn();
      faults.recovered();
      return out;
    } catch (err) {
      const cause = faultCause(err);
      faults.report(cause, err);
      if (attempt >= delays.length || opts.signal?.aborted) {
        throw new ValidatorFault(cause, `${(err as Error)?.message ?? String(err)} (after ${attempt + 1} attempts)`);
      }
      await sleep(delays[attempt], opts.signal);
    }
  }
}
