// Phase `confirming`: weights that went as a timelocked commit (commit-reveal subnets) take effect only
// when the chain reveals them in the reveal epoch — and a failed reveal leaves no error on chain. So the
// run stays open until the node has read what happened: revealed (and the chain's Weights equal what was
// committed → revealConfirmed), dropped or expired (→ false, with the reason), or not settled within two
// epochs after the expected reveal block (→ false). The result goes into the run record (API, dashboard).
import type { RunRecord } from '../store.ts';
import { chainCall, type PhaseContext } from './context.ts';

/** True when the reveal is settled (recorded in `r.weights.commitReveal`); false while it is pending. */
export async function confirmWeightsReveal(ctx: PhaseContext, r: RunRecord, block: number, tempo: number): Promise<boolean> {
  const d = ctx.d;
  const cr = r.weights?.commitReveal;
  if (!cr || cr.revealConfirmed !== null) return true;
  if (!d.chain.confirmReveal) {
    Object.assign(cr, { revealed: null, revealConfirmed: false, reason: 'this chain adapter cannot read reveals' });
    return true;
  }
  if (block < cr.expectedRevealBlock) return false;
  const status = await chainCall(ctx, 'confirm-reveal', () => d.chain.confirmReveal!(cr));
  if (status.state === 'pending') {
    if (block <= cr.expectedRevealBlock + 2 * Math.max(tempo, 1)) return false;
    Object.assign(cr, { revealed: false, revealConfirmed: false, reason: `not revealed two epochs after the expected reveal block ${cr.expectedRevealBlock}: ${status.reason}` });
  } else if (status.state === 'revealed') {
    Object.assign(cr, { revealed: true, revealConfirmed: status.weightsOnChain, revealBlock: status.block });
    if (!status.weightsOnChain) cr.reason = 'revealed, but the chain\'s Weights differ from what was committed';
  } else {
    Object.assign(cr, { revealed: false, revealConfirmed: false, revealBlock: status.block, reason: status.reason });
  }
  d.metrics.weightsSet.inc({ result: cr.revealConfirmed ? 'revealed' : 'reveal-failed' });
  if (cr.revealConfirmed) d.log.info('weights reveal confirmed on chain', { runId: r.runId, commitBlock: cr.commitBlock, revealBlock: cr.revealBlock, round: cr.revealRound });
  else d.log.warn('weights reveal failed', { runId: r.runId, commitBlock: cr.commitBlock, round: cr.revealRound, reason: cr.reason });
  await d.store.putRun(r);
  return true;
}
