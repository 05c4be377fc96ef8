// More hostile archives, built by hand at the byte level: ZIP64 records, descriptors a streaming reader
// would misread, names that only differ after normalisation or by an invisible code point, central
// records pointing into another entry's data, and archives CPython's zipfile opens that we refuse
// (where another tool could read other bytes than the reviewed ones). Every refusal has its code;
// whatever is accepted reads the same in CPython's zipfile and a streaming reader.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { extractZipProject, readZipProject, ZipRefusal } from '../../runtime/zip.ts';
import { buildZip, buildZipLayout } from './zip-writer.ts';
import type { ZipBuildOptions, ZipEntrySpec } from './zip-writer.ts';
import { pythonRead, streamRead } from './zip-oracle.ts';

const TRAIN = 'def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):\n    return None\n';
const T: ZipEntrySpec = { name: 'train.py', data: TRAIN };

/** Four bytes that, appended to `data`, make its CRC-32 equal `target` (CRC-32 is affine over GF(2)). */
function forgeCrc(data: Buffer, target: number): Buffer {
  const crcOf = (x: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(x >>> 0); return crc32(Buffer.concat([data, b])) >>> 0; };
  const c0 = crcOf(0);
  const cols = Array.from({ length: 32 }, (_, i) => (crcOf(2 ** i) ^ c0) >>> 0);
  // solve sum(x_i * cols[i]) = target ^ c0 by Gaussian elimination on 32 equations
  const rows: Array<{ coef: number; rhs: number }> = [];
  const want = (target ^ c0) >>> 0;
  for (let bit = 0; bit < 32; bit++) {
    let coef = 0;
    for (let i = 0; i < 32; i++) if ((cols[i] >>> bit) & 1) coef |= 2 ** i;
    rows.push({ coef: coef >>> 0, rhs: (want >>> bit) & 1 });
  }
  const pivots: number[] = [];
  let r = 0;
  for (let col = 0; col < 32 && r < 32; col++) {
    const p = rows.findIndex((row, k) => k >= r && ((row.coef >>> col) & 1));
    if (p < 0) continue;
    [rows[r], rows[p]] = [rows[p], rows[r]];
    for (let k = 0; k < 32; k++) {
      if (k !== r && ((rows[k].coef >>> col) & 1)) { rows[k].coef = (rows[k].coef ^ rows[r].coef) >>> 0; rows[k].rhs ^= rows[r].rhs; }
    }
    pivots.push(col);
    r++;
  }
  let x = 0;
  pivots.forEach((col, k) => { if (rows[k].rhs) x |= 2 ** col; });
  const out = Buffer.alloc(4);
  out.writeUInt32LE(x >>> 0);
  assert.equal(crc32(Buffer.concat([data, out])) >>> 0, target >>> 0, 'CRC forging failed');
  return out;
}

