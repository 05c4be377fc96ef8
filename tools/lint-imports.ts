// Enforces the import rules of docs/ARCHITECTURE.md: the pure core (consensus/, proto/) and the
// untrusted-code runtime (runtime/) never reach up into the daemon (node/), and the pure core does
// no I/O. Run by `npm test` before mocha and by `npm run lint:imports`; exit 1 lists each violation
// as `file:line: <rule>: <specifier>`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ImportRule {
  /** top-level folder the rule applies to */
  folder: string;
  /** top-level folders of this repository it must not import */
  forbiddenFolders: string[];
  /** bare specifiers (Node builtins, packages) it must not import; a trailing '*' matches a prefix */
  forbiddenModules: string[];
  why: string;
}

/** Builtins that do I/O, read clocks of the host or start work outside the caller's control. */
const IO_BUILTINS = ['node:fs', 'node:fs/*', 'fs', 'fs/*', 'node:net', 'net', 'node:http', 'http', 'node:https', 'https',
  'node:http2', 'node:dgram', 'node:dns', 'node:dns/*', 'node:child_process', 'child_process', 'node:worker_threads',
  'node:cluster', 'node:os', 'node:process', 'node:timers', 'node:timers/*', 'node:readline', 'node:tls', 'node:v8',
  'node:perf_hooks'];
/** Packages that are I/O by nature (network, disk, containers, chain). */
const IO_PACKAGES = ['libp2p', '@libp2p/*', '@chainsafe/*', 'level', 'classic-level', 'dockerode', 'undici', 'ws',
  '@polkadot/api', '@polkadot/api/*'];

export const RULES: ImportRule[] = [
  { folder: 'proto', forbiddenFolders: ['node', 'runtime', 'consensus'], forbiddenModules: [...IO_BUILTINS],
    why: 'proto/ defines wire formats only: it imports no node/, runtime/ or consensus/ code and does no I/O' },
  { folder: 'consensus', forbiddenFolders: ['node', 'runtime'], forbiddenModules: [...IO_BUILTINS, ...IO_PACKAGES],
    why: 'consensus/ is pure (the node and the simulator run it alike): no node/ or runtime/ imports, no I/O' },
  { folder: 'runtime', forbiddenFolders: ['node'], forbiddenModules: [],
    why: 'runtime/ handles untrusted code for the node; it must not depend on the daemon (node/)' },
];

export interface Violation { file: string; line: number; specifier: string; rule: string }

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])([^'"\n]+)\1/g;

/** The module specifiers a TypeScript source names (static, type-only, re-export, dynamic, require), with line numbers. */
export function importsOf(text: string): { specifier: string; line: number }[] {
  const out: { specifier: string; line: number }[] = [];
  const stripped = stripComments(text);
  for (const m of stripped.matchAll(SPECIFIER)) {
    const line = stripped.slice(0, m.index).split('\n').length;
    out.push({ specifier: m[2], line });
  }
  return out;
}

/** Comments blanked out (newlines kept, so line numbers hold); string contents are left alone. */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  let quote: string | null = null;
  while (i < text.length) {
    const c = text[i];
    if (quote) {
      out += c;
      if (c === '\\') { out += text[i + 1] ?? ''; i += 2; continue; }
      if (c === quote || (c === '\n' && quote !== '`')) quote = null;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      if (c === '"' || c === "'" || c === '`') quote = c;
      out += c;
      i++;
    }
  }
  return out;
}

function matches(specifier: string, pattern: string): boolean {
  return pattern.endsWith('*') ? specifier.startsWith(pattern.slice(0, -1)) : specifier === pattern;
}

/** Violations of `rules` by one file; `file` is repo-relative with '/' separators. */
export function checkFile(file: string, text: string, rules: ImportRule[] = RULES): Violation[] {
  const folder = file.split('/')[0];
  const rule = rules.find((r) => r.folder === folder);
  if (!rule) return [];
  const out: Violation[] = [];
  for (const { specifier, line } of importsOf(text)) {
    if (specifier.startsWith('.')) {
      const target = posix.normalize(posix.join(posix.dirname(file), specifier));
      const top = target.split('/')[0];
      if (top === '..') out.push({ file, line, specifier, rule: 'imports from outside the repository' });
      else if (rule.forbiddenFolders.includes(top)) out.push({ file, line, specifier, rule: `${folder}/ may not import ${top}/ (${rule.why})` });
    } else if (rule.forbiddenModules.some((p) => matches(specifier, p))) {
      out.push({ file, line, specifier, rule: `${folder}/ may not import ${specifier} (${rule.why})` });
    }
  }
  return out;
}

function sourcesUnder(root: string, dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(root, dir)).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const rel = posix.join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) sourcesUnder(root, rel, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(rel);
  }
  return out;
}

export function checkRepository(root: string, rules: ImportRule[] = RULES): Violation[] {
  const out: Violation[] = [];
  for (const rule of rules) {
    let files: string[];
    try { files = sourcesUnder(root, rule.folder); } catch { continue; }
    for (const f of files) out.push(...checkFile(f, readFileSync(join(root, f), 'utf8'), rules));
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const violations = checkRepository(root);
  for (const v of violations) console.error(`${v.file}:${v.line}: ${v.rule}: '${v.specifier}'`);
  if (violations.length > 0) {
    console.error(`lint-imports: ${violations.length} import rule violation(s); see docs/ARCHITECTURE.md ("What may import what")`);
    process.exit(1);
  }
  console.log(`lint-imports: ok (${RULES.map((r) => r.folder + '/').join(', ')} checked; rules in docs/ARCHITECTURE.md)`);
}
