// The comparison logic on synthetic captures (no Docker): every check can fail, honest data passes, and the
// task's convention (shapes, autocast, token count) comes from the reference's observation, not from here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCaptures, CaptureError, checkObservation, type CaptureMap, type SupervisorResult, type RepObservation } from '../../runtime/evaluate-capture.ts';
import { runChecks, violationChecks, computeMfu } from '../../runtime/evaluate-checks.ts';
import { loadPolicy, parsePolicy, evaluatorPolicyHash, thresholdsFor, PolicyError } from '../../runtime/evaluator-policy.ts';
import { toScoreStatus } from '../../runtime/evaluate.ts';
import { localRandomness, normaliseRandomness, runSeeds, RandomnessError } from '../../runtime/evaluate-seeds.ts';

const policy = { ...loadPolicy(), repetitions: 1, warmupRepetitions: 0 };
const hw = policy.hardwareClasses['cpu-2core'];
const th = thresholdsFor(policy, hw);
const B = policy.data.batchSize; const S = policy.model.seqLen; const V = policy.model.vocab; const STEPS = policy.data.numSteps;

function vec(n: number, f: (i: number) => number): Float32Array { return Float32Array.from({ length: n }, (_, i) => f(i)); }

function obs(over: Partial<RepObservation> = {}, result: Partial<RepObservation['result']> = {}): RepObservation {
  const hyper = [{ lr: policy.optimizer.lr, nparams: 2 }];
  const backend = { grad_enabled: true, num_threads: 1 };
  return {
    wrapperIntact: true, optimizerSteps: STEPS, stepsBeforeWindow: 0, optimizerStepsAtCapture: STEPS, hyperBefore: hyper, hyperAfter: hyper,
    backendBefore: backend, backendAfter: backend, backendAtSteps: [], dtypeChanges: [], timersReplaced: [], attributesReplaced: [],
    missingGrads: Array.from({ length: STEPS }, () => []), nonfiniteSteps: [], batchesDrawn: STEPS,
    forward: { calls: STEPS, seen: [{ shape: [B, S - 1], dtype: 'int64', autocast: null, paramDtype: 'float32' }] },
    result: { problems: [], totalTokens: STEPS * B * S, finalLoss: 5.5, logitsShape: [B, S - 1, V], ...result },
    changed: { a: 100, b: 100 }, clocks: [0.5, 0.5, 0.5], ...over,
  };
}

function result(o: RepObservation, wall = 0.5, mode: 'miner' | 'reference' = 'miner'): SupervisorResult {
  return { version: 2, mode, status: 'completed', violations: [], error: null, worker: { exitCode: 0, signal: null },
    meta: { nParams: 200, params: { a: 100, b: 100 }, device: 'cpu', torch: 'x' }, reps: [{ rep: 0, wall, obs: o }] };
}

/** Sketch captures of repetition 0 (the checks only compare vectors; how they were sketched is the worker's). */
function tensors(scaleGrad = 1, weightShift = 0.01, logitsScale = 1, gradAt?: number): CaptureMap {
  const m: CaptureMap = new Map();
  for (const n of ['a', 'b']) {
    for (let k = 1; k <= STEPS; k++) m.set(`rep0/grad/${k}/${n}`, { shape: [100], data: vec(100, (i) => (gradAt === undefined || gradAt === k ? scaleGrad : 1) * Math.sin(i + k)) });
    m.set(`rep0/weight/${n}`, { shape: [100], data: vec(100, (i) => Math.cos(i) + weightShift) });
  }
  m.set('rep0/logits', { shape: [256], data: vec(256, (i) => logitsScale * Math.sin(i / 7)) });
  return m;
}

function reference() {
  const t = tensors();
  for (const n of ['a', 'b']) t.set(`rep0/init/${n}`, { shape: [100], data: vec(100, (i) => Math.cos(i)) });
  return { result: result(obs(), 0.5, 'reference'), tensors: t };
}

