// PBFT reducer, view changes: the proposer of the next view collects signed view changes; with a
// quorum of voting power it enters the view and proposes, bound by the highest lock among them.
// Every member also tracks the highest view change of each peer: once members holding more than the
// complement of the threshold (f+1 by stake: at least one honest) have moved past its view, it joins
// the highest view such a set has reached, with its own view change, instead of waiting out its timer.
import { signViewChange, type Certificate, type ViewChange } from '../../proto/consensus.ts';
import { help } from './certificate.ts';
import { sameRun, type Ctx } from './context.ts';
import { enterView, toNewCollector } from './timers.ts';
import { tryPropose } from './proposal.ts';
import { checkViewChange } from './validate.ts';

export function highestLock(vcs: readonly ViewChange[]): Certificate | null {
  let best: Certificate | null = null;
  for (const vc of vcs) if (vc.prepared && (!best || vc.prepared.view > best.view)) best = vc.prepared;
  return best;
}

export function onViewChange(c: Ctx, vc: ViewChange, from: number): void {
  const s = c.s;
  if (!sameRun(c, vc.netuid, vc.runId)) return c.reject(from, `view change for run ${vc.runId} (stale or replayed)`);
  if (s.decided) return help(c, from, vc.newView);
  // Far-future views are ignored (bounded state and verification work); honest views stay close.
  if (vc.newView <= s.view || vc.newView > s.view + c.setup.members.length + 1) {
    if (vc.newView === s.view && c.proposerOf(vc.newView) === c.self) return collectForOwnView(c, vc, from);
    return;
  }
  const i = c.d.byNodeKey.get(vc.voter);
  if (i === undefined) return c.reject(from, 'view change from a node key not bound to a member');
  const collecting = c.proposerOf(vc.newView) === c.self && !s.viewChanges[vc.newView]?.[vc.voter];
  if (!collecting && (s.viewOf[vc.voter] ?? 0) >= vc.newView) return;
  const why = checkViewChange(c, vc);
  if (why) return c.reject(from, why);
  if ((s.viewOf[vc.voter] ?? 0) < vc.newView) s.viewOf[vc.voter] = vc.newView;
  if (c.proposerOf(vc.newView) === c.self) acceptViewChange(c, vc);
  joinIfBehind(c);
}

function collectForOwnView(c: Ctx, vc: ViewChange, from: number): void {
  if (vc.newView === 0 || c.s.viewChanges[vc.newView]?.[vc.voter]) return;
  if (c.d.byNodeKey.get(vc.voter) === undefined) return c.reject(from, 'view change from a node key not bound to a member');
  const why = checkViewChange(c, vc);
  if (why) return c.reject(from, why);
  acceptViewChange(c, vc);
}

/** Joins the highest view that members holding more than the threshold's complement of power have moved to. */
function joinIfBehind(c: Ctx): void {
  const s = c.s;
  const ahead = Object.entries(s.viewOf).filter(([, v]) => v > s.view).sort((a, b) => b[1] - a[1]);
  const voters: number[] = [];
  for (const [key, v] of ahead) {
    voters.push(c.d.byNodeKey.get(key)!);
    if (!c.weakQuorum(voters)) continue;
    const ctx = c.setup.context;
    enterView(c, v);
    const mine = signViewChange({ netuid: ctx.netuid, runId: ctx.runId, newView: v, prepared: s.lock }, c.env.signer);
    c.broadcast({ type: 'view-change', viewChange: mine });
    toNewCollector(c, v);
    if (c.proposerOf(v) === c.self) acceptViewChange(c, mine);
    tryPropose(c);
    return;
  }
}

export function acceptViewChange(c: Ctx, vc: ViewChange): void {
  const s = c.s;
  const bucket = (s.viewChanges[vc.newView] ??= {});
  bucket[vc.voter] = vc;
  const voters = Object.keys(bucket).map((k) => c.d.byNodeKey.get(k)!);
  if (vc.newView > s.view && c.quorum(voters)) enterView(c, vc.newView);
  tryPropose(c);
}
