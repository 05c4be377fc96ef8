// End to end on the real Docker engine: one reference pass for the suite, then every fixture
// submission evaluated (three at a time) and its status / failing check asserted.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, existsSync, mkdirSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { FIXTURES, RUN_ID, testCacheRoot, docker, makeEvaluator, ourContainers, session, testPolicy } from './helpers.ts';
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

describe('sandbox evaluation (real Docker)', function () {
  this.timeout(600_000);
  const results = new Map<string, EvaluationResult>();
  let honestEval: SubmissionEvaluator;
  let refFirst: { ms: number; cached: boolean };
  let refSecond: { ms: number; cached: boolean };
  let cli: { code: number | null; stdout: string; stderr: string };
  let diskEval: SubmissionEvaluator;
  let racedRefs: PromiseSettledResult<{ ms: number; cached: boolean }>[];

  before(async function () {
    // ~13 containers share 2 cores here: generous limits so a slow machine is slow, not failing
    this.timeout(900_000);
    honestEval = await makeEvaluator(testPolicy(3, 1), 3);
    refFirst = await honestEval.reference(RUN_ID);
    refSecond = await honestEval.reference(RUN_ID);
    // the cheats run one repetition each; they reuse the same cached reference (same model/data/seed)
    const cheatEval = await makeEvaluator(testPolicy(1, 0), 3);
    // sketch mode forced on at CI size (threshold 1 parameter); a 32 MiB compile-cache allowance
    const sketchEval = await makeEvaluator({ ...testPolicy(1, 0), sketch: { minParams: 1, dim: 256 } }, 3);
    const small = testPolicy(1, 0);
    diskEval = await makeEvaluator({ ...small, sandbox: { ...small.sandbox, compileCacheBytes: SMALL_CACHE } }, 3);
    const jobs: [SubmissionEvaluator, string, number][] = [
      [honestEval, 'honest', 300],
      ...[...RUNTIME_CHEATS, ...SANDBOX_CHEATS].map(([f]) => [cheatEval, f, 300] as [SubmissionEvaluator, string, number]),
      [cheatEval, 'memory_hog', 300],
      [cheatEval, 'probe_internals', 300],
      [cheatEval, 'sleep_forever', 12],
    ];
    const cliRun = runCli(['evaluate', join(FIXTURES, 'honest.py'), '--json', '--cache', testCacheRoot(), '--run-id', String(RUN_ID), '--timeout', '300']);
    const evalAs = (ev: SubmissionEvaluator, f: string) => ev.evaluate({ runId: RUN_ID, submissionPath: join(FIXTURES, f + '.py'), timeoutSec: 300 });
    await Promise.all([
      ...jobs.map(async ([ev, f, timeoutSec]) => {
        results.set(f, await ev.evaluate({ runId: RUN_ID, submissionPath: join(FIXTURES, f + '.py'), timeoutSec }));
      }),
      ...['honest', 'grad_scaling', 'frozen_layers'].map(async (f) => { results.set('sketch:' + f, await evalAs(sketchEval, f)); }),
      (async () => { results.set('fill_disk', await evalAs(diskEval, 'fill_disk')); })(),
      (async () => {
        // two evaluators sharing the cache root (as two processes would) compute one new run's reference at once
        const slow = testPolicy(1, 0);
        const lenient = { ...slow, sandbox: { ...slow.sandbox, timeoutSec: 300 } };
        const [a, b] = [await makeEvaluator(lenient, 1), await makeEvaluator(lenient, 1)];
        racedRefs = await Promise.allSettled([a.reference(RUN_ID + 1), b.reference(RUN_ID + 1)]);
      })(),
      (async () => {
        results.set('cache_roundtrip:1', await evalAs(diskEval, 'cache_roundtrip'));
        results.set('cache_roundtrip:2', await evalAs(diskEval, 'cache_roundtrip'));
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

  it('passes an honest submission with every check and MFU > 0', () => {
    const r = results.get('honest')!;
    assert.equal(r.status, 'ok', `${r.rejectedBy}: ${r.detail}`);
    assert.ok(r.score! > 0 && r.score! < 0.75);
    assert.equal(r.mfu!.perRep.length, 2, 'two timed repetitions after one warm-up');
    assert.ok(r.checks.length >= 17 && r.checks.every((c) => c.ok));
    for (const name of ['gradient-error', 'weight-error', 'loss-difference', 'timer-agreement', 'changed-share']) {
      assert.ok(r.checks.some((c) => c.name === name && c.ok), name);
    }
    assert.ok(r.nParams! > 10_000 && r.tokensPerRepetition! > 0);
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

  it('sketch mode: passes an honest submission, comparing sketches drawn with a fresh seed per evaluation', () => {
    const r = results.get('sketch:honest')!;
    assert.equal(r.status, 'ok', `${r.rejectedBy}: ${r.detail}`);
    assert.equal(r.sketch?.dim, 256);
    assert.match(r.sketch!.seed, /^[0-9a-f]{32}$/);
    assert.notEqual(r.sketch!.seed, results.get('sketch:grad_scaling')!.sketch?.seed);
    for (const name of ['gradient-error', 'weight-error', 'logits-match', 'changed-share']) {
      const c = r.checks.find((x) => x.name === name);
      assert.ok(c?.ok, `${name}: ${c?.detail}`);
    }
    assert.equal(results.get('honest')!.sketch, undefined, 'the default policy threshold keeps CI-size models in full mode');
  });

  it('sketch mode: catches gradient scaling (gradient-error) and frozen layers (changed-share from the sketcher counts)', () => {
    const g = results.get('sketch:grad_scaling')!;
    assert.equal(g.status, 'rejected');
    const ge = g.checks.find((c) => c.name === 'gradient-error')!;
    assert.equal(ge.ok, false);
    assert.ok(Math.abs((ge.value as number) - 0.5) < 0.01, `sketched relative error ${ge.value} (loss scaled by 0.5)`);
    const f = results.get('sketch:frozen_layers')!;
    assert.equal(f.status, 'rejected');
    assert.equal(f.checks.find((c) => c.name === 'changed-share')?.ok, false);
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
    assert.deepEqual(r.reference.removed, ['stale-run']);
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
