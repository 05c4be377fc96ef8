// One reading of a ZIP archive's structure. The central directory, the end record and every local
// header must agree, and the records must tile the file exactly: local header + data (+ descriptor)
// for each entry from offset 0, then the central directory, then one end record ending at the last
// byte. Anything another reader could read differently is refused: a prefix (self-extractor,
// polyglot), trailing bytes, a second end record, a gap or an overlap between records, a local header
// that disagrees with its central record, counts that do not match, ZIP64, multi-disk, encryption.
import { ZipRefusal } from './refusal.ts';
import type { ZipLimits } from './refusal.ts';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIGNATURES = [SIG_LOCAL, SIG_CENTRAL, SIG_END, SIG_DESCRIPTOR, SIG_ZIP64_LOCATOR, 0x06064b50];

const END_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;

/** General purpose flag bits we read: 1-2 deflate options, 3 data descriptor, 11 UTF-8 names. */
const FLAG_DESCRIPTOR = 1 << 3;
export const FLAG_UTF8 = 1 << 11;
const FLAGS_ENCRYPTED = (1 << 0) | (1 << 6) | (1 << 13);
const FLAGS_KNOWN = (1 << 1) | (1 << 2) | FLAG_DESCRIPTOR | FLAG_UTF8;

const EXTRA_ZIP64 = 0x0001;
const EXTRA_UNICODE_PATH = 0x7075;

export interface ZipRecord {
  /** Position in the central directory. */
  index: number;
  madeBy: number;
  versionNeeded: number;
  flags: number;
  method: number;
  time: number;
  date: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  nameRaw: Buffer;
  externalAttributes: number;
  localOffset: number;
  /** The entry's compressed bytes [dataStart, dataEnd) in the archive. */
  dataStart: number;
  dataEnd: number;
}

/** The raw name for messages (lossy; the real checks work on bytes). */
function label(raw: Buffer): string {
  return JSON.stringify(raw.toString('latin1').replace(/[^\x20-\x7e]/g, '?'));
}

function checkExtra(extra: Buffer, where: string): void {
  let p = 0;
  while (p < extra.length) {
    if (p + 4 > extra.length) throw new ZipRefusal('corrupt', `${where}: its extra field is cut short`);
    const id = extra.readUInt16LE(p);
    const size = extra.readUInt16LE(p + 2);
    if (p + 4 + size > extra.length) throw new ZipRefusal('corrupt', `${where}: an extra field block runs past the extra field`);
    if (id === EXTRA_ZIP64) throw new ZipRefusal('unsupported', `${where}: carries ZIP64 sizes; ZIP64 archives are refused (a project is far below 4 GiB)`);
    if (id === EXTRA_UNICODE_PATH) {
      throw new ZipRefusal('bad-name', `${where}: carries a second (Unicode path) name in an extra field; readers disagree on which name wins. Store UTF-8 names with the UTF-8 flag instead`);
    }
    p += 4 + size;
  }
}

function checkFlags(flags: number, method: number, where: string): void {
  if (flags & FLAGS_ENCRYPTED) throw new ZipRefusal('encrypted', `${where} is encrypted`);
  if (flags & ~FLAGS_KNOWN & 0xffff) throw new ZipRefusal('unsupported', `${where} sets general purpose flags 0x${flags.toString(16)} that are reserved or not supported`);
  if (method !== 0 && method !== 8) throw new ZipRefusal('unsupported', `${where} uses compression method ${method}; only stored (0) and deflate (8) are accepted`);
  if (method === 0 && flags & FLAG_DESCRIPTOR) {
    throw new ZipRefusal('unsupported', `${where} is stored with a trailing data descriptor: a streaming reader cannot tell where its data ends`);
  }
}

interface EndRecord { offset: number; entries: number; cdSize: number; cdOffset: number }

