// The CLI's compile cache (node/module-caches.ts): a command's second run loads the modules its first
// compiled from V8's code cache; Node's switch turns it off; a cache that cannot be written is no error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../node/cli.ts', import.meta.url));

/** `conclave audit --help` with TMPDIR = `tmp` and Node's compile-cache variables as given (unset otherwise). */
function help(tmp: string, env: Record<string, string> = {}) {
  const base: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp, ...env };
  for (const k of ['NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE', 'NODE_DEBUG_NATIVE']) if (!(k in env)) delete base[k];
  const r = spawnSync(process.execPath, [CLI, 'audit', '--help'], { env: base, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

function filesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

describe('CLI compile cache (node/module-caches.ts)', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'conclave-compile-cache-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the first run writes the code cache under <tmpdir>/node-compile-cache; the second loads the project\'s modules from it', () => {
    const first = help(dir);
    const cache = join(dir, 'node-compile-cache');
    assert.ok(filesUnder(cache) > 10, `only ${filesUnder(cache)} cache files written`);
    const second = help(dir, { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    assert.equal(second.stdout, first.stdout);
    const accepted = second.stderr.split('\n').filter((l) => /code cache for ESM .* was accepted/.test(l));
    assert.ok(accepted.some((l) => l.includes('/node/commands/audit.ts')), `the command module was compiled again:\n${second.stderr.slice(0, 2000)}`);
    assert.ok(accepted.length > 10, `only ${accepted.length} modules came from the cache`);
  });

  it('NODE_DISABLE_COMPILE_CACHE=1 writes nothing; NODE_COMPILE_CACHE picks the directory', () => {
    help(dir, { NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.equal(filesUnder(join(dir, 'node-compile-cache')), 0);
    const chosen = join(dir, 'chosen');
    help(dir, { NODE_COMPILE_CACHE: chosen });
    assert.ok(filesUnder(chosen) > 10);
    assert.equal(filesUnder(join(dir, 'node-compile-cache')), 0);
  });

  it('a cache location that cannot be written (TMPDIR is a file) leaves the command working, same output', () => {
    const ref = help(dir);
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = help(file);
    assert.equal(r.stdout, ref.stdout);
    assert.equal(r.stderr, '');
  });
});
