// Shadow mode: how far the certified consensus is from the owner's pick, per run, with the
// pure metrics of consensus/divergence.ts (top-1 agreement, tie-corrected Spearman, top-k overlap).
import { compareRun } from '../../consensus/divergence.ts';
import type { DivergenceRecord, RunDecision } from './store.ts';

export function divergenceBetween(runId: number, decision: RunDecision, owner: { uid: number; weight: number }[] | null, burnUid: number, now: number): DivergenceRecord {
  const ownerMap = new Map((owner ?? []).filter((w) => w.uid !== burnUid).map((w) => [w.uid, w.weight]));
  let ownerPick: number | null = null;
  for (const [uid, w] of ownerMap) if (ownerPick === null || w > ownerMap.get(ownerPick)! || (w === ownerMap.get(ownerPick)! && uid < ownerPick)) ownerPick = uid;
  // compare over the roster: a miner the owner does not reward has weight 0 in its map
  const cons = new Map(decision.scores.map((s) => [s.uid, s.score ?? 0]));
  const own = new Map(decision.scores.map((s) => [s.uid, ownerMap.get(s.uid) ?? 0]));
  const k = Math.max(1, ownerMap.size);
  const d = owner ? compareRun(runId, own, cons, k) : null;
  return {
    runId,
    consensusWinner: decision.winner,
    ownerPick,
    top1Agree: owner !== null && decision.winner === ownerPick,
    spearman: d ? d.spearman : null,
    topKOverlap: d ? d.topK : null,
    at: now,
  };
}
