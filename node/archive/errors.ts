// Errors and result shapes shared by the archive's parts.

export class ArchiveError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArchiveError';
  }
}

/** A stored value that does not decode or does not belong under its key. */
export class ArchiveCorruptError extends ArchiveError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`archive entry ${key} is corrupt or foreign: ${reason}`);
    this.name = 'ArchiveCorruptError';
    this.key = key;
  }
}

/** The directory is in use by a live writer (a node, `archive put`) or a repair. */
export class ArchiveLockedError extends ArchiveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArchiveLockedError';
  }
}

/**
 * A failed LevelDB write as the user should read it. A batch is atomic: a write that failed (a full
 * disk, an I/O error) stored nothing of itself, and everything acknowledged before it stays.
 */
export function writeError(dir: string, err: unknown): unknown {
  if (err instanceof ArchiveError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const msg = e.cause?.message ?? e.message ?? String(err);
  if (/No space left on device|ENOSPC/.test(msg)) {
    return new ArchiveError(`the disk holding archive ${dir} is full (${msg.slice(0, 200)}); this write was not stored, everything acknowledged before it is — free some space and retry`, { cause: err });
  }
  if (code === 'LEVEL_IO_ERROR' || /IO error/.test(msg)) {
    return new ArchiveError(`writing to archive ${dir} failed (${msg.slice(0, 200)}); this write was not stored, everything acknowledged before it is`, { cause: err });
  }
  return err;
}

export interface CorruptEntry {
  key: string;
  reason: string;
}

/** Listing result: everything readable, plus what was skipped and why. */
export interface ListResult<T> {
  items: T[];
  corrupt: CorruptEntry[];
}
