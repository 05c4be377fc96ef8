// Winner rule and weight split.
//
// - Candidates: miners with a consensus score > 0.
// - Best: highest score; ties by earlier commitment block, then lower uid.
// - The incumbent (previous winner) keeps the crown unless the best challenger beats it by the
//   dethrone margin: challenger > incumbent * (1 + margin). An incumbent without a positive
//   consensus score this run cannot defend.
// - Weights (parts per million): winner 1e6 - burnRatePpm, burn uid burnRatePpm.
// - No candidate at all, or a quorum miss: hold the incumbent's weights (all to burn if none).
import { ConsensusConfigError } from './validator-set.ts';

export const PPM = 1_000_000;

export interface WinnerPolicy {
  /** Relative margin a challenger must exceed, ppm (10_000 = 1 %). */
  dethroneMarginPpm: number;
  burnUid: number;
  /** Share of weight sent to the burn uid, ppm (950_000 = 95 %). */
  burnRatePpm: number;
}

export const DEFAULT_WINNER_POLICY: WinnerPolicy = { dethroneMarginPpm: 10_000, burnUid: 0, burnRatePpm: 950_000 };

export function checkWinnerPolicy(p: WinnerPolicy): WinnerPolicy {
  if (!Number.isSafeInteger(p.dethroneMarginPpm) || p.dethroneMarginPpm < 0 || p.dethroneMarginPpm > 100 * PPM) {
    throw new ConsensusConfigError(`dethrone margin ${p.dethroneMarginPpm} ppm out of range 0..${100 * PPM}`);
  }
  if (!Number.isSafeInteger(p.burnRatePpm) || p.burnRatePpm < 0 || p.burnRatePpm > PPM) throw new ConsensusConfigError(`burn rate ${p.burnRatePpm} ppm out of range 0..${PPM}`);
  if (!Number.isSafeInteger(p.burnUid) || p.burnUid < 0 || p.burnUid > 0xffff) throw new ConsensusConfigError(`burn uid ${p.burnUid} out of range 0..65535`);
  return p;
}

export interface ScoredMiner {
  uid: number;
  score: number;
  commitBlock: number;
}

export interface WinnerChoice {
  winnerUid: number | null;
  /** 'best': top challenger won; 'incumbent-held': incumbent kept within the margin or as the best; 'none': no candidate. */
  reason: 'best' | 'incumbent-held' | 'none';
}

function better(a: ScoredMiner, b: ScoredMiner): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.commitBlock !== b.commitBlock) return a.commitBlock < b.commitBlock;
  return a.uid < b.uid;
}

export function chooseWinner(miners: readonly ScoredMiner[], incumbentUid: number | null, policy: WinnerPolicy): WinnerChoice {
  const candidates = miners.filter((m) => m.score > 0 && m.uid !== policy.burnUid);
  if (candidates.length === 0) return { winnerUid: null, reason: 'none' };
  let best = candidates[0];
  for (const m of candidates) if (better(m, best)) best = m;
  const incumbent = incumbentUid === null ? undefined : candidates.find((m) => m.uid === incumbentUid);
  if (!incumbent || incumbent.uid === best.uid) return { winnerUid: best.uid, reason: incumbent ? 'incumbent-held' : 'best' };
  // challenger * 1e6 > incumbent * (1e6 + margin), in exact integer arithmetic.
  const beats = BigInt(best.score) * BigInt(PPM) > BigInt(incumbent.score) * BigInt(PPM + policy.dethroneMarginPpm);
  return beats ? { winnerUid: best.uid, reason: 'best' } : { winnerUid: incumbent.uid, reason: 'incumbent-held' };
}

export interface Weight {
  uid: number;
  weightPpm: number;
}

/** Weight vector sorted by uid; a null winner sends everything to the burn uid. */
export function weightsFor(winnerUid: number | null, policy: WinnerPolicy): Weight[] {
  if (winnerUid === null || winnerUid === policy.burnUid || policy.burnRatePpm === PPM) return [{ uid: policy.burnUid, weightPpm: PPM }];
  const w: Weight[] = [{ uid: winnerUid, weightPpm: PPM - policy.burnRatePpm }];
  if (policy.burnRatePpm > 0) w.push({ uid: policy.burnUid, weightPpm: policy.burnRatePpm });
  return w.sort((a, b) => a.uid - b.uid);
}
