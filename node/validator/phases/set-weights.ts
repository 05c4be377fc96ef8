// Phases `certified` | `quorum-miss` → `done` (or `confirming`): weights by mode (decentralized: the
// certified weights, the incumbent held on a quorum miss; shadow: the owner's pick, divergence recorded;
// owner: the owner's pick), sent as the subnet requires — set_weights, or a timelocked commit on a
// commit-reveal subnet (then ./confirm-reveal.ts follows the reveal). Every certified uid is re-checked
// against the current metagraph first, and a `weights-intent` marker precedes the send, so a restart
// neither double-sends nor loses it.
import type { NodeConfig } from '../../config.ts';
import type { RunRecord } from '../store.ts';
import { divergenceBetween } from '../divergence.ts';
import { isWeightsIntent, MAX_WEIGHT_SENDS, sameWeightShares, type WeightsIntent } from '../weights.ts';
import { chainCall, type PhaseContext } from './context.ts';

/** Records the outcome in `r.weights` (set, held or failed); throws only on errors worth a retry. */
export async function setWeights(ctx: PhaseContext, r: RunRecord): Promise<void> {
  const d = ctx.d;
  const intent = await d.store.marked(r.runId, 'weights-intent');
  if (intent) return resumeWeights(ctx, r, intent.detail);
  const mode = d.config.node.mode;
  const certified = r.phase === 'certified' && r.decision?.quorumMet === true;
  // On a quorum miss the incumbent is the one the run was decided against: derived when consensus
  // started from the latest certified run this node holds, or from the weights on chain at the run's
  // start block (certify.ts) — never from a value only this node remembers.
  const incumbent = r.decision?.incumbentUid ?? null;

  let source: 'certified' | 'owner' | 'incumbent';
  let weights: { uid: number; weight: number }[];
  let ownerWeights: { uid: number; weight: number }[] | null = null;
  if (mode !== 'decentralized') {
    const owner = d.config.owner.hotkey || (await d.chain.subnetOwnerHotkey().catch(() => null));
    ownerWeights = owner ? await chainCall(ctx, 'owner-weights', () => d.chain.weightsOf(owner)).catch(() => null) : null;
  }
  if (mode === 'shadow' && r.decision) {
    r.divergence = divergenceBetween(r.runId, r.decision, ownerWeights, d.config.consensus.burnUid, ctx.now());
    d.metrics.divergenceTop1.set(r.divergence.top1Agree ? 1 : 0);
  }
  if (mode === 'decentralized') {
    if (certified) {
      source = 'certified';
      weights = r.decision!.weights;
    } else {
      source = 'incumbent';
      weights = r.decision && incumbent !== null ? weightsForIncumbent(incumbent, d.config) : [];
    }
  } else {
    source = 'owner';
    weights = ownerWeights ?? [];
  }
  if (weights.length === 0) {
    r.weights = { result: 'held', source, uids: [], weights: [], reason: mode === 'decentralized' ? 'quorum miss and no incumbent: nothing to hold' : 'owner weights unavailable', at: ctx.now() };
    d.metrics.weightsSet.inc({ result: 'held' });
    return;
  }
  const intentNow: WeightsIntent = { source, uids: weights.map((w) => w.uid), weights: weights.map((w) => w.weight), block: ctx.lastBlock, sends: 1 };
  if (await holdIfRecycled(ctx, r, intentNow)) return;
  return sendWeights(ctx, r, intentNow);
}

/** uids are recycled on deregistration: the uid we are about to reward must still be the miner we certified. */
async function holdIfRecycled(ctx: PhaseContext, r: RunRecord, w: WeightsIntent): Promise<boolean> {
  const d = ctx.d;
  if (w.source === 'owner') return false;
  const now = await chainCall(ctx, 'metagraph', () => d.chain.metagraph());
  const hotkeyOf = new Map(now.map((n) => [n.uid, n.hotkey]));
  const certifiedHotkey = new Map((r.decision?.scores ?? []).map((s) => [s.uid, s.hotkey]));
  for (const uid of w.uids) {
    if (uid === d.config.consensus.burnUid) continue;
    const want = certifiedHotkey.get(uid);
    const have = hotkeyOf.get(uid);
    if (want && have !== want) {
      r.weights = { result: 'held', source: w.source, uids: w.uids, weights: w.weights, reason: `uid ${uid} now belongs to ${have ?? 'nobody'}, not the certified ${want}: uid recycled, weights held`, at: ctx.now() };
      d.metrics.weightsSet.inc({ result: 'held' });
      d.log.warn('weights held: uid re-mapped', { runId: r.runId, uid });
      return true;
    }
  }
  return false;
}

