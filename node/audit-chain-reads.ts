// The chain weights `conclave audit` checks a run against, read in batches (a few multi-reads for
// the whole validator set rather than two or three reads per member): the weights in effect when the
// run started (its incumbent, when no certified run precedes it) and the weights each member set for
// it after its commit deadline.
import type { SubtensorClient } from './chain/client.ts';
import type { AuditInput } from './audit.ts';

export interface AuditWeightsQuery {
  netuid: number;
  runId: number;
  hotkeys: readonly { hotkey: string; stake: bigint }[];
  /** the run's commit deadline: weights set at or before it are not this run's */
  commitEnd: number;
  /** the last block at which this run's weights could land (the next run's may follow) */
  windowEnd: number;
  /** read the weights at the run's start too (the decision takes its incumbent from chain weights) */
  atStart: boolean;
}

/** The reads it needs: SubtensorClient's, or the lean reader's (node/chain/lean/reader.ts). */
export type WeightsReader = Pick<SubtensorClient, 'weightsOfMany' | 'lastWeightsUpdates'>;

export async function auditChainWeights(client: WeightsReader, q: AuditWeightsQuery): Promise<Pick<AuditInput, 'chainWeightsAtStart' | 'chainWeights'>> {
  const hotkeys = q.hotkeys.map((m) => m.hotkey);
  const chainWeightsAtStart: AuditInput['chainWeightsAtStart'] = [];
  if (q.atStart) {
    const at = await client.weightsOfMany(q.netuid, hotkeys, q.runId);
    for (const m of q.hotkeys) chainWeightsAtStart.push({ hotkey: m.hotkey, stake: m.stake, weights: at.get(m.hotkey) ?? [] });
  }
  const chainWeights: AuditInput['chainWeights'] = new Map();
  const updates = await client.lastWeightsUpdates(q.netuid, hotkeys, q.windowEnd);
  const byBlock = new Map<number, string[]>();
  for (const [hotkey, u] of updates) if (u.block > q.commitEnd) byBlock.set(u.block, [...(byBlock.get(u.block) ?? []), hotkey]);
  for (const [block, set] of byBlock) {
    const ws = await client.weightsOfMany(q.netuid, set, block);
    for (const h of set) chainWeights.set(h, { block, weights: ws.get(h) ?? [] });
  }
  return { chainWeightsAtStart, chainWeights };
}
