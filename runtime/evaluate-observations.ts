// The checks on what one repetition's worker observed, each against the reference pass's observation of
// the same repetition where the task's convention is concerned (shapes, dtypes, autocast, token count):
// nothing here hard-codes how the model must be called. Pure. The numbers the score rests on (gradients,
// weights, logits, loss, the supervisor's window) are checked in evaluate-checks.ts.
import type { ForwardCall, RepObservation } from './evaluate-capture.ts';
import type { EvaluatorPolicy, Thresholds } from './evaluator-policy.ts';

export type Verdict = { ok: true; value?: number | string; limit?: number | string } | { ok: false; detail: string; value?: number | string; limit?: number | string };
const ok = (value?: number | string, limit?: number | string): Verdict => ({ ok: true, value, limit });
const no = (detail: string, value?: number | string, limit?: number | string): Verdict => ({ ok: false, detail, value, limit });

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const shapeText = (s: number[] | null | undefined) => (s ? `[${s.join(', ')}]` : 'none');

export interface ObservationContext { policy: EvaluatorPolicy; th: Thresholds; ref: RepObservation; wall: number | null }

/** Observation checks of one repetition, by check name. */
export function observationChecks(o: RepObservation, c: ObservationContext): Record<string, Verdict> {
  const { policy, ref } = c;
  const steps = policy.data.numSteps;
  const out: Record<string, Verdict> = {};
  const res = o.result;
  out['result-type'] = res.problems.length === 0 && res.finalLoss !== null && res.totalTokens !== null && res.logitsShape !== null
    ? ok() : no(res.problems.join('; ') || 'the result lacks final_logits, total_tokens or final_loss');
  out['wrapper-integrity'] = o.wrapperIntact ? ok() : no('the optimizer wrapper or its AdamW was replaced');
  out['timer-identity'] = o.timersReplaced.length === 0 ? ok() : no(`replaced: ${o.timersReplaced.slice(0, 8).join(', ')}`);
  out['attribute-integrity'] = o.attributesReplaced.length === 0 ? ok()
    : no(`replaced, added or deleted: ${o.attributesReplaced.slice(0, 8).join(', ')}${o.attributesReplaced.length > 8 ? ` and ${o.attributesReplaced.length - 8} more` : ''}`);
  out['backend-settings'] = backendVerdict(o);
  out['precision'] = precisionVerdict(o, ref);
  const lr = (o.hyperAfter[0] as { lr?: number } | undefined)?.lr;
  out['optimizer-config'] = same(o.hyperBefore, o.hyperAfter) && lr === policy.optimizer.lr
    ? ok() : no(`optimizer hyper-parameters changed during the call (lr ${lr})`, lr ?? 'missing', policy.optimizer.lr);
  out['optimizer-steps'] = stepsVerdict(o, steps);
  out['sequence-length'] = sequenceVerdict(o, ref);
  out['logits-shape'] = same(res.logitsShape, ref.result.logitsShape)
    ? ok() : no(`final_logits shape ${shapeText(res.logitsShape)}; the reference's is ${shapeText(ref.result.logitsShape)}`, shapeText(res.logitsShape), shapeText(ref.result.logitsShape));
  const wantTokens = ref.result.totalTokens ?? NaN;
  out['token-count'] = res.totalTokens === wantTokens && o.batchesDrawn >= steps
    ? ok(wantTokens, wantTokens) : no(`reported ${res.totalTokens} tokens (the reference counts ${wantTokens}), drew ${o.batchesDrawn} of ${steps} batches`, res.totalTokens ?? 'missing', wantTokens);
  out['timer-agreement'] = timerVerdict(o.clocks, c.wall, c.th);
  return out;
}

function backendVerdict(o: RepObservation): Verdict {
  if (o.backendAtSteps.length) {
    const first = o.backendAtSteps[0];
    const at = first.where === 'forward' ? `a forward of step ${first.step}` : first.where === 'backward' ? `the backward of step ${first.step}` : `optimizer step ${first.step}`;
    return no(`${first.keys.join(', ')} differed from the evaluator's setting at ${at}`);
  }
  if (!same(o.backendBefore, o.backendAfter)) {
    return no(`changed during the call: ${Object.keys(o.backendBefore).filter((k) => !same(o.backendBefore[k], o.backendAfter[k])).join(', ')}`);
  }
  return ok();
}