const failed = (m: SupervisorResult, t: CaptureMap, ref = reference()) => runChecks(m, t, ref, policy, hw).checks.filter((c) => !c.ok).map((c) => c.name);

describe('evaluator checks (pure)', () => {
  it('passes identical captures and reports a positive MFU from the reference\'s parameter count', () => {
    const { checks, mfu } = runChecks(result(obs()), tensors(), reference(), policy, hw);
    assert.deepEqual(checks.filter((c) => !c.ok), []);
    assert.ok(mfu!.median > 0);
    const lying = result(obs());
    lying.meta!.nParams = 1e12; // the miner's worker reports a parameter count too: it does not enter the MFU
    assert.equal(computeMfu(lying, reference().result, policy, hw)!.median, mfu!.median);
  });

  it('compares the gradients of every step: a deviation at the last step alone fails gradient-error', () => {
    assert.deepEqual(failed(result(obs()), tensors(0.5)), ['gradient-error']);
    const late = runChecks(result(obs()), tensors(1 + 20 * th.gradRelError, 0.01, 1, STEPS), reference(), policy, hw).checks.find((c) => c.name === 'gradient-error')!;
    assert.equal(late.ok, false);
    assert.match(late.detail!, new RegExp(`step ${STEPS} gradient`));
    assert.deepEqual(failed(result(obs()), tensors(1, 0.03)), ['weight-error']);
    assert.deepEqual(failed(result(obs()), tensors(1, 0.01, 0)), ['logits-match']);
  });

  it('fails changed-share when weights stayed at their init', () => {
    assert.ok(failed(result(obs({ changed: { a: 0, b: 100 } })), tensors()).includes('changed-share'));
    assert.ok(failed(result(obs({ changed: { a: 10 ** 9, b: 0 } })), tensors()).includes('changed-share'), 'a count above the parameter size is clamped');
  });

  it('fails each observation check on its own deviation', () => {
    const cases: [Partial<RepObservation>, string][] = [
      [{ optimizerSteps: 4, optimizerStepsAtCapture: 4 }, 'optimizer-steps'], [{ stepsBeforeWindow: 1 }, 'optimizer-steps'],
      [{ optimizerStepsAtCapture: STEPS + 1 }, 'optimizer-steps'], [{ hyperAfter: [{ lr: 0.1, nparams: 2 }] }, 'optimizer-config'],
      [{ backendAfter: { grad_enabled: true, num_threads: 8 } }, 'backend-settings'], [{ backendAtSteps: [{ step: 2, keys: ['num_threads'] }] }, 'backend-settings'],
      [{ timersReplaced: ['time.perf_counter'] }, 'timer-identity'], [{ attributesReplaced: ['torch.Tensor.detach'] }, 'attribute-integrity'],
      [{ dtypeChanges: [{ step: 2, params: ['a'] }] }, 'precision'],
      [{ forward: { calls: 2, seen: [{ shape: [B, S - 1], dtype: 'int64', autocast: 'bfloat16', paramDtype: 'float32' }] } }, 'precision'],
      [{ forward: { calls: 2, seen: [{ shape: [B, S - 1], dtype: 'int64', autocast: null, paramDtype: 'bfloat16' }] } }, 'precision'],
      [{ forward: { calls: 2, seen: [{ shape: [B, S / 2], dtype: 'int64', autocast: null, paramDtype: 'float32' }] } }, 'sequence-length'],
      [{ forward: { calls: 0, seen: [] } }, 'sequence-length'], [{ batchesDrawn: 1 }, 'token-count'],
      [{ forward: { calls: 2, seen: [{ shape: [2 * B, S - 1], dtype: 'int64', autocast: null, paramDtype: 'float32' }] } }, 'sequence-length'],
      [{ forward: { calls: 2, seen: [{ shape: [B, S - 1, 1], dtype: 'int64', autocast: null, paramDtype: 'float32' }] } }, 'sequence-length'],
      [{ forward: { calls: 2, seen: [{ shape: [S - 1], dtype: 'int64', autocast: null, paramDtype: 'float32' }] } }, 'sequence-length'],
      [{ backendAtSteps: [{ step: 1, keys: ['num_threads'], where: 'forward' }] }, 'backend-settings'],
      [{ backendAtSteps: [{ step: 1, keys: ['num_threads'], where: 'backward' }] }, 'backend-settings'],
      [{ missingGrads: [['a'], []] }, 'all-layers-gradients'], [{ nonfiniteSteps: [2] }, 'all-layers-gradients'], [{ wrapperIntact: false }, 'wrapper-integrity'],
    ];
    for (const [over, name] of cases) assert.deepEqual(failed(result(obs(over)), tensors()), [name], JSON.stringify(over));
    const resultCases: [Partial<RepObservation['result']>, string][] = [
      [{ logitsShape: [B, S, V] }, 'logits-shape'], [{ totalTokens: 10 }, 'token-count'], [{ finalLoss: 9 }, 'loss-difference'],
      [{ problems: ['final_logits is missing or computed (a property / __getattr__); return it as a plain field'] }, 'result-type'],
    ];
    for (const [over, name] of resultCases) assert.deepEqual(failed(result(obs({}, over)), tensors()), [name], JSON.stringify(over));
  });

  it('accepts micro-batches of the reference\'s sequences (gradient accumulation), and names where a backend setting differed', () => {
    const micro = { forward: { calls: 2 * STEPS, seen: [{ shape: [B / 2, S - 1], dtype: 'int64', autocast: null, paramDtype: 'float32' }, { shape: [1, S - 1], dtype: 'int64', autocast: null, paramDtype: 'float32' }] } };
    assert.deepEqual(failed(result(obs(micro)), tensors()), []);
    const r = runChecks(result(obs({ backendAtSteps: [{ step: 2, keys: ['num_threads'], where: 'backward' }] })), tensors(), reference(), policy, hw);
    assert.match(r.checks.find((c) => c.name === 'backend-settings')!.detail!, /num_threads differed from the evaluator's setting at the backward of step 2/);
  });

  it('takes the convention from the reference: a reference that called the model on full sequences makes those the right ones', () => {
    const full = { forward: { calls: STEPS, seen: [{ shape: [B, S], dtype: 'int64', autocast: null, paramDtype: 'float32' }] } };
    const ref = reference();
    ref.result.reps[0].obs = obs(full, { logitsShape: [B, S, V] });
    assert.deepEqual(failed(result(obs(full, { logitsShape: [B, S, V] })), tensors(), ref), []);
    assert.deepEqual(failed(result(obs()), tensors(), ref), ['sequence-length', 'logits-shape']);
    // a GPU-class reference under bf16 autocast: the same autocast, or none (fp32, more precise), is accepted
    const bf16 = reference();
    bf16.result.reps[0].obs = obs({ forward: { calls: STEPS, seen: [{ shape: [B, S - 1], dtype: 'int64', autocast: 'bfloat16', paramDtype: 'float32' }] } });
    assert.deepEqual(failed(result(obs({ forward: { calls: STEPS, seen: [{ shape: [B, S - 1], dtype: 'int64', autocast: 'bfloat16', paramDtype: 'float32' }] } })), tensors(), bf16), []);
    assert.deepEqual(failed(result(obs()), tensors(), bf16), []);
    assert.deepEqual(failed(result(obs({ forward: { calls: STEPS, seen: [{ shape: [B, S - 1], dtype: 'int64', autocast: 'float16', paramDtype: 'float32' }] } })), tensors(), bf16), ['precision']);
  });

  it('refuses a malformed observation as a protocol violation instead of failing the validator', () => {
    const bad = result(obs());
    (bad.reps[0].obs as unknown as Record<string, unknown>).forward = { calls: 'many' };
    assert.deepEqual(failed(bad, tensors()), ['protocol']);
    assert.equal(checkObservation(obs()), null);
    assert.match(checkObservation({ ...obs(), result: null })!, /result/);
    assert.match(checkObservation('x')!, /not an object/);
  });

  it('fails timer-agreement when the clocks disagree and mfu-cap when MFU is implausible', () => {
    const r = result(obs({ clocks: [0.5, 0.5, 0.2] }));
    assert.deepEqual(failed(r, tensors()), ['timer-agreement']);
    // the supervisor's window contains the call: a window longer than the worker's clocks is scheduling, not a cheat
    assert.deepEqual(failed(result(obs({ clocks: [0.3, 0.3, 0.3] })), tensors()), []);
    // the worker timing more than the supervisor's window is impossible for honest code
    assert.deepEqual(failed(result(obs({ clocks: [0.6, 0.6, 0.6] })), tensors()), ['timer-agreement']);
    const fast = result(obs({ clocks: [1e-9, 1e-9, 1e-9] }), 1e-9);
    assert.ok(failed(fast, tensors()).includes('mfu-cap'));
    assert.ok(computeMfu(fast, reference().result, policy, hw)!.median > th.mfuMax);
  });

  it('orders violation checks by CHECK_ORDER', () => {
    const r = { ...result(obs()), status: 'violation' as const, violations: [{ check: 'network', detail: 'x' }, { check: 'process-spawn', detail: 'y' }, { check: 'network', detail: 'z' }] };
    assert.deepEqual(violationChecks(r).map((c) => c.name), ['process-spawn', 'network']);
  });

  it('parses the capture file format and refuses malformed ones', () => {
    const head = Buffer.from(JSON.stringify({ meta: {}, tensors: [{ name: 'x', shape: [2], offset: 0, length: 8 }] }));
    const len = Buffer.alloc(4); len.writeUInt32LE(head.length);
    const data = Buffer.from(new Float32Array([1.5, -2]).buffer);
    const m = parseCaptures(Buffer.concat([Buffer.from('CCAP1\n'), len, head, data]));
    assert.deepEqual([...m.get('x')!.data], [1.5, -2]);
    assert.throws(() => parseCaptures(Buffer.concat([Buffer.from('CCAP2\n'), len, head, data])), CaptureError);
    assert.throws(() => parseCaptures(Buffer.concat([Buffer.from('CCAP1\n'), len, head, data.subarray(0, 4)])), CaptureError);
  });

  it('validates the policy and hashes it canonically; per-class thresholds override the policy\'s', () => {
    assert.throws(() => parsePolicy({ ...policy, version: 1 }), PolicyError);
    assert.throws(() => parsePolicy({ ...policy, model: { ...policy.model, nHeads: 3 } }), /divisible/);
    assert.throws(() => parsePolicy({ ...policy, thresholds: { ...policy.thresholds, gradRelError: -1 } }), /gradRelError/);
    const { mfuMax: _dropped, ...missing } = policy.thresholds;
    assert.throws(() => parsePolicy({ ...policy, thresholds: missing }), /thresholds\.mfuMax must be a positive number/);
    assert.throws(() => parsePolicy({ ...policy, thresholds: { ...policy.thresholds, supervisorRelTolerance: 0.25 } }), /unknown thresholds supervisorRelTolerance/);
    assert.throws(() => parsePolicy({ ...policy, capture: { sketchDim: 1 << 20 } }), /sketchDim/);
    assert.throws(() => parsePolicy({ ...policy, hardwareClasses: { x: { ...hw, autocast: 'int8' as never } } }), /autocast/);
    assert.throws(() => parsePolicy({ ...policy, hardwareClasses: { x: { ...hw, thresholds: { gradRelErr: 1 } as never } } }), /unknown hardwareClasses\.x\.thresholds gradRelErr/);
    const gpu = policy.hardwareClasses['h100-sxm'];
    assert.equal(gpu.autocast, 'bfloat16');
    assert.equal(thresholdsFor(policy, { ...gpu, thresholds: { gradRelError: 0.5 } }).gradRelError, 0.5);
    assert.equal(thresholdsFor(policy, { ...gpu, thresholds: { gradRelError: 0.5 } }).lossAbsDiff, policy.thresholds.lossAbsDiff);
    const reordered = Object.fromEntries(Object.entries(policy).reverse()) as typeof policy;
    assert.equal(evaluatorPolicyHash(reordered), evaluatorPolicyHash(policy));
    assert.deepEqual(['ok', 'rejected', 'timeout', 'oom', 'crashed', 'sandbox-error'].map((s) => toScoreStatus(s as never)),
      ['scored', 'rejected-runtime', 'timeout', 'rejected-runtime', 'rejected-runtime', 'not-evaluated']);
  });

  it('derives every seed from the chain randomness: fresh per repetition, stable per run, unguessable from the run id', () => {
    const a = '0x' + 'ab'.repeat(32);
    const s = runSeeds(a, 3);
    assert.deepEqual(runSeeds(a.slice(2).toUpperCase(), 3), s, '0x prefix and case do not matter');
    assert.equal(new Set(s.dataSeeds).size, 3);
    assert.match(s.sketchSeed, /^[0-9a-f]{32}$/);
    assert.ok(Number.isInteger(s.initSeed) && s.initSeed >= 0 && s.initSeed < 2 ** 31);
    const b = runSeeds('0x' + 'ab'.repeat(31) + 'ac', 3);
    for (let i = 0; i < 3; i++) assert.notEqual(b.dataSeeds[i], s.dataSeeds[i]);
    assert.notEqual(b.initSeed, s.initSeed);
    assert.notEqual(b.sketchSeed, s.sketchSeed);
    assert.deepEqual(runSeeds(a, 5).dataSeeds.slice(0, 3), s.dataSeeds, 'more repetitions extend, never reshuffle');
    for (const bad of ['', '0x12', 'zz'.repeat(32), '0x' + 'a'.repeat(63)]) assert.throws(() => normaliseRandomness(bad), RandomnessError);
    assert.equal(normaliseRandomness(localRandomness(7)), localRandomness(7));
  });
});

describe('evaluator Dockerfiles (lint)', () => {
  const read = (f: string) => readFileSync(fileURLToPath(new URL(`../../docker/${f}`, import.meta.url)), 'utf8');
  const instructions = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !/^[&\\]/.test(l))
    .map((l) => l.split(/\s+/)[0].toUpperCase()).filter((w) => /^[A-Z]+$/.test(w));

  for (const f of ['Dockerfile.cpu', 'Dockerfile.gpu']) {
    it(`${f}: known instructions, non-root user last, evaluator + seccomp copied, same entrypoint`, () => {
      const text = read(f);
      const known = new Set(['FROM', 'RUN', 'COPY', 'ENV', 'LABEL', 'USER', 'WORKDIR', 'ENTRYPOINT', 'ARG']);
      const ins = instructions(text.replace(/\\\n/g, ' '));
      assert.equal(ins[0], 'FROM');
      for (const i of ins) assert.ok(known.has(i), `${f}: unexpected instruction ${i}`);
      assert.match(text, /^USER 10001:10001$/m);
      assert.ok(text.lastIndexOf('USER') > text.lastIndexOf('RUN'), 'USER comes after every RUN');
      assert.match(text, /^COPY evaluator \/opt\/conclave\/evaluator$/m);
      assert.match(text, /^COPY seccomp.json \/opt\/conclave\/seccomp.json$/m);
      assert.match(text, /^ENTRYPOINT \["python3", "-I", "\/opt\/conclave\/evaluator\/supervisor.py"\]$/m);
      assert.doesNotMatch(text, /curl|wget|pip install/, 'no network fetches in the image build');
    });
  }
});
