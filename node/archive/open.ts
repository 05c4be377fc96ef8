// Opening an archive directory: read-write (lock, create if allowed, open the store in place) or
// read-only (a private snapshot, no lock, nothing written to the archive).
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { ArchiveError } from './errors.ts';
import { fault } from './fault.ts';
import { clip } from '../../proto/clip.ts';
import { formatInRawFiles, identifyStore } from './identify.ts';
import { MARKER, inspectDir, nextStoreName, readMarker, writeMarker, writePointer, type Marker } from './layout.ts';
import { ArchiveLock } from './lock.ts';
import { snapshotArchive, type Snapshot } from './snapshot.ts';

export type Bin = Level<string, Uint8Array>;

export interface OpenedStore {
  db: Bin;
  /** The directory LevelDB runs in (the store, or the snapshot's copy). */
  dbDir: string;
  lock: ArchiveLock | null;
  snapshot: Snapshot | null;
  /** null when the archive predates the marker (the caller adopts it once its keys show it is one). */
  marker: Marker | null;
  readOnly: boolean;
}

function binLevel(dir: string): Bin {
  return new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
}

export function levelError(dir: string, err: unknown, dbDir?: string, shownDir?: string): ArchiveError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  let msg = cause?.message ?? (err as Error).message;
  if (dbDir !== undefined && shownDir !== undefined) msg = msg.split(dbDir).join(shownDir); // a snapshot's temp path means nothing to the user
  if (code === 'LEVEL_LOCKED') return new ArchiveError(`archive ${dir} is in use by another process (a running node?); stop it, or use a read-only command`, { cause: err });
  // CURRENT lost while tables and logs remain: LevelDB calls that "does not exist"; it is damage
  const lostCurrent = dbDir !== undefined && /does not exist/.test(msg) && hasDataFiles(dbDir);
  if (code === 'LEVEL_CORRUPTION' || lostCurrent || /No such file|corrupt/i.test(msg)) {
    return new ArchiveError(`archive ${dir} has damaged LevelDB files (${msg}); run \`conclave archive repair --db ${dir}\` (it works on a copy and keeps the original)`, { cause: err });
  }
  if (/No space left on device/.test(msg)) return new ArchiveError(`cannot open archive ${dir}: the disk is full (${msg}); opening replays LevelDB's log into a table and needs room for it — free some space and retry (nothing was lost)`, { cause: err });
  return new ArchiveError(`cannot open archive ${dir}: ${msg}`, { cause: err });
}

function hasDataFiles(dbDir: string): boolean {
  try {
    return readdirSync(dbDir).some((n) => /^(MANIFEST-\d+|\d+\.(log|ldb|sst))$/.test(n));
  } catch {
    return false;
  }
}

async function openLevel(dbDir: string, archiveDir: string, createIfMissing: boolean, shownDir?: string): Promise<Bin> {
  const db = binLevel(dbDir);
  try {
    await db.open({ createIfMissing });
  } catch (err) {
    throw levelError(archiveDir, err, dbDir, shownDir);
  }
  return db;
}

function notAnArchive(dir: string, where: string, why: string): ArchiveError {
  return new ArchiveError(`${dir} is not a Conclave archive: no ${MARKER} marker, and ${why}; point ${where} at an archive or an empty directory. Nothing was written to it`);
}

/**
 * Before anything is written into a directory without the marker (an archive of an older Conclave,
 * or something else that merely holds LevelDB-like files), its store must show that it is an archive.
 */
async function requireArchive(dir: string, storeDir: string, where: string): Promise<void> {
  const id = await identifyStore(dir, storeDir);
  if (id.kind === 'archive') return;
  if (id.kind === 'foreign') {
    throw new ArchiveError(`${dir} is a LevelDB database but not a Conclave archive (no ${MARKER} marker, no archive format key); point ${where} at an archive or an empty directory. Nothing was written to it`);
  }
  if (id.archiveInRaw) {
    throw new ArchiveError(`archive ${dir} (created by an older Conclave, no ${MARKER} marker) has damaged LevelDB files (${clip(id.error, 200)}); run \`conclave archive repair --db ${dir}\` (it works on a copy and keeps the original)`);
  }
  throw notAnArchive(dir, where, `its LevelDB-like files do not open as a database (${clip(id.error, 200)})`);
}

/** Creates the first store of a new archive: marker, store, then the pointer (the commit point). */
async function createStore(dir: string): Promise<string> {
  writeMarker(dir, { tmp: 'create:marker-tmp', done: 'create:marker' });
  const name = nextStoreName(dir);
  const db = await openLevel(join(dir, name), dir, true);
  await db.close();
  fault('create:store');
  writePointer(dir, name, { tmp: 'create:pointer-tmp', done: 'create:pointer' });
  return join(dir, name);
}

export async function openReadWrite(dir: string, createIfMissing: boolean, where = '--db'): Promise<OpenedStore> {
  let state = inspectDir(dir, where);
  if (state.kind === 'missing') {
    if (!createIfMissing) throw new ArchiveError(`no archive at ${dir}; create one with \`conclave archive put --db ${dir} ...\` or check the path`);
    mkdirSync(dir, { recursive: true });
  }
  if (state.kind === 'store' && !state.marker) await requireArchive(dir, state.storeDir, where);
  const lock = await ArchiveLock.acquire(dir, 'archive into it');
  try {
    fault('create:locked');
    state = inspectDir(dir, where); // again under the lock: a repair may have swapped the store meanwhile
    let dbDir: string;
    if (state.kind === 'empty') {
      if (!createIfMissing) throw new ArchiveError(`archive ${dir} holds no store yet; \`conclave archive put --db ${dir} ...\` creates it`);
      dbDir = await createStore(dir);
    } else if (state.kind === 'store') {
      dbDir = state.storeDir;
    } else {
      throw new ArchiveError(`archive ${dir} disappeared while opening`);
    }
    const db = await openLevel(dbDir, dir, false);
    return { db, dbDir, lock, snapshot: null, marker: readMarker(dir), readOnly: false };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

export async function openReadOnly(dir: string, where = '--db'): Promise<OpenedStore> {
  const state = inspectDir(dir, where);
  if (state.kind === 'missing') throw new ArchiveError(`no archive at ${dir}; check the path`);
  const marker = state.marker;
  const snap = snapshotArchive(dir);
  let dbDir: string;
  let snapshot: Snapshot;
  if (snap) {
    snapshot = snap;
    dbDir = snap.dir;
  } else {
    // An archive with no store yet reads as empty: open an empty private store.
    const tmp = mkdtempSync(join(tmpdir(), `conclave-archive-ro-${process.pid}-`));
    snapshot = { dir: tmp, linked: 0, copiedBytes: 0, remove: () => rmSync(tmp, { recursive: true, force: true }) };
    dbDir = tmp;
  }
  try {
    const db = await openLevel(dbDir, dir, !snap, state.kind === 'store' ? state.storeDir : dir);
    return { db, dbDir, lock: null, snapshot, marker, readOnly: true };
  } catch (err) {
    snapshot.remove();
    if (!marker && state.kind === 'store' && !formatInRawFiles(state.storeDir)) {
      const level = (err as { cause?: { cause?: Error; message?: string } }).cause;
      const why = (level?.cause?.message ?? level?.message ?? (err as Error).message).split(dbDir).join(state.storeDir);
      throw notAnArchive(dir, where, `its LevelDB-like files do not open as a database (${clip(why, 200)})`);
    }
    throw err;
  }
}
