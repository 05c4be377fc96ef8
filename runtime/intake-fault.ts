// A fault of the validator itself during intake (disk full, I/O error, permission, Docker down), as
// opposed to a verdict on the submission. Faults are retried with backoff and never cached; anything
// that depends only on the submission's bytes is a verdict instead (ZipRefusal, a review finding).

export class IntakeFault extends Error {
  /** Short stable cause for logging once per cause (e.g. 'ENOSPC', 'docker'). */
  readonly cause: string;
  constructor(cause: string, message: string) {
    super(message);
    this.name = 'IntakeFault';
    this.cause = cause;
  }
}

/** errno codes that describe the machine, not the archive: the same write would work elsewhere. */
const MACHINE_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'ENOMEM', 'EBUSY', 'EAGAIN', 'ESTALE', 'ENODEV', 'ENXIO']);

export function isMachineError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && MACHINE_ERRNOS.has(code);
}
