// The run-time checks, computed OUTSIDE the miner's container: the miner's captures (first-step
// gradients, final weights, final logits, per-rep observations) against the cached reference pass.
// Pure: no I/O, so every check is unit-testable with synthetic captures.
import type { CaptureMap, SupervisorResult, RepObservation } from './evaluate-capture.ts';
import type { EvaluatorPolicy, HardwareClass } from './evaluator-policy.ts';

export interface CheckResult { name: string; ok: boolean; value?: number | string; limit?: number | string; detail?: string }

export interface ReferenceData { result: SupervisorResult; tensors: CaptureMap }

export interface MfuStats { median: number; min: number; max: number; spread: number; perRep: number[]; wallSec: number[] }

/** The order rejections are named in when several checks fail. */
export const CHECK_ORDER = [
  'process-spawn', 'network', 'filesystem-write', 'denied-syscall', 'disk-limit', 'protocol',
  'result-type', 'wrapper-integrity', 'timer-identity', 'backend-settings', 'optimizer-config', 'optimizer-steps',
  'sequence-length', 'logits-shape', 'token-count', 'all-layers-gradients', 'gradient-error', 'loss-difference',
  'logits-match', 'weight-error', 'changed-share', 'timer-agreement', 'mfu-cap',
] as const;

function sqDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; s += d * d; }
  return s;
}
function sq(a: Float32Array): number { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * a[i]; return s; }

function stableEq(a: unknown, b: unknown): boolean { return JSON.stringify(a) === JSON.stringify(b); }

function paramNames(ref: CaptureMap): string[] {
  return [...ref.keys()].filter((k) => k.startsWith('init/')).map((k) => k.slice(5));
}

