// What a scale run is made of, decided before anything starts (pure apart from key derivation):
// validators with distinct hotkeys and unequal stake, which of them are Byzantine and how, the
// miners of the roster, and every validator's precomputed evaluation of every miner.
//
// Evaluation is the one part that does not run: each node gets an EvaluatorPort stand-in
// (`precomputedEvaluator`) that returns the outcome this plan assigns to (validator, miner) —
// slightly different MFU per validator, a few per-validator fetch failures — and the node signs,
// commits and gossips its own report from it as it would after real sandbox runs.
import { createHash } from 'node:crypto';
import type { EvaluationOutcome, EvaluatorPort } from '../../node/validator/ports.ts';
import type { ScoreStatus } from '../../proto/score-report.ts';

export type Role = 'honest' | 'equivocate' | 'withhold' | 'flood';

export interface PlannedValidator {
  index: number;
  /** Dev derivation URI of the hotkey (//Scale<index>): distinct per validator. */
  uri: string;
  stake: bigint;
  role: Role;
}

export interface PlannedMiner {
  /** Position among the miners (uid = validators + i). */
  i: number;
  codeSha256: string;
  url: string;
  /** Status every honest evaluation gives this miner, and its true MFU (x 1e6) when scored. */
  status: ScoreStatus;
  mfu: number;
}

export interface ScalePlan {
  validators: PlannedValidator[];
  miners: PlannedMiner[];
  /** Byzantine stake / total stake. */
  byzantineShare: number;
  totalStake: bigint;
}

const TAO = 1_000_000_000n;
const h = (s: string) => createHash('sha256').update(s).digest();

/** Deterministic pseudo-random number in [0, 1) for a label. */
export function unit(label: string): number {
  return h(label).readUInt32BE(0) / 2 ** 32;
}

/**
 * Unequal stakes: a long-tailed spread (the largest validator holds ~12x the smallest), then every
 * value nudged so no two are equal.
 */
export function stakes(n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => (BigInt(Math.round(12_000 / (1 + i * 0.18))) + BigInt(i)) * TAO);
}

/**
 * `count` validators whose stake together is as large as possible but strictly below `share` of the
 * total: start from the smallest, then keep swapping a member for a larger outsider while the sum stays
 * below the bound. Throws when even the `count` smallest are at or above it.
 */
export function pickByzantine(st: bigint[], count: number, share = { num: 1n, den: 3n }): number[] {
  if (count === 0) return [];
  const total = st.reduce((a, b) => a + b, 0n);
  const below = (sum: bigint) => sum * share.den < total * share.num;
  const order = st.map((s, i) => ({ s, i })).sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : a.i - b.i));
  const chosen = new Set(order.slice(0, count).map((x) => x.i));
  let sum = order.slice(0, count).reduce((a, x) => a + x.s, 0n);
  if (!below(sum)) throw new Error(`the ${count} smallest stakes already hold ${share.num}/${share.den} or more of the total`);
  for (const big of [...order].reverse()) {
    if (chosen.has(big.i)) continue;
    // swap in `big` for the smallest member that keeps the sum below the bound, if any
    let best: { i: number; s: bigint } | null = null;
    for (const m of order) {
      if (!chosen.has(m.i) || m.s >= big.s) continue;
      const next = sum - m.s + big.s;
      if (below(next) && (!best || m.s > best.s)) best = m;
    }
    if (best) {
      chosen.delete(best.i);
      chosen.add(big.i);
      sum = sum - best.s + big.s;
    }
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * The plan: `validators` of unequal stake, `byzantine` of them (stake just under 1/3) given the
 * roles in `faults` round-robin, and `miners` miners: most scored (one clear best), some rejected
 * by every honest validator, one a duplicate.
 */
export function makePlan(opts: { validators: number; miners: number; byzantine?: number; faults?: Exclude<Role, 'honest'>[] }): ScalePlan {
  const st = stakes(opts.validators);
  const faults = opts.faults ?? ['equivocate', 'withhold', 'flood'];
  const byz = pickByzantine(st, opts.byzantine ?? 0);
  const roleOf = new Map(byz.map((v, k) => [v, faults[k % faults.length]]));
  const validators = st.map((stake, index) => ({ index, uri: `//Scale${index}`, stake, role: roleOf.get(index) ?? 'honest' as Role }));
  const total = st.reduce((a, b) => a + b, 0n);
  const byzStake = byz.reduce((a, i) => a + st[i], 0n);
  const miners: PlannedMiner[] = [];
  for (let i = 0; i < opts.miners; i++) {
    const r = unit(`miner-status-${i}`);
    const status: ScoreStatus = i === 3 ? 'scored' : r < 0.08 ? 'rejected-static' : r < 0.14 ? 'rejected-runtime' : 'scored';
    // miner 3 is the clear best (0.61 MFU); the others spread over 0.20-0.55
    const mfu = status !== 'scored' ? 0 : i === 3 ? 610_000 : Math.round(200_000 + 350_000 * unit(`miner-mfu-${i}`));
    miners.push({ i, codeSha256: h(`scale submission ${i}`).toString('hex'), url: `http://127.0.0.1:9/miner${i}/train.py`, status, mfu });
  }
  return { validators, miners, byzantineShare: Number((byzStake * 1_000_000n) / total) / 1_000_000, totalStake: total };
}

/** What validator `v` measures for `miner`: the true MFU within +-1 %, and now and then a fetch failure. */
export function outcomeFor(v: number, m: PlannedMiner): EvaluationOutcome {
  if (m.status !== 'scored') return { status: m.status, score: 0, detail: { precomputed: true } };
  if (unit(`fetch-${v}-${m.i}`) < 0.02) return { status: 'fetch-failed', score: 0, detail: { precomputed: true, reason: 'simulated fetch failure' } };
  const noise = 1 + (unit(`noise-${v}-${m.i}`) - 0.5) * 0.02;
  return { status: 'scored', score: Math.round(m.mfu * noise), detail: { precomputed: true } };
}

/**
 * EvaluatorPort stand-in for validator `v`: no fetch, no sandbox; each roster entry gets the planned
 * outcome (found by code hash). Unknown code is reported `fetch-failed`, as a real fetch would.
 */
export function precomputedEvaluator(plan: ScalePlan, v: number): EvaluatorPort {
  const byCode = new Map(plan.miners.map((m) => [m.codeSha256, m]));
  return {
    policyHash: async () => h('conclave/scale-bench/policy/v1').toString('hex'),
    concurrency: () => 16,
    evaluate: async (entry) => {
      const m = byCode.get(entry.codeSha256);
      return m ? outcomeFor(v, m) : { status: 'fetch-failed', score: 0, detail: { reason: 'code not in the plan' } };
    },
  };
}
