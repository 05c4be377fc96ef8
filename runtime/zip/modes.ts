// What an entry is, from its external attributes, read the same way whatever the "made by" host byte
// says: the high 16 bits are a Unix mode (a symlink mode is a symlink from any host), a mode without
// file-type bits (Python's zipfile.writestr writes 0o600) is a regular file, and the MS-DOS attribute
// byte's directory and reparse-point (Windows symlink) bits count too.
import { ZipRefusal, shown } from './refusal.ts';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const DOS_DIRECTORY = 0x10;
const DOS_REPARSE_POINT = 0x400;

export type EntryKind = 'file' | 'dir';

export function entryKind(externalAttributes: number, nameIsDir: boolean, name: string): EntryKind {
  const mode = (externalAttributes >>> 16) & 0xffff;
  const type = mode & S_IFMT;
  if (type === S_IFLNK || externalAttributes & DOS_REPARSE_POINT) {
    throw new ZipRefusal('symlink', `entry ${shown(name)} is a symbolic link; symlinks are refused`, name);
  }
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    throw new ZipRefusal('special-file', `entry ${shown(name)} is a device, FIFO or socket (mode ${type.toString(8)})`, name);
  }
  const dirByAttrs = type === S_IFDIR || (externalAttributes & DOS_DIRECTORY) !== 0;
  if (dirByAttrs && !nameIsDir) throw new ZipRefusal('special-file', `entry ${shown(name)} is marked as a directory but its name does not end in /`, name);
  if (type === S_IFREG && nameIsDir) throw new ZipRefusal('special-file', `entry ${shown(name)} is marked as a regular file but its name ends in /`, name);
  return nameIsDir ? 'dir' : 'file';
}
