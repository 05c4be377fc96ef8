// node/resolve-cache.ts: the CLI's module-resolution cache must resolve exactly as Node does. Each
// case imports modules in two fresh processes, with and without the cache, behind a recording hook
// (registered last, so it sees what the cache or Node answers), and compares every resolution: the
// URL, the format, and the error where Node refuses.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CACHE = pathToFileURL(fileURLToPath(new URL('../../node/resolve-cache.ts', import.meta.url))).href;

interface Seen {
  resolutions: Record<string, string>;
  results: Record<string, string>;
}

/** Imports `specs` (from `fromDir`) in a fresh process, with or without the cache; every resolution and each import's outcome. */
function resolveAll(specs: string[], fromDir: string, withCache: boolean): Seen {
  const script = `
    import { registerHooks } from 'node:module';
    ${withCache ? `(await import(${JSON.stringify(CACHE)})).registerResolveCache();` : ''}
    const resolutions = {};
    registerHooks({ resolve(s, c, next) {
      const key = (c.parentURL ?? '') + ' | ' + s + ' | ' + c.conditions.join(',');
      try { const r = next(s, c); resolutions[key] = r.url + ' ' + (r.format ?? '-'); return r; }
      catch (e) { resolutions[key] = 'ERROR ' + e.code; throw e; }
    } });
    const results = {};
    for (const s of ${JSON.stringify(specs)}) {
      try { const m = await import(s); results[s] = 'ok ' + Object.keys(m).sort().slice(0, 20).join(','); }
      catch (e) { results[s] = 'ERROR ' + (e.code ?? e.message); }
    }
    process.stdout.write(JSON.stringify({ resolutions, results }));
  `;
  const entry = join(fromDir, `entry-${withCache ? 'cache' : 'plain'}.mjs`);
  writeFileSync(entry, script);
  const r = spawnSync(process.execPath, [entry], { cwd: fromDir, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as Seen;
  // the entry files differ by name only
  const norm = (s: string) => s.replaceAll(/entry-(cache|plain)\.mjs/g, 'entry.mjs');
  return {
    resolutions: Object.fromEntries(Object.entries(seen.resolutions).map(([k, v]) => [norm(k), norm(v)])),
    results: seen.results,
  };
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

describe('CLI module-resolution cache (node/resolve-cache.ts)', function () {
  this.timeout(240_000);

  it('resolves every import of the CLI\'s heavy dependencies (@polkadot/api, libp2p, level) exactly as Node does', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const dir = mkdtempSync(join(root, '.resolve-cache-test-'));
    try {
      const specs = ['@polkadot/api', '@polkadot/wasm-crypto', 'libp2p', '@chainsafe/libp2p-noise', '@chainsafe/libp2p-yamux', '@libp2p/tcp', 'level'];
      const plain = resolveAll(specs, dir, false);
      const cached = resolveAll(specs, dir, true);
      assert.ok(Object.keys(plain.resolutions).length > 1000, `only ${Object.keys(plain.resolutions).length} resolutions seen`);
      assert.deepEqual(cached.results, plain.results);
      const differ = Object.keys(plain.resolutions).filter((k) => cached.resolutions[k] !== plain.resolutions[k]);
      assert.deepEqual(differ.slice(0, 5).map((k) => `${k}: ${plain.resolutions[k]} vs ${cached.resolutions[k]}`), []);
      assert.deepEqual(Object.keys(cached.resolutions).sort(), Object.keys(plain.resolutions).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('edge cases: typeless packages (syntax detection), nested "type" scopes, symlinked packages, missing files and directories', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-resolve-'));
    try {
      const nm = join(dir, 'node_modules');
      write(join(nm, 'esm-typed/package.json'), JSON.stringify({ name: 'esm-typed', type: 'module', exports: { '.': './index.js', './sub': './lib/sub.js' } }));
      write(join(nm, 'esm-typed/index.js'), "export { a } from './lib/a.js'; export { c } from './cjs/c.js'; export { p } from 'typeless'; export { q } from 'cjs-typed'; export { l } from 'linked'; export { z } from './lib/alias.js'; export const sub = (await import('esm-typed/sub')).s;");
      write(join(nm, 'esm-typed/lib/a.js'), "export const a = 'a';");
      write(join(nm, 'esm-typed/lib/sub.js'), "export const s = 's';");
      write(join(nm, 'esm-typed/cjs/package.json'), JSON.stringify({ type: 'commonjs' }));
      write(join(nm, 'esm-typed/cjs/c.js'), "exports.c = 'c';");
      write(join(nm, 'typeless/package.json'), JSON.stringify({ name: 'typeless', main: 'index.js' }));
      write(join(nm, 'typeless/index.js'), "export { p } from './esm-syntax.js';");
      write(join(nm, 'typeless/esm-syntax.js'), "export const p = 'p';");
      write(join(nm, 'cjs-typed/package.json'), JSON.stringify({ name: 'cjs-typed', type: 'commonjs', main: 'index.js' }));
      write(join(nm, 'cjs-typed/index.js'), "exports.q = require('./q.js');");
      write(join(nm, 'cjs-typed/q.js'), "module.exports = 'q';");
      write(join(dir, 'elsewhere/linked/package.json'), JSON.stringify({ name: 'linked', type: 'module', exports: './main.mjs' }));
      write(join(dir, 'elsewhere/linked/main.mjs'), "export { l } from './l.js';");
      write(join(dir, 'elsewhere/linked/l.js'), "export const l = 'l';");
      symlinkSync(join(dir, 'elsewhere/linked'), join(nm, 'linked'), 'dir');
      write(join(dir, 'elsewhere/z.js'), "export const z = 'z';");
      write(join(dir, 'elsewhere/package.json'), JSON.stringify({ type: 'module' }));
      symlinkSync(join(dir, 'elsewhere/z.js'), join(nm, 'esm-typed/lib/alias.js'));
      write(join(nm, 'broken/package.json'), JSON.stringify({ name: 'broken', type: 'module', main: 'index.js' }));
      write(join(nm, 'broken/index.js'), "export * from './missing.js';");
      write(join(nm, 'dirimport/package.json'), JSON.stringify({ name: 'dirimport', type: 'module', main: 'index.js' }));
      write(join(nm, 'dirimport/index.js'), "export * from './folder.js';");
      mkdirSync(join(nm, 'dirimport/folder.js'));
      const specs = ['esm-typed', 'esm-typed/sub', 'typeless', 'cjs-typed', 'linked', 'broken', 'dirimport', 'absent-package'];
      const plain = resolveAll(specs, dir, false);
      const cached = resolveAll(specs, dir, true);
      assert.match(plain.results['esm-typed'], /^ok a,c,l,p,q,sub,z$/);
      assert.match(plain.results.broken, /^ERROR ERR_MODULE_NOT_FOUND/);
      assert.deepEqual(cached.results, plain.results);
      assert.deepEqual(cached.resolutions, plain.resolutions);
      const alias = Object.entries(cached.resolutions).find(([k]) => k.includes('| ./lib/alias.js |'));
      assert.ok(alias && alias[1].endsWith('/elsewhere/z.js module'), `a symlinked file resolves to its real path: ${alias?.[1]}`);
      const linked = Object.entries(cached.resolutions).find(([k]) => k.includes('| linked |'));
      assert.ok(linked && linked[1].includes('/elsewhere/linked/main.mjs'), `a symlinked package resolves to its real path: ${linked?.[1]}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