/** Intent (with the run record: divergence survives a crash) persisted BEFORE set_weights leaves. */
async function sendWeights(ctx: PhaseContext, r: RunRecord, intent: WeightsIntent): Promise<void> {
  const d = ctx.d;
  await d.store.putRun(r);
  await d.store.mark(r.runId, 'weights-intent', intent);
  const { source, uids, weights } = intent;
  try {
    const { block, commit } = await chainCall(ctx, 'set-weights', () => d.chain.setWeights(uids, weights));
    r.weights = { result: 'set', source, uids, weights, block, at: ctx.now() };
    if (commit) {
      r.weights.commitReveal = { ...commit, revealed: null, revealConfirmed: null };
      d.metrics.weightsSet.inc({ result: 'committed' });
      d.log.info('weights committed (timelocked; revealed by the chain in a later epoch)', { runId: r.runId, source, uids, block, revealRound: commit.revealRound, expectedRevealBlock: commit.expectedRevealBlock, sends: intent.sends });
    } else {
      d.metrics.weightsSet.inc({ result: 'set' });
      d.log.info('weights set', { runId: r.runId, source, uids, block, sends: intent.sends });
    }
  } catch (err) {
    r.weights = { result: 'failed', source, uids, weights, reason: (err as Error).message, at: ctx.now() };
    d.metrics.weightsSet.inc({ result: 'failed' });
    d.log.warn('set_weights failed (run continues)', { runId: r.runId, error: (err as Error).message });
  }
}

/**
 * A set_weights was sent (or about to be) when the process stopped, and no outcome was recorded.
 * Read the chain: this hotkey's weights equal the intent and were set at/after the intent's block →
 * landed (done, not re-sent). Otherwise re-send, unless a newer run has set weights since (ours
 * would overwrite fresher ones) or the send budget is spent. Chain read errors: retried next tick.
 */
async function resumeWeights(ctx: PhaseContext, r: RunRecord, detail: unknown): Promise<void> {
  const d = ctx.d;
  if (r.weights) return;
  if (!isWeightsIntent(detail)) {
    // a marker from an older version carries no intent: never risk a double send
    r.weights = { result: 'failed', source: r.mode === 'decentralized' ? 'certified' : 'owner', uids: [], weights: [], reason: 'weights-intent marker without its intent (older version): not re-sent', at: ctx.now() };
    return;
  }
  const intent = detail;
  const onChain = await chainCall(ctx, 'weights-of', () => d.chain.weightsOf(ctx.hotkey));
  const setAt = d.chain.lastWeightsBlock ? await chainCall(ctx, 'weights-of', () => d.chain.lastWeightsBlock!(ctx.hotkey)) : null;
  const base = { source: intent.source, uids: intent.uids, weights: intent.weights };
  if (sameWeightShares(onChain, intent) && (!d.chain.lastWeightsBlock || (setAt !== null && setAt >= intent.block))) {
    r.weights = { result: 'set', ...base, block: setAt ?? undefined, reason: 'found on chain after a restart (sent before it)', at: ctx.now() };
    d.metrics.weightsSet.inc({ result: 'set' });
    d.log.info('weights found on chain after a restart: not sent again', { runId: r.runId, block: setAt });
    return;
  }
  // commit-reveal: the weights are not visible until the reveal, but a commit moves LastUpdate and sits in the queue
  if (setAt !== null && setAt >= intent.block && d.chain.findWeightsCommit) {
    const commit = await chainCall(ctx, 'weights-of', () => d.chain.findWeightsCommit!(setAt, intent.uids, intent.weights));
    if (commit) {
      r.weights = { result: 'set', ...base, block: setAt, reason: 'commit found on chain after a restart (sent before it)', at: ctx.now(), commitReveal: { ...commit, revealed: null, revealConfirmed: null } };
      d.metrics.weightsSet.inc({ result: 'committed' });
      d.log.info('weights commit found on chain after a restart: not sent again', { runId: r.runId, block: setAt });
      return;
    }
  }
  const newer = await newerRunWithWeights(ctx, r.runId);
  if (newer !== null || intent.sends >= MAX_WEIGHT_SENDS) {
    const reason = newer !== null
      ? `not on chain after a restart, and run ${newer} has set weights since: not re-sent (would overwrite newer weights)`
      : `not on chain after ${intent.sends} send(s): given up`;
    r.weights = { result: 'failed', ...base, reason, at: ctx.now() };
    d.metrics.weightsSet.inc({ result: 'failed' });
    d.log.warn('weights not re-sent after a restart', { runId: r.runId, reason });
    return;
  }
  d.log.info('weights not on chain after a restart: sending again', { runId: r.runId, sends: intent.sends + 1 });
  const again: WeightsIntent = { ...intent, block: ctx.lastBlock, sends: intent.sends + 1 };
  if (await holdIfRecycled(ctx, r, again)) return;
  return sendWeights(ctx, r, again);
}

async function newerRunWithWeights(ctx: PhaseContext, runId: number): Promise<number | null> {
  for (const x of await ctx.d.store.listRuns(8)) {
    if (x.runId <= runId) continue;
    if (x.weights?.result === 'set' || (await ctx.d.store.marked(x.runId, 'weights-intent'))) return x.runId;
  }
  return null;
}

function weightsForIncumbent(incumbent: number, c: NodeConfig): { uid: number; weight: number }[] {
  if (incumbent === c.consensus.burnUid) return [{ uid: c.consensus.burnUid, weight: 1 }];
  const w = [{ uid: incumbent, weight: 1 - c.consensus.burnRate }];
  if (c.consensus.burnRate > 0) w.push({ uid: c.consensus.burnUid, weight: c.consensus.burnRate });
  return w.sort((a, b) => a.uid - b.uid);
}
