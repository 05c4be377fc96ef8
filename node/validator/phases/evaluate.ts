// Phase `evaluating`: every roster entry through the evaluator on a shared queue (concurrency =
// evaluation slots), results cached by (codeSha256, policyHash) so the same code under the same
// policy is never run twice, across runs and restarts.
import type PQueue from 'p-queue';
import type { RosterEntry } from '../../../proto/roster.ts';
import { chainCall, type LiveRun, type PhaseContext } from './context.ts';

/**
 * Starts the run's evaluation once; true when the report can be built: every job finished, or
 * `lastChance` (the commit window is about to close) and the rest is aborted, to be reported
 * 'not-evaluated' rather than miss the window.
 */
export async function evaluate(ctx: PhaseContext, l: LiveRun, queue: PQueue, lastChance: boolean): Promise<boolean> {
  if (!l.evaluation) {
    // a failure before any job ran (the chain did not give the run's randomness): start again next tick
    l.evaluation = evaluateRoster(ctx, l, queue).catch((err) => { l.evaluation = undefined; throw err; });
  }
  const done = await Promise.race([l.evaluation.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 50))]);
  if (!done && !lastChance) return false;
  if (!done) l.evalAbort?.abort();
  return true;
}

async function evaluateRoster(ctx: PhaseContext, l: LiveRun, queue: PQueue): Promise<void> {
  const d = ctx.d;
  const r = l.record;
  l.evalAbort = new AbortController();
  const signal = l.evalAbort.signal;
  const timeoutMs = d.config.sandbox.evaluationTimeoutS * 1000;
  // every evaluation seed of the run derives from the hash of its epoch start block: the same on every
  // validator, unknown to a miner when it committed (its commitment is in the roster read at that block)
  const randomness = await chainCall(ctx, 'block_hash', () => d.chain.blockHash(r.runId));
  const jobs = r.roster.map((entry) => async () => {
    if (signal.aborted) return;
    if (identicalEarlier(r.roster, entry)) return; // same bytes as an earlier miner's: a duplicate, nothing to run
    const cached = await d.store.getEvaluation(entry.codeSha256, r.policyHash);
    if (cached) {
      d.metrics.evaluationCacheHits.inc();
      return;
    }
    const started = ctx.now();
    const earlier = r.roster.filter((e) => e.commitBlock < entry.commitBlock || (e.commitBlock === entry.commitBlock && e.uid < entry.uid));
    d.log.info('evaluating', { runId: r.runId, uid: entry.uid, code: entry.codeSha256.slice(0, 12) });
    let out;
    try {
      out = await d.evaluator.evaluate(entry, { runId: r.runId, randomness, earlier, timeoutMs, signal });
    } catch (err) {
      // a validator-side failure (Docker down): not the miner's fault, so nothing is cached; the
      // evaluator logs a fault once per cause (err.logged), not once per miner
      if (!(err as { logged?: boolean }).logged) d.log.error('evaluator error', { uid: entry.uid, error: (err as Error).message });
      d.metrics.evaluationsTotal.inc({ status: 'error' });
      return;
    }
    const wallMs = ctx.now() - started;
    d.metrics.evaluationsTotal.inc({ status: out.status });
    d.metrics.evaluationSeconds.observe(wallMs / 1000);
    const rec = { codeSha256: entry.codeSha256, policyHash: r.policyHash, status: out.status, score: out.status === 'scored' ? out.score : 0, detail: out.detail, evaluatedAt: ctx.now(), wallMs };
    await d.store.putEvaluation(rec);
    await d.archive?.putEvaluation?.(entry.codeSha256, { ...rec, runId: r.runId, uid: entry.uid, minerHotkey: entry.minerHotkey, url: entry.url }).catch((err) => d.log.warn('archive refused evaluation record', { error: (err as Error).message }));
    d.log.info('evaluated', { runId: r.runId, uid: entry.uid, status: out.status, score: out.score, ms: wallMs });
  });
  d.metrics.evaluationsQueued.set(jobs.length);
  await Promise.all(jobs.map((j) => queue.add(j).finally(() => d.metrics.evaluationsQueued.set(queue.size + queue.pending))));
}

/**
 * The earlier roster entry of another miner committing the very same bytes (the first committer keeps
 * them). The evaluation cache is keyed by code, so without this rule a copier would inherit the score.
 */
export function identicalEarlier(roster: RosterEntry[], e: RosterEntry): RosterEntry | undefined {
  return roster.find((o) => o.codeSha256 === e.codeSha256 && o.minerHotkey !== e.minerHotkey && (o.commitBlock < e.commitBlock || (o.commitBlock === e.commitBlock && o.uid < e.uid)));
}
