// Phase `roster`: the miners' commitments as of the run's start block, and the evaluator's policy
// hash, fixed into the run record before anything is evaluated.
import { rosterHash } from '../../../proto/roster.ts';
import type { RunRecord } from '../store.ts';
import { chainCall, type PhaseContext } from './context.ts';

export async function fetchRoster(ctx: PhaseContext, r: RunRecord): Promise<void> {
  const { entries, skipped } = await chainCall(ctx, 'miner-roster', () => ctx.d.chain.minerRoster(r.runId));
  r.roster = entries;
  r.rosterSkipped = skipped;
  r.rosterHash = rosterHash(entries);
  r.policyHash = await ctx.d.evaluator.policyHash();
}