function findEnd(buf: Buffer): EndRecord {
  if (buf.length < END_SIZE) throw new ZipRefusal('end-record', `${buf.length} bytes cannot hold a ZIP end-of-central-directory record`);
  const candidates: number[] = [];
  let short = false;
  const lowest = Math.max(0, buf.length - END_SIZE - 0xffff);
  for (let p = buf.length - END_SIZE; p >= lowest; p--) {
    if (buf[p] !== 0x50 || buf.readUInt32LE(p) !== SIG_END) continue;
    const end = p + END_SIZE + buf.readUInt16LE(p + 20);
    if (end === buf.length) candidates.push(p);
    else if (end < buf.length) short = true;
  }
  if (candidates.length === 0) {
    if (short) throw new ZipRefusal('trailing-data', 'bytes follow the end-of-central-directory record (two archives concatenated, or appended data)');
    throw new ZipRefusal('end-record', 'no complete end-of-central-directory record: not a ZIP archive, or a truncated one');
  }
  if (candidates.length > 1) {
    throw new ZipRefusal('end-record', 'more than one end-of-central-directory record fits the end of the file (one is hidden in the archive comment)');
  }
  const p = candidates[0];
  const comment = buf.subarray(p + END_SIZE);
  for (let i = 0; i + 4 <= comment.length; i++) {
    if (comment[i] === 0x50 && comment[i + 1] === 0x4b && SIGNATURES.includes(comment.readUInt32LE(i))) {
      throw new ZipRefusal('end-record', 'the archive comment contains a ZIP record signature (a reader scanning backwards would read another archive)');
    }
  }
  if (p >= 20 && buf.readUInt32LE(p - 20) === SIG_ZIP64_LOCATOR) throw new ZipRefusal('unsupported', 'the archive is ZIP64; ZIP64 archives are refused');
  const disk = buf.readUInt16LE(p + 4);
  const cdDisk = buf.readUInt16LE(p + 6);
  const onDisk = buf.readUInt16LE(p + 8);
  const entries = buf.readUInt16LE(p + 10);
  const cdSize = buf.readUInt32LE(p + 12);
  const cdOffset = buf.readUInt32LE(p + 16);
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw new ZipRefusal('unsupported', 'the end record defers to ZIP64 fields; ZIP64 archives are refused');
  if (disk !== 0 || cdDisk !== 0) throw new ZipRefusal('unsupported', 'multi-disk (spanned) archives are refused');
  if (onDisk !== entries) throw new ZipRefusal('count-mismatch', `the end record counts ${onDisk} entries on this disk but ${entries} in total`);
  if (cdOffset + cdSize > p) throw new ZipRefusal('overlap', 'the central directory runs into the end record');
  if (cdOffset + cdSize < p) throw new ZipRefusal('gap', `${p - cdOffset - cdSize} unaccounted bytes lie between the central directory and the end record`);
  return { offset: p, entries, cdSize, cdOffset };
}

interface Central extends Omit<ZipRecord, 'dataStart' | 'dataEnd'> { where: string }

function readCentral(buf: Buffer, end: EndRecord): Central[] {
  const out: Central[] = [];
  let p = end.cdOffset;
  for (let i = 0; i < end.entries; i++) {
    if (p + CENTRAL_SIZE > end.offset || buf.readUInt32LE(p) !== SIG_CENTRAL) {
      throw new ZipRefusal('count-mismatch', `the end record counts ${end.entries} entries but the central directory holds ${i}`);
    }
    const n = buf.readUInt16LE(p + 28);
    const m = buf.readUInt16LE(p + 30);
    const k = buf.readUInt16LE(p + 32);
    if (p + CENTRAL_SIZE + n + m + k > end.offset) throw new ZipRefusal('corrupt', `central record ${i} runs past the central directory`);
    const nameRaw = buf.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + n);
    const where = `entry ${label(nameRaw)}`;
    const rec: Central = {
      index: i, where,
      madeBy: buf.readUInt16LE(p + 4), versionNeeded: buf.readUInt16LE(p + 6), flags: buf.readUInt16LE(p + 8),
      method: buf.readUInt16LE(p + 10), time: buf.readUInt16LE(p + 12), date: buf.readUInt16LE(p + 14),
      crc: buf.readUInt32LE(p + 16), compressedSize: buf.readUInt32LE(p + 20), uncompressedSize: buf.readUInt32LE(p + 24),
      nameRaw, externalAttributes: buf.readUInt32LE(p + 38), localOffset: buf.readUInt32LE(p + 42),
    };
    const diskStart = buf.readUInt16LE(p + 34);
    if (diskStart !== 0) throw new ZipRefusal('unsupported', `${where} starts on disk ${diskStart}; multi-disk archives are refused`);
    if (rec.compressedSize === 0xffffffff || rec.uncompressedSize === 0xffffffff || rec.localOffset === 0xffffffff) {
      throw new ZipRefusal('unsupported', `${where} defers to ZIP64 fields; ZIP64 archives are refused`);
    }
    checkFlags(rec.flags, rec.method, where);
    // CPython's zipfile refuses to open an archive with any entry needing a version above 6.3
    if ((rec.versionNeeded & 0xff) > 63) throw new ZipRefusal('unsupported', `${where} needs ZIP version ${(rec.versionNeeded & 0xff) / 10} to extract (above 6.3)`);
    checkExtra(buf.subarray(p + CENTRAL_SIZE + n, p + CENTRAL_SIZE + n + m), where);
    if (rec.method === 0 && rec.compressedSize !== rec.uncompressedSize) {
      throw new ZipRefusal('size-mismatch', `${where} is stored but declares ${rec.compressedSize} compressed and ${rec.uncompressedSize} uncompressed bytes`);
    }
    out.push(rec);
    p += CENTRAL_SIZE + n + m + k;
  }
  if (p !== end.offset) throw new ZipRefusal('count-mismatch', `the central directory holds more than the ${end.entries} entries the end record counts`);
  return out;
}

