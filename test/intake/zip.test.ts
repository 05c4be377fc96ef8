// ZIP projects: one reading of the bytes. Real archives (our writer for hostile forms, CPython's
// zipfile for benign ones) through the real reader and a real extraction; every refusal has its code
// and leaves nothing behind; what is accepted reads the same in CPython's zipfile and a streaming reader.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { extractZipProject, readZipProject, ZipRefusal } from '../../runtime/zip.ts';
import { IntakeFault } from '../../runtime/intake-fault.ts';
import { reviewProject } from '../../runtime/review-project.ts';
import { buildZip, buildZipLayout } from './zip-writer.ts';
import type { ZipBuildOptions, ZipEntrySpec } from './zip-writer.ts';
import { pythonRead, streamRead } from './zip-oracle.ts';

const here = dirname(fileURLToPath(import.meta.url));
const TRAIN = readFileSync(join(here, 'legit', '01_baseline.py'), 'utf8')
  .replace('import torch.nn.functional as F\n', 'import torch.nn.functional as F\nfrom helpers import count_tokens\n');
const HELPERS = 'def count_tokens(batch):\n    return batch.numel()\n';
const T: ZipEntrySpec = { name: 'train.py', data: TRAIN };

function pyZip(script: string): Buffer {
  const r = spawnSync('python3', ['-I', '-c', `import io, sys, zipfile\nb = io.BytesIO()\n${script}\nsys.stdout.buffer.write(b.getvalue())`], { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
}

describe('intake: ZIP projects', function () {
  this.timeout(30_000);
  let parent: string;
  beforeEach(() => { parent = mkdtempSync(join(tmpdir(), 'conclave-ziptest-')); });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  async function refusedBytes(bytes: Buffer, code: string, limits = {}) {
    await assert.rejects(extractZipProject(bytes, { parent, limits }), (err: unknown) => {
      assert.ok(err instanceof ZipRefusal, String(err));
      assert.equal(err.code, code, err.message);
      return true;
    });
    assert.deepEqual(readdirSync(parent), [], 'nothing is left behind after a refusal');
  }
  const refused = (entries: ZipEntrySpec[], code: string, limits = {}, opts: ZipBuildOptions = {}) => refusedBytes(buildZip(entries, opts), code, limits);

  async function accepted(bytes: Buffer, want: Record<string, string | Buffer>) {
    const p = await extractZipProject(bytes, { parent });
    assert.deepEqual(p.files.map((f) => f.path).sort(), Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) assert.deepEqual(readFileSync(join(p.dir, ...k.split('/'))), Buffer.from(v));
    // one reading: CPython's zipfile and a streaming reader see exactly these files and bytes
    const [py] = pythonRead([bytes]);
    assert.ok(py.ok, py.error);
    assert.deepEqual(py.files!.map((f) => [f.name, f.data]).sort(), Object.entries(want).map(([k, v]) => [k, Buffer.from(v).toString('base64')]).sort());
    assert.deepEqual(streamRead(bytes)!.map((f) => [f.name, f.data]).sort(), Object.entries(want).map(([k, v]) => [k, Buffer.from(v).toString('base64')]).sort());
    return p;
  }

  describe('accepted', () => {
    it('extracts a valid project into a fresh directory and reviews every .py file', async () => {
      const p = await accepted(buildZip([
        T, { name: 'helpers.py', data: HELPERS }, { name: 'README.md', data: '# hi' },
        { name: 'pkg/', mode: 0o040755 }, { name: 'pkg/util.py', data: 'X = 1\n' },
      ]), { 'train.py': TRAIN, 'helpers.py': HELPERS, 'README.md': '# hi', 'pkg/util.py': 'X = 1\n' });
      assert.ok(p.dir.startsWith(parent));
      const r = await reviewProject(p, { engine: 'host' });
      assert.equal(r.verdict, 'accept', JSON.stringify(r.findings));
      assert.ok(r.fingerprint && r.fingerprint.tokens.length > 0);
    });

    it("an archive from Python's zipfile.writestr (mode 0o600 without a file type) is a regular file", async () => {
      const bytes = pyZip(`z = zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED)\nz.writestr("train.py", ${JSON.stringify(TRAIN)})\nz.writestr("helpers.py", ${JSON.stringify(HELPERS)})\nz.writestr("pkg/", "")\nz.writestr("pkg/x.py", "X = 2\\n")\nz.close()`);
      await accepted(bytes, { 'train.py': TRAIN, 'helpers.py': HELPERS, 'pkg/x.py': 'X = 2\n' });
    });

    it("an archive from Python's zipfile.write (real files, stored and deflated) is accepted", async () => {
      const src = mkdtempSync(join(tmpdir(), 'conclave-zipsrc-'));
      try {
        writeFileSync(join(src, 'train.py'), TRAIN);
        writeFileSync(join(src, 'helpers.py'), HELPERS);
        const bytes = pyZip(`z = zipfile.ZipFile(b, "w")\nz.write(${JSON.stringify(join(src, 'train.py'))}, "train.py", zipfile.ZIP_DEFLATED)\nz.write(${JSON.stringify(join(src, 'helpers.py'))}, "helpers.py", zipfile.ZIP_STORED)\nz.close()`);
        await accepted(bytes, { 'train.py': TRAIN, 'helpers.py': HELPERS });
      } finally {
        rmSync(src, { recursive: true, force: true });
      }
    });

    it('data descriptors (with and without signature) that agree with the central directory are accepted', async () => {
      await accepted(buildZip([{ ...T, descriptor: 'sig' }, { name: 'helpers.py', data: HELPERS, descriptor: 'nosig' }]), { 'train.py': TRAIN, 'helpers.py': HELPERS });
    });

    it('a symlink-free archive made on MS-DOS/Windows (no Unix mode) is accepted', async () => {
      await accepted(buildZip([{ ...T, madeBy: 20, externalAttributes: 0x20 }, { name: 'pkg/', madeBy: 20, externalAttributes: 0x10 }, { name: 'pkg/a.py', data: 'A = 1\n', madeBy: 20, externalAttributes: 0 }]), { 'train.py': TRAIN, 'pkg/a.py': 'A = 1\n' });
    });

    it('non-ASCII NFC names with the UTF-8 flag are accepted; a module inside a package may be named like the stdlib', async () => {
      await accepted(buildZip([T, { name: 'données/math.py', data: 'X = 1\n' }]), { 'train.py': TRAIN, 'données/math.py': 'X = 1\n' });
    });

    it('an archive comment without record signatures is fine', async () => {
      await accepted(buildZip([T], { comment: Buffer.from('made by hand') }), { 'train.py': TRAIN });
    });
  });

  describe('one reading of the structure', () => {
    it('bytes before the first record (polyglot / self-extractor) are refused', async () => {
      await refused([T], 'prefix', {}, { prefix: Buffer.from('#!/bin/sh\nexit 0\n') });
      await refused([T], 'gap', {}, { prefix: Buffer.from('#!/bin/sh\nexit 0\n'), keepOffsets: true });
    });
    it('bytes after the end record are refused', () => refused([T], 'trailing-data', {}, { suffix: Buffer.from('tail') }));
    it('two archives concatenated are refused', async () => {
      const a = buildZip([{ name: 'train.py', data: 'print(1)\n' }]);
      const b = buildZipLayout([T], { prefix: a });
      await refusedBytes(b.bytes, 'prefix');
      await refusedBytes(Buffer.concat([buildZip([T]), a]), 'gap');
    });
    it('an end record hidden in the archive comment is refused', async () => {
      const inner = Buffer.alloc(22);
      inner.writeUInt32LE(0x06054b50, 0);
      await refused([T], 'end-record', {}, { comment: inner });
      await refused([T], 'end-record', {}, { comment: Buffer.from('xxPK\x01\x02yy', 'latin1') });
    });
    it('a comment length that does not reach the end of the file is refused', async () => {
      await refused([T], 'trailing-data', {}, { comment: Buffer.from('abcdef'), commentLength: 2 });
      await refused([T], 'end-record', {}, { comment: Buffer.from('ab'), commentLength: 6 });
    });
    it('an entry count that hides an entry is refused', async () => {
      const two = [T, { name: 'helpers.py', data: HELPERS }];
      await refused(two, 'count-mismatch', {}, { entries: 1 });
      await refused(two, 'count-mismatch', {}, { entries: 3 });
      await refused(two, 'count-mismatch', {}, { entriesOnDisk: 1 });
    });
    it('central directory size or offset that leave a gap or overlap are refused', async () => {
      const two = [T, { name: 'helpers.py', data: HELPERS }];
      await refused(two, 'gap', {}, { beforeEnd: Buffer.alloc(8) });
      const l = buildZipLayout(two);
      await refused(two, 'gap', {}, { cdSize: l.endOffset - l.cdOffset - 10 });
      await refused(two, 'overlap', {}, { cdSize: l.endOffset - l.cdOffset + 10 });
    });
    it('a local record missing from the central directory (hidden entry) is refused', async () => {
      await refused([T, { name: 'evil.py', data: 'import os\n', hidden: true }, { name: 'helpers.py', data: HELPERS }], 'gap');
      await refused([T, { name: 'evil.py', data: 'import os\n', hidden: true }], 'gap');
    });
    it('padding between records is refused', () => refused([{ ...T, after: Buffer.alloc(16) }, { name: 'helpers.py', data: HELPERS }], 'gap'));
    it('two central records pointing at one local header are refused', () =>
      refused([T, { name: 'helpers.py', data: HELPERS }], 'overlap', {}, { aliasOffsets: [[1, 0]] }));
    it('a compressed size that swallows the next record (padding entry, shared deflate stream) is refused', async () => {
      const l = buildZipLayout([T, { name: 'pad.txt', data: 'x'.repeat(3000), store: true }]);
      const swallow = l.records[1].dataOffset + l.records[1].dataLength - l.records[0].dataOffset;
      await refused([{ ...T, compressedSize: swallow, local: { compressedSize: swallow } }, { name: 'pad.txt', data: 'x'.repeat(3000), store: true }], 'overlap');
    });
    it('a local header that disagrees with the central directory is refused (name, sizes, method, flags, CRC, time)', async () => {
      await refused([{ ...T, local: { name: 'trains.py' } }], 'header-mismatch');
      await refused([{ ...T, local: { name: 'other.py' } }], 'header-mismatch');
      await refused([T, { name: 'helpers.py', data: HELPERS, local: { uncompressedSize: 5 } }], 'header-mismatch');
      await refused([T, { name: 'helpers.py', data: HELPERS, local: { method: 0 } }], 'header-mismatch');
      await refused([T, { name: 'helpers.py', data: HELPERS, local: { flags: 0x0808 } }], 'header-mismatch');
      await refused([T, { name: 'helpers.py', data: HELPERS, local: { crc: 1 } }], 'header-mismatch');
      await refused([T, { name: 'helpers.py', data: HELPERS, local: { time: 1 } }], 'header-mismatch');
    });
    it('a data descriptor that disagrees with the central directory is refused', async () => {
      const l = buildZipLayout([{ ...T, descriptor: 'sig' }, { name: 'helpers.py', data: HELPERS }]);
      const bytes = Buffer.from(l.bytes);
      const d = l.records[0].dataOffset + l.records[0].dataLength;
      bytes.writeUInt32LE(bytes.readUInt32LE(d + 12) + 1, d + 12);
      await refusedBytes(bytes, 'header-mismatch');
    });
    it('a stored entry with a data descriptor is refused (a streaming reader cannot find its end)', () => refused([{ ...T, store: true, descriptor: 'sig' }], 'unsupported'));
    it('CRC-32 is verified (a corrupted train.py is refused)', async () => {
      const l = buildZipLayout([{ ...T, store: true }]);
      const bytes = Buffer.from(l.bytes);
      bytes[l.records[0].dataOffset + 10] ^= 0x20;
      await refusedBytes(bytes, 'crc-mismatch');
      const d = buildZipLayout([T]);
      const b2 = Buffer.from(d.bytes);
      b2[d.records[0].dataOffset + 40] ^= 0x01;
      await assert.rejects(extractZipProject(b2, { parent }), (e: unknown) => e instanceof ZipRefusal && ['crc-mismatch', 'corrupt', 'size-mismatch'].includes(e.code));
    });
    it('a declared size that differs from the inflated bytes is refused', async () => {
      await refused([T, { name: 'liar.txt', data: Buffer.alloc(20_000, 'b'), uncompressedSize: 100 }], 'size-mismatch');
      await refused([T, { name: 'liar.txt', data: 'short', uncompressedSize: 100 }], 'size-mismatch');
    });
    it('bytes after the end of a deflate stream inside an entry are refused', async () => {
      const body = Buffer.concat([deflateRawSync(Buffer.from(HELPERS)), Buffer.from('hidden')]);
      await refused([T, { name: 'helpers.py', data: HELPERS, body }], 'size-mismatch');
    });
    it('ZIP64, multi-disk, encryption, unknown methods and flags are refused', async () => {
      const z64 = Buffer.alloc(20); z64.writeUInt16LE(1, 0); z64.writeUInt16LE(16, 2);
      await refused([{ ...T, extra: z64 }], 'unsupported');
      await refused([{ ...T, localExtra: z64 }], 'unsupported');
      await refused([{ ...T, flags: 0x0801 }], 'encrypted');
      await refused([{ ...T, method: 12 }], 'unsupported');
      await refused([{ ...T, flags: 0x0820 }], 'unsupported');
      await refused([T], 'unsupported', {}, { entries: 0xffff, entriesOnDisk: 0xffff });
    });
    it('a Unicode-path extra field (a second name) is refused', async () => {
      const name = Buffer.from('other.py');
      const up = Buffer.alloc(4 + 5 + name.length);
      up.writeUInt16LE(0x7075, 0); up.writeUInt16LE(5 + name.length, 2); up[4] = 1; name.copy(up, 9);
      await refused([{ ...T, extra: up }], 'bad-name');
    });
    it('a malformed extra field is refused', () => refused([{ ...T, extra: Buffer.from([1, 2, 3]) }], 'corrupt'));
    it('garbage and truncated archives are refused as verdicts', async () => {
      await refusedBytes(Buffer.from('PK\x03\x04 not really a zip'), 'end-record');
      const good = buildZip([T]);
      for (const cut of [1, 10, 22, 40, good.length - 30]) {
        await assert.rejects(extractZipProject(good.subarray(0, good.length - cut), { parent }), (e: unknown) => e instanceof ZipRefusal);
      }
      assert.deepEqual(readdirSync(parent), []);
    });
  });

  describe('entries', () => {
    it('zip slip: ../ is refused', () => refused([T, { name: '../evil.py', data: 'x' }], 'path-traversal'));
    it('zip slip: nested a/../../ is refused', () => refused([T, { name: 'a/../../evil.py', data: 'x' }], 'path-traversal'));
    it('absolute paths are refused', () => refused([{ name: '/etc/cron.d/x.py', data: 'x' }, T], 'absolute-path'));
    it('Windows drive paths are refused', () => refused([{ name: 'C:/x.py', data: 'x' }, T], 'absolute-path'));
    it('backslash names are refused', () => refused([{ name: '..\\evil.py', data: 'x' }, T], 'bad-name'));
    it('symlinks are refused', () => refused([T, { name: 'link.py', data: '/etc/passwd', mode: 0o120777 }], 'symlink'));
    it('a symlink mode is a symlink whatever the "made by" host byte says', async () => {
      for (const madeBy of [0, 10, 11, 19, 20, (19 << 8) | 20]) await refused([T, { name: 'link.py', data: '/etc/passwd', mode: 0o120777, madeBy }], 'symlink');
      await refused([T, { name: 'link.py', data: '/etc/passwd', externalAttributes: 0x400 | 0x20, madeBy: 10 }], 'symlink');
    });
    it('device files and FIFOs are refused', async () => {
      await refused([T, { name: 'dev.py', data: '', mode: 0o020644 }], 'special-file');
      await refused([T, { name: 'fifo.py', data: '', mode: 0o010644 }], 'special-file');
      await refused([T, { name: 'sock.py', data: '', mode: 0o140644, madeBy: 0 }], 'special-file');
    });
    it('a directory mode on a file name, or a file mode on a directory name, is refused', async () => {
      await refused([T, { name: 'pkg', mode: 0o040755 }], 'special-file');
      await refused([T, { name: 'pkg/', mode: 0o100644 }], 'special-file');
      await refused([T, { name: 'pkg', externalAttributes: 0x10, madeBy: 0 }], 'special-file');
      await refused([T, { name: 'pkg/', data: 'data' }], 'special-file');
    });
    it('types outside the allow-list are refused', () => refused([T, { name: 'ext.so', data: 'ELF' }], 'file-type'));
    it('too many files are refused', () => refused([T, ...Array.from({ length: 5 }, (_, i) => ({ name: `m${i}.py`, data: 'x = 1\n' }))], 'too-many-files', { maxFiles: 4 }));
    it('too many central records are refused before reading them', () => refused([T, ...Array.from({ length: 8 }, (_, i) => ({ name: `d${i}/` }))], 'too-many-files', { maxEntries: 4 }));
    it('zip bombs (ratio of the bytes actually inflated) are refused', async () => {
      await refused([T, { name: 'bomb.txt', data: Buffer.alloc(900 * 1024) }], 'compression-ratio');
      // a 1000:1 entry whose declared compressed size also covers a padding entry is an overlap, not a pass
      const bomb = deflateRawSync(Buffer.alloc(500 * 1024), { level: 9 });
      await refused([T, { name: 'bomb.txt', data: Buffer.alloc(500 * 1024), body: bomb, compressedSize: bomb.length + 5000, local: { compressedSize: bomb.length + 5000 } }, { name: 'pad.txt', data: 'p'.repeat(4900), store: true }], 'overlap');
    });
    it('the overall ratio counts every file', () =>
      refused([T, ...Array.from({ length: 10 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.alloc(900, i) }))], 'compression-ratio', { maxRatio: 10 }));
    it('too many unpacked bytes are refused', () => refused([T, { name: 'big.txt', data: Buffer.alloc(64 * 1024, 'a'), store: true }], 'too-large', { maxTotalBytes: 32 * 1024 }));
    it('a project without train.py is refused', () => refused([{ name: 'main.py', data: TRAIN }], 'no-entrypoint'));
    it('an empty archive is refused', () => refusedBytes(buildZip([]), 'no-entrypoint'));
  });

  describe('names', () => {
    it('name limits count bytes: a 94-character component of 274 bytes is refused as a verdict, not ENAMETOOLONG', async () => {
      const name = 'é'.repeat(90) + '.py'; // 183 bytes: fine
      const long = '日'.repeat(90) + '.py'; // 93 characters, 273 bytes
      assert.ok(Buffer.byteLength(long) > 255 && long.length < 100);
      await refused([T, { name: long, data: 'X = 1\n' }], 'bad-name');
      await refused([T, { name: `pkg/${long}`, data: 'X = 1\n' }], 'bad-name');
      await accepted(buildZip([T, { name, data: 'X = 1\n' }]), { 'train.py': TRAIN, [name]: 'X = 1\n' });
    });
    it('a whole name over the byte limit is refused', () => refused([T, { name: Array.from({ length: 5 }, () => 'd'.repeat(90)).join('/') + '/x.py', data: 'x' }], 'bad-name'));
    it('case-insensitive duplicate names are refused', () => refused([T, { name: 'TRAIN.py', data: TRAIN }], 'duplicate-name'));
    it('the same name twice is refused', () => refused([T, { name: 'helpers.py', data: HELPERS }, { name: 'helpers.py', data: 'X = 1\n' }], 'duplicate-name'));
    it('NFC / NFD twins are refused', () => refused([T, { name: 'caf\u00e9.py', data: 'X = 1\n' }, { name: 'cafe\u0301.py', data: 'X = 2\n' }], 'duplicate-name'));
    it('NFKC twins (fullwidth) are refused', () => refused([T, { name: '\uff54\uff52\uff41\uff49\uff4e.py', data: TRAIN }], 'duplicate-name'));
    it('pkg/ vs PKG/ directories are refused, explicit or implied', async () => {
      await refused([T, { name: 'pkg/' }, { name: 'PKG/' }], 'duplicate-name');
      await refused([T, { name: 'pkg/a.py', data: 'A = 1\n' }, { name: 'PKG/b.py', data: 'B = 1\n' }], 'duplicate-name');
      await refused([T, { name: 'pkg/sub/a.py', data: 'A = 1\n' }, { name: 'pkg/SUB/b.py', data: 'B = 1\n' }], 'duplicate-name');
    });
    it('a path used both as a file and as a directory is refused as a verdict (not an fs error)', async () => {
      await refused([T, { name: 'helpers.py', data: HELPERS }, { name: 'helpers.py/x.py', data: 'X = 1\n' }], 'duplicate-name');
      await refused([T, { name: 'pkg/a.py', data: 'X = 1\n' }, { name: 'PKG', data: 'x' }], 'duplicate-name', { allowedExtensions: ['.py', ''] });
    });
    it('trailing dot or space in a component is refused (Windows twins)', async () => {
      await refused([T, { name: 'helpers.py.', data: HELPERS }], 'bad-name');
      await refused([T, { name: 'helpers.py ', data: HELPERS }], 'bad-name');
      await refused([T, { name: 'pkg./a.py', data: HELPERS }], 'bad-name');
    });
    it('C0/C1 controls, bidi overrides, zero-width and other format characters are refused', async () => {
      for (const ch of ['\u0001', '\u007f', '\u0085', '\u009b', '\u202e', '\u2066', '\u200b', '\u200d', '\ufeff', '\u00ad', '\u2028', '\u00a0', '\u3000', '\ue000']) {
        await refused([T, { name: `a${ch}b.py`, data: 'X = 1\n' }], 'bad-name');
      }
    });
    it('components that normalise (NFKC) to separators, dots or dot-dot are refused', async () => {
      for (const n of ['pkg\uff0fa.py', '\u2025/evil.py', 'a\uff3cb.py', 'x\uff0e/a.py', 'pkg/\uff43\uff4f\uff4e.txt']) {
        await refused([T, { name: n, data: 'X = 1\n' }], 'bad-name');
      }
    });
    it('an entry needing a ZIP version above 6.3 is refused (CPython cannot open the archive)', async () => {
      const l = buildZipLayout([T]);
      const bytes = Buffer.from(l.bytes);
      bytes.writeUInt16LE(64, l.records[0].centralOffset + 6);
      bytes.writeUInt16LE(64, l.records[0].localOffset + 4);
      await refusedBytes(bytes, 'unsupported');
    });
    it('non-ASCII names without the UTF-8 flag, invalid UTF-8 and Windows-reserved names are refused', async () => {
      await refused([T, { name: 'caf\u00e9.py', data: 'X = 1\n', flags: 0 }], 'bad-name');
      await refused([T, { name: Buffer.from([0x61, 0xc3, 0x28, 0x2e, 0x70, 0x79]), data: 'X = 1\n' }], 'bad-name');
      await refused([T, { name: Buffer.from([0x61, 0xc0, 0xaf, 0x2e, 0x70, 0x79]), data: 'X = 1\n' }], 'bad-name');
      for (const n of ['x/a:b.py', 'a*.py', 'con.py', 'pkg/LPT1.txt', 'a|b.py']) await refused([T, { name: n, data: 'X = 1\n' }], 'bad-name');
    });
  });

  describe('shadowing', () => {
    for (const name of ['torch.py', 'numpy/__init__.py', 'numpy/', 'math.py', 'random.py', 'sitecustomize.py', 'usercustomize.py', 'Torch.py', 'json/x.txt', 'typing_extensions.py', 'conclave_eval/__init__.py', 'triton/__init__.py', '__main__.py', '__MAIN__/x.py']) {
      it(`${name} is refused`, () => refused([T, { name, data: name.endsWith('/') ? undefined : 'X = 1\n' }], 'shadowing'));
    }
    it('.pth files are refused anywhere', async () => {
      await refused([T, { name: 'evil.pth', data: 'import os' }], 'shadowing');
      await refused([T, { name: 'pkg/evil.pth', data: 'import os' }], 'shadowing');
    });
  });

  describe('faults are not verdicts', () => {
    it('a parent directory that cannot hold the project is a fault (IntakeFault), not a refusal', async () => {
      const notADir = join(parent, 'file');
      writeFileSync(notADir, 'x');
      await assert.rejects(extractZipProject(buildZip([T]), { parent: notADir }), (e: unknown) => e instanceof IntakeFault && !(e instanceof ZipRefusal));
    });
    it('readZipProject never writes to disk', () => {
      const r = readZipProject(buildZip([T, { name: 'helpers.py', data: HELPERS }]));
      assert.deepEqual(r.files.map((f) => f.path), ['train.py', 'helpers.py']);
      assert.ok(existsSync(parent) && readdirSync(parent).length === 0);
    });
  });
});
