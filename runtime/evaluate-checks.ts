// The run-time checks, computed OUTSIDE the miner's container: the miner's sketches (gradients of every
// step, final weights, final logits) and per-repetition observations against the reference pass of the
// same repetition (same chain-derived seeds, same sketch projection). Pure: no I/O, so every check is
// unit-testable with synthetic captures.
import { checkObservation, type CaptureMap, type SupervisorResult, type RepObservation } from './evaluate-capture.ts';
import type { EvaluatorPolicy, HardwareClass } from './evaluator-policy.ts';
import { thresholdsFor } from './evaluator-policy.ts';
import { observationChecks, type Verdict } from './evaluate-observations.ts';

export interface CheckResult { name: string; ok: boolean; value?: number | string; limit?: number | string; detail?: string }

export interface ReferenceData { result: SupervisorResult; tensors: CaptureMap }

export interface MfuStats { median: number; min: number; max: number; spread: number; perRep: number[]; wallSec: number[] }

/** The order rejections are named in when several checks fail. */
export const CHECK_ORDER = [
  'process-spawn', 'process-signal', 'network', 'filesystem-write', 'denied-syscall', 'disk-limit', 'protocol',
  'result-type', 'wrapper-integrity', 'timer-identity', 'attribute-integrity', 'backend-settings', 'precision',
  'optimizer-config', 'optimizer-steps', 'sequence-length', 'logits-shape', 'token-count', 'all-layers-gradients',
  'gradient-error', 'loss-difference', 'logits-match', 'weight-error', 'changed-share', 'timer-agreement', 'mfu-cap',
] as const;

function sqDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; s += d * d; }
  return s;
}
function sq(a: Float32Array): number { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * a[i]; return s; }

/** The model's parameter names: the reference's init sketches of repetition 0. */
export function paramNames(ref: CaptureMap): string[] {
  return [...ref.keys()].filter((k) => k.startsWith('rep0/init/')).map((k) => k.slice('rep0/init/'.length));
}