describe('intake: hostile ZIP archives (byte level)', function () {
  this.timeout(30_000);
  let parent: string;
  beforeEach(() => { parent = mkdtempSync(join(tmpdir(), 'conclave-ziphostile-')); });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  async function refusedBytes(bytes: Buffer, code: string) {
    await assert.rejects(extractZipProject(bytes, { parent }), (err: unknown) => {
      assert.ok(err instanceof ZipRefusal, String(err));
      assert.equal(err.code, code, err.message);
      return true;
    });
    assert.deepEqual(readdirSync(parent), []);
  }
  const refused = (entries: ZipEntrySpec[], code: string, opts: ZipBuildOptions = {}) => refusedBytes(buildZip(entries, opts), code);
  const sameEverywhere = (bytes: Buffer) => {
    const ours = readZipProject(bytes).files.map((f) => [f.path, f.data.toString('base64')]).sort();
    const [py] = pythonRead([bytes]);
    assert.ok(py.ok, py.error);
    assert.deepEqual(py.files!.map((f) => [f.name, f.data]).sort(), ours);
    assert.deepEqual(streamRead(bytes)!.map((f) => [f.name, f.data]).sort(), ours);
  };

  describe('ZIP64', () => {
    it('a ZIP64 end record and locator before the end record are refused', async () => {
      const l = buildZipLayout([T]);
      const z64 = Buffer.alloc(56);
      z64.writeUInt32LE(0x06064b50, 0);
      z64.writeBigUInt64LE(44n, 4);
      z64.writeBigUInt64LE(1n, 24); z64.writeBigUInt64LE(1n, 32);
      z64.writeBigUInt64LE(BigInt(l.endOffset - l.cdOffset), 40); z64.writeBigUInt64LE(BigInt(l.cdOffset), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0); loc.writeBigUInt64LE(BigInt(l.endOffset), 8); loc.writeUInt32LE(1, 16);
      await refused([T], 'unsupported', { beforeEnd: Buffer.concat([z64, loc]) });
      await refused([T], 'unsupported', { beforeEnd: Buffer.concat([z64, loc]), cdOffset: 0xffffffff, cdSize: 0xffffffff, entries: 0xffff });
    });
    it('ZIP64 sizes in a central record are refused', () => refused([{ ...T, compressedSize: 0xffffffff, local: { compressedSize: 0xffffffff } }], 'unsupported'));
  });

  describe('data descriptors', () => {
    it('an unsigned descriptor whose CRC-32 equals the descriptor signature is refused (a streaming reader misreads it)', async () => {
      const base = Buffer.from('notes: '.repeat(40));
      const data = Buffer.concat([base, forgeCrc(base, 0x08074b50)]);
      await refused([T, { name: 'notes.txt', data, descriptor: 'nosig' }, { name: 'more.txt', data: 'x' }], 'header-mismatch');
      // the same entry with a signed descriptor is unambiguous
      const ok = buildZip([T, { name: 'notes.txt', data, descriptor: 'sig' }, { name: 'more.txt', data: 'x' }]);
      sameEverywhere(ok);
    });
    it('a descriptor written without flag bit 3 is unaccounted bytes; flag bit 3 without a descriptor is refused', async () => {
      const l = buildZipLayout([{ ...T, descriptor: 'sig' }, { name: 'b.txt', data: 'b' }]);
      const bytes = Buffer.from(l.bytes);
      for (const off of [l.records[0].localOffset + 6, l.records[0].centralOffset + 8]) bytes.writeUInt16LE(0x0800, off);
      // the local header still says 0 for the sizes: refused before the gap is even reached
      await assert.rejects(extractZipProject(bytes, { parent }), (e: unknown) => e instanceof ZipRefusal && ['gap', 'header-mismatch'].includes(e.code));
      const noDescriptor = buildZipLayout([{ ...T, local: { crc: 0, compressedSize: 0, uncompressedSize: 0 } }, { name: 'b.txt', data: 'b' }]);
      const b2 = Buffer.from(noDescriptor.bytes);
      for (const off of [noDescriptor.records[0].localOffset + 6, noDescriptor.records[0].centralOffset + 8]) b2.writeUInt16LE(0x0808, off);
      await refusedBytes(b2, 'header-mismatch');
    });
  });

  describe('records that point elsewhere', () => {
    it('a central record pointing into another entry\'s data (backwards) is refused', async () => {
      const inner = buildZip([{ name: 'evil.py', data: 'X = 1\n', store: true }]).subarray(0, 36); // a local header hidden in a stored entry
      const l = buildZipLayout([T, { name: 'carrier.txt', data: Buffer.concat([Buffer.from('pad'), inner]), store: true }, { name: 'evil.py', data: 'X = 1\n', store: true }]);
      const bytes = Buffer.from(l.bytes);
      bytes.writeUInt32LE(l.records[1].dataOffset + 3, l.records[2].centralOffset + 42);
      await assert.rejects(extractZipProject(bytes, { parent }), (e: unknown) => e instanceof ZipRefusal && ['overlap', 'header-mismatch', 'gap'].includes(e.code));
    });
    it('an entry count of 65,535 is refused before the central directory is read', () => refused([T], 'unsupported', { entries: 0xffff, entriesOnDisk: 0xffff }));
    it('a count above the entry limit is refused as too many files', () => refused([T], 'too-many-files', { entries: 5000, entriesOnDisk: 5000 }));
  });

  describe('names', () => {
    it('twins by separator, invisible code points and unusual spellings are refused', async () => {
      await refused([T, { name: 'pkg/a.py', data: 'A = 1\n' }, { name: 'pkg\\a.py', data: 'A = 2\n' }], 'bad-name');
      for (const ch of ['\ufe0f', '\u034f', '\u3164', '\u180b', '\u115f']) await refused([T, { name: `a${ch}.py`, data: 'A = 1\n' }], 'bad-name');
      for (const n of ['a\u0000.py', '', 'a//b.py', 'a/./b.py']) await refused([T, { name: n, data: 'A = 1\n' }], 'bad-name');
      for (const n of ['/', '//srv/x.py', 'c:x.py']) await refused([T, { name: n, data: 'A = 1\n' }], 'absolute-path');
      for (const n of ['a/b/..', 'a/../../x.py']) await refused([T, { name: n, data: 'A = 1\n' }], 'path-traversal');
    });
    it('a Python file whose extension is not spelled .py is refused (an auditor on a case-insensitive filesystem imports it)', async () => {
      for (const n of ['helpers.PY', 'pkg/util.Py', 'helpers.pY']) await refused([T, { name: n, data: 'A = 1\n' }], 'file-type');
      sameEverywhere(buildZip([T, { name: 'README.MD', data: '# hi' }]));
    });
    it('a Unicode-path extra field only in the local header is refused', async () => {
      const name = Buffer.from('other.py');
      const up = Buffer.alloc(9 + name.length);
      up.writeUInt16LE(0x7075, 0); up.writeUInt16LE(5 + name.length, 2); up[4] = 1; name.copy(up, 9);
      await refused([{ ...T, localExtra: up }], 'bad-name');
    });
  });

  describe('one reading', () => {
    it('archives CPython opens but another reader would read differently are refused (prefix, suffix, hidden local record)', async () => {
      const cases: Array<[Buffer, string]> = [
        [buildZip([T], { prefix: Buffer.from('MZ\x90\x00 a self-extractor stub '.repeat(4)), keepOffsets: true }), 'gap'],
        [buildZip([T], { suffix: Buffer.from('appended') }), 'trailing-data'],
        [buildZip([T, { name: 'hidden.py', data: 'import os\n', hidden: true }]), 'gap'],
      ];
      const py = pythonRead(cases.map(([b]) => b));
      for (const [i, [bytes, code]] of cases.entries()) {
        assert.ok(py[i].ok, `CPython should open case ${i}: ${py[i].error}`);
        await refusedBytes(bytes, code);
      }
    });
    it('local extra fields that differ from the central ones but name nothing are accepted and read the same everywhere', () => {
      const ts = Buffer.alloc(9); ts.writeUInt16LE(0x5455, 0); ts.writeUInt16LE(5, 2); ts[4] = 1; ts.writeUInt32LE(1_700_000_000, 5);
      const align = Buffer.alloc(8); align.writeUInt16LE(0xd935, 0); align.writeUInt16LE(4, 2);
      sameEverywhere(buildZip([{ ...T, localExtra: Buffer.concat([ts, align]), extra: ts.subarray(0, 9) }, { name: 'b.txt', data: 'b', descriptor: 'sig' }]));
    });
    it('a directory Python writes as an empty deflate stream is a directory; one that inflates to bytes is refused', async () => {
      sameEverywhere(buildZip([T, { name: 'pkg/', method: 8, body: Buffer.from([3, 0]) }, { name: 'pkg/a.py', data: 'A = 1\n' }]));
      await refused([T, { name: 'pkg/', method: 8, body: Buffer.from([0x4b, 0x04, 0x00]), uncompressedSize: 0 }], 'size-mismatch');
    });
  });
});
