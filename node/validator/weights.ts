// Restart safety for set_weights: what the loop records before sending (the intent) and how it
// decides, after a crash between sending and the confirmation, whether the weights landed.
// The chain stores weights as u16 max-upscaled (largest = 65535, zeros dropped), so intent and
// chain are compared as shares of the largest weight.

/** Persisted (LevelDB mark `weights-intent`) before every set_weights of a run. */
export interface WeightsIntent {
  source: 'certified' | 'owner' | 'incumbent';
  uids: number[];
  weights: number[];
  /** best block when the intent was written: weights that landed for it were set at this block or later */
  block: number;
  /** how many times set_weights has been sent for this run (bounded: a crash loop never floods the chain) */
  sends: number;
}

export const MAX_WEIGHT_SENDS = 3;

/** One u16 step of the largest weight, plus rounding slack. */
const SHARE_TOLERANCE = 1.5 / 65535;

function shares(uids: number[], weights: number[]): Map<number, number> {
  const max = Math.max(0, ...weights);
  const out = new Map<number, number>();
  if (!(max > 0)) return out;
  uids.forEach((u, i) => {
    const s = weights[i] / max;
    if (s * 65535 >= 0.5) out.set(u, s); // what rounds to 0 in u16 is dropped on chain
  });
  return out;
}

/** Same weights up to the chain's u16 max-upscaling (and zeros dropped). */
export function sameWeightShares(onChain: { uid: number; weight: number }[], intent: { uids: number[]; weights: number[] }): boolean {
  const a = shares(onChain.map((w) => w.uid), onChain.map((w) => w.weight));
  const b = shares(intent.uids, intent.weights);
  if (a.size === 0 || a.size !== b.size) return false;
  for (const [uid, s] of b) {
    const t = a.get(uid);
    if (t === undefined || Math.abs(t - s) > SHARE_TOLERANCE) return false;
  }
  return true;
}

export function isWeightsIntent(x: unknown): x is WeightsIntent {
  const o = x as WeightsIntent;
  return Boolean(o) && typeof o === 'object' && Array.isArray(o.uids) && Array.isArray(o.weights) && o.uids.length === o.weights.length
    && Number.isInteger(o.block) && Number.isInteger(o.sends) && ['certified', 'owner', 'incumbent'].includes(o.source);
}
