// ZIP writer for tests: builds archives a real tool would refuse to make (symlinks, '..', absolute
// names, device files, bombs) and hostile layouts (local headers that disagree with the central
// directory, overlaps, gaps, prefixes, hidden end records, lying counts). `buildZipLayout` also returns
// where each record landed so a test can patch bytes.
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  name: string | Buffer;
  data?: Uint8Array | string;
  /** Unix mode including the file type bits (default regular file 0o100644, dirs 0o040755). */
  mode?: number;
  store?: boolean;
  /** Raw external attributes (overrides mode). */
  externalAttributes?: number;
  /** "Version made by" (default Unix 3.0 = 0x031e... here (3 << 8) | 20). */
  madeBy?: number;
  /** General purpose flags (default 0x0800, UTF-8 names). */
  flags?: number;
  method?: number;
  /** Compressed bytes to write instead of the real ones (sizes/CRC still from the spec's data unless overridden). */
  body?: Buffer;
  crc?: number;
  compressedSize?: number;
  uncompressedSize?: number;
  /** Central directory extra field. */
  extra?: Buffer;
  /** Local header extra field. */
  localExtra?: Buffer;
  /** Fields of the local header that differ from the central record. */
  local?: { name?: string | Buffer; flags?: number; method?: number; crc?: number; compressedSize?: number; uncompressedSize?: number; time?: number; versionNeeded?: number };
  /** Write a data descriptor after the data (sets flag bit 3): with or without its signature. */
  descriptor?: 'sig' | 'nosig';
  /** Bytes inserted after this entry's record (a gap). */
  after?: Buffer;
  /** Leave this entry out of the central directory (its local record stays). */
  hidden?: boolean;
}

export interface ZipBuildOptions {
  /** Bytes before the first local header; offsets are shifted unless `keepOffsets`. */
  prefix?: Buffer;
  keepOffsets?: boolean;
  /** Bytes between the central directory and the end record. */
  beforeEnd?: Buffer;
  /** Archive comment (declared length = its length unless commentLength). */
  comment?: Buffer;
  commentLength?: number;
  /** Bytes after the end record. */
  suffix?: Buffer;
  /** End record overrides. */
  entries?: number;
  entriesOnDisk?: number;
  cdSize?: number;
  cdOffset?: number;
  /** Central records pointing at another entry's local header: [from index, to index]. */
  aliasOffsets?: Array<[number, number]>;
}

export interface ZipLayout {
  bytes: Buffer;
  records: Array<{ localOffset: number; dataOffset: number; dataLength: number; centralOffset: number }>;
  cdOffset: number;
  endOffset: number;
}

const TIME = 0x6000;
const DATE = 0x5a21;

export function buildZipLayout(entries: ZipEntrySpec[], opts: ZipBuildOptions = {}): ZipLayout {
  const parts: Buffer[] = [];
  const prefix = opts.prefix ?? Buffer.alloc(0);
  parts.push(prefix);
  let offset = prefix.length;
  const shift = opts.keepOffsets ? prefix.length : 0;
  const layout: ZipLayout['records'] = [];
  const centrals: Array<{ spec: ZipEntrySpec; buf: Buffer }> = [];
  for (const e of entries) {
    const name = typeof e.name === 'string' ? Buffer.from(e.name, 'utf8') : e.name;
    const raw = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : Buffer.from(e.data ?? new Uint8Array());
    const isDir = name.toString('latin1').endsWith('/');
    const mode = e.mode ?? (isDir ? 0o040755 : 0o100644);
    const method = e.method ?? (e.store || raw.length === 0 ? 0 : 8);
    const body = e.body ?? (method === 8 ? deflateRawSync(raw, { level: 9 }) : raw);
    const crc = e.crc ?? (crc32(raw) >>> 0);
    const csize = e.compressedSize ?? body.length;
    const usize = e.uncompressedSize ?? raw.length;
    const flags = (e.flags ?? 0x0800) | (e.descriptor ? 0x0008 : 0);
    const l = e.local ?? {};
    const lname = l.name === undefined ? name : typeof l.name === 'string' ? Buffer.from(l.name, 'utf8') : l.name;
    const lextra = e.localExtra ?? Buffer.alloc(0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(l.versionNeeded ?? 20, 4);
    local.writeUInt16LE(l.flags ?? flags, 6);
    local.writeUInt16LE(l.method ?? method, 8);
    local.writeUInt16LE(l.time ?? TIME, 10);
    local.writeUInt16LE(DATE, 12);
    local.writeUInt32LE(l.crc ?? (e.descriptor ? 0 : crc), 14);
    local.writeUInt32LE(l.compressedSize ?? (e.descriptor ? 0 : csize), 18);
    local.writeUInt32LE(l.uncompressedSize ?? (e.descriptor ? 0 : usize), 22);
    local.writeUInt16LE(lname.length, 26);
    local.writeUInt16LE(lextra.length, 28);
    const localOffset = offset;
    parts.push(local, lname, lextra, body);
    offset += 30 + lname.length + lextra.length;
    const dataOffset = offset;
    offset += body.length;
    if (e.descriptor) {
      const d = Buffer.alloc(e.descriptor === 'sig' ? 16 : 12);
      let p = 0;
      if (e.descriptor === 'sig') { d.writeUInt32LE(0x08074b50, 0); p = 4; }
      d.writeUInt32LE(crc, p);
      d.writeUInt32LE(csize, p + 4);
      d.writeUInt32LE(usize, p + 8);
      parts.push(d);
      offset += d.length;
    }
    if (e.after) { parts.push(e.after); offset += e.after.length; }
    layout.push({ localOffset, dataOffset, dataLength: body.length, centralOffset: -1 });
    const extra = e.extra ?? Buffer.alloc(0);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.madeBy ?? ((3 << 8) | 20), 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(TIME, 12);
    central.writeUInt16LE(DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(csize, 20);
    central.writeUInt32LE(usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(e.externalAttributes ?? (((mode & 0xffff) << 16) >>> 0), 38);
    central.writeUInt32LE(localOffset - shift, 42);
    centrals.push({ spec: e, buf: Buffer.concat([central, name, extra]) });
  }
  for (const [from, to] of opts.aliasOffsets ?? []) centrals[from].buf.writeUInt32LE(layout[to].localOffset - shift, 42);
  const cdOffset = offset;
  let count = 0;
  entries.forEach((e, i) => {
    if (e.hidden) return;
    layout[i].centralOffset = offset;
    parts.push(centrals[i].buf);
    offset += centrals[i].buf.length;
    count++;
  });
  const cdSize = offset - cdOffset;
  if (opts.beforeEnd) { parts.push(opts.beforeEnd); offset += opts.beforeEnd.length; }
  const comment = opts.comment ?? Buffer.alloc(0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.entriesOnDisk ?? opts.entries ?? count, 8);
  end.writeUInt16LE(opts.entries ?? count, 10);
  end.writeUInt32LE(opts.cdSize ?? cdSize, 12);
  end.writeUInt32LE(opts.cdOffset ?? cdOffset - shift, 16);
  end.writeUInt16LE(opts.commentLength ?? comment.length, 20);
  const endOffset = offset;
  parts.push(end, comment, opts.suffix ?? Buffer.alloc(0));
  return { bytes: Buffer.concat(parts), records: layout, cdOffset, endOffset };
}

export function buildZip(entries: ZipEntrySpec[], opts: ZipBuildOptions = {}): Buffer {
  return buildZipLayout(entries, opts).bytes;
}
