// Builds the CLI as compiled JavaScript: node/cli.ts and everything it loads, bundled by esbuild into
// dist/ (ES modules, one chunk per lazily loaded command group). `bin/conclave` runs dist/cli.js when
// the build is newer than every source, else the TypeScript sources (bin/conclave says how).
//
// Why: run from source, every start has Node resolve, read and strip the types of a few hundred
// project files and resolve over a thousand package files; `conclave audit` spent ~0.3–0.5 s of its
// CPU there (docs/p2p.md, "Audit at size"). The bundle is the same code, loaded as a handful of files.
//
// What stays outside the bundle, loaded from node_modules as before:
// - native addons and packages that find files next to themselves (classic-level/level, dockerode and
//   ssh2, chopsticks and its wasm executor);
// - the debug loggers (weald, debug): node/logging/capture.ts routes their output by patching the
//   copies in node_modules, which a bundled copy would bypass.
// Project files that locate data next to themselves (import.meta.url / import.meta.dirname) get a
// URL to the original file, relative to the chunk, so the build works wherever the checkout is.
//
// Usage: node tools/build-cli.ts [--outdir DIR] [--if-available]
//   --outdir        where to write (default dist/); it must be a direct child of the project root,
//                   like dist/, for the relative URLs above to hold.
//   --if-available  exit 0 with a note when esbuild is not installed (npm's `prepare` on an install
//                   without devDependencies): bin/conclave then runs the sources.
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The file whose mtime marks a complete build (bin/conclave compares sources against it). */
export const BUILD_STAMP = '.built';

export const EXTERNAL = ['classic-level', 'level', 'dockerode', 'ssh2', 'cpu-features', '@acala-network/*', 'weald', 'debug'];

interface Options {
  outdir: string;
  ifAvailable: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { outdir: join(ROOT, 'dist'), ifAvailable: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--outdir' && argv[i + 1]) o.outdir = resolve(argv[++i]);
    else if (a === '--if-available') o.ifAvailable = true;
    else throw new Error(`build-cli: unknown argument ${a}; usage: node tools/build-cli.ts [--outdir DIR] [--if-available]`);
  }
  if (dirname(o.outdir) !== ROOT) throw new Error(`build-cli: --outdir must be a direct child of ${ROOT} (like dist/), got ${o.outdir}`);
  return o;
}

/** The source of a project file with its import.meta.url / dirname pointing at the original file, as seen from a chunk in `outdir`. */
export function relocateImportMeta(source: string, file: string, outdir: string): string {
  if (!source.includes('import.meta.url') && !source.includes('import.meta.dirname')) return source;
  const rel = relative(outdir, file).split('\\').join('/');
  return source
    .replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`)
    .replaceAll('import.meta.dirname', `(import.meta.dirname + ${JSON.stringify('/' + dirname(rel))})`);
}

export async function buildCli(opts: Options): Promise<{ outdir: string; files: number; ms: number } | null> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    if (opts.ifAvailable) return null;
    throw new Error(`build-cli: esbuild is not installed (${(err as Error).message}); run npm ci (it is a devDependency)`);
  }
  const t0 = Date.now();
  // build next to the target and swap, so a running bin/conclave never sees half a build
  const tmp = `${opts.outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const projectFile = /\.ts$/;
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'node', 'cli.ts')],
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: EXTERNAL,
    // bundled CommonJS packages call require() for builtins; an ES module has none of its own
    banner: { js: "import { createRequire as __conclaveCreateRequire } from 'node:module'; const require = __conclaveCreateRequire(import.meta.url);" },
    logLevel: 'warning',
    plugins: [{
      name: 'relocate-import-meta',
      setup(b) {
        b.onLoad({ filter: projectFile }, (args) => {
          if (args.path.includes('/node_modules/')) return undefined;
          // chunks land in `opts.outdir`, not in tmp: the URLs must hold after the swap
          return { contents: relocateImportMeta(readFileSync(args.path, 'utf8'), args.path, opts.outdir), loader: 'ts' };
        });
      },
    }],
  });
  if (result.errors.length > 0) throw new Error(`build-cli: ${result.errors.length} error(s)`);
  writeFileSync(join(tmp, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(tmp, BUILD_STAMP), `${new Date().toISOString()}\n`);
  const old = `${opts.outdir}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(opts.outdir, old);
  } catch {
    // no previous build
  }
  renameSync(tmp, opts.outdir);
  rmSync(old, { recursive: true, force: true });
  return { outdir: opts.outdir, files: readdirSync(opts.outdir).length, ms: Date.now() - t0 };
}

if (import.meta.main) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    try {
      const r = await buildCli(opts);
      if (!r) process.stderr.write('build-cli: esbuild is not installed; skipped (bin/conclave runs the TypeScript sources)\n');
      else process.stderr.write(`build-cli: ${basename(r.outdir)}/ built (${r.files} files, ${r.ms} ms)\n`);
    } catch (err) {
      // an install must not fail over an optional speed-up: bin/conclave runs the sources without a build
      if (!opts.ifAvailable) throw err;
      process.stderr.write(`build-cli: no build (${(err as Error).message.split('\n')[0]}); bin/conclave runs the TypeScript sources\n`);
    }
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
