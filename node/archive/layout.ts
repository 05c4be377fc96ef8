// On-disk layout of an archive directory (--db DIR, <dataDir>/archive):
//
//   CONCLAVE-ARCHIVE     marker, written when the archive is created (or on the first read-write
//                        open of an archive created before markers existed, once its keys show it is one)
//   conclave-lock/       a tiny LevelDB used for its LOCK only: held by every writer and by a repair,
//                        released by the kernel when the holder dies
//   STORE                the name of the live LevelDB directory; replaced atomically (rename) by a repair
//   store-NNNNNN/        the LevelDB
//   superseded-*/        what a repair replaced (kept; delete once satisfied)
//   repair-tmp/          a repair's work area (removed by the next repair)
//
// An archive created before this layout has its LevelDB files directly in DIR (no STORE): it is
// opened in place, and a repair moves it to the layout above.
import { closeSync, fsyncSync, openSync, readdirSync, readSync, renameSync, statSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { clip } from '../../proto/clip.ts';
import { ArchiveError } from './errors.ts';
import { fault, type FaultStep } from './fault.ts';

export const MARKER = 'CONCLAVE-ARCHIVE';
export const POINTER = 'STORE';
export const LOCK_DIR = 'conclave-lock';
export const REPAIR_DIR = 'repair-tmp';
export const MARKER_FORMAT = 'conclave-archive';
const STORE_RE = /^store-(\d{6})$/;

export interface Marker {
  format: typeof MARKER_FORMAT;
  createdAt: string;
}

/** Files LevelDB writes in its directory. */
export function isLevelDbName(name: string): boolean {
  return name === 'CURRENT' || name === 'LOCK' || name === 'LOG' || name === 'LOG.old' || name === 'lost'
    || /^MANIFEST-\d+$/.test(name) || /^\d+\.(log|ldb|sst|dbtmp)$/.test(name);
}

/** Entries of this layout (not LevelDB's). */
function isLayoutName(name: string): boolean {
  return name === MARKER || name === POINTER || name === LOCK_DIR || name === REPAIR_DIR || name.endsWith('.tmp')
    || STORE_RE.test(name) || name.startsWith('superseded-');
}

/** Reads a small file of this layout, bounded (these files are a few bytes; anything else is damage). */
function readSmall(path: string, max = 4096): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ArchiveError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > max) throw new ArchiveError(`${path} is larger than ${max} bytes: not a file of a Conclave archive`);
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function readMarker(dir: string): Marker | null {
  const text = readSmall(join(dir, MARKER));
  if (text === null) return null;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    o = undefined;
  }
  if (!o || typeof o !== 'object' || (o as Marker).format !== MARKER_FORMAT) {
    throw new ArchiveError(`${join(dir, MARKER)} is not a Conclave archive marker (content ${clip(text)}); this directory belongs to something else`);
  }
  return o as Marker;
}

export function writeMarker(dir: string, steps?: { tmp: FaultStep; done: FaultStep }): void {
  const m: Marker = { format: MARKER_FORMAT, createdAt: new Date().toISOString() };
  writeFileAtomic(dir, MARKER, JSON.stringify(m) + '\n', steps);
}

export function readPointer(dir: string): string | null {
  const text = readSmall(join(dir, POINTER));
  if (text === null) return null;
  const name = text.trim();
  if (!STORE_RE.test(name)) throw new ArchiveError(`${join(dir, POINTER)} should name a store directory (store-NNNNNN), holds ${clip(text)}; restore it from a backup`);
  return name;
}

