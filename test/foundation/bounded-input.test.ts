import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readBoundedFile } from '../../node/bounded/file.ts';
import { InputError } from '../../node/bounded/input-error.ts';
import { JsonScanner, parseJsonBounded } from '../../node/bounded/json.ts';
import { jsonFileItems } from '../../node/bounded/json-stream.ts';
import { fetchJsonBounded } from '../../node/bounded/http.ts';
import { clip } from '../../proto/clip.ts';

import { RSS_LIMIT_KB, runCli } from '../fixtures/foundation/run-cli.ts';

describe('foundation: bounded decoding of files and peer bytes', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'conclave-bounded-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  describe('JSON limits scan', () => {
    it('refuses deep nesting in one pass, naming where, instead of overflowing the stack', () => {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      assert.throws(() => parseJsonBounded(deep, 'x.json'), (e: Error) => e instanceof InputError && /^x\.json: \$(\[0\]){32}: nested deeper than 32 levels$/.test(e.message));
      const deepObj = '{"a":'.repeat(50) + '1' + '}'.repeat(50);
      assert.throws(() => parseJsonBounded(deepObj, 'y', { maxDepth: 8 }), /y: \$(\.a){8}: nested deeper than 8 levels$/);
    });

    it('refuses an over-long string, key or literal, naming the field and quoting at most a few dozen characters', () => {
      const big = 'x'.repeat(5_000_000);
      const doc = JSON.stringify({ report: { entries: [{ uid: 1 }, { minerHotkey: big }] } });
      assert.throws(() => parseJsonBounded(doc, 'r.json', { maxStringChars: 1024 }), (e: Error) => {
        assert.match(e.message, /^r\.json: \$\.report\.entries\[1\]\.minerHotkey: a string longer than 1024 characters \("x{40}"…/);
        assert.ok(e.message.length < 200, `message of ${e.message.length} chars`);
        return true;
      });
      assert.throws(() => parseJsonBounded(`{"${big}":1}`, 'k', { maxStringChars: 100 }), /k: \$: a key longer than 100 characters/);
      assert.throws(() => parseJsonBounded(`[${'9'.repeat(100_000)}]`, 'n', { maxStringChars: 100 }), /n: \$\[0\]: a literal longer than 100 characters/);
      assert.throws(() => parseJsonBounded('{"a b":["\\"",' + JSON.stringify(big) + ']}', 'q', { maxStringChars: 10 }), /q: \$\["a b"\]\[1\]: a string longer/);
    });

    it('refuses too many values before building them', () => {
      const arr = '[' + Array(200_001).fill('0').join(',') + ']';
      assert.throws(() => parseJsonBounded(arr, 'a', { maxValues: 200_000 }), /a: \$\[199999\]: more than 200000 values$/);
      assert.throws(() => parseJsonBounded('[1] 2', 't'), /unexpected data after the top-level value/);
      assert.throws(() => parseJsonBounded('{"a": tru', 's'), (e: Error) => e instanceof InputError && /^s is not valid JSON/.test(e.message));
    });

    it('accepts every JSON value within the limits and parses it like JSON.parse (property)', () => {
      fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (v, pretty) => {
        const text = JSON.stringify(v, null, pretty ? 2 : undefined) ?? 'null';
        assert.deepEqual(parseJsonBounded(text, 'p'), JSON.parse(text));
      }), { numRuns: 300 });
    });

    it('splits a top-level array into the same items as JSON.parse, across any chunking (property)', () => {
      fc.assert(fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 20 }), fc.integer({ min: 1, max: 40 }), (items, step) => {
        const text = JSON.stringify(items);
        const s = new JsonScanner('p', {}, { splitItems: true });
        const out: string[] = [];
        let cur = '';
        let inItem = false;
        for (let i = 0; i < text.length; i += step) {
          const chunk = text.slice(i, i + step);
          let from = 0;
          for (const ev of s.feed(chunk)) {
            if (ev.type === 'start') { inItem = true; from = ev.at; } else { cur += chunk.slice(from, ev.at); out.push(cur); cur = ''; inItem = false; }
          }
          if (inItem) cur += chunk.slice(from);
        }
        assert.deepEqual(out.map((x) => JSON.parse(x)), JSON.parse(text));
      }), { numRuns: 300 });
    });

    it('item by item (stopAfterItem, the streaming reader\'s way) gives the same items, escapes and quotes included (property)', () => {
      fc.assert(fc.property(fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (items, step) => {
        const text = JSON.stringify(items);
        const s = new JsonScanner('p', {}, { splitItems: true });
        const out: string[] = [];
        let cur = '';
        let inItem = false;
        for (let i = 0; i < text.length; i += step) {
          const chunk = text.slice(i, i + step);
          let from = 0;
          let pos = 0;
          while (pos < chunk.length) {
            const { events, next } = s.scan(chunk, pos, true);
            for (const ev of events) {
              if (ev.type === 'start') { inItem = true; from = ev.at; } else { cur += chunk.slice(from, ev.at); out.push(cur); cur = ''; inItem = false; }
            }
            pos = next;
          }
          if (inItem) cur += chunk.slice(from);
        }
        assert.deepEqual(out.map((x) => JSON.parse(x)), JSON.parse(text));
      }), { numRuns: 300 });
    });

    it('scans in linear time: a 4 MiB string of escapes, 400,000 items in one chunk, 10 million empty objects', () => {
      const time = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
      const escapes = '"' + '\\u0041'.repeat(700_000) + '"';
      assert.ok(time(() => new JsonScanner('e', { maxStringChars: 8 << 20 }).feed(escapes)) < 3000, 'escapes');
      const items = '[' + Array(400_000).fill('{"a":"b"}').join(',') + ']';
      assert.ok(time(() => {
        const sc = new JsonScanner('i', { maxValues: 1e9 }, { splitItems: true });
        for (let pos = 0; pos < items.length;) pos = sc.scan(items, pos, true).next;
      }) < 3000, 'items');
      const objs = '[' + '{},'.repeat(10_000_000) + '{}]';
      assert.throws(() => parseJsonBounded(objs, 'o', { maxValues: 100_000 }), /o: \$\[99999\]: more than 100000 values/);
    });

    it('report field errors name the field and quote at most a few dozen characters', async () => {
      const { cryptoReady } = await import('../../proto/signer.ts');
      const { parseSignedScoreReportJson, signScoreReport } = await import('../../proto/score-report.ts');
      const { makeReport, validatorSigner } = await import('../fixtures/foundation/reports.ts');
      await cryptoReady();
      const v = validatorSigner(1);
      const doc = JSON.parse(JSON.stringify(signScoreReport(makeReport(v.hotkey, 3), v)));
      doc.report.entries[2].minerHotkey = '5'.repeat(900);
      assert.throws(() => parseSignedScoreReportJson(doc), (e: Error) => /^score report entry 2 minerHotkey: hotkey "5{40}"… \(900 chars\) is not a valid SS58 address/.test(e.message) && e.message.length < 200);
      doc.report.entries[2].minerHotkey = v.hotkey;
      doc.report.hardwareClass = 'h'.repeat(10_000);
      assert.throws(() => parseSignedScoreReportJson(doc), (e: Error) => /hardwareClass: .*"h{40}"… \(10000 chars\)/.test(e.message) && e.message.length < 200);
      doc.report.hardwareClass = 'cpu';
      doc.report['k'.repeat(5000)] = 1;
      assert.throws(() => parseSignedScoreReportJson(doc), (e: Error) => /unknown field "k{40}"… \(5000 chars\)/.test(e.message) && e.message.length < 200);
    });

    it('clip() quotes at most max characters of any value', () => {
      assert.equal(clip('abc'), '"abc"');
      assert.equal(clip('y'.repeat(1_000_000), 10), '"yyyyyyyyyy"… (1000000 chars)');
      assert.equal(clip(12), '12');
      assert.equal(clip({ a: 1 }), 'an object');
    });
  });

  describe('files', () => {
    it('reads regular files only, refusing FIFOs, devices and directories without blocking', async () => {
      const fifo = join(tmp, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const t0 = Date.now();
      await assert.rejects(readBoundedFile(fifo, { maxBytes: 10, what: '--in' }), /^InputError: --in .*fifo is a FIFO \(named pipe\); give a regular file$|--in .*fifo is a FIFO/);
      assert.ok(Date.now() - t0 < 2000, 'a FIFO with no writer must not block');
      await assert.rejects(readBoundedFile('/dev/zero', { maxBytes: 10, what: '--in' }), /--in \/dev\/zero is a character device/);
      mkdirSync(join(tmp, 'd'));
      await assert.rejects(readBoundedFile(join(tmp, 'd'), { maxBytes: 10, what: '--in' }), /is a directory/);
      await assert.rejects(readBoundedFile(join(tmp, 'missing'), { maxBytes: 10, what: '--in' }), /cannot read \(no such file\)/);
      writeFileSync(join(tmp, 'eleven'), 'x'.repeat(11));
      await assert.rejects(readBoundedFile(join(tmp, 'eleven'), { maxBytes: 10, what: '--in' }), /is 11 bytes, over the limit of 10 bytes/);
      assert.equal((await readBoundedFile(join(tmp, 'eleven'), { maxBytes: 11, what: '--in' })).toString(), 'x'.repeat(11));
    });

    it('streams a top-level array item by item across 1 MiB chunks; truncation and trailing data are errors', async () => {
      const items = [{ a: 'x'.repeat(700_000) }, [1, 2, { b: 'y'.repeat(900_000) }], 'z', 3, null];
      const f = join(tmp, 'items.json');
      writeFileSync(f, JSON.stringify(items, null, 1));
      const got = [];
      for await (const it of jsonFileItems(f, { maxBytes: 1 << 24, maxItemChars: 1 << 21, maxItems: 10, what: 'f', limits: { maxStringChars: 1 << 20 } })) got.push(it);
      assert.deepEqual(got.map((x) => x.value), items);
      assert.deepEqual(got.map((x) => x.index), [0, 1, 2, 3, 4]);
      writeFileSync(f, JSON.stringify({ one: 1 }));
      const single = [];
      for await (const it of jsonFileItems(f, { maxBytes: 1000, maxItemChars: 1000, maxItems: 10, what: 'f' })) single.push(it);
      assert.deepEqual(single, [{ index: -1, value: { one: 1 } }]);
      const collect = async (text: string, o = {}) => {
        writeFileSync(f, text);
        for await (const _ of jsonFileItems(f, { maxBytes: 1 << 20, maxItemChars: 1000, maxItems: 3, what: 'f', ...o })) { /* drain */ }
      };
      await assert.rejects(collect('[{"a":1},{"b":'), /ends inside the top-level array/);
      await assert.rejects(collect('[1,2,3,4]'), /more than 3 items/);
      await assert.rejects(collect(`[1,"${'q'.repeat(2000)}"]`), /\$\[1\]: an item longer than/);
      await assert.rejects(collect('[1] [2]'), /unexpected data after the top-level value/);
      await assert.rejects(collect('"just a string"'), /expected a JSON object or an array of objects/);
      await assert.rejects(collect('   '), /is empty/);
    });
  });

  describe('CLI commands on hostile input (exit 1, short message, bounded memory)', () => {
    it('report verify / archive put: /dev/zero and a FIFO are refused at once', async () => {
      const zero = await runCli(['report', 'verify', '--in', '/dev/zero']);
      assert.equal(zero.code, 1);
      assert.match(zero.stdout, /^invalid: --in \/dev\/zero is a character device/);
      const fifo = join(tmp, 'fifo2');
      execFileSync('mkfifo', [fifo]);
      const put = await runCli(['archive', 'put', '--db', join(tmp, 'db-fifo'), '--in', fifo], 20_000);
      assert.equal(put.code, 1, put.stderr);
      assert.match(put.stderr, /is a FIFO \(named pipe\); give a regular file/);
      assert.ok(put.ms < 15_000);
    });

    it('a 25-million-element array, 10,000-deep nesting and a 50 MB field: exit 1, messages cut short, RSS under 200 MB', async () => {
      const zeros = (path: string, n: number) => {
        const buf = Buffer.alloc(2 * n + 1, '0,');
        buf[0] = 0x5b;
        buf[buf.length - 1] = 0x5d;
        writeFileSync(path, buf);
      };
      const arr25m = join(tmp, 'arr25m.json'); // 50 MB: over every cap
      zeros(arr25m, 25_000_000);
      const arr15m = join(tmp, 'arr15m.json'); // 30 MB: within archive put's 32 MiB, streamed
      zeros(arr15m, 15_000_000);
      const deep = join(tmp, 'deep.json');
      writeFileSync(deep, '['.repeat(10_000) + ']'.repeat(10_000));
      const field = (path: string, mb: number) => {
        const fd = openSync(path, 'w');
        writeSync(fd, '[{"report":{"version":1,"hardwareClass":"');
        writeSync(fd, Buffer.alloc(mb * 1024 * 1024, 'h'));
        writeSync(fd, '"},"signature":"00"}]');
        closeSync(fd);
      };
      const field50 = join(tmp, 'field50.json');
      field(field50, 50);
      const field30 = join(tmp, 'field30.json');
      field(field30, 30);
      const cases: [string[], RegExp][] = [
        [['archive', 'put', '--db', join(tmp, 'db1'), '--in', arr25m], /--in .*arr25m\.json is 47\.7 MiB, over the limit of 32 MiB/],
        [['archive', 'put', '--db', join(tmp, 'db2'), '--in', arr15m], /--in .*arr15m\.json item 0: signed score report: expected a JSON object; nothing was archived/],
        [['archive', 'put', '--db', join(tmp, 'db3'), '--in', deep], /\$(\[0\]){8}: nested deeper than 8 levels/],
        [['archive', 'put', '--db', join(tmp, 'db4'), '--in', field30], /\$\[0\]\.report\.hardwareClass: a string longer than 1024 characters \("h{40}"…/],
        [['archive', 'put', '--db', join(tmp, 'db5'), '--in', field50], /over the limit of 32 MiB/],
        [['report', 'verify', '--in', arr25m], /over the limit of 8 MiB/],
        [['report', 'verify', '--in', deep], /nested deeper than 8 levels/],
      ];
      for (const [args, want] of cases) {
        const r = await runCli(args);
        const msg = r.stdout + r.stderr;
        assert.equal(r.code, 1, `${args.join(' ')}: ${msg.slice(0, 300)}`);
        assert.match(msg, want);
        assert.ok(msg.length < 400, `${args[0]} ${args[1]}: output of ${msg.length} chars`);
        assert.ok(r.maxRssKb > 0 && r.maxRssKb < RSS_LIMIT_KB, `${args.join(' ')}: peak RSS ${r.maxRssKb} kB`);
      }
      // nothing was created for refused input
      for (const d of ['db1', 'db2', 'db3', 'db4', 'db5']) assert.throws(() => execFileSync('ls', [join(tmp, d)], { stdio: 'pipe' }));
    });
  });

  describe('bulk import of valid reports', () => {
    it('archive put streams a 16 MiB array of 256-entry reports with peak RSS under 200 MB, storing every one', async () => {
      const { cryptoReady } = await import('../../proto/signer.ts');
      const { signScoreReport } = await import('../../proto/score-report.ts');
      const { makeReport, validatorSigner } = await import('../fixtures/foundation/reports.ts');
      await cryptoReady();
      const vs = Array.from({ length: 16 }, (_, i) => validatorSigner(i));
      const path = join(tmp, 'bulk.json');
      const fd = openSync(path, 'w');
      writeSync(fd, '[');
      let size = 1;
      let n = 0;
      while (size < 16 * 1024 * 1024) {
        const item = (n ? ',' : '') + JSON.stringify(signScoreReport(makeReport(vs[n % 16].hotkey, 1 + Math.floor(n / 16), { entries: 256 }), vs[n % 16]));
        writeSync(fd, item);
        size += item.length;
        n++;
      }
      writeSync(fd, ']');
      closeSync(fd);
      const r = await runCli(['archive', 'put', '--db', join(tmp, 'bulk-db'), '--in', path, '--json'], 120_000);
      assert.equal(r.code, 0, r.stderr.slice(0, 300));
      const results = JSON.parse(r.stdout) as { status: string }[];
      assert.equal(results.length, n);
      assert.ok(results.every((x) => x.status === 'stored'));
      assert.ok(r.maxRssKb > 0 && r.maxRssKb < RSS_LIMIT_KB, `peak RSS ${r.maxRssKb} kB for ${n} reports`);
    });
  });

  describe('HTTP bodies', () => {
    let server: Server;
    let base: string;
    before(async () => {
      server = createServer((req, res) => {
        if (req.url === '/declared') {
          res.writeHead(200, { 'content-length': String(500 * 1024 * 1024), 'content-type': 'application/json' });
          res.write('[');
          return; // never finishes: the client must not wait for it
        }
        if (req.url === '/endless') {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, ' ');
          let sent = 0;
          const pump = () => {
            while (sent < 1000 && res.write(chunk)) sent++;
            if (sent < 1000) res.once('drain', pump); else res.end();
          };
          pump();
          return;
        }
        if (req.url === '/deep') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"reports":' + '['.repeat(5000) + ']'.repeat(5000) + '}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(() => { server.closeAllConnections(); server.close(); });

    it('refuses a declared or actual body over the cap, and deep JSON, naming the URL', async () => {
      await assert.rejects(fetchJsonBounded(`${base}/declared`, { maxBytes: 1 << 20, timeoutMs: 5000 }), /declared: response of 500 MiB is over the limit of 1 MiB/);
      await assert.rejects(fetchJsonBounded(`${base}/endless`, { maxBytes: 1 << 20, timeoutMs: 10_000 }), /endless: response ran past the limit of 1 MiB/);
      await assert.rejects(fetchJsonBounded(`${base}/deep`, { maxBytes: 1 << 20, timeoutMs: 5000, limits: { maxDepth: 16 } }), /deep: \$\.reports(\[0\]){15}: nested deeper than 16 levels/);
      assert.deepEqual(await fetchJsonBounded(`${base}/ok`, { maxBytes: 100, timeoutMs: 5000 }), { ok: true });
    });
  });
});
