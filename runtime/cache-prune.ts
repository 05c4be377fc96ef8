// Bounded on-disk caches (reference passes, per-code compile caches): each entry is one directory; the
// least recently used (directory mtime, touched on every use) go first once the directory holds more than
// maxEntries entries or more than maxBytes together. Names starting with '.' (in-progress writes) are left alone.
import { lstatSync, readdirSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

export interface CacheLimits { maxEntries: number; maxBytes?: number }

export interface PruneResult { kept: string[]; removed: string[]; bytes: number }

/** Bytes of the files under a path (lstat sizes, links not followed); bounded by `limit` entries visited. */
export function treeBytes(path: string, limit = 1_000_000): number {
  let total = 0; let seen = 0;
  const walk = (p: string) => {
    if (++seen > limit) return;
    let st;
    try { st = lstatSync(p); } catch { return; }
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else total += st.size;
  };
  walk(path);
  return total;
}

/** Marks an entry as just used (LRU order is by directory mtime). */
export function touchEntry(path: string): void {
  const now = new Date();
  try { utimesSync(path, now, now); } catch { /* gone: nothing to mark */ }
}

/** Removes least recently used entries of `dir` beyond the limits; `keep` (an entry name) is never removed. */
export function pruneCacheDir(dir: string, limits: CacheLimits, keep?: string): PruneResult {
  let names: string[];
  try { names = readdirSync(dir); } catch { return { kept: [], removed: [], bytes: 0 }; }
  const entries = names.filter((n) => !n.startsWith('.')).map((name) => {
    try { const st = lstatSync(join(dir, name)); return { name, mtime: st.mtimeMs, dir: st.isDirectory() }; } catch { return null; }
  }).filter((e): e is { name: string; mtime: number; dir: boolean } => e !== null)
    .sort((a, b) => (a.name === keep ? -1 : b.name === keep ? 1 : b.mtime - a.mtime || (a.name < b.name ? -1 : 1)));
  const kept: string[] = []; const removed: string[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = limits.maxBytes !== undefined ? treeBytes(join(dir, e.name)) : 0;
    const fits = kept.length < limits.maxEntries && (limits.maxBytes === undefined || bytes + size <= limits.maxBytes);
    if (e.name === keep || fits) { kept.push(e.name); bytes += size; continue; }
    rmSync(join(dir, e.name), { recursive: true, force: true });
    removed.push(e.name);
  }
  return { kept, removed, bytes };
}

/**
 * Moves a finished cache entry into place. Another process sharing the cache root (a second
 * `conclave evaluate`, a validator) may have placed the same key between our rm and rename; keys are
 * content-addressed, so its entry is as good as ours and we keep it rather than failing the evaluation.
 */
export function placeCacheEntry(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}
