// End to end on the real Docker engine: one reference pass for the suite, then every fixture
// submission evaluated (three at a time) and its status / failing check asserted.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, existsSync, mkdirSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { FIXTURES, OTHER_RANDOMNESS, RANDOMNESS, RUN_ID, testCacheRoot, docker, makeEvaluator, ourContainers, session, testPolicy } from './helpers.ts';
import { reapSandboxContainers } from '../../runtime/sandbox.ts';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EvaluationResult, SubmissionEvaluator } from '../../runtime/evaluate.ts';
import { treeBytes } from '../../runtime/cache-prune.ts';

const SMALL_CACHE = 32 << 20;

const CLI = fileURLToPath(new URL('../../node/cli.ts', import.meta.url));

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 480_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

const RUNTIME_CHEATS: [string, string][] = [
  ['skip_backward', 'all-layers-gradients'],
  ['frozen_layers', 'changed-share'],
  ['changed_lr', 'optimizer-config'],
  ['truncated_seq', 'sequence-length'],
  ['dummy_logits', 'logits-match'],
  ['fewer_tokens', 'token-count'],
  ['grad_scaling', 'gradient-error'],
  ['extra_steps', 'optimizer-steps'],
  ['timer_patch', 'timer-identity'],
  ['backend_flags', 'backend-settings'],
];
const SANDBOX_CHEATS: [string, string][] = [
  ['spawn_process', 'process-spawn'],
  ['write_outside_tmp', 'filesystem-write'],
  ['network_socket', 'network'],
  ['fork_bomb', 'process-spawn'],
  ['denied_syscall', 'denied-syscall'],
  ['forge_result', 'filesystem-write'],
];
/** Issue #18's attack classes, each a submission that passes the static review of its time (see the fixtures). */
const PROTOCOL_ATTACKS: [string, string, string][] = [
  ['fork_finish', 'process-spawn', '1: the worker exits at once, a forked child trains after the window'],
  ['forge_messages', 'protocol', '1: the submission writes its own result messages and exits early'],
  ['lazy_result', 'result-type', '2: result fields are properties that train when read'],
  ['background_thread', 'optimizer-steps', '2: a thread keeps training after inner_steps returned'],
  ['patch_tensor_methods', 'attribute-integrity', '2: torch.Tensor methods a capture reads through are replaced'],
  ['optimizer_class_swap', 'attribute-integrity', '3: torch.optim.AdamW replaced to train inside its constructor'],
  ['precompute_at_import', 'optimizer-steps', '3/4: seeds and objects hunted at import, training before the window'],
  ['replay_repetition', 'gradient-error', '4: the first repetition recorded, later ones replay it'],
  ['bf16_after_first', 'precision', '5: fp32 on the first step, bf16 autocast afterwards'],
  ['backend_midcall', 'backend-settings', '5: a backend setting changed between steps and restored before returning'],
  ['backend_at_import', 'backend-settings', '5: a backend setting changed at import time, before the call'],
  ['threads_toggle', 'backend-settings', '5: threads raised for every forward and backward, put back before each step()'],
  ['threads_backward', 'backend-settings', '5: threads raised for the backward only, put back before each step()'],
  ['shadow_tensor_method', 'attribute-integrity', '2: a new torch.Tensor attribute shadows a method of its C base class'],
];
const HONEST_VARIANTS = ['honest_trainer', 'honest_fused_loss', 'honest_chunked_loss', 'honest_compile', 'honest_crusades_signature', 'honest_microbatch'];