export function writePointer(dir: string, name: string, steps?: { tmp: FaultStep; done: FaultStep }): void {
  if (!STORE_RE.test(name)) throw new ArchiveError(`invalid store name ${name}`);
  writeFileAtomic(dir, POINTER, name + '\n', steps);
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write + fsync a temp file, rename it over `name`, fsync the directory: readers see old or new, never half. */
export function writeFileAtomic(dir: string, name: string, text: string, steps?: { tmp: FaultStep; done: FaultStep }): void {
  const tmp = join(dir, `${name}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  try {
    const b = Buffer.from(text);
    let off = 0;
    while (off < b.length) off += writeSync(fd, b, off, b.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (steps) fault(steps.tmp);
  renameSync(tmp, join(dir, name));
  fsyncPath(dir);
  if (steps) fault(steps.done);
}

export type DirState =
  | { kind: 'missing' }
  /** A directory with no store yet (empty, or only this layout's bookkeeping). */
  | { kind: 'empty'; marker: Marker | null }
  /** storeName null: the LevelDB files are in DIR itself (archives created before this layout). */
  | { kind: 'store'; storeDir: string; storeName: string | null; marker: Marker | null };

/** `where` names what chose `dir` in messages (a flag, a config key); default --db. */
export function inspectDir(dir: string, where = '--db'): DirState {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new ArchiveError(`cannot stat ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!st.isDirectory()) throw new ArchiveError(`${dir} is not a directory; ${where} must name an archive directory`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new ArchiveError(`${dir} cannot be listed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ${where} must name a readable directory`);
  }
  const marker = readMarker(dir);
  const pointer = readPointer(dir);
  if (pointer !== null) {
    const storeDir = join(dir, pointer);
    if (!names.includes(pointer)) {
      throw new ArchiveError(`archive ${dir}: ${POINTER} names ${pointer}, which does not exist; the store was moved or deleted — restore it from a backup`);
    }
    checkLegacyLeftover(dir, names);
    return { kind: 'store', storeDir, storeName: pointer, marker };
  }
  if (names.some((n) => isLevelDbName(n) && n !== 'LOCK' && n !== 'LOG' && n !== 'LOG.old')) {
    return { kind: 'store', storeDir: dir, storeName: null, marker };
  }
  const foreign = names.filter((n) => !isLayoutName(n) && !isLevelDbName(n));
  if (foreign.length > 0 && !marker) {
    throw new ArchiveError(`${dir} is not empty and is not a Conclave archive (no ${MARKER} marker, no LevelDB files; it holds ${clip(foreign[0])}${foreign.length > 1 ? ` and ${foreign.length - 1} more` : ''}); point ${where} at an archive or an empty directory`);
  }
  return { kind: 'empty', marker };
}

/**
 * LevelDB files in DIR itself next to a STORE pointer: what a repair of an archive of the old layout
 * had not yet moved aside when it was interrupted (older than STORE: stale, the next repair moves them)
 * — or what a Conclave that predates this layout wrote after the repair (newer than STORE). Those
 * writes are in no store STORE names: refuse rather than hide them or move them aside.
 */
function checkLegacyLeftover(dir: string, names: string[]): void {
  const data = names.filter((n) => n === 'CURRENT' || /^MANIFEST-\d+$/.test(n) || /^\d+\.(log|ldb|sst)$/.test(n));
  if (data.length === 0) return;
  let pointerTime: number;
  try {
    pointerTime = statSync(join(dir, POINTER)).mtimeMs;
  } catch {
    return;
  }
  const newer = data.filter((n) => {
    try {
      return statSync(join(dir, n)).mtimeMs > pointerTime;
    } catch {
      return false;
    }
  });
  if (newer.length === 0) return;
  throw new ArchiveError(`archive ${dir} holds LevelDB files in the directory itself (${clip(newer[0])}${newer.length > 1 ? ` and ${newer.length - 1} more` : ''}) written after ${POINTER} switched it to ${clip(readSmall(join(dir, POINTER))?.trim() ?? '')}: a Conclave older than this layout wrote there, and what it wrote is in no store ${POINTER} names. Stop that process, move the LevelDB files of ${dir} itself (CURRENT, LOCK, LOG*, MANIFEST-*, *.log, *.ldb) into a new directory — it reads as an archive of the old layout (\`conclave archive list --db NEWDIR\`) — and run this again`);
}

/** The next unused store directory name (never reuses a name, so a stray never gets adopted). */
export function nextStoreName(dir: string): string {
  let max = 0;
  for (const n of readdirSync(dir)) {
    const m = /store-(\d{6})/.exec(n);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `store-${String(max + 1).padStart(6, '0')}`;
}

export function isStoreName(name: string): boolean {
  return STORE_RE.test(name);
}