/**
 * Reads the archive's structure once and checks that every reader must see the same entries.
 * Returns the records in central-directory order, each with the exact range of its compressed data.
 */
export function readArchive(buf: Buffer, limits: Pick<ZipLimits, 'maxEntries'>): ZipRecord[] {
  const end = findEnd(buf);
  if (end.entries > limits.maxEntries) throw new ZipRefusal('too-many-files', `the archive has ${end.entries} entries (limit ${limits.maxEntries})`);
  const central = readCentral(buf, end);
  const byOffset = [...central].sort((a, b) => a.localOffset - b.localOffset);
  const first = byOffset.length ? byOffset[0].localOffset : end.cdOffset;
  if (first !== 0) throw new ZipRefusal('prefix', `${first} bytes precede the first ZIP record (a self-extractor or a polyglot file)`);
  const records: ZipRecord[] = new Array(central.length);
  for (let i = 0; i < byOffset.length; i++) {
    const c = byOffset[i];
    const where = c.where;
    const next = i + 1 < byOffset.length ? byOffset[i + 1].localOffset : end.cdOffset;
    const p = c.localOffset;
    if (p === next) throw new ZipRefusal('overlap', `two central records point at the same local header (${where})`);
    if (p + LOCAL_SIZE > next || buf.readUInt32LE(p) !== SIG_LOCAL) throw new ZipRefusal('header-mismatch', `${where}: no local header where the central directory points`);
    const n = buf.readUInt16LE(p + 26);
    const m = buf.readUInt16LE(p + 28);
    const dataStart = p + LOCAL_SIZE + n + m;
    if (dataStart > next) throw new ZipRefusal('overlap', `${where}: its local header runs into the next record`);
    const local = {
      versionNeeded: buf.readUInt16LE(p + 4), flags: buf.readUInt16LE(p + 6), method: buf.readUInt16LE(p + 8),
      time: buf.readUInt16LE(p + 10), date: buf.readUInt16LE(p + 12), crc: buf.readUInt32LE(p + 14),
      compressedSize: buf.readUInt32LE(p + 18), uncompressedSize: buf.readUInt32LE(p + 22),
    };
    const disagree = (field: string) => new ZipRefusal('header-mismatch', `${where}: the local header's ${field} differs from the central directory's`);
    if (!buf.subarray(p + LOCAL_SIZE, p + LOCAL_SIZE + n).equals(c.nameRaw)) throw disagree('name');
    if (local.flags !== c.flags) throw disagree('flags');
    if (local.method !== c.method) throw disagree('compression method');
    if (local.versionNeeded !== c.versionNeeded) throw disagree('version needed to extract');
    if (local.time !== c.time || local.date !== c.date) throw disagree('modification time');
    const deferred = (c.flags & FLAG_DESCRIPTOR) !== 0;
    for (const [field, lv, cv] of [['CRC-32', local.crc, c.crc], ['compressed size', local.compressedSize, c.compressedSize], ['uncompressed size', local.uncompressedSize, c.uncompressedSize]] as const) {
      if (lv !== cv && !(deferred && lv === 0)) throw disagree(field);
    }
    checkExtra(buf.subarray(p + LOCAL_SIZE + n, dataStart), `${where} (local header)`);
    const dataEnd = dataStart + c.compressedSize;
    if (dataEnd > next) throw new ZipRefusal('overlap', `${where}: its data runs into the next record`);
    let recordEnd = dataEnd;
    if (deferred) {
      const rest = next - dataEnd;
      const sig = rest === 16 && buf.readUInt32LE(dataEnd) === SIG_DESCRIPTOR;
      if (!sig && rest === 12 && buf.readUInt32LE(dataEnd) === SIG_DESCRIPTOR) {
        // a CRC-32 equal to the descriptor signature: a streaming reader takes it for the signature and
        // reads four bytes too far
        throw new ZipRefusal('header-mismatch', `${where}: its unsigned data descriptor starts with the descriptor signature (ambiguous to a streaming reader)`);
      }
      const at = sig ? dataEnd + 4 : dataEnd;
      if (!(sig || rest === 12) || buf.readUInt32LE(at) !== c.crc || buf.readUInt32LE(at + 4) !== c.compressedSize || buf.readUInt32LE(at + 8) !== c.uncompressedSize) {
        throw new ZipRefusal('header-mismatch', `${where}: its data descriptor is missing or differs from the central directory`);
      }
      recordEnd = at + 12;
    }
    if (recordEnd < next) throw new ZipRefusal('gap', `${where}: ${next - recordEnd} unaccounted bytes follow its data (a hidden record or padding)`);
    records[c.index] = { ...c, dataStart, dataEnd };
  }
  return records.map((r) => {
    const { where: _w, ...rest } = r as ZipRecord & { where?: string };
    return rest;
  });
}