/** sqrt(sum ||m - r||^2) / sqrt(sum ||r - base||^2) over the named tensors; Infinity when one is missing. */
function relError(names: string[], miner: (n: string) => Float32Array | undefined, ref: (n: string) => Float32Array | undefined,
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
  return { err: den > 0 ? Math.sqrt(num / den) : (num > 0 ? Infinity : 0), worst };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function computeMfu(miner: SupervisorResult, policy: EvaluatorPolicy, hw: HardwareClass): MfuStats | null {
  const nParams = miner.meta?.nParams ?? 0;
  const tokens = miner.meta?.expectedTokens ?? 0;
  const walls = miner.reps.slice(policy.warmupRepetitions).map((r) => r.wall).filter((w): w is number => typeof w === 'number' && w > 0);
  if (walls.length === 0 || nParams <= 0) return null;
  const perRep = walls.map((w) => (6 * nParams * tokens) / (hw.peakFlops * hw.devices * w));
  const med = median(perRep);
  const min = Math.min(...perRep); const max = Math.max(...perRep);
  return { median: med, min, max, spread: med > 0 ? (max - min) / med : 0, perRep, wallSec: walls };
}

/** All checks for a completed miner pass. A failing check carries value/limit and the rep it failed in. */
export function runChecks(miner: SupervisorResult, minerTensors: CaptureMap, ref: ReferenceData, policy: EvaluatorPolicy,
  hw: HardwareClass, opts: { sketched?: CaptureMap } = {}): { checks: CheckResult[]; mfu: MfuStats | null } {
  // sketch mode: miner tensors are sketches, compared against `sketched` (the reference under the same
  // projection); changed-share comes from the sketcher's per-tensor counts
  const refT = opts.sketched ?? ref.tensors;
  const changedCounts = opts.sketched ? (miner.sketch?.changed ?? {}) : null;
  const th = policy.thresholds;
  const refObs = ref.result.reps[0]?.obs;
  const names = paramNames(ref.tensors);
  const expectedTokens = policy.data.numSteps * policy.data.batchSize * policy.model.seqLen;
  const logitsShape = [policy.data.batchSize, policy.model.seqLen, policy.model.vocab];
  const results = new Map<string, CheckResult>();
  const fail = (name: string, rep: number, detail: string, value?: number | string, limit?: number | string) => {
    if (!results.has(name) || results.get(name)!.ok) results.set(name, { name, ok: false, value, limit, detail: `rep ${rep}: ${detail}` });
  };
  const pass = (name: string, value?: number | string, limit?: number | string) => {
    if (!results.has(name)) results.set(name, { name, ok: true, value, limit });
    else if (results.get(name)!.ok && value !== undefined) {
      const prev = results.get(name)!;
      if (typeof value === 'number' && typeof prev.value === 'number' && value > prev.value) prev.value = value;
    }
  };
  if (miner.reps.length !== policy.repetitions) fail('protocol', -1, `expected ${policy.repetitions} repetitions, got ${miner.reps.length}`);

  for (const rep of miner.reps) {
    const r = rep.rep;
    const o = rep.obs as RepObservation | null;
    if (!o) { fail('result-type', r, 'no observation for this repetition'); continue; }
    const t = (kind: string) => (n: string) => minerTensors.get(`rep${r}/${kind}/${n}`)?.data;
    const rt = (kind: string) => (n: string) => refT.get(`rep0/${kind}/${n}`)?.data;
    const init = (n: string) => refT.get(`init/${n}`)?.data;

    if (Object.values(o.resultFields ?? {}).every(Boolean) && o.finalLoss !== null) pass('result-type');
    else fail('result-type', r, `returned object lacks ${Object.entries(o.resultFields ?? {}).filter(([, v]) => !v).map(([k]) => k).join(', ') || 'a numeric final_loss'}`);
    if (o.wrapperIntact) pass('wrapper-integrity'); else fail('wrapper-integrity', r, 'the optimizer wrapper or its AdamW was replaced');
    if (o.timersReplaced.length === 0) pass('timer-identity'); else fail('timer-identity', r, `replaced: ${o.timersReplaced.join(', ')}`);
    if (stableEq(o.backendBefore, o.backendAfter)) pass('backend-settings');
    else fail('backend-settings', r, `changed: ${Object.keys(o.backendBefore).filter((k) => !stableEq(o.backendBefore[k], o.backendAfter[k])).join(', ')}`);
    const lr = (o.hyperAfter[0] as { lr?: number } | undefined)?.lr;
    if (stableEq(o.hyperBefore, o.hyperAfter) && lr === policy.optimizer.lr) pass('optimizer-config');
    else fail('optimizer-config', r, `optimizer hyper-parameters changed during the call (lr ${lr})`, lr ?? 'missing', policy.optimizer.lr);
    if (o.optimizerSteps === policy.data.numSteps) pass('optimizer-steps', o.optimizerSteps, policy.data.numSteps);
    else fail('optimizer-steps', r, `optimizer.step() called ${o.optimizerSteps} times`, o.optimizerSteps, policy.data.numSteps);
    const badSeq = o.seqShapes.filter((s) => !s || s[s.length - 1] !== policy.model.seqLen);
    if (o.forwardCalls > 0 && badSeq.length === 0) pass('sequence-length', policy.model.seqLen);
    else fail('sequence-length', r, o.forwardCalls === 0 ? 'the model was never called' : `model called with shape ${JSON.stringify(badSeq[0])}`, JSON.stringify(badSeq[0] ?? null), policy.model.seqLen);
    if (stableEq(o.logitsShape, logitsShape)) pass('logits-shape');
    else fail('logits-shape', r, `final_logits shape ${JSON.stringify(o.logitsShape)}`, JSON.stringify(o.logitsShape), JSON.stringify(logitsShape));
    if (o.totalTokens === expectedTokens && o.batchesDrawn >= policy.data.numSteps) pass('token-count', expectedTokens, expectedTokens);
    else fail('token-count', r, `reported ${o.totalTokens} tokens, drew ${o.batchesDrawn} batches`, o.totalTokens ?? 'missing', expectedTokens);
    const missing = o.missingGrads.flat().concat(o.nonfiniteGrads.flat());
    const uncaptured = names.filter((n) => !minerTensors.has(`rep${r}/grad/${n}`));
    if (missing.length === 0 && uncaptured.length === 0 && o.missingGrads.length > 0) pass('all-layers-gradients');
    else fail('all-layers-gradients', r, `no (finite) gradient for ${[...new Set([...missing, ...uncaptured])].slice(0, 5).join(', ') || 'any layer: step() never called'}`);

    const g = relError(names, t('grad'), rt('grad'));
    if (g.err <= th.gradRelError) pass('gradient-error', g.err, th.gradRelError);
    else fail('gradient-error', r, `first-step gradient relative error ${g.err.toPrecision(3)} (worst ${g.worst})`, g.err, th.gradRelError);
    const refLoss = refObs?.finalLoss ?? NaN;
    const dLoss = o.finalLoss === null ? Infinity : Math.abs(o.finalLoss - refLoss);
    if (dLoss <= th.lossAbsDiff) pass('loss-difference', dLoss, th.lossAbsDiff);
    else fail('loss-difference', r, `final_loss ${o.finalLoss} vs reference ${refLoss}`, dLoss, th.lossAbsDiff);
    const lg = relError(['logits'], () => minerTensors.get(`rep${r}/logits`)?.data, () => refT.get('rep0/logits')?.data);
    if (lg.err <= th.logitsRelError) pass('logits-match', lg.err, th.logitsRelError);
    else fail('logits-match', r, `final_logits relative error ${lg.err.toPrecision(3)}`, lg.err, th.logitsRelError);
    const w = relError(names, t('weight'), rt('weight'), init);
    if (w.err <= th.weightUpdateRelError) pass('weight-error', w.err, th.weightUpdateRelError);
    else fail('weight-error', r, `final weights differ from the reference by ${w.err.toPrecision(3)} of the reference update (worst ${w.worst})`, w.err, th.weightUpdateRelError);
    let changed = 0; let total = 0;
    for (const n of names) {
      if (changedCounts) {
        total += ref.tensors.get(`init/${n}`)?.data.length ?? 0;
        changed += Math.max(0, Math.min(changedCounts[`rep${r}/weight/${n}`] ?? 0, ref.tensors.get(`init/${n}`)?.data.length ?? 0));
        continue;
      }
      const m = t('weight')(n); const b = init(n);
      if (!b) continue;
      total += b.length;
      if (!m || m.length !== b.length) continue;
      for (let i = 0; i < b.length; i++) if (m[i] !== b[i]) changed++;
    }
    const share = total ? changed / total : 0;
    if (share >= th.changedShareMin) pass('changed-share', share, th.changedShareMin);
    else fail('changed-share', r, `only ${(share * 100).toFixed(1)}% of the parameters changed`, share, th.changedShareMin);

    const c = rep.clocks;
    if (!c || c.length !== 3 || rep.wall === null) fail('timer-agreement', r, 'missing clock readings');
    else {
      const [perf, mono, raw] = c;
      const within = (a: number, b: number, rel: number, abs: number) => Math.abs(a - b) <= abs + rel * Math.max(a, b);
      // The supervisor's window contains the worker's (the worker starts only after its begin frame
      // was stamped), so honest readings have perf <= wall; wall may exceed perf by any scheduling
      // delay, which only lowers the submission's own MFU. perf beyond wall means forged frames.
      const agree = within(perf, mono, th.timerRelTolerance, th.timerAbsToleranceSec) && within(perf, raw, th.timerRelTolerance, th.timerAbsToleranceSec)
        && perf <= rep.wall * (1 + th.timerRelTolerance) + th.timerAbsToleranceSec && perf > 0;
      if (agree) pass('timer-agreement');
      else fail('timer-agreement', r, `perf_counter ${perf.toFixed(4)}s, monotonic ${mono.toFixed(4)}s, CLOCK_MONOTONIC_RAW ${raw.toFixed(4)}s disagree or exceed the supervisor's window ${rep.wall.toFixed(4)}s`);
    }
  }
  const mfu = computeMfu(miner, policy, hw);
  if (!mfu) fail('mfu-cap', -1, 'no timed repetition');
  else if (mfu.median <= th.mfuMax) pass('mfu-cap', mfu.median, th.mfuMax);
  else fail('mfu-cap', -1, `MFU ${mfu.median.toFixed(4)} is implausible for this hardware class`, mfu.median, th.mfuMax);
  const checks = CHECK_ORDER.filter((n) => results.has(n)).map((n) => results.get(n)!);
  for (const [n, c] of results) if (!(CHECK_ORDER as readonly string[]).includes(n)) checks.push(c);
  return { checks, mfu };
}

/** The checks a supervisor 'violation' turns into (one per named violation, in CHECK_ORDER). */
export function violationChecks(miner: SupervisorResult): CheckResult[] {
  const seen = new Map<string, CheckResult>();
  for (const v of miner.violations) if (!seen.has(v.check)) seen.set(v.check, { name: v.check, ok: false, detail: v.detail });
  return [...seen.values()].sort((a, b) => (CHECK_ORDER as readonly string[]).indexOf(a.name) - (CHECK_ORDER as readonly string[]).indexOf(b.name));
}
