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

export interface CorruptEntry {
  key: string;
  reason: string;
}

/** Listing result: everything readable, plus what was skipped and why. */
export interface ListResult<T> {
  items: T[];
  corrupt: CorruptEntry[];
}