/** Parameters stay in their dtype; a forward under autocast only with the reference's autocast dtype. */
function precisionVerdict(o: RepObservation, ref: RepObservation): Verdict {
  if (o.dtypeChanges.length) {
    const d = o.dtypeChanges[0];
    return no(`at optimizer step ${d.step} ${d.params.join(', ')} (or its gradient) was not in its original dtype`);
  }
  const refAutocast = new Set(ref.forward.seen.map((s) => s.autocast));
  const refParam = new Set(ref.forward.seen.map((s) => s.paramDtype));
  const lower = o.forward.seen.find((s) => s.autocast !== null && !refAutocast.has(s.autocast));
  if (lower) return no(`the model ran under ${lower.autocast} autocast; the policy's reference runs under ${[...refAutocast].map((a) => a ?? 'no autocast (fp32)').join(', ')}`, String(lower.autocast), [...refAutocast].map(String).join(','));
  const cast = o.forward.seen.find((s) => !refParam.has(s.paramDtype));
  if (cast) return no(`the model's parameters were ${cast.paramDtype} during a forward; the reference's are ${[...refParam].join(', ')}`);
  return ok();
}

function stepsVerdict(o: RepObservation, steps: number): Verdict {
  if (o.stepsBeforeWindow > 0) return no(`optimizer.step() was called ${o.stepsBeforeWindow} times before the timed call`, o.stepsBeforeWindow, 0);
  if (o.optimizerStepsAtCapture !== o.optimizerSteps) {
    return no(`optimizer.step() was called ${o.optimizerStepsAtCapture - o.optimizerSteps} times after inner_steps returned`, o.optimizerStepsAtCapture, steps);
  }
  return o.optimizerSteps === steps ? ok(o.optimizerSteps, steps) : no(`optimizer.step() called ${o.optimizerSteps} times`, o.optimizerSteps, steps);
}

/** Every call's input has the reference's shape past the batch dimension (sequence length, …): a batch split
 * into micro-batches (gradient accumulation) is the same task; rows left out show in the token count and the
 * gradients. */
function sequenceVerdict(o: RepObservation, ref: RepObservation): Verdict {
  if (o.forward.calls === 0) return no('the model was never called');
  const refShapes = ref.forward.seen.map((s: ForwardCall) => shapeText(s.shape));
  const tails = new Set(ref.forward.seen.map((s: ForwardCall) => shapeText(s.shape.slice(1))));
  const rows = Math.max(...ref.forward.seen.map((s: ForwardCall) => s.shape[0] ?? 0));
  const bad = o.forward.seen.find((s) => s.shape.length < 2 || !tails.has(shapeText(s.shape.slice(1))) || !(s.shape[0] >= 1 && s.shape[0] <= rows));
  if (bad) {
    return no(`the model was called on ${shapeText(bad.shape)}; the reference calls it on ${refShapes.join(' / ')} (the task's inputs are batch[:, :-1] with labels batch[:, 1:])`,
      shapeText(bad.shape), refShapes.join(' / '));
  }
  return ok(refShapes.join(' / '));
}

/** The worker's own clocks over the call agree with each other and fit in the supervisor's window (which
 * contains the call: it opens before the seeds are written and closes after the worker is gone). */
function timerVerdict(clocks: number[] | null, wall: number | null, th: Thresholds): Verdict {
  if (!clocks || clocks.length !== 3 || wall === null) return no('missing clock readings');
  const [perf, mono, raw] = clocks;
  const within = (a: number, b: number) => Math.abs(a - b) <= th.timerAbsToleranceSec + th.timerRelTolerance * Math.max(a, b);
  if (within(perf, mono) && within(perf, raw) && perf > 0 && perf <= wall * (1 + th.timerRelTolerance) + th.timerAbsToleranceSec) return ok();
  return no(`perf_counter ${perf.toFixed(4)}s, monotonic ${mono.toFixed(4)}s, CLOCK_MONOTONIC_RAW ${raw.toFixed(4)}s disagree or exceed the supervisor's window ${wall.toFixed(4)}s`);
}
