// `conclave archive repair`: safe by construction. LevelDB's own repair (RepairDB) moves logs to
// lost/ and rewrites CURRENT in place, so a kill or a full disk in the middle loses acknowledged
// data; here it only ever runs on a copy:
//
//   1. identify: the directory must be a Conclave archive (marker, or — for archives created before
//      markers — an archive's format key in its LevelDB files); nothing is written otherwise
//   2. lock: the archive's lock (no live writer, no second repair) and, read-only through
//      /proc/locks, the store's LevelDB LOCK (a writer that predates the archive lock)
//   3. free space: checked before anything is copied
//   4. copy the store into repair-tmp/work; hard-link it into repair-tmp/before and list every
//      entry readable there (key + sha256 of the value) into a file
//   5. RepairDB on the copy; open it; every entry listed before must be there with the same value;
//      the copy must hold an archive's format key
//   6. fsync the copy, rename it to store-NNNNNN, then replace STORE (write temp, fsync, rename:
//      the one commit point), then move the old store to superseded-* (kept, never deleted)
//
// The original store is never written to, so a kill at any point leaves either the old store (before
// the STORE rename) or the verified new one (after it) live, with everything acknowledged.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { mib } from '../bounded/file.ts';
import { ArchiveError, ArchiveLockedError } from './errors.ts';
import { fault } from './fault.ts';
import {
  REPAIR_DIR, fsyncPath, inspectDir, isLevelDbName, isStoreName, nextStoreName, readPointer, writeMarker, writePointer, type Marker,
} from './layout.ts';
import { ArchiveLock, fileLockedByAnyone } from './lock.ts';
import { manifestNextFile, tableShareable } from './manifest.ts';
import { listEntries, verifyAgainst, type BeforeListing } from './repair-verify.ts';
import { FORMATS, identifyStore } from './identify.ts';


export interface RepairReport {
  dir: string;
  /** The store that was live before the repair, and where it is kept now. */
  previousStore: string;
  supersededDir: string;
  /** The repaired store, now live. */
  store: string;
  before: BeforeListing;
  after: { entries: number; reports: number; equivocations: number; certificates: number };
  /** Entries readable after that were not readable before (salvaged from logs/tables LevelDB could not read). */
  salvaged: number;
}

function dataFiles(storeDir: string): string[] {
  return readdirSync(storeDir).filter((n) => n === 'CURRENT' || /^MANIFEST-\d+$/.test(n) || /^\d+\.(log|ldb|sst)$/.test(n));
}

function sizeOf(dir: string, names: string[]): number {
  return names.reduce((a, n) => a + statSync(join(dir, n)).size, 0);
}

function freeBytes(path: string): number {
  const override = process.env.CONCLAVE_ARCHIVE_TEST_FREE_BYTES; // tests only: simulate a full disk
  if (override !== undefined) return Number(override);
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function supersededName(dir: string, what: string): string {
  const base = `superseded-${stamp()}-${what}`;
  let name = base;
  for (let i = 1; existsSync(join(dir, name)); i++) name = `${base}-${i}`;
  return name;
}

/** Moves what an interrupted repair left behind out of the way (never deletes a store). */
function tidy(dir: string, log: (s: string) => void): void {
  rmSync(join(dir, REPAIR_DIR), { recursive: true, force: true });
  const live = readPointer(dir);
  for (const n of readdirSync(dir)) {
    if (isStoreName(n) && n !== live) {
      const to = supersededName(dir, n);
      renameSync(join(dir, n), join(dir, to));
      log(`moved ${n} (left by an interrupted repair) to ${to}`);
    }
  }
  if (live) {
    const rootFiles = readdirSync(dir).filter(isLevelDbName);
    if (rootFiles.length) moveLegacyRoot(dir, rootFiles, supersededName(dir, 'legacy'), false);
  }
  fsyncPath(dir);
}

function moveLegacyRoot(dir: string, names: string[], to: string, faults: boolean): void {
  mkdirSync(join(dir, to));
  names.forEach((n, i) => {
    renameSync(join(dir, n), join(dir, to, n));
    if (faults && i === 0) fault('repair:old-moving');
  });
}

function fsyncTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}

