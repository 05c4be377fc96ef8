// The comparison logic on synthetic captures (no Docker): every check can fail, honest data passes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCaptures, CaptureError, type CaptureMap, type SupervisorResult, type RepObservation } from '../../runtime/evaluate-capture.ts';
import { runChecks, violationChecks, computeMfu } from '../../runtime/evaluate-checks.ts';
import { loadPolicy, parsePolicy, evaluatorPolicyHash, PolicyError } from '../../runtime/evaluator-policy.ts';
import { seedForRun, toScoreStatus } from '../../runtime/evaluate.ts';

const policy = { ...loadPolicy(), repetitions: 1, warmupRepetitions: 0 };
const hw = policy.hardwareClasses['cpu-2core'];
const B = policy.data.batchSize; const S = policy.model.seqLen; const V = policy.model.vocab;

function vec(n: number, f: (i: number) => number): Float32Array { return Float32Array.from({ length: n }, (_, i) => f(i)); }

function obs(over: Partial<RepObservation> = {}): RepObservation {
  const hyper = [{ lr: policy.optimizer.lr, nparams: 2 }];
  const backend = { grad_enabled: true, num_threads: 1 };
  return {
    wrapperIntact: true, optimizerSteps: policy.data.numSteps, hyperBefore: hyper, hyperAfter: hyper, backendBefore: backend, backendAfter: backend,
    timersReplaced: [], missingGrads: Array.from({ length: policy.data.numSteps }, () => []), nonfiniteGrads: [], batchesDrawn: policy.data.numSteps,
    seqShapes: [[B, S]], forwardCalls: policy.data.numSteps, resultFields: { final_logits: true, total_tokens: true, final_loss: true },
    logitsShape: [B, S, V], totalTokens: policy.data.numSteps * B * S, finalLoss: 5.5, ...over,
  };
}

function result(o: RepObservation, wall = 0.5): SupervisorResult {
  return { version: 1, mode: 'miner', status: 'completed', violations: [], error: null, worker: { exitCode: 0, signal: null },
    meta: { nParams: 200, expectedTokens: policy.data.numSteps * B * S, device: 'cpu', torch: 'x' }, reps: [{ rep: 0, wall, clocks: [wall, wall, wall], obs: o }] };
}

function tensors(prefix: string, scaleGrad = 1, weightShift = 0.01, logitsScale = 1): CaptureMap {
  const m: CaptureMap = new Map();
  for (const n of ['a', 'b']) {
    m.set(`${prefix}/grad/${n}`, { shape: [100], data: vec(100, (i) => scaleGrad * Math.sin(i + 1)) });
    m.set(`${prefix}/weight/${n}`, { shape: [100], data: vec(100, (i) => Math.cos(i) + weightShift) });
  }
  m.set(`${prefix}/logits`, { shape: [B, S, V], data: vec(B * S * V, (i) => logitsScale * Math.sin(i / 7)) });
  return m;
}

function reference() {
  const t = tensors('rep0');
  for (const n of ['a', 'b']) t.set(`init/${n}`, { shape: [100], data: vec(100, (i) => Math.cos(i)) });
  return { result: { ...result(obs()), mode: 'reference' as const }, tensors: t };
}

const failed = (m: SupervisorResult, t: CaptureMap) => runChecks(m, t, reference(), policy, hw).checks.filter((c) => !c.ok).map((c) => c.name);

