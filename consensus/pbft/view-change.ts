// PBFT reducer, view changes: the proposer of the next view collects signed view changes; with a
// quorum of voting power it enters the view and proposes, bound by the highest lock among them.
import type { Certificate, ViewChange } from '../../proto/consensus.ts';
import { help } from './certificate.ts';
import { sameRun, type Ctx } from './context.ts';
import { enterView } from './timers.ts';
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
  // Far-future views are ignored (bounded state); honest views stay close through the timeouts.
  if (c.proposerOf(vc.newView) !== c.self || vc.newView < s.view || vc.newView === 0 || vc.newView > s.view + c.setup.members.length + 1) return;
  const i = c.d.byNodeKey.get(vc.voter);
  if (i === undefined) return c.reject(from, 'view change from a node key not bound to a member');
  if (s.viewChanges[vc.newView]?.[vc.voter]) return;
  const why = checkViewChange(c, vc);
  if (why) return c.reject(from, why);
  acceptViewChange(c, vc);
}

export function acceptViewChange(c: Ctx, vc: ViewChange): void {
  const s = c.s;
  const bucket = (s.viewChanges[vc.newView] ??= {});
  bucket[vc.voter] = vc;
  const voters = Object.keys(bucket).map((k) => c.d.byNodeKey.get(k)!);
  if (vc.newView > s.view && c.quorum(voters)) enterView(c, vc.newView);
  tryPropose(c);
}