/** sqrt(sum ||m - r||^2) / sqrt(sum ||r - base||^2) over the named tensors; Infinity when one is missing. */
export function relError(names: string[], miner: (n: string) => Float32Array | undefined, ref: (n: string) => Float32Array | undefined,
  base?: (n: string) => Float32Array | undefined): { err: number; worst: string } {
  let num = 0; let den = 0; let worst = ''; let worstVal = -1;
  for (const n of names) {
    const m = miner(n); const r = ref(n);
    if (!r) continue;
    if (!m || m.length !== r.length) return { err: Infinity, worst: n };
    const d = sqDiff(m, r);
    num += d;
    const b = base?.(n);
    den += b ? sqDiff(r, b) : sq(r);
    if (d > worstVal) { worstVal = d; worst = n; }
  }
  const err = den > 0 ? Math.sqrt(num / den) : (num > 0 ? Infinity : 0);
  return { err: Number.isNaN(err) ? Infinity : err, worst };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** MFU per timed repetition from the supervisor's windows; the parameter count is the reference's (the
 * miner's worker reports one too, but nothing a miner's process says enters the score). */
export function computeMfu(miner: SupervisorResult, ref: SupervisorResult, policy: EvaluatorPolicy, hw: HardwareClass): MfuStats | null {
  const nParams = ref.meta?.nParams ?? 0;
  const tokens = policy.data.numSteps * policy.data.batchSize * policy.model.seqLen;
  const walls = miner.reps.slice(policy.warmupRepetitions).map((r) => r.wall).filter((w): w is number => typeof w === 'number' && w > 0);
  if (walls.length === 0 || nParams <= 0) return null;
  const perRep = walls.map((w) => (6 * nParams * tokens) / (hw.peakFlops * hw.devices * w));
  const med = median(perRep);
  const min = Math.min(...perRep); const max = Math.max(...perRep);
  return { median: med, min, max, spread: med > 0 ? (max - min) / med : 0, perRep, wallSec: walls };
}

/** All checks for a completed miner pass. A failing check carries value/limit and the rep it failed in. */
export function runChecks(miner: SupervisorResult, minerTensors: CaptureMap, ref: ReferenceData, policy: EvaluatorPolicy,
  hw: HardwareClass): { checks: CheckResult[]; mfu: MfuStats | null } {
  const th = thresholdsFor(policy, hw);
  const names = paramNames(ref.tensors);
  const steps = policy.data.numSteps;
  const results = new Map<string, CheckResult>();
  const record = (name: string, rep: number, v: Verdict) => {
    const prev = results.get(name);
    if (!v.ok) {
      if (!prev || prev.ok) results.set(name, { name, ok: false, value: v.value, limit: v.limit, detail: rep >= 0 ? `rep ${rep}: ${v.detail}` : v.detail });
      return;
    }
    if (!prev) results.set(name, { name, ok: true, value: v.value, limit: v.limit });
    else if (prev.ok && typeof v.value === 'number' && typeof prev.value === 'number' && v.value > prev.value) prev.value = v.value;
  };
  if (miner.reps.length !== policy.repetitions) record('protocol', -1, { ok: false, detail: `expected ${policy.repetitions} repetitions, got ${miner.reps.length}` });

  for (const rep of miner.reps) {
    const r = rep.rep;
    const o = rep.obs as RepObservation | null;
    const refRep = ref.result.reps.find((x) => x.rep === r)?.obs as RepObservation | null | undefined;
    if (!o || !refRep) { record('result-type', r, { ok: false, detail: o ? 'the reference has no such repetition' : 'no observation for this repetition' }); continue; }
    const malformed = checkObservation(o);
    if (malformed) { record('protocol', r, { ok: false, detail: `the worker's observation is malformed: ${malformed}` }); continue; }
    for (const [name, v] of Object.entries(observationChecks(o, { policy, th, ref: refRep, wall: rep.wall }))) record(name, r, v);

    const t = (key: string) => minerTensors.get(`rep${r}/${key}`)?.data;
    const rt = (key: string) => ref.tensors.get(`rep${r}/${key}`)?.data;
    const missing = [...new Set([...o.missingGrads.flat(), ...names.filter((n) => Array.from({ length: steps }, (_, k) => `grad/${k + 1}/${n}`).some((k) => !t(k)))])];
    if (missing.length === 0 && o.nonfiniteSteps.length === 0 && o.missingGrads.length === steps) record('all-layers-gradients', r, { ok: true });
    else record('all-layers-gradients', r, { ok: false, detail: o.nonfiniteSteps.length ? `non-finite gradients at step ${o.nonfiniteSteps[0]}` : `no gradient for ${missing.slice(0, 5).join(', ') || `some steps (${o.missingGrads.length} of ${steps} captured)`}` });

    let worst = { err: 0, worst: '', step: 0 };
    for (let k = 1; k <= steps; k++) {
      const g = relError(names, (n) => t(`grad/${k}/${n}`), (n) => rt(`grad/${k}/${n}`));
      if (g.err > worst.err || k === 1) worst = { ...g, step: k };
      if (!(g.err <= th.gradRelError)) { worst = { ...g, step: k }; break; }
    }
    record('gradient-error', r, worst.err <= th.gradRelError ? { ok: true, value: worst.err, limit: th.gradRelError }
      : { ok: false, detail: `step ${worst.step} gradient relative error ${worst.err.toPrecision(3)} (worst ${worst.worst})`, value: worst.err, limit: th.gradRelError });
    const refLoss = refRep.result.finalLoss ?? NaN;
    const dLoss = o.result.finalLoss === null ? Infinity : Math.abs(o.result.finalLoss - refLoss);
    record('loss-difference', r, dLoss <= th.lossAbsDiff ? { ok: true, value: dLoss, limit: th.lossAbsDiff }
      : { ok: false, detail: `final_loss ${o.result.finalLoss} vs reference ${refLoss}`, value: dLoss, limit: th.lossAbsDiff });
    const lg = relError(['logits'], () => t('logits'), () => rt('logits'));
    record('logits-match', r, lg.err <= th.logitsRelError ? { ok: true, value: lg.err, limit: th.logitsRelError }
      : { ok: false, detail: `final_logits relative error ${lg.err.toPrecision(3)}`, value: lg.err, limit: th.logitsRelError });
    const w = relError(names, (n) => t(`weight/${n}`), (n) => rt(`weight/${n}`), (n) => rt(`init/${n}`));
    record('weight-error', r, w.err <= th.weightUpdateRelError ? { ok: true, value: w.err, limit: th.weightUpdateRelError }
      : { ok: false, detail: `final weights differ from the reference by ${w.err.toPrecision(3)} of the reference update (worst ${w.worst})`, value: w.err, limit: th.weightUpdateRelError });
    const sizes = ref.result.meta?.params ?? {};
    let changed = 0; let total = 0;
    for (const n of names) {
      const size = sizes[n] ?? 0;
      total += size;
      changed += Math.max(0, Math.min(o.changed[n] ?? 0, size));
    }
    const share = total ? changed / total : 0;
    record('changed-share', r, share >= th.changedShareMin ? { ok: true, value: share, limit: th.changedShareMin }
      : { ok: false, detail: `only ${(share * 100).toFixed(1)}% of the parameters changed`, value: share, limit: th.changedShareMin });
  }
  const mfu = computeMfu(miner, ref.result, policy, hw);
  if (!mfu) record('mfu-cap', -1, { ok: false, detail: 'no timed repetition' });
  else record('mfu-cap', -1, mfu.median <= th.mfuMax ? { ok: true, value: mfu.median, limit: th.mfuMax }
    : { ok: false, detail: `MFU ${mfu.median.toFixed(4)} is implausible for this hardware class`, value: mfu.median, limit: th.mfuMax });
  const checks = CHECK_ORDER.filter((n) => results.has(n)).map((n) => results.get(n)!);
  for (const [n, c] of results) if (!(CHECK_ORDER as readonly string[]).includes(n)) checks.push(c);
  return { checks, mfu };
}

/** The checks a supervisor 'violation' turns into (one per named violation, in CHECK_ORDER). */
export function violationChecks(miner: SupervisorResult): CheckResult[] {
  const seen = new Map<string, CheckResult>();
  for (const v of miner.violations) if (!seen.has(v.check)) seen.set(v.check, { name: v.check, ok: false, detail: v.detail });
  const rank = (n: string) => { const i = (CHECK_ORDER as readonly string[]).indexOf(n); return i < 0 ? CHECK_ORDER.length : i; };
  return [...seen.values()].sort((a, b) => rank(a.name) - rank(b.name));
}
