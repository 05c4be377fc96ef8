// Pure / filesystem parts of the bounded caches, the sketch projection and the result channel parser.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeCacheEntry, pruneCacheDir, treeBytes } from '../../runtime/cache-prune.ts';
import { countSketch, sketchCaptures, sketchKey } from '../../runtime/evaluate-sketch.ts';
import { ResultChannel, safeRelativePath } from '../../runtime/evaluate-channel.ts';

function frame(msg: Record<string, unknown>, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.from(JSON.stringify(msg));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(head.length, 0); len.writeUInt32LE(payload.length, 4);
  return Buffer.concat([len, head, payload]);
}

function norm(a: Float32Array): number { let s = 0; for (const v of a) s += v * v; return Math.sqrt(s); }

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

describe('sketch projection (CountSketch)', () => {
  const x = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 0.37) + (i % 7) * 0.01);

  it('is linear, so scaling a tensor scales its sketch exactly', () => {
    const s = countSketch(x, 'aa'.repeat(16), 'w', 256);
    const half = countSketch(x.map((v) => v * 0.5), 'aa'.repeat(16), 'w', 256);
    assert.equal(s.length, 256);
    for (let i = 0; i < s.length; i++) assert.ok(Math.abs(half[i] - 0.5 * s[i]) <= 1e-6 * Math.abs(s[i]) + 1e-7);
  });

  it('roughly preserves norms, and depends on the seed and the tensor key', () => {
    const a = countSketch(x, '01'.repeat(16), 'w', 512);
    const ratio = norm(a) / norm(x);
    assert.ok(ratio > 0.8 && ratio < 1.2, `norm ratio ${ratio}`);
    assert.notDeepEqual(a, countSketch(x, '02'.repeat(16), 'w', 512));
    assert.notDeepEqual(a, countSketch(x, '01'.repeat(16), 'v', 512));
    assert.equal(countSketch(x.subarray(0, 10), '01'.repeat(16), 'w', 512).length, 10);
  });

  it('maps capture names to their projection key and sketches a reference map', () => {
    assert.equal(sketchKey('init/blocks.0.qkv.weight'), 'blocks.0.qkv.weight');
    assert.equal(sketchKey('rep2/grad/head.weight'), 'head.weight');
    assert.equal(sketchKey('rep0/weight/pos'), 'pos');
    assert.equal(sketchKey('rep0/logits'), 'logits');
    assert.equal(sketchKey('other'), null);
    const m = sketchCaptures(new Map([['init/w', { shape: [5000], data: x }], ['junk', { shape: [1], data: new Float32Array(1) }]]), 'ab'.repeat(16), 64);
    assert.deepEqual([...m.keys()], ['init/w']);
    assert.deepEqual(m.get('init/w')!.shape, [64]);
  });
});

describe('result channel (miner stdout framing)', () => {
  const limits = { maxTotalBytes: 1 << 20, stdoutCapBytes: 10, cacheMaxBytes: 100, cacheMaxFiles: 2 };

  it('parses frames split at any byte, caps stdout and the cache, and asks for the seed once', () => {
    const ch = new ResultChannel(limits);
    let asked = 0;
    ch.onNeedSeed = () => { asked++; };
    const bytes = Buffer.concat([
      frame({ t: 'hello', v: 1 }), frame({ t: 'stdout' }, Buffer.from('hello world!')), frame({ t: 'need-seed' }), frame({ t: 'need-seed' }),
      frame({ t: 'result' }, Buffer.from('{"x":1}')), frame({ t: 'captures' }, Buffer.from('CCAP')),
      frame({ t: 'cache-file', path: 'inductor/a.py', mode: 0o777 }, Buffer.alloc(60)),
      frame({ t: 'cache-file', path: '../escape', mode: 0o644 }, Buffer.alloc(1)),
      frame({ t: 'cache-file', path: 'b', mode: 0o644 }, Buffer.alloc(60)), // over cacheMaxBytes
      frame({ t: 'end' }),
    ]);
    for (let i = 0; i < bytes.length; i += 3) ch.write(bytes.subarray(i, i + 3));
    assert.equal(ch.error, null);
    assert.equal(asked, 1);
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
  });

  it('accepts only plain relative cache paths', () => {
    for (const ok of ['a', 'inductor/x/y.py', 'triton/ABC_d-1.json']) assert.ok(safeRelativePath(ok), ok);
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', './a', 'a/b c', 'x'.repeat(600)]) assert.ok(!safeRelativePath(bad), bad);
  });
});
