// Samplers that feed NodeStatus: the chain's best and finalized block, and the mesh's peer counts.
// Each poll is bounded by a timeout, never overlaps the previous one, and stops with the node.
import type { NodeStatus } from './node-status.ts';

export interface ChainHeads {
  /** false while the client reconnects: no request is sent then (each would fail and be logged) */
  connected(): boolean;
  best(): Promise<number>;
  /** null when the chain cannot say (no finality gadget) */
  finalized(): Promise<number | null>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_r, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

/** Polls best and finalized block every `intervalMs` into `status`. Returns stop(). */
export function watchChain(status: NodeStatus, heads: ChainHeads, opts: { intervalMs?: number; timeoutMs?: number } = {}): () => void {
  const interval = opts.intervalMs ?? 3000;
  const timeout = opts.timeoutMs ?? 10_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    try {
      if (!heads.connected()) throw new Error('not connected (the chain client is reconnecting)');
      const [best, fin] = await withTimeout(Promise.all([heads.best(), heads.finalized()]), timeout, 'chain head');
      status.chainOk(best, fin);
    } catch (err) {
      status.chainFailed((err as Error).message);
    }
    if (!stopped) {
      timer = setTimeout(() => void poll(), interval);
      timer.unref();
    }
  };
  void poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Samples connection and admitted-peer counts every `intervalMs` into `status`. Returns stop(). */
export function watchPeers(status: NodeStatus, counts: () => { connected: number; admitted: number }, intervalMs = 2000): () => void {
  const sample = () => {
    try {
      const c = counts();
      status.recordPeers(c.connected, c.admitted);
    } catch {
      // the mesh is stopping: keep the last counts
    }
  };
  sample();
  const t = setInterval(sample, intervalMs);
  t.unref();
  return () => clearInterval(t);
}
