// `conclave archive put` at the size limit: 32 MiB of the largest reports (4096 entries each), compact
// and pretty-printed, stored in full with peak RSS under 200 MB; its --json output is the same document
// printJson would give; the streaming reader decodes UTF-8 strictly across chunk boundaries; the
// memory budget collects only when it can free something.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonFileItems } from '../../node/bounded/json-stream.ts';
import { MemoryBudget } from '../../node/bounded/memory.ts';
import { signScoreReport } from '../../proto/score-report.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { makeReport, validatorSigner } from '../fixtures/foundation/reports.ts';
import { RSS_LIMIT_KB, runCli } from '../fixtures/foundation/run-cli.ts';

const LIMIT = 32 * 1024 * 1024;

describe('foundation: archive put at the size limit', function () {
  this.timeout(300_000);
  let tmp: string;
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-put-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Writes an array of 4096-entry signed reports as close to the 32 MiB limit as they fit. */
  function maxFile(name: string, pretty: boolean): { path: string; count: number } {
    const vs = Array.from({ length: 16 }, (_, i) => validatorSigner(i));
    const path = join(tmp, name);
    const fd = openSync(path, 'w');
    writeSync(fd, '[');
    let size = 1;
    let count = 0;
    for (;;) {
      const s = signScoreReport(makeReport(vs[count % 16].hotkey, 1 + Math.floor(count / 16), { entries: 4096 }), vs[count % 16]);
      const item = (count ? ',' : '') + (pretty ? JSON.stringify(s, null, 2) : JSON.stringify(s));
      if (size + item.length + 1 > LIMIT) break;
      writeSync(fd, item);
      size += item.length;
      count++;
    }
    writeSync(fd, ']');
    closeSync(fd);
    assert.ok(size > LIMIT - 1024 * 1024, `the file is near the limit (${size} bytes)`);
    return { path, count };
  }

  for (const pretty of [false, true]) {
    it(`stores 32 MiB of 4096-entry reports (${pretty ? 'pretty-printed' : 'compact'}) with peak RSS under 200 MB`, async () => {
      const { path, count } = maxFile(`max-${pretty}.json`, pretty);
      const r = await runCli(['archive', 'put', '--db', join(tmp, `db-${pretty}`), '--in', path, '--json'], 240_000);
      assert.equal(r.code, 0, r.stderr.slice(0, 300));
      const results = JSON.parse(r.stdout) as { status: string }[];
      assert.equal(results.length, count);
      assert.ok(results.every((x) => x.status === 'stored'));
      assert.equal(r.stdout, JSON.stringify(results, null, 2) + '\n', 'streamed --json output is the document printJson gives');
      assert.ok(r.maxRssKb > 0 && r.maxRssKb < RSS_LIMIT_KB, `peak RSS ${r.maxRssKb} kB for ${count} reports of 4096 entries`);
      if (process.env.CONCLAVE_TEST_VERBOSE) process.stderr.write(`      ${count} reports, peak RSS ${Math.round(r.maxRssKb / 1024)} MB, ${r.ms} ms\n`);
    });
  }

  it('decodes UTF-8 strictly across 1 MiB chunks: U+FFFD written in the file is text, invalid bytes are refused', async () => {
    const f = join(tmp, 'utf8.json');
    const pad = 'x'.repeat(1024 * 1024 - 9); // puts the 3-byte "€" across the first chunk boundary
    writeFileSync(f, `[{"a":"${pad}€\uFFFD"}]`);
    const got: unknown[] = [];
    for await (const it of jsonFileItems(f, { maxBytes: 4 << 20, maxItemChars: 4 << 20, maxItems: 2, what: 'f', limits: { maxStringChars: 2 << 20 } })) got.push(it.value);
    assert.deepEqual(got, [{ a: `${pad}€\uFFFD` }]);
    writeFileSync(f, Buffer.concat([Buffer.from('[{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]')]));
    await assert.rejects((async () => { for await (const _ of jsonFileItems(f, { maxBytes: 1000, maxItemChars: 1000, maxItems: 2, what: 'f' })) { /* drain */ } })(), /f .*utf8\.json is not valid UTF-8 text/);
  });

  it('the memory budget collects when RSS is over it, and not again until there is something to free', () => {
    const b = new MemoryBudget(1); // below any process: the first check collects
    b.check();
    assert.equal(b.collections, 1);
    b.check();
    b.check();
    assert.equal(b.collections, 1, 'the budget moved to the floor a collection reached, plus a margin');
    const roomy = new MemoryBudget(64 * 1024 * 1024 * 1024);
    roomy.check();
    assert.equal(roomy.collections, 0);
  });
});
