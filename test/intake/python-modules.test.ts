// The module names a ZIP project may not shadow come from the evaluator image's own Python
// (runtime/zip/python-modules.json, written by `node tools/python-modules.ts`): the shipped list must
// match what that Python reports, or a newer image could import a project file instead of a real module.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PYTHON_MODULES_PROBE, protectedModules, shippedPythonModules, SITE_HOOKS } from '../../runtime/zip/shadowing.ts';
import { CPU_IMAGE } from '../../runtime/sandbox-image.ts';
import { dockerImageDigest } from '../../runtime/review.ts';

describe('intake: shadowing list = the image\'s Python', function () {
  this.timeout(120_000);

  it('matches sys.stdlib_module_names and the site-packages of the evaluator image', async function () {
    if (!(await dockerImageDigest(CPU_IMAGE))) {
      console.log(`      skipped: the evaluator image ${CPU_IMAGE} is not built (npm run image)`);
      this.skip();
    }
    const r = spawnSync('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'python3', CPU_IMAGE, '-I', '-c', PYTHON_MODULES_PROBE], { encoding: 'utf8', timeout: 100_000 });
    assert.equal(r.status, 0, r.stderr);
    const found = JSON.parse(r.stdout);
    const shipped = shippedPythonModules();
    assert.deepEqual(shipped.stdlib, found.stdlib, 'stdlib differs: run node tools/python-modules.ts');
    assert.deepEqual(shipped.sitePackages, found.sitePackages, 'site-packages differ: run node tools/python-modules.ts');
    assert.equal(shipped.python, found.python);
  });

  it('the host python3 (the reviewer fallback) has the same standard library when it is the same minor version', function () {
    const r = spawnSync('python3', ['-I', '-c', PYTHON_MODULES_PROBE], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const host = JSON.parse(r.stdout);
    const shipped = shippedPythonModules();
    if (host.python.split('.').slice(0, 2).join('.') !== shipped.python.split('.').slice(0, 2).join('.')) this.skip();
    assert.deepEqual(host.stdlib, shipped.stdlib);
  });

  it('covers the site hooks, torch, numpy and the stdlib modules the issue names', () => {
    const names = protectedModules();
    for (const m of [...SITE_HOOKS, 'torch', 'numpy', 'math', 'random', 'os', 'typing', 'json', 'conclave_eval']) assert.ok(names.has(m), m);
    assert.ok(!names.has('helpers') && !names.has('model') && !names.has('utils'));
  });
});
