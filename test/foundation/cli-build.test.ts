// The compiled CLI (tools/build-cli.ts → dist/) and the bin/conclave launcher that picks it: the build
// answers like the sources, and the launcher runs it only while it is newer than every source.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_STAMP, buildCli, relocateImportMeta } from '../../tools/build-cli.ts';
import { COMMANDS } from '../../node/commands/registry.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_CLI = join(ROOT, 'node', 'cli.ts');
const LAUNCHER = join(ROOT, 'bin', 'conclave');

function cli(entry: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('foundation: the compiled CLI (tools/build-cli.ts) and the bin/conclave launcher', function () {
  this.timeout(120_000);

  it('points import.meta.url and import.meta.dirname of a project file at the original file, relative to the chunk', () => {
    const out = join(ROOT, 'dist');
    const file = join(ROOT, 'node', 'devchain', 'metadata.ts');
    const src = "const a = new URL('./x.json', import.meta.url); const b = join(import.meta.dirname, 'y.scale');";
    const got = relocateImportMeta(src, file, out);
    assert.equal(got, 'const a = new URL(\'./x.json\', new URL("../node/devchain/metadata.ts", import.meta.url).href); const b = join((import.meta.dirname + "/../node/devchain"), \'y.scale\');');
    assert.equal(relocateImportMeta('export const x = 1;', file, out), 'export const x = 1;', 'a file that does not use import.meta is left alone');
  });

  describe('a build', () => {
    const out = join(ROOT, `.cli-build-test-${process.pid}`);
    before(async () => {
      const r = await buildCli({ outdir: out, ifAvailable: false });
      assert.ok(r && r.files > 10, 'esbuild wrote the entry and its chunks');
    });
    after(() => rmSync(out, { recursive: true, force: true }));

    it('prints the same version and the same help for every command as the sources', () => {
      const built = join(out, 'cli.js');
      for (const args of [['--version'], ['--help'], ...COMMANDS.map((c) => [c.name, '--help'])]) {
        const a = cli(SOURCE_CLI, args);
        const b = cli(built, args);
        assert.equal(b.status, a.status, `${args.join(' ')}: exit status`);
        assert.equal(b.stdout, a.stdout, `${args.join(' ')}: stdout`);
      }
      const unknown = cli(built, ['no-such-command']);
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /unknown command 'no-such-command'/);
    });

    it('runs the consensus simulator to the same outcome as the sources (same seed)', () => {
      const args = ['sim', '--validators', '5', '--byzantine', '1', '--runs', '2', '--seed', '11', '--json'];
      const timing = new Set(['cpuMsPerMember', 'cpuMsPerMemberMax', 'verifyCostMs', 'wallMs']);
      const outcome = (stdout: string) => Object.fromEntries(Object.entries(JSON.parse(stdout)).filter(([k]) => !timing.has(k)));
      const a = cli(SOURCE_CLI, args);
      const b = cli(join(out, 'cli.js'), args);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(b.status, 0, b.stderr);
      assert.deepEqual(outcome(b.stdout), outcome(a.stdout));
      assert.equal(outcome(b.stdout).decided, 2);
    });
  });

  describe('bin/conclave', () => {
    let project = '';
    const old = new Date(Date.now() - 3600_000);
    const run = (env: Record<string, string> = {}) => execFileSync(join(project, 'bin', 'conclave'), [], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
    const put = (rel: string, text: string, at?: Date) => {
      const p = join(project, rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
      if (at) utimesSync(p, at, at);
    };

    beforeEach(() => {
      // a stand-in checkout: the real launcher, one-line entries that say which one ran
      project = mkdtempSync(join(tmpdir(), 'conclave-launcher-'));
      mkdirSync(join(project, 'bin'));
      copyFileSync(LAUNCHER, join(project, 'bin', 'conclave'));
      chmodSync(join(project, 'bin', 'conclave'), 0o755);
      mkdirSync(join(project, 'node_modules', 'node', 'bin'), { recursive: true });
      symlinkSync(process.execPath, join(project, 'node_modules', 'node', 'bin', 'node'));
      put('node/cli.ts', "console.log('source');", old);
      put('proto/codec.ts', 'export {};', old);
      put('consensus/x.ts', 'export {};', old);
      put('runtime/x.ts', 'export {};', old);
      put('package.json', '{ "type": "module" }', old);
      put('package-lock.json', '{}', old);
      put('dist/cli.js', "console.log('built');");
      put(`dist/${BUILD_STAMP}`, 'now');
    });
    afterEach(() => rmSync(project, { recursive: true, force: true }));

    it('runs the build while it is newer than every source and manifest', () => {
      assert.equal(run(), 'built');
    });

    it('runs the sources when any source, package.json or package-lock.json is newer than the build', () => {
      const later = new Date(Date.now() + 60_000);
      for (const rel of ['proto/codec.ts', 'runtime/x.ts', 'package-lock.json', 'package.json', 'node/new-file.ts']) {
        const text = rel === 'package.json' ? '{ "type": "module" }' : rel.endsWith('.json') ? '{}' : 'export {};';
        put(rel, text, later);
        assert.equal(run(), 'source', `${rel} newer than the build`);
        put(rel, text, old);
        if (rel === 'node/new-file.ts') rmSync(join(project, rel));
        assert.equal(run(), 'built', `${rel} back to older`);
      }
    });

    it('runs the sources without a complete build (no stamp, no entry) or with CONCLAVE_FROM_SOURCE=1', () => {
      assert.equal(run({ CONCLAVE_FROM_SOURCE: '1' }), 'source');
      rmSync(join(project, 'dist', BUILD_STAMP));
      assert.equal(run(), 'source', 'a build without its stamp is unfinished');
      put(`dist/${BUILD_STAMP}`, 'now');
      rmSync(join(project, 'dist', 'cli.js'));
      assert.equal(run(), 'source');
    });
  });
});
