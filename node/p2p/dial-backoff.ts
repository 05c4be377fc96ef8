// Dial pacing (pure): after a failed dial a target waits before the next attempt, doubling from
// `baseMs` to `maxMs` with jitter, and a success forgets it. Without it every node re-dialed every
// unconnected validator on every maintenance tick (5 s): when a loaded 64-validator mesh lost its
// connections at once, 64 × 63 handshakes every 5 s kept the CPU saturated, each dial timed out
// before the far side could accept it, and the mesh never re-formed (found by bench/scale).

export interface DialBackoffOptions {
  /** wait after the first failure (default 5 s) */
  baseMs?: number;
  /** longest wait (default 60 s) */
  maxMs?: number;
  /** jitter: the wait is scaled by a factor in [1 - jitter, 1] (default 0.25) */
  jitter?: number;
  /** [0, 1) source for the jitter (default Math.random) */
  random?: () => number;
  /** how many targets to remember (oldest forgotten first; default 4096) */
  capacity?: number;
}

export class DialBackoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly capacity: number;
  private readonly state = new Map<string, { failures: number; nextAt: number }>();

  constructor(opts: DialBackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 5_000;
    this.maxMs = opts.maxMs ?? 60_000;
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.25));
    this.random = opts.random ?? Math.random;
    this.capacity = opts.capacity ?? 4096;
  }

  /** Whether `key` may be dialed at `now`. */
  may(key: string, now: number): boolean {
    const s = this.state.get(key);
    return !s || now >= s.nextAt;
  }

  /** A dial of `key` failed at `now`: returns the wait before the next attempt. */
  failed(key: string, now: number): number {
    const failures = (this.state.get(key)?.failures ?? 0) + 1;
    const wait = Math.round(Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures - 1, 30)) * (1 - this.jitter * this.random()));
    this.state.delete(key);
    this.state.set(key, { failures, nextAt: now + wait });
    if (this.state.size > this.capacity) this.state.delete(this.state.keys().next().value!);
    return wait;
  }

  succeeded(key: string): void {
    this.state.delete(key);
  }

  /** Forget every wait (the operator lifted a block: reconnect at once). */
  clear(): void {
    this.state.clear();
  }

  failuresOf(key: string): number {
    return this.state.get(key)?.failures ?? 0;
  }
}
