// ZIP project hardening with real archives (built by a minimal writer) and real extraction.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractZipProject, ZipRefusal } from '../../runtime/zip.ts';
import { reviewProject } from '../../runtime/review-project.ts';
import { buildZip } from './zip-writer.ts';
import type { ZipEntrySpec } from './zip-writer.ts';

const here = dirname(fileURLToPath(import.meta.url));
const TRAIN = readFileSync(join(here, 'legit', '01_baseline.py'), 'utf8')
  .replace('import torch.nn.functional as F\n', 'import torch.nn.functional as F\nfrom helpers import count_tokens\n');
const HELPERS = 'def count_tokens(batch):\n    return batch.numel()\n';

describe('intake: ZIP projects', function () {
  this.timeout(30_000);
  let parent: string;
  beforeEach(() => { parent = mkdtempSync(join(tmpdir(), 'conclave-ziptest-')); });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  async function refused(entries: ZipEntrySpec[], code: string, limits = {}) {
    await assert.rejects(extractZipProject(buildZip(entries), { parent, limits }), (err: unknown) => {
      assert.ok(err instanceof ZipRefusal, String(err));
      assert.equal(err.code, code, err.message);
      return true;
    });
    assert.deepEqual(readdirSync(parent), [], 'nothing is left behind after a refusal');
  }

  it('extracts a valid project into a fresh directory and reviews every .py file', async () => {
    const p = await extractZipProject(buildZip([
      { name: 'train.py', data: TRAIN }, { name: 'helpers.py', data: HELPERS }, { name: 'README.md', data: '# hi' },
      { name: 'pkg/', mode: 0o040755 }, { name: 'pkg/util.py', data: 'X = 1\n' },
    ]), { parent });
    assert.ok(p.dir.startsWith(parent));
    assert.deepEqual(p.files.map((f) => f.path).sort(), ['README.md', 'helpers.py', 'pkg/util.py', 'train.py']);
    assert.equal(readFileSync(join(p.dir, 'helpers.py'), 'utf8'), HELPERS);
    const r = await reviewProject(p, { engine: 'host' });
    assert.equal(r.verdict, 'accept', JSON.stringify(r.findings));
    assert.ok(r.fingerprint && r.fingerprint.tokens.length > 0);
  });

  it('rejects the project when a helper file breaks the policy', async () => {
    const p = await extractZipProject(buildZip([{ name: 'train.py', data: TRAIN }, { name: 'helpers.py', data: HELPERS + 'import os\n' }]), { parent });
    const r = await reviewProject(p, { engine: 'host' });
    assert.equal(r.verdict, 'reject');
    assert.ok(r.findings.some((f) => f.rule === 'forbidden-import' && f.message.startsWith('helpers.py:')));
  });

  it('zip slip: ../ is refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: '../evil.py', data: 'x' }], 'path-traversal'));
  it('zip slip: nested a/../../ is refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'a/../../evil.py', data: 'x' }], 'path-traversal'));
  it('absolute paths are refused', () => refused([{ name: '/etc/cron.d/x.py', data: 'x' }, { name: 'train.py', data: TRAIN }], 'absolute-path'));
  it('Windows drive paths are refused', () => refused([{ name: 'C:/x.py', data: 'x' }, { name: 'train.py', data: TRAIN }], 'absolute-path'));
  it('backslash names are refused', () => refused([{ name: '..\\evil.py', data: 'x' }, { name: 'train.py', data: TRAIN }], 'bad-name'));
  it('symlinks are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'link.py', data: '/etc/passwd', mode: 0o120777 }], 'symlink'));
  it('device files are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'dev.py', data: '', mode: 0o020644 }], 'special-file'));
  it('FIFOs are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'fifo.py', data: '', mode: 0o010644 }], 'special-file'));
  it('types outside the allow-list are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'ext.so', data: 'ELF' }], 'file-type'));
  it('too many files are refused', () => refused([{ name: 'train.py', data: TRAIN }, ...Array.from({ length: 5 }, (_, i) => ({ name: `m${i}.py`, data: 'x = 1\n' }))], 'too-many-files', { maxFiles: 4 }));
  it('zip bombs (compression ratio) are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'bomb.txt', data: Buffer.alloc(900 * 1024) }], 'compression-ratio'));
  it('too many unpacked bytes are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'big.txt', data: Buffer.alloc(64 * 1024, 'a'), store: true }], 'too-large', { maxTotalBytes: 32 * 1024 }));
  it('case-insensitive duplicate names are refused', () => refused([{ name: 'train.py', data: TRAIN }, { name: 'TRAIN.py', data: TRAIN }], 'duplicate-name'));
  it('a path used both as a file and as a directory is refused as a verdict (not an fs error)', async () => {
    await refused([{ name: 'train.py', data: TRAIN }, { name: 'helpers.py', data: HELPERS }, { name: 'helpers.py/x.py', data: 'X = 1\n' }], 'duplicate-name');
    await refused([{ name: 'train.py', data: TRAIN }, { name: 'pkg/a.py', data: 'X = 1\n' }, { name: 'PKG', data: 'x' }], 'duplicate-name', { allowedExtensions: ['.py', ''] });
  });
  it('a project without train.py is refused', () => refused([{ name: 'main.py', data: TRAIN }], 'no-entrypoint'));

  it('a header that lies about the size is caught while inflating', async () => {
    const zip = buildZip([{ name: 'train.py', data: TRAIN }, { name: 'liar.txt', data: Buffer.alloc(20_000, 'b') }]);
    // Patch the central directory's uncompressed size of liar.txt down to 100 bytes.
    const cdName = zip.lastIndexOf(Buffer.from('liar.txt'));
    zip.writeUInt32LE(100, cdName - 46 + 24);
    await assert.rejects(extractZipProject(zip, { parent }), (err: unknown) => err instanceof ZipRefusal && ['corrupt', 'too-large'].includes(err.code));
    assert.deepEqual(readdirSync(parent), []);
  });

  it('garbage is refused as corrupt', async () => {
    await assert.rejects(extractZipProject(Buffer.from('PK\x03\x04 not really a zip'), { parent }), (err: unknown) => err instanceof ZipRefusal && err.code === 'corrupt');
    assert.ok(existsSync(parent));
  });
});
