// Exclusion between the processes that change an archive: a live writer (a node, `archive put`)
// and a repair. The lock is LevelDB's own (a POSIX fcntl lock on DIR/conclave-lock/LOCK, taken by opening a
// tiny LevelDB there): the kernel releases it when the holder dies, even by SIGKILL, so a crash
// never leaves a stale lock, and LevelDB's per-process lock table also excludes a second opener in
// the same process.
//
// A writer that predates this lock (an older Conclave) holds only the store's LevelDB LOCK; a repair
// also checks that one, read-only, in /proc/locks (Linux), so it never needs to open a damaged store.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { ArchiveError, ArchiveLockedError } from './errors.ts';
import { LOCK_DIR } from './layout.ts';

function levelCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code;
}

export class ArchiveLock {
  private readonly db: Level;
  private constructor(db: Level) {
    this.db = db;
  }

  /** Takes the archive's lock or throws ArchiveLockedError naming who may hold it. */
  static async acquire(dir: string, purpose: string): Promise<ArchiveLock> {
    const path = join(dir, LOCK_DIR);
    for (let attempt = 0; ; attempt++) {
      const db = new Level(path);
      try {
        await db.open({ createIfMissing: true });
        return new ArchiveLock(db);
      } catch (err) {
        const code = levelCode(err);
        if (code === 'LEVEL_LOCKED') {
          throw new ArchiveLockedError(`archive ${dir} is in use by another process (a running node, \`archive put\` or a repair); stop it first, or read it with \`conclave archive list\` (read-only commands work beside a live node)`, { cause: err });
        }
        // The lock store holds no data: if it is damaged (a crash while creating it), nobody holds its
        // LOCK (LevelDB takes the LOCK before reading anything else), so it is safe to recreate once.
        if (code === 'LEVEL_CORRUPTION' && attempt === 0) {
          rmSync(path, { recursive: true, force: true });
          continue;
        }
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        if (/read-only file system|EROFS|permission denied|EACCES/i.test(cause)) {
          throw new ArchiveError(`cannot write to archive ${dir} to ${purpose} (${cause}); read-only commands (archive list/get/equivocations, audit --archive) work on a read-only archive`, { cause: err });
        }
        throw new ArchiveError(`cannot lock archive ${dir} to ${purpose}: ${cause}`, { cause: err });
      }
    }
  }

  async release(): Promise<void> {
    await this.db.close().catch(() => {});
  }
}

/**
 * Whether some process holds a POSIX lock on `path` (LevelDB's LOCK file), from /proc/locks; false
 * where /proc/locks does not exist. Never opens or locks the file itself.
 */
export function fileLockedByAnyone(path: string): boolean {
  let st;
  try {
    st = statSync(path);
  } catch {
    return false;
  }
  let text: string;
  try {
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return false;
  }
  const ino = String(st.ino);
  for (const line of text.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (OFDLCK for open-file-description locks)
    const f = line.trim().split(/\s+/);
    const id = f.find((x) => /^[0-9a-f]+:[0-9a-f]+:\d+$/.test(x));
    if (!id) continue;
    const [maj, min, inode] = id.split(':');
    if (inode !== ino) continue;
    if (sameDevice(st.dev, parseInt(maj, 16), parseInt(min, 16))) return true;
  }
  return false;
}

function sameDevice(dev: number, major: number, minor: number): boolean {
  // Linux new_decode_dev: major = (dev & 0xfff00) >> 8, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
  const big = BigInt(dev);
  const devMajor = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const devMinor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return devMajor === major && devMinor === minor;
}
