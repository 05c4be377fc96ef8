// The static reviewer cannot be stalled: its analysis is linear with a work budget (a source over the
// budget is a deterministic too-complex verdict), and a reviewer process that still does not finish on a
// source ends as a too-complex verdict for that source only. Faults (the reviewer not starting) stay
// errors. The issue's own inputs: 50 KB and 65 KB of `s += "x"` lines (28 s / a timeout before).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy, reviewFiles, ReviewError } from '../../runtime/review.ts';
import { BASE, grow, PATHOLOGICAL } from './pathological.ts';

describe('intake: the reviewer is bounded', function () {
  this.timeout(300_000);

  it('the issue\'s inputs: 50 KB and 65 KB of `s += "x"` are decided in seconds (accepted: nothing forbidden)', async () => {
    const files = [50_000, 65_000].map((n) => ({ id: `aug${n}`, source: grow('\ndef _f():\n    s = ""\n', '    s += "x"\n', n) }));
    const t0 = Date.now();
    const b = await reviewFiles(files, { engine: 'host' });
    const ms = Date.now() - t0;
    assert.deepEqual(b.results.map((r) => [r.verdict, r.findings]), [['accept', []], ['accept', []]]);
    assert.ok(ms < 60_000, `took ${ms} ms`);
    for (const r of b.results) assert.ok(r.cpuMs !== undefined && r.cpuMs < 3_000, `${r.id}: ${r.cpuMs} ms of CPU`);
  });

  it('500 KB pathological sources each end as a verdict within a few seconds, the same verdict every time', async () => {
    // three of the families here (over the budget, at the exact-length limit, interprocedural); all of
    // them, with CPU figures, in `npm run bench -- intake`
    // many_locals_ifs: before the budget counted the copies of a function's locals at each branch, 490 KB of
    // `if c: zN = 1` took ~27 s of CPU (quadratic); map_lambda: lambdas evaluated per element
    const files = ['branches', 'augassign', 'calls', 'many_locals_ifs', 'map_lambda'].map((id) => ({ id, source: PATHOLOGICAL[id] }));
    for (const f of files) assert.ok(f.source.length <= 512_000 && f.source.length > 400_000);
    const t0 = Date.now();
    const a = await reviewFiles(files, { engine: 'host' });
    const ms = Date.now() - t0;
    const b = await reviewFiles(files.slice(0, 1), { engine: 'host' });
    for (const r of a.results) {
      const rules = r.findings.map((f) => f.rule);
      assert.ok(r.verdict === 'accept' || rules.includes('too-complex'), `${r.id}: ${JSON.stringify(r.findings.slice(0, 3))}`);
    }
    assert.deepEqual(b.results.map((r) => [r.id, r.verdict, r.findings]), a.results.slice(0, 1).map((r) => [r.id, r.verdict, r.findings]));
    assert.ok(a.results.some((r) => r.findings.some((f) => f.rule === 'too-complex' && /budget/.test(f.message))), 'some source exhausts the budget');
    // CPU seconds of the reviewer itself (wall time on a shared CI machine says little)
    for (const r of a.results) assert.ok(r.cpuMs !== undefined && r.cpuMs < 10_000, `${r.id}: ${r.cpuMs} ms of CPU`);
    assert.ok(ms < files.length * 90_000, `${files.length} files took ${ms} ms`);
  });

  it('a source that still exhausts the reviewer process (timeout) is a too-complex verdict for that source only', async () => {
    // Everything the reviewer does is linear, so only a source far beyond the policy's limits can outlast
    // the process: 3 MB of loop unrolling with the size, node and work limits lifted (~40 s of CPU).
    const policy = loadPolicy();
    const limits = { ...(policy.limits as Record<string, number>), maxFoldWork: 1e12, maxSourceBytes: 1e8, maxAstNodes: 1e8 };
    const t0 = Date.now();
    const b = await reviewFiles([
      { id: 'slow', source: PATHOLOGICAL.unroll.repeat(6) },
      { id: 'fine', source: BASE },
    ], { engine: 'host', policy: { ...policy, limits }, timeoutMs: 8_000 });
    assert.ok(Date.now() - t0 < 120_000);
    const byId = Object.fromEntries(b.results.map((r) => [r.id, r]));
    assert.equal(byId.slow.verdict, 'reject');
    assert.deepEqual(byId.slow.findings.map((f) => f.rule), ['too-complex']);
    assert.match(byId.slow.findings[0].message, /did not finish in time/);
    assert.equal(byId.fine.verdict, 'accept');
  });

  it('never fails on real-world Python: 80 modules of CPython\'s own library are analysed without an internal error', async () => {
    const lib = spawnSync('python3', ['-I', '-c', 'import os; print(os.path.dirname(os.__file__))'], { encoding: 'utf8' }).stdout.trim();
    const files = readdirSync(lib).filter((f) => f.endsWith('.py')).sort()
      .filter((f) => statSync(join(lib, f)).size < 40_000).slice(0, 80)
      .map((f) => ({ id: f, source: readFileSync(join(lib, f)), entrypoint: false }));
    assert.ok(files.length >= 50, `only ${files.length} library modules in ${lib}`);
    const b = await reviewFiles(files, { engine: 'host' });
    const broken = b.results.filter((r) => r.findings.some((f) => f.rule === 'too-complex'));
    assert.deepEqual(broken.map((r) => [r.id, r.findings.filter((f) => f.rule === 'too-complex').map((f) => f.message)]), []);
  });

  it('a reviewer that cannot start, or does not start in time, is a fault (ReviewError), not a verdict', async () => {
    await assert.rejects(reviewFiles([{ id: 'x', source: BASE }], { engine: 'host', python: '/nonexistent/python3' }), ReviewError);
    const dir = mkdtempSync(join(tmpdir(), 'conclave-slowpy-'));
    try {
      const fake = join(dir, 'python3');
      writeFileSync(fake, '#!/bin/sh\nsleep 5\n');
      chmodSync(fake, 0o755);
      await assert.rejects(reviewFiles([{ id: 'x', source: BASE }], { engine: 'host', python: fake, timeoutMs: 500 }),
        (err: unknown) => err instanceof ReviewError && /did not start/.test(err.message));
      writeFileSync(fake, '#!/bin/sh\necho broken >&2\nexit 3\n');
      await assert.rejects(reviewFiles([{ id: 'x', source: BASE }], { engine: 'host', python: fake }), (err: unknown) => err instanceof ReviewError && /exit 3/.test(err.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
