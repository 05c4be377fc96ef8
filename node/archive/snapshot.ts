// Read-only access: a private snapshot of the store's files in a temp directory, opened there.
//
// LevelDB (classic-level) has no read-only mode — opening a store takes its LOCK, replays the log
// into a new table and rewrites the manifest — so a backup on a read-only mount could not even be
// listed, and a store held by a live node could not be read at all. A snapshot never writes to the
// archive: table files (immutable once written) are hard-linked where the filesystem allows it and
// copied otherwise — only tables the copy's LevelDB can never create again (manifest.ts); CURRENT,
// the live MANIFEST and the logs (which LevelDB appends to) are copied.
// A copy races with a live writer only through compactions: the snapshot is retried until CURRENT
// and the manifest did not change while the files were taken, so it is a consistent point in time
// (a log's torn tail is what LevelDB recovers after a crash anyway).
import { copyFileSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveError } from './errors.ts';
import { inspectDir } from './layout.ts';
import { mib } from '../bounded/file.ts';
import { clip } from '../../proto/clip.ts';
import { manifestNextFile, tableShareable } from './manifest.ts';

const PREFIX = 'conclave-archive-ro-';
const ATTEMPTS = 8;

export interface Snapshot {
  /** The temp directory holding the copy (a LevelDB directory), or null for an archive with no store yet. */
  dir: string;
  linked: number;
  copiedBytes: number;
  remove(): void;
}

function isDataFile(name: string): boolean {
  return name === 'CURRENT' || /^MANIFEST-\d+$/.test(name) || /^\d+\.(log|ldb|sst)$/.test(name);
}

function isTable(name: string): boolean {
  return /^\d+\.(ldb|sst)$/.test(name);
}

/** Removes snapshots left by processes that died before closing them (name carries the owner's pid). */
function removeStale(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const n of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(root, n), { recursive: true, force: true });
    }
  }
}

function manifestState(storeDir: string): string {
  let current: string;
  try {
    current = readFileSync(join(storeDir, 'CURRENT'), 'utf8').slice(0, 200);
  } catch {
    return 'no-current';
  }
  const name = current.trim();
  let size = -1;
  if (/^MANIFEST-\d+$/.test(name)) {
    try {
      size = statSync(join(storeDir, name)).size;
    } catch {
      size = -2;
    }
  }
  return `${name}:${size}`;
}

function freeBytes(path: string): number {
  const override = process.env.CONCLAVE_ARCHIVE_TEST_FREE_BYTES; // tests only: simulate a full disk
  if (override !== undefined) return Number(override);
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

function copyInto(storeDir: string, tmp: string, names: string[]): { linked: number; copiedBytes: number } {
  // CURRENT and the manifest first (tables and logs taken after them are at least as new); the copied
  // manifest says which tables may be shared: see manifest.ts (a shared name LevelDB reuses would be
  // truncated in the original too).
  let copiedBytes = 0;
  const copy = (n: string) => {
    copyFileSync(join(storeDir, n), join(tmp, n));
    copiedBytes += statSync(join(tmp, n)).size;
  };
  const order = [...names].sort((a, b) => rank(a) - rank(b));
  const head = order.filter((n) => rank(n) < 2);
  head.forEach(copy);
  const nextFile = manifestNextFile(tmp);
  const rest = order.filter((n) => rank(n) >= 2);
  const shareable = rest.filter((n) => tableShareable(n, nextFile));
  // Decide once whether hard links work (same filesystem, permitted), then check space for what is copied.
  let canLink = false;
  if (shareable.length > 0) {
    try {
      linkSync(join(storeDir, shareable[0]), join(tmp, shareable[0]));
      canLink = true;
    } catch {
      canLink = false;
    }
  }
  const linkable = new Set(canLink ? shareable : []);
  let need = 0;
  for (const n of rest) if (!linkable.has(n)) need += statSync(join(storeDir, n)).size;
  const free = freeBytes(tmp);
  if (need + 16 * 1024 * 1024 > free) {
    throw new ArchiveError(`not enough space in ${tmp} for a read-only snapshot of the archive (needs ${mib(need)}, ${mib(free)} free); set TMPDIR to a larger filesystem`);
  }
  let linked = canLink ? 1 : 0;
  for (const n of rest) {
    if (canLink && n === shareable[0]) continue;
    if (linkable.has(n)) {
      linkSync(join(storeDir, n), join(tmp, n));
      linked++;
    } else {
      copy(n);
    }
  }
  return { linked, copiedBytes };
}

function rank(name: string): number {
  if (name === 'CURRENT') return 0;
  if (name.startsWith('MANIFEST-')) return 1;
  return isTable(name) ? 2 : 3;
}

/**
 * Snapshots the live store of the archive at `archiveDir` (following STORE, so a concurrent repair's
 * swap is seen as old or new). Returns null when the archive has no store yet.
 */
export function snapshotArchive(archiveDir: string, opts: { tmpRoot?: string } = {}): Snapshot | null {
  const root = opts.tmpRoot ?? tmpdir();
  removeStale(root);
  let lastErr: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const state = inspectDir(archiveDir);
    if (state.kind === 'missing') throw new ArchiveError(`no archive at ${archiveDir}; check the path`);
    if (state.kind === 'empty') return null;
    const storeDir = state.storeDir;
    const tmp = mkdtempSync(join(root, `${PREFIX}${process.pid}-`));
    const remove = () => rmSync(tmp, { recursive: true, force: true });
    try {
      const before = manifestState(storeDir);
      const names = readdirSync(storeDir).filter(isDataFile);
      const current = before.split(':')[0];
      // Only the live manifest (older ones are garbage LevelDB has not deleted yet); all of them when CURRENT is lost.
      const take = names.filter((n) => !n.startsWith('MANIFEST-') || before === 'no-current' || n === current);
      const { linked, copiedBytes } = copyInto(storeDir, tmp, take);
      if (manifestState(storeDir) === before) {
        process.once('exit', remove);
        return { dir: tmp, linked, copiedBytes, remove: () => { process.removeListener('exit', remove); remove(); } };
      }
      lastErr = new ArchiveError('the store changed while it was being copied');
    } catch (err) {
      if (err instanceof ArchiveError && !/changed while/.test(err.message)) {
        remove();
        throw err;
      }
      // a file that vanished was compacted away meanwhile: take the snapshot again; anything else is final
      const e = err as NodeJS.ErrnoException;
      if (e.code !== undefined && e.code !== 'ENOENT') {
        remove();
        if (e.code === 'EACCES' || e.code === 'EPERM') throw new ArchiveError(`cannot read archive ${archiveDir}: permission denied on ${clip(e.path ?? storeDir, 120)}; run as a user that can read every file of it (its owner, or a member of its group)`, { cause: err });
        if (e.code === 'ENOSPC') throw new ArchiveError(`not enough space in ${root} for a read-only snapshot of the archive; set TMPDIR to a larger filesystem`, { cause: err });
        throw new ArchiveError(`cannot copy archive ${archiveDir} for reading: ${clip(e.message, 200)}`, { cause: err });
      }
      lastErr = err;
    }
    remove();
  }
  throw new ArchiveError(`cannot take a consistent snapshot of ${archiveDir} (${(lastErr as Error)?.message}); the node is compacting heavily — retry in a moment`);
}