/**
 * The before-listing's copy of the store: CURRENT, the manifest and the logs copied, tables hard-linked
 * where that is safe (manifest.ts: only tables its LevelDB can never create again) and copied otherwise.
 */
function linkOrCopy(from: string, to: string, names: string[]): void {
  mkdirSync(to, { recursive: true });
  const tables = names.filter((n) => /\.(ldb|sst)$/.test(n));
  for (const n of names) if (!tables.includes(n)) copyFileSync(join(from, n), join(to, n));
  const nextFile = manifestNextFile(to);
  for (const n of tables) {
    if (tableShareable(n, nextFile)) {
      try {
        linkSync(join(from, n), join(to, n));
        continue;
      } catch {
        // another filesystem: copy
      }
    }
    copyFileSync(join(from, n), join(to, n));
  }
}

export async function repairArchive(dir: string, opts: { log?: (line: string) => void } = {}): Promise<RepairReport> {
  const log = opts.log ?? (() => {});
  const state = inspectDir(dir);
  if (state.kind === 'missing') throw new ArchiveError(`no archive at ${dir}; nothing to repair (check the path)`);
  if (state.kind === 'empty') throw new ArchiveError(`${dir} holds no archive store; nothing to repair`);
  const marker: Marker | null = state.marker;
  if (!marker) {
    const id = await identifyStore(dir, state.storeDir);
    if (id.kind === 'foreign' || (id.kind === 'unreadable' && !id.archiveInRaw)) {
      throw new ArchiveError(`${dir} is not a Conclave archive (no CONCLAVE-ARCHIVE marker, and its LevelDB files hold no archive format key); refusing to touch it`);
    }
  }
  const lock = await ArchiveLock.acquire(dir, 'repair it');
  try {
    fault('repair:locked');
    tidy(dir, log);
    const cur = inspectDir(dir); // under the lock
    if (cur.kind !== 'store') throw new ArchiveError(`${dir} holds no archive store; nothing to repair`);
    const storeDir = cur.storeDir;
    if (fileLockedByAnyone(join(storeDir, 'LOCK'))) {
      throw new ArchiveLockedError(`the store ${storeDir} is open in another process (an older Conclave node?); stop it before repairing`);
    }
    const names = dataFiles(storeDir);
    if (names.length === 0) throw new ArchiveError(`${storeDir} holds no LevelDB files; there is nothing a repair could recover — restore the archive from a backup`);
    const size = sizeOf(storeDir, names);
    const logs = sizeOf(storeDir, names.filter((n) => n.endsWith('.log') || n.startsWith('MANIFEST-') || n === 'CURRENT'));
    const nextFile = manifestNextFile(storeDir);
    const unshared = sizeOf(storeDir, names.filter((n) => /\.(ldb|sst)$/.test(n) && !tableShareable(n, nextFile)));
    // the copy, the tables the repair builds from the logs, the before-listing's copied logs and
    // tables it may not share (manifest.ts), and headroom for the listing and LevelDB's own files;
    // running out later is still safe (the work area is dropped and the live store was never
    // touched), this only avoids starting in vain
    const need = size + 2 * logs + unshared + Math.max(4 * 1024 * 1024, Math.ceil(size / 10));
    const free = freeBytes(dir);
    if (free < need) {
      throw new ArchiveError(`not enough free space to repair ${dir}: it needs about ${mib(need)} (a copy of the ${mib(size)} store plus room to rebuild it), ${mib(free)} are free; free some space, or copy the archive to a larger disk and repair it there. Nothing was changed.`);
    }
    const tmp = join(dir, REPAIR_DIR);
    const work = join(tmp, 'work');
    mkdirSync(work, { recursive: true });
    try {
      names.forEach((n, i) => {
        copyFileSync(join(storeDir, n), join(work, n));
        if (i === 0) fault('repair:copy-file');
      });
      fault('repair:copied');
      log(`copied ${names.length} files (${mib(size)}) to ${work}`);

      const listing = join(tmp, 'before.txt');
      linkOrCopy(storeDir, join(tmp, 'before'), names);
      const before = await listEntries(join(tmp, 'before'), listing);
      rmSync(join(tmp, 'before'), { recursive: true, force: true });
      // "does not open" must mean damage: a copy that failed for want of space, descriptors, memory or
      // permission says nothing about what is readable, and the check below would then check nothing
      if (!before.opened && /No space left|Too many open files|Permission denied|Read-only file system|Cannot allocate memory/i.test(before.error ?? '')) {
        throw new ArchiveError(`cannot list what the store holds before repairing it (${before.error}); nothing was changed — fix that and repair again`);
      }
      fault('repair:listed-before');
      log(before.opened ? `before: ${before.entries} readable entries${before.complete ? '' : ` (listing stopped: ${before.error})`}` : `before: the store does not open (${before.error})`);

      await (Level as unknown as { repair(d: string): Promise<void> }).repair(work);
      fault('repair:leveldb-repaired');

      const v = await verifyAgainst(work, before.opened ? listing : null);
      const bad = [...v.missing.map((k) => `missing ${k}`), ...v.changed.map((k) => `changed ${k}`)];
      if (bad.length) {
        rmSync(tmp, { recursive: true, force: true });
        throw new ArchiveError(`repair would lose ${v.missing.length} and change ${v.changed.length} of the ${before.entries} entries readable before (${bad.slice(0, 5).join('; ')}${bad.length > 5 ? '; …' : ''}); the archive was left exactly as it was`);
      }
      const isArchive = (v.format !== undefined && FORMATS.includes(v.format)) || (v.format === undefined && marker !== null && v.schemaKnown);
      if (!isArchive) {
        rmSync(tmp, { recursive: true, force: true });
        throw new ArchiveError(v.entries === 0
          ? `the repair recovered nothing from ${storeDir}; the archive was left exactly as it was — restore it from a backup`
          : `the repaired store holds no Conclave archive format key (format ${v.format === undefined ? 'absent' : JSON.stringify(v.format.slice(0, 40))}); the archive was left exactly as it was`);
      }
      fault('repair:verified');
      if (!marker) writeMarker(dir); // identified as an archive above; the marker makes later commands sure of it
      fsyncTree(work);
      fault('repair:synced');

      // Re-check the old store right before the commit point: a legacy writer could have started meanwhile.
      if (fileLockedByAnyone(join(storeDir, 'LOCK'))) {
        rmSync(tmp, { recursive: true, force: true });
        throw new ArchiveLockedError(`the store ${storeDir} was opened by another process during the repair; nothing was changed — stop it and repair again`);
      }
      const name = nextStoreName(dir);
      renameSync(work, join(dir, name));
      fsyncPath(dir);
      fault('repair:store-renamed');
      writePointer(dir, name, { tmp: 'repair:pointer-tmp', done: 'repair:pointer' });

      // Committed. Moving the old store aside is tidying: if it fails, the next repair finishes it.
      let supersededDir = storeDir;
      try {
        const superseded = supersededName(dir, cur.storeName ?? 'legacy');
        if (cur.storeName) renameSync(storeDir, join(dir, superseded));
        else moveLegacyRoot(dir, readdirSync(dir).filter(isLevelDbName), superseded, true);
        fsyncPath(dir);
        supersededDir = join(dir, superseded);
      } catch (err) {
        log(`repaired, but the previous store could not be moved aside (${(err as Error).message}); it stays at ${storeDir}`);
      }
      fault('repair:old-moved');
      rmSync(tmp, { recursive: true, force: true });
      return {
        dir, previousStore: storeDir, supersededDir, store: join(dir, name), before,
        after: { entries: v.entries, reports: v.reports, equivocations: v.equivocations, certificates: v.certificates },
        salvaged: v.salvaged,
      };
    } catch (err) {
      // whatever failed (a full disk, a refusal), the work area goes; the live store was never touched
      rmSync(tmp, { recursive: true, force: true });
      if (err instanceof ArchiveError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ArchiveError(`repair failed (${code === 'ENOSPC' ? 'ENOSPC: the disk filled up' : (err as Error).message}); the archive was left exactly as it was`, { cause: err });
    }
  } finally {
    await lock.release();
  }
}
