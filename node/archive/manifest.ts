// Which table files of a store may be shared (hard-linked) with a LevelDB opened on a copy.
//
// A LevelDB opened on a copy (a read-only snapshot, a repair's before-listing) writes new files: the
// manifest, a log, the table it compacts the recovered log into, later compactions. It creates each
// with fopen("w"), which truncates an existing file of that name — and a hard-linked name is the
// original's inode. The numbers it allocates start at the manifest's next-file number (VersionSet::
// Recover: manifest = next_file, then next_file + 1, ...). A table numbered at or above it exists when
// the store's writer is in the middle of a compaction (the output is not in the manifest yet) or died
// in one; linking it would let the copy overwrite a live node's table. Tables numbered below it were
// allocated before the manifest's last edit and can never be created again by a copy: only those are
// linked, everything else is copied.
//
// The manifest is LevelDB's log format (32 KiB blocks of CRC32C-checked records) holding VersionEdits;
// only the next-file number is read. Records are taken up to the first one that does not check: a
// copy that LevelDB itself would stop earlier in does not open at all (nothing is written), so the
// number read here is never above the one LevelDB recovers.
import { readBoundedFileSync } from '../bounded/file.ts';

const BLOCK = 32 * 1024;
const HEADER = 7;
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `b` — LevelDB's record checksum. */
export function crc32c(b: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function unmask(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/** The logical records of a LevelDB log-format file, up to the first damaged or torn one. */
export function logRecords(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let parts: Uint8Array[] | null = null;
  let off = 0;
  while (off + HEADER <= buf.length) {
    const left = BLOCK - (off % BLOCK);
    if (left < HEADER) { off += left; continue; } // block trailer
    const len = buf[off + 4] | (buf[off + 5] << 8);
    const type = buf[off + 6];
    if (type === 0 && len === 0) { off += left; continue; } // zero padding to the end of the block
    if (HEADER + len > left || off + HEADER + len > buf.length) break;
    const stored = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
    if (crc32c(buf.subarray(off + 6, off + HEADER + len)) !== unmask(stored)) break;
    const data = buf.subarray(off + HEADER, off + HEADER + len);
    off += HEADER + len;
    if (type === 1 && parts === null) out.push(data);
    else if (type === 2 && parts === null) parts = [data];
    else if (type === 3 && parts !== null) parts.push(data);
    else if (type === 4 && parts !== null) {
      parts.push(data);
      out.push(Buffer.concat(parts));
      parts = null;
    } else break;
  }
  return out;
}

class Reader {
  pos = 0;
  private readonly b: Uint8Array;
  constructor(b: Uint8Array) {
    this.b = b;
  }
  varint(): number {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.b.length) throw new Error('truncated varint');
      const x = this.b[this.pos++];
      v += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) return v;
    }
    throw new Error('varint too long');
  }
  slice(): void {
    const n = this.varint();
    if (this.pos + n > this.b.length) throw new Error('truncated slice');
    this.pos += n;
  }
  get done(): boolean {
    return this.pos >= this.b.length;
  }
}

/** The next-file number a VersionEdit sets, undefined when it sets none; throws on a malformed edit. */
export function editNextFile(edit: Uint8Array): number | undefined {
  const r = new Reader(edit);
  let next: number | undefined;
  while (!r.done) {
    const tag = r.varint();
    switch (tag) {
      case 1: r.slice(); break; // comparator
      case 2: case 4: case 9: r.varint(); break; // log number, last sequence, prev log number
      case 3: next = r.varint(); break; // next file number
      case 5: r.varint(); r.slice(); break; // compact pointer: level, key
      case 6: r.varint(); r.varint(); break; // deleted file: level, number
      case 7: r.varint(); r.varint(); r.varint(); r.slice(); r.slice(); break; // new file: level, number, size, smallest, largest
      default: throw new Error(`unknown VersionEdit tag ${tag}`);
    }
  }
  return next;
}

/**
 * The next-file number recorded in the manifest `CURRENT` names in `dbDir` (a copy's own CURRENT and
 * manifest), or 0 when it cannot be read — then nothing may be shared.
 */
export function manifestNextFile(dbDir: string): number {
  try {
    const current = readBoundedFileSync(`${dbDir}/CURRENT`, { maxBytes: 256, what: 'CURRENT' }).toString('latin1').trim();
    if (!/^MANIFEST-\d+$/.test(current)) return 0;
    const manifest = readBoundedFileSync(`${dbDir}/${current}`, { maxBytes: MAX_MANIFEST_BYTES, what: 'MANIFEST' });
    let next = 0;
    for (const rec of logRecords(manifest)) {
      const n = editNextFile(rec);
      if (n !== undefined) next = n;
    }
    return next;
  } catch {
    return 0;
  }
}

/** A table file (NNNNNN.ldb / .sst) numbered below `nextFile`: one a LevelDB on a copy can never create. */
export function tableShareable(name: string, nextFile: number): boolean {
  const m = /^(\d+)\.(ldb|sst)$/.exec(name);
  return m !== null && Number(m[1]) < nextFile;
}
