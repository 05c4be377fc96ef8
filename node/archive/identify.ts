// Is a store without the CONCLAVE-ARCHIVE marker a Conclave archive? (archives created before the
// marker existed, or a directory that only looks like one: a stray NNNNNN.log, another program's
// LevelDB). Answered without writing anything to the directory: from a private snapshot, or — when
// the files do not open as a LevelDB — from the raw files. Every command that would write into an
// unmarked directory asks first.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { snapshotArchive } from './snapshot.ts';

export const FORMAT_KEY = '!meta!format';
export const FORMATS = ['conclave-archive/v1', 'conclave-archive/v2'];

export type Identity =
  | { kind: 'archive' }
  /** A LevelDB that opens but holds no archive format key (another program's, or empty). */
  | { kind: 'foreign' }
  /** The files do not open as a LevelDB; `archiveInRaw`: a format value was found in them anyway. */
  | { kind: 'unreadable'; error: string; archiveInRaw: boolean };

function levelMessage(err: unknown, copyDir: string, storeDir: string): string {
  // the snapshot's temp path means nothing to the user: name the store
  return ((err as { cause?: Error }).cause?.message ?? (err as Error).message).split(copyDir).join(storeDir);
}

/** Does any log or table of `storeDir` contain an archive's format value? (logs hold records uncompressed) */
export function formatInRawFiles(storeDir: string): boolean {
  const needle = Buffer.from('conclave-archive/v');
  let names: string[];
  try {
    names = readdirSync(storeDir).filter((x) => /^\d+\.(log|ldb|sst)$/.test(x));
  } catch {
    return false;
  }
  for (const n of names) {
    let fd: number;
    try {
      fd = openSync(join(storeDir, n), 'r');
    } catch {
      continue;
    }
    try {
      const buf = Buffer.alloc(1024 * 1024 + needle.length);
      let carry = 0;
      for (;;) {
        const r = readSync(fd, buf, carry, buf.length - carry, null);
        if (r === 0) break;
        if (buf.subarray(0, carry + r).includes(needle)) return true;
        buf.copy(buf, 0, carry + r - needle.length, carry + r);
        carry = needle.length;
      }
    } finally {
      closeSync(fd);
    }
  }
  return false;
}

/** Identifies the live store of the archive directory `archiveDir` (whose store lives in `storeDir`). */
export async function identifyStore(archiveDir: string, storeDir: string): Promise<Identity> {
  const snap = snapshotArchive(archiveDir); // its errors (no space for the copy) are not about identity
  if (!snap) return { kind: 'foreign' };
  const db = new Level<Uint8Array, Uint8Array>(snap.dir, { keyEncoding: 'view', valueEncoding: 'view' });
  try {
    try {
      await db.open({ createIfMissing: false });
    } catch (err) {
      return { kind: 'unreadable', error: levelMessage(err, snap.dir, storeDir), archiveInRaw: formatInRawFiles(storeDir) };
    }
    const v = await db.get(Buffer.from(FORMAT_KEY));
    return v !== undefined && FORMATS.includes(Buffer.from(v).toString('utf8')) ? { kind: 'archive' } : { kind: 'foreign' };
  } catch (err) {
    return { kind: 'unreadable', error: levelMessage(err, snap.dir, storeDir), archiveInRaw: formatInRawFiles(storeDir) };
  } finally {
    await db.close().catch(() => {});
    snap.remove();
  }
}
