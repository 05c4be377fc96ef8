// A module-resolution cache for the CLI process (node/cli.ts registers it before loading a command).
//
// Why: Node's ESM resolver re-reads a package's package.json for every file it resolves (to find the
// file's module format) and for every bare import of a package (its "exports"), and deserialising a
// large "exports" map (the @polkadot/* packages have hundreds of entries) costs each time. Loading
// @polkadot/api alone took ~2.2 s of CPU on this 2-core machine, more than half of it there; with this
// cache ~0.9 s (`conclave audit`, run by auditors, and every command that reads the chain load it).
//
// What it does, only for `import` (ESM) resolution from a file inside node_modules:
// - a relative specifier naming a .js/.mjs/.cjs file that exists: the URL is the file's real path,
//   the format from its extension or, for .js, from the "type" of the nearest package.json
//   ("module" or "commonjs" stated; a package stating neither falls through to Node, which detects);
// - a bare specifier: Node resolves it once per (package, specifier, conditions), then it is reused.
// Everything else (the project's own files, require(), URLs, #imports, node: builtins) goes to Node.
import { registerHooks } from 'node:module';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Format = 'module' | 'commonjs';
interface Resolved {
  url: string;
  format?: string | null;
}

const NM = '/node_modules/';
let registered = false;

/** The "type" the nearest package.json states for files in `dir`, or null when it states none (or there is none). */
function scopeType(dir: string, memo: Map<string, Format | null>): Format | null {
  const hit = memo.get(dir);
  if (hit !== undefined) return hit;
  let text: string | null = null;
  try {
    text = readFileSync(join(dir, 'package.json'), 'utf8');
  } catch {
    text = null;
  }
  let t: Format | null;
  if (text !== null) {
    let type: unknown;
    try {
      type = (JSON.parse(text) as { type?: unknown }).type;
    } catch {
      type = undefined;
    }
    t = type === 'module' || type === 'commonjs' ? type : null;
  } else {
    // Node stops at a node_modules folder and at the root: no package scope there
    const up = dirname(dir);
    t = up === dir || basename(up) === 'node_modules' ? null : scopeType(up, memo);
  }
  memo.set(dir, t);
  return t;
}

/** The package folder a path inside node_modules belongs to (…/node_modules/name or …/node_modules/@scope/name). */
function packageRoot(path: string): string | null {
  const i = path.lastIndexOf(NM);
  if (i < 0) return null;
  const [a, b] = path.slice(i + NM.length).split('/');
  return path.slice(0, i + NM.length) + (a.startsWith('@') && b ? `${a}/${b}` : a);
}

/** Registers the cache once per process; a no-op where Node has no synchronous module hooks (before 22.15). */
export function registerResolveCache(): void {
  if (registered || typeof registerHooks !== 'function') return;
  registered = true;
  const types = new Map<string, Format | null>();
  const bare = new Map<string, Resolved>();
  registerHooks({
    resolve(specifier, context, next) {
      const parent = context.parentURL;
      if (!parent?.startsWith('file:') || !context.conditions.includes('import')) return next(specifier, context);
      const parentPath = fileURLToPath(parent);
      if (!parentPath.includes(NM)) return next(specifier, context);
      if (specifier.startsWith('./') || specifier.startsWith('../')) {
        if (!/\.(?:m?js|cjs)$/.test(specifier)) return next(specifier, context);
        let real: string;
        try {
          const path = fileURLToPath(new URL(specifier, parent));
          if (!statSync(path).isFile()) return next(specifier, context);
          real = realpathSync.native(path);
        } catch {
          return next(specifier, context); // missing or unreadable: Node names the error
        }
        const format = real.endsWith('.mjs') ? 'module' : real.endsWith('.cjs') ? 'commonjs' : scopeType(dirname(real), types);
        if (!format) return next(specifier, context);
        return { url: pathToFileURL(real).href, format, shortCircuit: true };
      }
      if (specifier.startsWith('/') || specifier.startsWith('#') || specifier.includes(':')) return next(specifier, context);
      const root = packageRoot(parentPath);
      if (!root) return next(specifier, context);
      const key = `${root}\0${specifier}\0${context.conditions.join(',')}`;
      const hit = bare.get(key);
      if (hit) return { url: hit.url, format: hit.format, shortCircuit: true };
      const r = next(specifier, context);
      bare.set(key, { url: r.url, format: r.format });
      return r;
    },
  });
}
