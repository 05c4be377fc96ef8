// Once a run's membership is known (consensus opens), the node checks whether one PBFT view per
// member at the configured view timeout fits what the epoch leaves after the reveal window, and warns
// once (per member count, view timeout and tempo) when it does not: a run that needs every view then
// sets its weights an epoch late, and gives up at the chain deadline (../consensus-deadline.ts). Not a
// refusal: needing every view takes n-1 faulty proposers in a row.
import { consensusBudget, fitWarning, type NextRunWindows } from '../consensus-deadline.ts';
import { consensusTiming } from './certify.ts';
import type { LiveRun, PhaseContext } from './context.ts';

/** Block time when the chain port does not say (subtensor's 12 s). */
export const DEFAULT_BLOCK_TIME_MS = 12_000;

/** Returns the key checked (pass it back as `checked`: the same key is not checked or logged again). */
export function warnIfViewsDoNotFit(ctx: PhaseContext, l: LiveRun, x: { revealEnd: number; nextRunAt: number; windows: NextRunWindows; tempo: number }, checked: string | null): string | null {
  const n = l.record.participation?.length ?? 0;
  if (n === 0) return checked;
  const timing = consensusTiming(ctx);
  const key = `${n}/${timing.viewTimeoutMs}/${x.tempo}`;
  if (checked === key) return key;
  const budget = consensusBudget({
    revealEnd: x.revealEnd, nextRunAt: x.nextRunAt, windows: x.windows, blockTimeMs: ctx.d.chain.blockTimeMs?.() ?? DEFAULT_BLOCK_TIME_MS,
    members: n, timing, configTimeoutMs: ctx.d.config.consensus.consensusTimeoutS * 1000,
  });
  const w = fitWarning(budget, n, timing.viewTimeoutMs / 1000);
  if (w) {
    ctx.d.log.warn('one PBFT view per member does not fit the epoch after the reveal window: a run that needs them all sets its weights an epoch late, and gives up at the next run\'s reveal deadline', { runId: l.record.runId, tempo: x.tempo, ...w });
  }
  return key;
}
