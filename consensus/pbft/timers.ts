// PBFT reducer, timing: view timeouts with capped exponential backoff (a timed-out view moves the
// member to the next view with a signed view change) and retransmission inside a view.
import { decisionHash, signVote, signViewChange } from '../../proto/consensus.ts';
import type { Ctx } from './context.ts';
import { tryPropose } from './proposal.ts';
import { sendInventory } from './reports.ts';
import { acceptViewChange } from './view-change.ts';

export interface Timing {
  /** How long the view-0 proposer waits for reports beyond a quorum before proposing. */
  proposeDelayMs: number;
  /** Base view timeout; view v waits viewTimeoutMs * 2^min(v, maxBackoffExponent). */
  viewTimeoutMs: number;
  maxBackoffExponent: number;
}

/** Backoff capped at 4x the base timeout: a run of faulty proposers costs linear, not exponential, time. */
export const DEFAULT_TIMING: Timing = { proposeDelayMs: 2_000, viewTimeoutMs: 10_000, maxBackoffExponent: 2 };

export function viewTimeout(t: Timing, view: number): number {
  return t.viewTimeoutMs * 2 ** Math.min(view, t.maxBackoffExponent);
}

/**
 * How long a run must be given to go through `views` views (default: one per member, so every member
 * proposes once): with stake-weighted voting a Byzantine minority of stake can be most of the members,
 * and each of them may waste its view. The node's consensus timeout is at least this.
 */
export function runTimeoutMs(t: Timing, views: number): number {
  let total = t.proposeDelayMs;
  for (let v = 0; v < views; v++) total += viewTimeout(t, v);
  return total;
}

/**
 * The largest base view timeout (ms, a multiple of `granularityMs`) with which `views` views fit in
 * `budgetMs` (runTimeoutMs ≤ budget), or 0 when not even the propose delay and `views` views of one
 * granule fit. Pure: the caller converts its chain-derived budget into ms.
 */
export function maxViewTimeoutMs(t: Omit<Timing, 'viewTimeoutMs'>, views: number, budgetMs: number, granularityMs = 1000): number {
  let factor = 0;
  for (let v = 0; v < views; v++) factor += 2 ** Math.min(v, t.maxBackoffExponent);
  if (factor === 0) return budgetMs >= t.proposeDelayMs ? Number.MAX_SAFE_INTEGER : 0;
  const granules = Math.floor((budgetMs - t.proposeDelayMs) / (factor * granularityMs));
  return Math.max(0, granules) * granularityMs;
}

/**
 * Retransmission period inside a view: half the BASE view timeout, whatever the view. Long
 * (backed-off) views then get many retries, so a lossy network still completes a view.
 */
export function retryInterval(t: Timing, _view: number): number {
  return Math.max(1, Math.floor(t.viewTimeoutMs / 2));
}

export function onTimeout(c: Ctx, timer: string): void {
  const s = c.s;
  if (timer === 'propose') {
    s.proposeReady = true;
    tryPropose(c);
    return;
  }
  const r = /^retry:(\d+)$/.exec(timer);
  if (r) return onRetry(c, Number(r[1]));
  const m = /^view:(\d+)$/.exec(timer);
  if (!m) return;
  const v = Number(m[1]);
  if (s.decided || v !== s.view) return;
  enterView(c, v + 1);
  const vc = signViewChange({ netuid: c.setup.context.netuid, runId: c.setup.context.runId, newView: v + 1, prepared: s.lock }, c.env.signer);
  c.broadcast({ type: 'view-change', viewChange: vc });
  toNewCollector(c, v + 1);
  if (c.proposerOf(v + 1) === c.self) acceptViewChange(c, vc);
  tryPropose(c);
}

/** The collector of a view this member enters gets its reveal again and its inventory (lost messages, partitions). */
export function toNewCollector(c: Ctx, v: number): void {
  const to = c.proposerOf(v);
  if (c.setup.ownReveal && !c.setup.ownRevealGossiped) c.send(to, { type: 'reveal', reveal: c.setup.ownReveal });
  sendInventory(c, to);
}

/**
 * Messages are not acknowledged; instead, while a view is undecided, a member periodically resends
 * what the collector may have missed (its view change, prepare, commit, report requests) and a
 * collector answers a repeated vote with the certificate the voter evidently lacks.
 */
function onRetry(c: Ctx, v: number): void {
  const s = c.s;
  if (s.decided || v !== s.view) return;
  const ctx = c.setup.context;
  const collector = c.proposerOf(v);
  if (collector !== c.self) {
    if (v > 0 && s.prepared[v] === undefined) {
      const vc = signViewChange({ netuid: ctx.netuid, runId: ctx.runId, newView: v, prepared: s.lock }, c.env.signer);
      c.send(collector, { type: 'view-change', viewChange: vc });
      toNewCollector(c, v);
    }
    if (s.pending) {
      const missing = s.pending.proposal.decision.reportHashes.filter((h) => !s.reports[h]);
      if (missing.length) c.send(collector, { type: 'request-reports', netuid: ctx.netuid, runId: ctx.runId, hashes: missing });
    }
    const prepared = s.prepared[v];
    if (prepared !== undefined && !(s.lock && s.lock.view === v)) {
      c.send(collector, { type: 'vote', vote: signVote({ phase: 'prepare', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: prepared }, c.env.signer) });
    }
    if (s.sentCommit[v] && s.lock && s.lock.view === v) {
      const h = decisionHash(s.lock.decision);
      c.send(collector, { type: 'vote', vote: signVote({ phase: 'commit', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: h }, c.env.signer) });
    }
  } else if (s.myProposals[v] && !s.certIssued[`prepare:${v}`]) {
    // Some members may have missed the proposal itself.
    const decision = s.myProposals[v];
    const vote = signVote({ phase: 'propose', netuid: ctx.netuid, runId: ctx.runId, view: v, decisionHash: decisionHash(decision) }, c.env.signer);
    const vcs = s.viewChanges[v] ?? {};
    const justification = v === 0 ? [] : Object.keys(vcs).sort().map((k) => vcs[k]);
    c.broadcast({ type: 'proposal', proposal: { vote, decision, justification } });
  }
  c.timer(`retry:${v}`, c.now + retryInterval(c.setup.timing, v));
}

export function enterView(c: Ctx, v: number): void {
  if (v <= c.s.view) return;
  c.s.view = v;
  c.s.pending = null;
  c.timer(`view:${v}`, c.now + viewTimeout(c.setup.timing, v));
  c.timer(`retry:${v}`, c.now + retryInterval(c.setup.timing, v));
}
