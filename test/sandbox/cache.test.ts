// Pure / filesystem parts of the bounded caches and the result channel parser. (The capture sketch is the
// worker's: its properties are tested in the image, test/sandbox/sandbox.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeCacheEntry, pruneCacheDir, treeBytes } from '../../runtime/cache-prune.ts';
import { ResultChannel, safeRelativePath } from '../../runtime/evaluate-channel.ts';

function frame(msg: Record<string, unknown>, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.from(JSON.stringify(msg));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(head.length, 0); len.writeUInt32LE(payload.length, 4);
  return Buffer.concat([len, head, payload]);
}

describe('bounded on-disk caches (LRU by mtime)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'conclave-prune-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (name: string, ageSec: number, bytes = 10) => {
    mkdirSync(join(dir, name, 'sub'), { recursive: true });
    writeFileSync(join(dir, name, 'sub', 'f'), Buffer.alloc(bytes));
    const t = new Date(Date.now() - ageSec * 1000);
    utimesSync(join(dir, name), t, t);
  };

  it('keeps the most recently used entries up to maxEntries and removes the rest', () => {
    for (let i = 0; i < 5; i++) entry(`e${i}`, 100 * (i + 1)); // e0 newest
    mkdirSync(join(dir, '.in-progress'));
    const r = pruneCacheDir(dir, { maxEntries: 3 });
    assert.deepEqual(r.kept, ['e0', 'e1', 'e2']);
    assert.deepEqual(r.removed.sort(), ['e3', 'e4']);
    assert.deepEqual(readdirSync(dir).sort(), ['.in-progress', 'e0', 'e1', 'e2']);
  });

  it('bounds total bytes and never removes the entry just written', () => {
    entry('old', 500, 4000); entry('mid', 300, 4000); entry('new', 100, 4000);
    const r = pruneCacheDir(dir, { maxEntries: 10, maxBytes: 9000 }, 'old');
    assert.equal(r.kept[0], 'old');
    assert.deepEqual(r.kept, ['old', 'new']);
    assert.deepEqual(r.removed, ['mid']);
    assert.equal(treeBytes(dir), 8000);
    assert.deepEqual(pruneCacheDir(join(dir, 'missing'), { maxEntries: 1 }), { kept: [], removed: [], bytes: 0 });
  });

  it('placing an entry another process placed first keeps theirs and does not fail; other errors still throw', () => {
    entry('key', 0); writeFileSync(join(dir, 'key', 'sub', 'f'), 'theirs');
    mkdirSync(join(dir, '.ours', 'sub'), { recursive: true }); writeFileSync(join(dir, '.ours', 'sub', 'f'), 'ours');
    placeCacheEntry(join(dir, '.ours'), join(dir, 'key'));
    assert.equal(readFileSync(join(dir, 'key', 'sub', 'f'), 'utf8'), 'theirs');
    placeCacheEntry(join(dir, '.ours'), join(dir, 'fresh'));
    assert.equal(readFileSync(join(dir, 'fresh', 'sub', 'f'), 'utf8'), 'ours');
    assert.equal(existsSync(join(dir, '.ours')), false);
    assert.throws(() => placeCacheEntry(join(dir, 'no-such-entry'), join(dir, 'other')), /ENOENT/);
  });
});

describe('result channel (miner stdout framing)', () => {
  const limits = { maxTotalBytes: 1 << 20, stdoutCapBytes: 10, cacheMaxBytes: 100, cacheMaxFiles: 2 };

  it('parses frames split at any byte, caps stdout and the cache', () => {
    const ch = new ResultChannel(limits);
    const bytes = Buffer.concat([
      frame({ t: 'hello', v: 2 }), frame({ t: 'cache-file', path: 'inductor/a.py', mode: 0o777 }, Buffer.alloc(60)), frame({ t: 'stdout' }, Buffer.from('hello world!')),
      frame({ t: 'result' }, Buffer.from('{"x":1}')), frame({ t: 'captures' }, Buffer.from('CCAP')),
      frame({ t: 'cache-file', path: '../escape', mode: 0o644 }, Buffer.alloc(1)),
      frame({ t: 'cache-file', path: 'b', mode: 0o644 }, Buffer.alloc(60)), // over cacheMaxBytes
      frame({ t: 'end' }),
    ]);
    for (let i = 0; i < bytes.length; i += 3) ch.write(bytes.subarray(i, i + 3));
    assert.equal(ch.error, null);
    assert.equal(ch.stdout, 'hello worl');
    assert.equal(ch.stdoutTruncated, true);
    assert.equal(ch.result!.toString(), '{"x":1}');
    assert.deepEqual(ch.cacheFiles.map((f) => [f.path, f.mode, f.data.length]), [['inductor/a.py', 0o755, 60]]);
    assert.equal(ch.cacheDropped, 2);
    assert.equal(ch.ended, true);
  });

  it('refuses a stream without hello, frames after end, and a stream past its byte cap', () => {
    const a = new ResultChannel(limits);
    a.write(frame({ t: 'result' }, Buffer.from('{}')));
    assert.match(a.error!, /hello/);
    const b = new ResultChannel(limits);
    b.write(Buffer.concat([frame({ t: 'hello', v: 1 }), frame({ t: 'end' }), frame({ t: 'result' })]));
    assert.match(b.error!, /after the end/);
    const c = new ResultChannel({ ...limits, maxTotalBytes: 100 });
    c.write(Buffer.concat([frame({ t: 'hello', v: 1 }), frame({ t: 'captures' }, Buffer.alloc(200))]));
    assert.match(c.error!, /cap of 100 bytes/);
    assert.equal(c.captures, null);
    const d = new ResultChannel(limits);
    d.write(Buffer.concat([frame({ t: 'hello', v: 2 }), frame({ t: 'need-seed' })]));
    assert.match(d.error!, /unknown frame "need-seed"/);
  });

  it('accepts only plain relative cache paths', () => {
    for (const ok of ['a', 'inductor/x/y.py', 'triton/ABC_d-1.json']) assert.ok(safeRelativePath(ok), ok);
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a/b c', 'x'.repeat(600)]) assert.ok(!safeRelativePath(bad), bad);
  });
});
