// Host-side files of an evaluation: the submission's private copy, its code hash, and the per-code compile
// cache the supervisor streams back (a snapshot taken before any timed repetition had its seeds).
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { placeCacheEntry, pruneCacheDir, type CacheLimits } from './cache-prune.ts';
import type { CacheFile } from './evaluate-channel.ts';

/** sha256 over (relative path, length, bytes) of every file of a project directory, in path order. */
export function treeSha256(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p, rel + name + '/');
      else if (s.isFile()) { const b = readFileSync(p); h.update(`${rel}${name}\0${b.length}\0`).update(b); }
    }
  };
  walk(root, '');
  return h.digest('hex');
}

/** World-readable (the sandbox user reads it through a read-only mount); `keepExec` keeps files' x bits. */
export function chmodTree(dir: string, keepExec = false): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    const s = lstatSync(p);
    if (s.isSymbolicLink()) throw new Error(`${p}: links are not allowed in a submission project`);
    if (s.isDirectory()) chmodTree(p, keepExec); else chmodSync(p, keepExec && s.mode & 0o100 ? 0o755 : 0o644);
  }
}

/** A private, world-readable copy of a submission (a .py file, or a directory holding train.py) under `scratch`. */
export function copySubmission(path: string, scratch: string): string {
  const st = statSync(path);
  const code = join(scratch, 'submission');
  mkdirSync(code, { mode: 0o755 });
  if (st.isFile()) cpSync(path, join(code, 'train.py'));
  else cpSync(path, code, { recursive: true, dereference: false, verbatimSymlinks: true });
  if (!existsSync(join(code, 'train.py'))) throw new Error(`${path}: a project directory must contain train.py`);
  chmodTree(code);
  return code;
}

/** Writes a returned compile cache beside the old one, swaps it in, then applies the cache limits. */
export function storeCompileCache(cacheDir: string, files: CacheFile[], limits: CacheLimits): void {
  const parent = dirname(cacheDir);
  mkdirSync(parent, { recursive: true });
  const fresh = mkdtempSync(join(parent, `.${basename(cacheDir)}-`));
  try {
    for (const f of files) {
      const p = join(fresh, f.path);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.data, { mode: f.mode | 0o600, flag: 'wx' });
    }
    chmodTree(fresh, true);
    rmSync(cacheDir, { recursive: true, force: true });
    placeCacheEntry(fresh, cacheDir);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
  pruneCacheDir(parent, limits, basename(cacheDir));
}