describe('sandbox evaluation (real Docker)', function () {
  this.timeout(900_000);
  const results = new Map<string, EvaluationResult>();
  let honestEval: SubmissionEvaluator;
  let refFirst: { ms: number; cached: boolean };
  let refSecond: { ms: number; cached: boolean };
  let cli: { code: number | null; stdout: string; stderr: string };
  let diskEval: SubmissionEvaluator;
  let racedRefs: PromiseSettledResult<{ ms: number; cached: boolean }>[];

  before(async function () {
    // ~45 containers share 2 cores here: generous limits so a slow machine is slow, not failing
    this.timeout(1_800_000);
    honestEval = await makeEvaluator(testPolicy(3, 1), 3);
    refFirst = await honestEval.reference(RUN_ID, RANDOMNESS);
    refSecond = await honestEval.reference(RUN_ID, RANDOMNESS);
    // the cheats run two repetitions each (one reference for all of them: same model, data and seeds)
    const cheatEval = await makeEvaluator(testPolicy(2, 0), 3);
    const replayEval = await makeEvaluator(testPolicy(2, 1), 1);
    const small = testPolicy(2, 0);
    diskEval = await makeEvaluator({ ...small, sandbox: { ...small.sandbox, compileCacheBytes: SMALL_CACHE } }, 3);
    const jobs: [SubmissionEvaluator, string, number][] = [
      [honestEval, 'honest', 300],
      ...HONEST_VARIANTS.map((f) => [cheatEval, f, 300] as [SubmissionEvaluator, string, number]),
      ...[...RUNTIME_CHEATS, ...SANDBOX_CHEATS, ...PROTOCOL_ATTACKS].map(([f]) => [cheatEval, f, 300] as [SubmissionEvaluator, string, number]),
      [cheatEval, 'memory_hog', 300],
      [cheatEval, 'probe_internals', 300],
      [cheatEval, 'cpu_widen', 300],
      [cheatEval, 'sleep_forever', 12],
    ];
    const cliRun = runCli(['evaluate', join(FIXTURES, 'honest.py'), '--json', '--cache', testCacheRoot(), '--run-id', String(RUN_ID), '--randomness', RANDOMNESS, '--timeout', '300']);
    const evalAs = (ev: SubmissionEvaluator, f: string, randomness = RANDOMNESS) => ev.evaluate({ runId: RUN_ID, randomness, submissionPath: join(FIXTURES, f + '.py'), timeoutSec: 300 });
    await Promise.all([
      ...jobs.map(async ([ev, f, timeoutSec]) => {
        results.set(f, await ev.evaluate({ runId: RUN_ID, randomness: RANDOMNESS, submissionPath: join(FIXTURES, f + '.py'), timeoutSec }));
      }),
      (async () => { results.set('fill_disk', await evalAs(diskEval, 'fill_disk')); })(),
      (async () => {
        // two evaluators sharing the cache root (as two processes would) compute one new run's reference at once
        const slow = testPolicy(1, 0);
        const lenient = { ...slow, sandbox: { ...slow.sandbox, timeoutSec: 300 } };
        const [a, b] = [await makeEvaluator(lenient, 1), await makeEvaluator(lenient, 1)];
        racedRefs = await Promise.allSettled([a.reference(RUN_ID + 1, OTHER_RANDOMNESS), b.reference(RUN_ID + 1, OTHER_RANDOMNESS)]);
      })(),
      (async () => {
        results.set('cache_roundtrip:1', await evalAs(diskEval, 'cache_roundtrip'));
        results.set('cache_roundtrip:2', await evalAs(diskEval, 'cache_roundtrip'));
      })(),
      (async () => {
        // the same code evaluated twice in one run, then in the next run: what it recorded never comes back
        results.set('replay_evaluation:1', await evalAs(replayEval, 'replay_evaluation'));
        results.set('replay_evaluation:2', await evalAs(replayEval, 'replay_evaluation'));
        results.set('honest:next-run', await evalAs(cheatEval, 'honest', OTHER_RANDOMNESS));
      })(),
    ]);
    cli = await cliRun;
  });

  after(async function () {
    this.timeout(60_000);
    await reapSandboxContainers(docker, session); // only matters when a test failed mid-way
    rmSync(testCacheRoot(), { recursive: true, force: true });
  });

  it('computes the run reference once and then serves it from the cache', () => {
    assert.equal(refFirst.cached, false);
    assert.ok(refFirst.ms > 0);
    assert.equal(refSecond.cached, true);
    assert.equal(refSecond.ms, 0);
    assert.ok(results.get('honest')!.timings.referenceCached);
  });

  it('two evaluators sharing the cache root may compute the same reference at once: both succeed, one entry stays', () => {
    for (const r of racedRefs) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
    assert.ok(readdirSync(join(testCacheRoot(), 'reference')).length >= 2, 'the raced run has its cache entry');
  });

  it('passes an honest submission (the Crusades reference loop) with every check and MFU > 0', () => {
    const r = results.get('honest')!;
    assert.equal(r.status, 'ok', `${r.rejectedBy}: ${r.detail}`);
    assert.ok(r.score! > 0 && r.score! < 0.75);
    assert.equal(r.mfu!.perRep.length, 2, 'two timed repetitions after one warm-up');
    assert.ok(r.checks.length >= 19 && r.checks.every((c) => c.ok));
    for (const name of ['gradient-error', 'weight-error', 'loss-difference', 'timer-agreement', 'changed-share', 'precision', 'attribute-integrity']) {
      assert.ok(r.checks.some((c) => c.name === name && c.ok), name);
    }
    assert.ok(r.nParams! > 10_000 && r.tokensPerRepetition! > 0);
    assert.equal(r.randomness, RANDOMNESS.slice(2));
    assert.equal(r.sketchDim, testPolicy(3, 1).capture.sketchDim);
  });

  for (const f of HONEST_VARIANTS) {
    it(`accepts the honest variant ${f}`, () => {
      const r = results.get(f)!;
      assert.equal(r.status, 'ok', `${r.status} ${r.rejectedBy ?? ''}: ${r.detail} ${r.output.stderr.slice(-500)}`);
      assert.ok(r.score! > 0);
    });
  }

  it('accepts the honest submission in another run (other chain randomness: other seeds, another reference)', () => {
    const r = results.get('honest:next-run')!;
    assert.equal(r.status, 'ok', `${r.rejectedBy}: ${r.detail}`);
    assert.equal(r.timings.referenceCached, false);
  });

  for (const [fixture, check, what] of PROTOCOL_ATTACKS) {
    it(`rejects attack ${what} (${fixture}) with check ${check}`, () => {
      const r = results.get(fixture)!;
      assert.equal(r.status, 'rejected', `status ${r.status}: ${r.detail}`);
      const c = r.checks.find((x) => x.name === check);
      assert.ok(c && !c.ok, `expected check ${check} to fail; failed: ${r.checks.filter((x) => !x.ok).map((x) => x.name).join(', ')}`);
      assert.equal(r.score, undefined);
    });
  }

  it('bf16 after the first step fails the numeric tolerances on their own, not only the autocast observation', () => {
    const r = results.get('bf16_after_first')!;
    for (const name of ['gradient-error', 'weight-error']) {
      const c = r.checks.find((x) => x.name === name);
      assert.ok(c && !c.ok, `${name} should fail: ${JSON.stringify(c)}`);
    }
  });

  it('the optimizer is built before the submission exists: a replaced AdamW class never runs', () => {
    const r = results.get('optimizer_class_swap')!;
    assert.doesNotMatch(r.output.stdout, /EAGER-CONSTRUCTOR/);
    assert.match(r.checks.find((c) => c.name === 'attribute-integrity')!.detail!, /torch\.optim\.AdamW/);
  });

  it('the policy\'s CPUs are held by the kernel: the worker is bound to `threads` CPUs and cannot widen its set', () => {
    const r = results.get('cpu_widen')!;
    const lines = r.output.stdout.split('\n').filter((l) => l.startsWith('AFFINITY '));
    assert.equal(lines.length, 2, r.output.stdout);
    for (const l of lines) assert.equal(l, `AFFINITY before=${testPolicy(2, 0).threads} after=${testPolicy(2, 0).threads} refused errno 1`);
    assert.equal(r.status, 'ok', r.detail); // it trained honestly: it just got no more CPU than anyone
  });

  it('no data seed exists in the worker before its window, and the iterator holds no data until then', () => {
    const r = results.get('precompute_at_import')!;
    const line = r.output.stdout.split('\n').find((l) => l.startsWith('HUNT '));
    assert.ok(line, r.output.stdout);
    const hunt = JSON.parse(line.slice(5));
    assert.equal(hunt.env_job, false, 'the job is not in the worker\'s environment');
    assert.ok(!hunt.seeds.includes('dataSeeds') && !hunt.seeds.includes('dataSeed'), JSON.stringify(hunt.seeds));
    assert.doesNotMatch(JSON.stringify(hunt.argv), /dataSeeds|sketchSeed/);
    assert.match(hunt.stream, /no data before the timed call/);
  });

  it('a result recorded in an earlier evaluation of the same code never comes back: the replay finds nothing and fails', () => {
    const [a, b] = [results.get('replay_evaluation:1')!, results.get('replay_evaluation:2')!];
    assert.equal(a.status, 'ok', `${a.rejectedBy}: ${a.detail}`);
    assert.match(a.output.stdout, /^RECORD$/m);
    assert.equal(b.status, 'rejected', `${b.status}: ${b.detail}`);
    assert.match(b.output.stdout, /^REPLAY missing$/m, 'the timed repetition found no recording in the compile cache');
    assert.ok(b.checks.some((c) => !c.ok && ['gradient-error', 'optimizer-steps', 'logits-match', 'weight-error'].includes(c.name)));
  });

  for (const [fixture, check] of [...RUNTIME_CHEATS, ...SANDBOX_CHEATS]) {
    it(`rejects ${fixture} with check ${check}`, () => {
      const r = results.get(fixture)!;
      assert.equal(r.status, 'rejected', `status ${r.status}: ${r.detail}`);
      const c = r.checks.find((x) => x.name === check);
      assert.ok(c && !c.ok, `expected check ${check} to fail; failed: ${r.checks.filter((x) => !x.ok).map((x) => x.name).join(', ')}`);
      assert.equal(r.score, undefined);
    });
  }

  it('compares sketches: a loss scaled by 0.5 measures a gradient relative error of exactly 0.5 (the sketch is linear)', () => {
    const c = results.get('grad_scaling')!.checks.find((x) => x.name === 'gradient-error')!;
    assert.ok(Math.abs((c.value as number) - 0.5) < 1e-3, `measured ${c.value}`);
  });

  it('reports allocation past the memory limit as oom', () => {
    const r = results.get('memory_hog')!;
    assert.equal(r.status, 'oom', `status ${r.status}: ${r.detail}`);
  });

  it('kills a submission sleeping past the wall-clock timeout', () => {
    const r = results.get('sleep_forever')!;
    assert.equal(r.status, 'timeout', `status ${r.status}: ${r.detail}`);
    assert.match(r.detail!, /killed after the 12s wall-clock limit/, 'names the limit it ran under, not the policy default');
    assert.ok(r.timings.minerContainerMs < 90_000, `${r.timings.minerContainerMs} ms: the 12 s limit, not the policy's 120 s, ended it`);
  });

  it('leaves no result forged by the submission: the forge attempts are named and nothing it wrote is read', () => {
    const r = results.get('forge_result')!;
    assert.equal(r.status, 'rejected');
    assert.match(r.checks.find((c) => c.name === 'filesystem-write')!.detail!, /\/result\//);
  });

  it('hides the evaluator from the submission: no evaluator module, sealed optimizer and data iterator', () => {
    const r = results.get('probe_internals')!;
    assert.equal(r.status, 'ok', `${r.status} ${r.rejectedBy ?? ''}: ${r.detail}`);
    const line = r.output.stdout.split('\n').find((l) => l.startsWith('PROBE '));
    assert.ok(line, r.output.stdout + r.output.stderr);
    assert.deepEqual(JSON.parse(line.slice(6)), {
      evaluator_modules: [], evaluator_modules_in_call: [], main_has_worker: false,
      optimizer_private: 'refused', optimizer_setattr: 'refused', iterator_private: 'refused',
    });
  });

  it('keeps a compile cache per code hash and no scratch directories', () => {
    const honest = readFileSync(join(FIXTURES, 'honest.py'));
    assert.ok(existsSync(honestEval.compileCacheDir(results.get('honest')!.codeSha256)));
    assert.notEqual(honestEval.compileCacheDir('a'.repeat(64)), honestEval.compileCacheDir('b'.repeat(64)));
    assert.ok(honest.length > 0);
  });

  it('disk: a submission filling /cache past its allowance (bypassing the audit hook) is rejected with disk-limit; nothing reaches the host', () => {
    const r = results.get('fill_disk')!;
    assert.equal(r.status, 'rejected', `${r.status}: ${r.detail}`);
    assert.equal(r.rejectedBy, 'disk-limit');
    const line = r.output.stdout.split('\n').find((l) => l.startsWith('FILL '));
    assert.ok(line, r.output.stdout);
    const fill = JSON.parse(line.slice(5));
    assert.equal(fill.result.errno, 30, '/result is not writable at all (EROFS): a miner has no result mount');
    assert.equal(fill.cache.errno, 28, 'ENOSPC at the tmpfs cap');
    assert.ok(fill.cache.bytes <= SMALL_CACHE);
    assert.equal(existsSync(diskEval.compileCacheDir(r.codeSha256)), false, 'a rejected run stores no compile cache');
  });

  it('disk: the compile cache round-trips through the capped channel and stays within its allowance', () => {
    const [a, b] = [results.get('cache_roundtrip:1')!, results.get('cache_roundtrip:2')!];
    assert.match(a.output.stdout, /^CACHE none$/m);
    assert.match(b.output.stdout, /^CACHE run-1$/m, 'the second evaluation of the same code sees the first one\'s cache');
    const dir = diskEval.compileCacheDir(b.codeSha256);
    assert.equal(readFileSync(join(dir, 'inductor', 'marker.txt'), 'utf8'), 'run-2');
    assert.ok(treeBytes(dir) <= SMALL_CACHE);
  });

  it('bounds the on-disk caches: pruning keeps the most recently used entries', async () => {
    const pruner = await makeEvaluator(testPolicy(1, 0), 1, { cacheLimits: { referenceEntries: 2, compileEntries: 2 } });
    const stale = join(testCacheRoot(), 'reference', 'stale-run');
    mkdirSync(stale, { recursive: true });
    utimesSync(stale, new Date(0), new Date(0));
    const before = readdirSync(join(testCacheRoot(), 'compile')).filter((n) => !n.startsWith('.'));
    assert.ok(before.length > 2, `compile caches before pruning: ${before.length}`);
    const r = pruner.pruneCaches();
    assert.equal(r.compile.kept.length, 2);
    assert.equal(r.compile.removed.length, before.length - 2);
    assert.equal(readdirSync(join(testCacheRoot(), 'compile')).filter((n) => !n.startsWith('.')).length, 2);
    assert.ok(r.reference.removed.includes('stale-run'), 'the least recently used reference goes first');
    assert.equal(r.reference.kept.length, 2);
    assert.equal(readdirSync(join(testCacheRoot(), 'reference')).length, 2);
  });

  it('conclave evaluate: reviews, evaluates and exits 0 for an honest file (reference from the shared cache)', () => {
    let r: EvaluationResult | undefined;
    try { r = JSON.parse(cli.stdout) as EvaluationResult; } catch { /* reported below */ }
    const why = r ? `${r.status} ${r.rejectedBy ?? ''}: ${r.detail ?? ''} ${JSON.stringify(r.checks.filter((c) => !c.ok))}` : `stdout ${cli.stdout.slice(-1000)}`;
    assert.equal(cli.code, 0, `${why}\nstderr: ${cli.stderr.slice(-2000)}`);
    assert.equal(r!.status, 'ok');
    assert.equal(r!.timings.referenceCached, true);
    assert.ok(r!.score! > 0);
  });

  it('conclave evaluate: usage errors exit 2', async () => {
    assert.equal((await runCli(['evaluate'])).code, 2);
    assert.equal((await runCli(['evaluate', join(FIXTURES, 'honest.py'), '--timeout', '-3'])).code, 2);
    assert.equal((await runCli(['evaluate', join(FIXTURES, 'no-such-file.py')])).code, 2);
    assert.equal((await runCli(['evaluate', join(FIXTURES, 'honest.py'), '--randomness', 'not-a-block-hash'])).code, 2);
  });

  it('conclave image is idempotent and prints the digest', async () => {
    const r = await runCli(['image', '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.built, false);
    assert.match(info.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('leaves no container of ours behind', async () => {
    assert.deepEqual(await ourContainers(), []);
  });
});
