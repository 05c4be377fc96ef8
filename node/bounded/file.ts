// Reading a file named by a user (--in, --rules-from, @validators.json): regular files only, size
// checked before reading and again while reading (a file that grows is cut off, not followed).
//
// The file is opened with O_NONBLOCK so that a FIFO, a socket or a terminal can never block the
// open itself; fstat on the opened descriptor (not the path, which could be swapped in between)
// then refuses anything that is not a regular file: /dev/zero, /dev/stdin, a FIFO, a directory.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from './input-error.ts';

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

export interface BoundedFileOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** How the input is named in errors, e.g. "--in". */
  what: string;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function openError(path: string, what: string, err: NodeJS.ErrnoException): InputError {
  const why = err.code === 'ENOENT' ? 'no such file'
    : err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied'
      : err.code === 'ELOOP' ? 'too many symbolic links'
        : err.code ?? err.message;
  return new InputError(`${what} ${path}: cannot read (${why})`, err.code);
}

export function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB` : `${n} bytes`;
}

function checkStat(path: string, st: Stats, o: BoundedFileOptions): void {
  if (!st.isFile()) throw new InputError(`${o.what} ${path} is ${kindOf(st)}; give a regular file`, st.isDirectory() ? 'EISDIR' : undefined);
  if (st.size > o.maxBytes) throw new InputError(`${o.what} ${path} is ${mib(st.size)}, over the limit of ${mib(o.maxBytes)}`);
}

function tooBig(path: string, o: BoundedFileOptions): InputError {
  return new InputError(`${o.what} ${path} changed size while being read (limit ${mib(o.maxBytes)}); read it again once it is complete`);
}

/** Opens `path` for bounded reading: a regular file within the size limit, or an InputError. */
export async function openBoundedFile(path: string, o: BoundedFileOptions): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (err) {
    throw openError(path, o.what, err as NodeJS.ErrnoException);
  }
  try {
    const st = await fh.stat();
    checkStat(path, st, o);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/** The whole file, at most `maxBytes`. */
export async function readBoundedFile(path: string, o: BoundedFileOptions): Promise<Buffer> {
  const { fh, size } = await openBoundedFile(path, o);
  try {
    // One byte more than allowed tells a file that grew since fstat from one that did not.
    const buf = Buffer.allocUnsafe(Math.min(size, o.maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) throw tooBig(path, o);
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > o.maxBytes) throw tooBig(path, o);
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** Synchronous readBoundedFile (for loaders that are synchronous, e.g. config files). */
export function readBoundedFileSync(path: string, o: BoundedFileOptions): Buffer {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    throw openError(path, o.what, err as NodeJS.ErrnoException);
  }
  try {
    const st = fstatSync(fd);
    checkStat(path, st, o);
    const buf = Buffer.allocUnsafe(Math.min(st.size, o.maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) throw tooBig(path, o);
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > o.maxBytes) throw tooBig(path, o);
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** UTF-8 text of a bounded file; invalid UTF-8 is an InputError, not replacement characters. */
export function utf8Text(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new InputError(`${what} is not valid UTF-8 text`);
  }
}