describe('evaluator checks (pure)', () => {
  it('passes identical captures and reports a positive MFU', () => {
    const { checks, mfu } = runChecks(result(obs()), tensors('rep0'), reference(), policy, hw);
    assert.deepEqual(checks.filter((c) => !c.ok), []);
    assert.ok(mfu!.median > 0);
  });

  it('fails gradient-error on scaled gradients, weight-error on a different update, logits-match on dummy logits', () => {
    assert.deepEqual(failed(result(obs()), tensors('rep0', 0.5)), ['gradient-error']);
    assert.deepEqual(failed(result(obs()), tensors('rep0', 1, 0.03)), ['weight-error']);
    assert.deepEqual(failed(result(obs()), tensors('rep0', 1, 0.01, 0)), ['logits-match']);
  });

  it('fails changed-share when weights stayed at their init', () => {
    assert.ok(failed(result(obs()), tensors('rep0', 1, 0)).includes('changed-share'));
  });

  it('fails each observation check on its own deviation', () => {
    const cases: [Partial<RepObservation>, string][] = [
      [{ optimizerSteps: 4 }, 'optimizer-steps'], [{ hyperAfter: [{ lr: 0.1, nparams: 2 }] }, 'optimizer-config'],
      [{ backendAfter: { grad_enabled: true, num_threads: 8 } }, 'backend-settings'], [{ timersReplaced: ['time.perf_counter'] }, 'timer-identity'],
      [{ seqShapes: [[B, S / 2]] }, 'sequence-length'], [{ logitsShape: [B, S] }, 'logits-shape'], [{ totalTokens: 10 }, 'token-count'],
      [{ missingGrads: [['a']] }, 'all-layers-gradients'], [{ wrapperIntact: false }, 'wrapper-integrity'], [{ finalLoss: 9 }, 'loss-difference'],
    ];
    for (const [over, name] of cases) assert.deepEqual(failed(result(obs(over)), tensors('rep0')), [name], name);
  });

  it('fails timer-agreement when the clocks disagree and mfu-cap when MFU is implausible', () => {
    const r = result(obs());
    r.reps[0].clocks = [0.5, 0.5, 0.2];
    assert.deepEqual(failed(r, tensors('rep0')), ['timer-agreement']);
    // the supervisor's window contains the worker's: a late-read frame (wall > perf) is scheduling delay, not a cheat
    r.reps[0].clocks = [0.3, 0.3, 0.3];
    assert.deepEqual(failed(r, tensors('rep0')), []);
    // the worker timing more than the supervisor saw is impossible for honest frames
    r.reps[0].clocks = [0.6, 0.6, 0.6];
    assert.deepEqual(failed(r, tensors('rep0')), ['timer-agreement']);
    const fast = result(obs(), 1e-9);
    assert.ok(failed(fast, tensors('rep0')).includes('mfu-cap'));
    assert.ok(computeMfu(fast, policy, hw)!.median > policy.thresholds.mfuMax);
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

  it('validates the policy and hashes it canonically; seeds and score statuses are fixed', () => {
    assert.throws(() => parsePolicy({ ...policy, version: 2 }), PolicyError);
    assert.throws(() => parsePolicy({ ...policy, model: { ...policy.model, nHeads: 3 } }), /divisible/);
    assert.throws(() => parsePolicy({ ...policy, thresholds: { ...policy.thresholds, gradRelError: -1 } }), /gradRelError/);
    const { mfuMax: _dropped, ...missing } = policy.thresholds;
    assert.throws(() => parsePolicy({ ...policy, thresholds: missing }), /thresholds\.mfuMax must be a positive number/);
    assert.throws(() => parsePolicy({ ...policy, thresholds: { ...policy.thresholds, supervisorRelTolerance: 0.25 } }), /unknown thresholds supervisorRelTolerance/);
    const reordered = Object.fromEntries(Object.entries(policy).reverse()) as typeof policy;
    assert.equal(evaluatorPolicyHash(reordered), evaluatorPolicyHash(policy));
    assert.equal(seedForRun(5), seedForRun(5));
    assert.notEqual(seedForRun(5), seedForRun(6));
    assert.deepEqual(['ok', 'rejected', 'timeout', 'oom', 'crashed', 'sandbox-error'].map((s) => toScoreStatus(s as never)),
      ['scored', 'rejected-runtime', 'timeout', 'rejected-runtime', 'rejected-runtime', 'not-evaluated']);
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
