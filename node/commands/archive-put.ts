// `conclave archive put --in FILE`: a bulk import of signed reports in bounded memory, whatever the
// file holds. Two passes over one open descriptor:
//   1. check: every item is parsed (bounded: json-stream.ts) and encoded as a signed report, then
//      dropped; one malformed item refuses the whole file before anything is archived (or created);
//   2. archive: the items are decoded again and archived in batches of at most 64 reports / 1 MiB,
//      each result printed as soon as its batch is stored (an acknowledged line is on disk).
// Nothing but one chunk, one item and one batch is held at a time, and RSS is kept under a budget
// (bounded/memory.ts). The bytes of both passes are hashed: a file rewritten between them is
// reported (exit 1) with what was archived of it; every archived report was verified on its own.
import { createHash } from 'node:crypto';
import { Archive, type PutReportResult } from '../archive.ts';
import { publicKeyToHotkey } from '../../proto/signer.ts';
import { encodeSignedScoreReportJson } from '../../proto/score-report.ts';
import { openBoundedFile } from '../bounded/file.ts';
import { jsonHandleItems, type JsonItemsOptions } from '../bounded/json-stream.ts';
import { REPORT_JSON_LIMITS } from '../bounded/json.ts';
import { InputError } from '../bounded/input-error.ts';
import { MemoryBudget } from '../bounded/memory.ts';

export const MAX_PUT_FILE_BYTES = 32 * 1024 * 1024;
const MAX_PUT_ITEM_CHARS = 8 * 1024 * 1024;
const MAX_PUT_ITEMS = 100_000;
const PUT_BATCH = 64;
const PUT_BATCH_BYTES = 1024 * 1024;

/** netuid, run and validator of a checked, encoded signed report, read at their fixed offsets (proto/score-report.ts layout). */
function reportHeader(signed: Uint8Array): { netuid: number; runId: number; validatorHotkey: string } {
  const v = new DataView(signed.buffer, signed.byteOffset, signed.byteLength);
  const r = 4; // u32 length of the report
  const hw = v.getUint32(r + 1 + 2 + 8 + 32 + 32);
  const pk = r + 1 + 2 + 8 + 32 + 32 + 4 + hw;
  return { netuid: v.getUint16(r + 1), runId: Number(v.getBigUint64(r + 3)), validatorHotkey: publicKeyToHotkey(signed.subarray(pk, pk + 32)) };
}

/** Prints results as they come, as one JSON array (the same text printJson would give) or as lines. */
class ResultPrinter {
  private readonly json: boolean;
  private first = true;
  invalid = 0;
  constructor(json: boolean) {
    this.json = json;
  }
  add(r: PutReportResult, signed: Uint8Array): void {
    if (r.status === 'invalid') this.invalid++;
    if (this.json) {
      const text = JSON.stringify(r, null, 2).replace(/\n/g, '\n  ');
      process.stdout.write(`${this.first ? '[\n' : ',\n'}  ${text}`);
    } else if (r.status === 'invalid') {
      process.stdout.write(`${r.status.padEnd(12)} ${r.reason}\n`);
    } else {
      const h = reportHeader(signed);
      process.stdout.write(`${r.status.padEnd(12)} netuid ${h.netuid} run ${h.runId} ${h.validatorHotkey} ${r.hash}\n`);
    }
    this.first = false;
  }
  end(): void {
    if (this.json) process.stdout.write(this.first ? '[]\n' : '\n]\n');
  }
}

export async function putFromFile(dir: string, path: string, genesis: string | undefined, json: boolean, budget = new MemoryBudget()): Promise<number> {
  const opts: JsonItemsOptions = { maxBytes: MAX_PUT_FILE_BYTES, maxItemChars: MAX_PUT_ITEM_CHARS, maxItems: MAX_PUT_ITEMS, what: '--in', limits: REPORT_JSON_LIMITS };
  const what = `--in ${path}`;
  const { fh } = await openBoundedFile(path, opts);
  try {
    // pass 1: check every item; nothing is archived (or created) unless all of them are reports
    const h1 = createHash('sha256');
    let count = 0;
    for await (const { index, value } of jsonHandleItems(fh, what, opts, (b) => h1.update(b))) {
      try {
        encodeSignedScoreReportJson(value);
      } catch (err) {
        throw new InputError(`${what}${index >= 0 ? ` item ${index}` : ''}: ${(err as Error).message}; nothing was archived`);
      }
      count++;
      budget.check();
    }
    if (count === 0) throw new InputError(`${what} holds no reports`);
    const digest1 = h1.digest('hex');

    // pass 2: archive in small batches, printing each result once its batch is stored
    const archive = await Archive.open(dir, { createIfMissing: true });
    const out = new ResultPrinter(json);
    let archived = 0;
    const changed = (why: string) => new InputError(`${what} changed while being read (${why}); ${archived} of its reports were archived before that was seen, each verified on its own — check the file and put it again`);
    try {
      const h2 = createHash('sha256');
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const res = await archive.putEncodedReports(batch, { chain: genesis });
        res.forEach((r, k) => out.add(r, batch[k]));
        archived += res.filter((r) => r.status !== 'invalid').length;
        batch = [];
        batchBytes = 0;
        budget.check();
      };
      let seen = 0;
      for await (const { index, value } of jsonHandleItems(fh, what, opts, (b) => h2.update(b))) {
        let bytes: Uint8Array;
        try {
          bytes = encodeSignedScoreReportJson(value);
        } catch (err) {
          throw changed(`item ${index} no longer decodes: ${(err as Error).message}`);
        }
        seen++;
        batch.push(bytes);
        batchBytes += bytes.length;
        if (batch.length >= PUT_BATCH || batchBytes >= PUT_BATCH_BYTES) await flush();
        budget.check();
      }
      await flush();
      if (seen !== count || h2.digest('hex') !== digest1) throw changed('its content differs from the first reading');
    } finally {
      out.end();
      await archive.close();
    }
    return out.invalid ? 1 : 0;
  } finally {
    await fh.close();
  }
}
