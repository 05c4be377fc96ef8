// The archive: one LevelDB holding everything a third party needs to re-verify a run.
//
// Layout (sublevels of one database, so one batch can span several of them atomically):
//   meta          'format' → 'conclave-archive/v1'
//   reports       <run16>/<validatorPubHex>              → encodeSignedScoreReport bytes (the first one seen)
//   equivocations <run16>/<validatorPubHex>/<reportHash> → a different, validly signed report of the same slot
//   certificates  <run16>                                → opaque certificate bytes (consensus owns the format)
//   evaluations   <codeSha256>                           → JSON evaluation record (runtime owns the shape)
//   runs          <run16>                                → JSON per-run metadata
//   kv:<name>     <key>                                  → JSON, generic stores for other modules
// <run16> is the runId zero-padded to 16 decimal digits, so key order is run order and "all
// reports of run R" / "report of V in run R" are range reads.
//
// Writes go through one queue (read-check-write of a slot is not racy) and each call is one atomic
// batch. Reads never trust stored bytes: a value that does not decode, or does not match its key,
// is reported as corrupt while the rest stays readable.
import { existsSync, readdirSync } from 'node:fs';
import { Level } from 'level';
import { bytesEqual, fromHex, sha256Hex, toHex } from '../proto/codec.ts';
import {
  decodeSignedScoreReport,
  encodeScoreReport,
  verifySignedScoreReport,
  type SignedScoreReport,
} from '../proto/score-report.ts';
import { hotkeyToPublicKey, publicKeyToHotkey } from '../proto/signer.ts';

export const ARCHIVE_FORMAT = 'conclave-archive/v1';

export class ArchiveError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArchiveError';
  }
}

/** A stored value that does not decode or does not belong under its key. */
export class ArchiveCorruptError extends ArchiveError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`archive entry ${key} is corrupt or foreign: ${reason}`);
    this.name = 'ArchiveCorruptError';
    this.key = key;
  }
}

export interface CorruptEntry {
  key: string;
  reason: string;
}

/** Listing result: everything readable, plus what was skipped and why. */
export interface ListResult<T> {
  items: T[];
  corrupt: CorruptEntry[];
}

export type PutReportResult =
  | { status: 'stored' | 'duplicate' | 'equivocation'; hash: string }
  | { status: 'invalid'; reason: string };

export interface EquivocationProof {
  runId: number;
  validatorHotkey: string;
  /** The report archived first for this (run, validator). */
  first: SignedScoreReport;
  /** A different report, also validly signed by the same hotkey. */
  second: SignedScoreReport;
}

export interface PutOptions {
  /** Skip signature verification because the caller has just verified (e.g. the gossip layer). */
  verified?: boolean;
  /** fsync before resolving (survives power loss, not just a process crash). Default false. */
  sync?: boolean;
}

export interface JsonStore {
  get(key: string): Promise<unknown | undefined>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  entries(opts?: { prefix?: string; limit?: number }): Promise<ListResult<{ key: string; value: unknown }>>;
}

type Bin = Level<string, Uint8Array>;
type Sub = ReturnType<Bin['sublevel']>;
type BinSub = ReturnType<typeof binSub>;
function binSub(db: Bin, name: string) {
  return db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' });
}

export function runKey(runId: number): string {
  if (!Number.isSafeInteger(runId) || runId < 0) throw new ArchiveError(`runId must be a non-negative safe integer, got ${runId}`);
  return String(runId).padStart(16, '0');
}

function slotKey(runId: number, validatorHotkey: string): string {
  return `${runKey(runId)}/${toHex(hotkeyToPublicKey(validatorHotkey))}`;
}

function parseRunKey(s: string): number | undefined {
  return /^\d{16}$/.test(s) ? Number(s) : undefined;
}

/** Same bytes as encodeSignedScoreReport, from already-encoded report bytes (one allocation). */
function encodeSigned(reportBytes: Uint8Array, signature: string): Uint8Array {
  const sig = fromHex(signature, 64, 'signature');
  const out = new Uint8Array(4 + reportBytes.length + 64);
  new DataView(out.buffer).setUint32(0, reportBytes.length);
  out.set(reportBytes, 4);
  out.set(sig, 4 + reportBytes.length);
  return out;
}

/** The canonical report bytes inside a stored signed value, without a full decode. */
function innerReportBytes(value: Uint8Array): Uint8Array | undefined {
  if (value.length < 4 + 64) return undefined;
  const n = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0);
  if (4 + n + 64 !== value.length) return undefined;
  return value.subarray(4, 4 + n);
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

export class Archive {
  readonly dir: string;
  private readonly db: Bin;
  private readonly meta: Sub;
  private readonly reports: BinSub;
  private readonly equivocationsDb: BinSub;
  private readonly certificates: BinSub;
  private readonly evaluations: Sub;
  private readonly runs: Sub;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, db: Bin) {
    this.dir = dir;
    this.db = db;
    this.meta = db.sublevel<string, string>('meta', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Sub;
    this.reports = binSub(db, 'reports');
    this.equivocationsDb = binSub(db, 'equivocations');
    this.certificates = binSub(db, 'certificates');
    this.evaluations = db.sublevel<string, string>('evaluations', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Sub;
    this.runs = db.sublevel<string, string>('runs', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Sub;
  }

  /**
   * Opens (creating if allowed) the archive in `dir`. Refuses a directory that holds something else,
   * a LevelDB without the Conclave format marker, or a store locked by another process.
   */
  static async open(dir: string, opts: { createIfMissing?: boolean; /** what the user sets to choose `dir`, for messages (default --db) */ location?: string } = {}): Promise<Archive> {
    const createIfMissing = opts.createIfMissing ?? true;
    const where = opts.location ?? '--db';
    if (existsSync(dir)) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (err) {
        throw new ArchiveError(`${dir} cannot be listed (${(err as Error).message}); ${where} must name a directory`);
      }
      if (names.length > 0 && !names.includes('CURRENT')) {
        throw new ArchiveError(`${dir} is not empty and holds no LevelDB (no CURRENT file); point ${where} at an empty directory or an existing archive`);
      }
    } else if (!createIfMissing) {
      throw new ArchiveError(`no archive at ${dir}; create one with \`conclave archive put --db ${dir} ...\` or check the path`);
    }
    const db: Bin = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open({ createIfMissing });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const code = cause?.code ?? (err as { code?: string }).code;
      if (code === 'LEVEL_LOCKED') throw new ArchiveError(`archive ${dir} is in use by another process (a running node?); stop it or work on a copy`, { cause: err });
      if (code === 'LEVEL_CORRUPTION') throw new ArchiveError(`archive ${dir} has corrupt LevelDB files (${cause?.message}); run \`conclave archive repair --db ${dir}\` on a backup copy`, { cause: err });
      throw new ArchiveError(`cannot open archive ${dir}: ${cause?.message ?? (err as Error).message}`, { cause: err });
    }
    const archive = new Archive(dir, db);
    try {
      await archive.checkFormat(where);
    } catch (err) {
      await db.close();
      throw err;
    }
    return archive;
  }

  /** Runs LevelDB's repair on a closed store (salvages what it can; back the directory up first). */
  static async repair(dir: string): Promise<void> {
    const { ClassicLevel } = await import('classic-level');
    await ClassicLevel.repair(dir);
  }

  private async checkFormat(where: string): Promise<void> {
    const format = (await this.meta.get('format')) as string | undefined;
    if (format === ARCHIVE_FORMAT) return;
    if (format !== undefined) throw new ArchiveError(`archive ${this.dir} has format '${format}', this node reads '${ARCHIVE_FORMAT}'; upgrade Conclave or use another ${where}`);
    for await (const _k of this.db.keys({ limit: 1 })) {
      throw new ArchiveError(`${this.dir} is a LevelDB database but not a Conclave archive (no format marker); point ${where} at an empty directory`);
    }
    await this.meta.put('format', ARCHIVE_FORMAT as never);
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
    await this.db.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  // ---- signed score reports ----

  async putReport(signed: SignedScoreReport, opts: PutOptions = {}): Promise<PutReportResult> {
    return (await this.putReports([signed], opts))[0];
  }

  /**
   * Archives reports in one atomic batch. Per report: 'stored' (first for its run+validator),
   * 'duplicate' (same report content already there; a re-signature is not a conflict),
   * 'equivocation' (different content: kept beside the first, never over it), or 'invalid'
   * (bad signature or malformed; nothing written).
   */
  putReports(signed: readonly SignedScoreReport[], opts: PutOptions = {}): Promise<PutReportResult[]> {
    // Encode and verify outside the queue: it is the CPU-heavy part and needs no store state.
    type Prepared = { key: string; reportBytes: Uint8Array; value: Uint8Array; hash: string } | { key?: undefined; error: string };
    const prepared = signed.map((s): Prepared => {
      try {
        const reportBytes = encodeScoreReport(s.report);
        const value = encodeSigned(reportBytes, s.signature);
        if (!opts.verified) {
          const v = verifySignedScoreReport(s);
          if (!v.ok) return { error: v.reason };
        }
        return { key: slotKey(s.report.runId, s.report.validatorHotkey), reportBytes, value, hash: sha256Hex(reportBytes) };
      } catch (err) {
        return { error: `malformed report: ${(err as Error).message}` };
      }
    });
    return this.serial(async () => {
      const keys = prepared.flatMap((p) => (p.key !== undefined ? [p.key] : []));
      const existing = keys.length ? await this.reports.getMany(keys) : [];
      const current = new Map<string, Uint8Array | undefined>();
      keys.forEach((k, i) => { if (!current.has(k)) current.set(k, existing[i] as Uint8Array | undefined); });
      const ops: { type: 'put'; sublevel: unknown; key: string; value: unknown }[] = [];
      const results: PutReportResult[] = [];
      for (const p of prepared) {
        if (p.key === undefined) { results.push({ status: 'invalid', reason: p.error }); continue; }
        const prev = current.get(p.key);
        const prevReport = prev && innerReportBytes(prev);
        if (!prev) {
          ops.push({ type: 'put', sublevel: this.reports, key: p.key, value: p.value });
          current.set(p.key, p.value);
          results.push({ status: 'stored', hash: p.hash });
        } else if (prevReport && bytesEqual(prevReport, p.reportBytes)) {
          results.push({ status: 'duplicate', hash: p.hash });
        } else if (!prevReport || !this.decodes(prev)) {
          // The slot holds bytes that are not a report: keep them aside, store the valid one.
          ops.push({ type: 'put', sublevel: this.kvSub('corrupt-reports'), key: `${p.key}/${Date.now()}`, value: JSON.stringify(toHex(prev)) });
          ops.push({ type: 'put', sublevel: this.reports, key: p.key, value: p.value });
          current.set(p.key, p.value);
          results.push({ status: 'stored', hash: p.hash });
        } else {
          ops.push({ type: 'put', sublevel: this.equivocationsDb, key: `${p.key}/${p.hash}`, value: p.value });
          results.push({ status: 'equivocation', hash: p.hash });
        }
      }
      if (ops.length) await this.db.batch(ops as never, { sync: opts.sync ?? false } as never);
      return results;
    });
  }

  private decodes(value: Uint8Array): boolean {
    try {
      decodeSignedScoreReport(value);
      return true;
    } catch {
      return false;
    }
  }

  /** `slot` is <run16>/<validatorPubHex>; `key` names the entry in errors. */
  private decodeStoredReport(slot: string, key: string, value: Uint8Array, verify: boolean): SignedScoreReport {
    let signed: SignedScoreReport;
    try {
      signed = decodeSignedScoreReport(value);
    } catch (err) {
      throw new ArchiveCorruptError(key, (err as Error).message);
    }
    const [run, pub] = slot.split('/');
    if (runKey(signed.report.runId) !== run || toHex(hotkeyToPublicKey(signed.report.validatorHotkey)) !== pub) {
      throw new ArchiveCorruptError(key, `holds the report of run ${signed.report.runId} by ${signed.report.validatorHotkey}`);
    }
    if (verify) {
      const v = verifySignedScoreReport(signed);
      if (!v.ok) throw new ArchiveCorruptError(key, v.reason);
    }
    return signed;
  }

  /** The (first) report of `validatorHotkey` in run `runId`; throws ArchiveCorruptError if unreadable. */
  async getReport(runId: number, validatorHotkey: string, opts: { verify?: boolean } = {}): Promise<SignedScoreReport | undefined> {
    const key = slotKey(runId, validatorHotkey);
    const value = (await this.reports.get(key)) as Uint8Array | undefined;
    return value === undefined ? undefined : this.decodeStoredReport(key, `reports/${key}`, value, opts.verify ?? false);
  }

  /** Every archived report of run `runId` (one per validator), ordered by validator public key. */
  async reportsOfRun(runId: number, opts: { verify?: boolean } = {}): Promise<ListResult<SignedScoreReport>> {
    const prefix = `${runKey(runId)}/`;
    return this.scan(this.reports, prefix, (key, value) => this.decodeStoredReport(key, `reports/${key}`, value, opts.verify ?? false), 'reports');
  }

  /** Run ids that have at least one report, ascending (skips over each run's reports with seek). */
  async runIds(opts: { limit?: number } = {}): Promise<number[]> {
    const out: number[] = [];
    const limit = opts.limit ?? Infinity;
    const it = this.reports.keys();
    try {
      while (out.length < limit) {
        const key = await it.next();
        if (key === undefined) break;
        const run = parseRunKey(key.slice(0, 16));
        if (run === undefined || key[16] !== '/') continue;
        out.push(run);
        it.seek(`${key.slice(0, 16)}0`); // '0' sorts right after '/', i.e. past this run's keys
      }
    } finally {
      await it.close();
    }
    return out;
  }

  /** Equivocation proofs, optionally of one run. Each pairs the first report with a conflicting one. */
  async equivocations(opts: { runId?: number } = {}): Promise<ListResult<EquivocationProof>> {
    const prefix = opts.runId === undefined ? '' : `${runKey(opts.runId)}/`;
    const seconds = await this.scan(this.equivocationsDb, prefix, (key, value) => {
      const slot = key.split('/').slice(0, 2).join('/');
      return { slot, second: this.decodeStoredReport(slot, `equivocations/${key}`, value, false) };
    }, 'equivocations');
    const items: EquivocationProof[] = [];
    const corrupt = [...seconds.corrupt];
    for (const { slot, second } of seconds.items) {
      const firstValue = (await this.reports.get(slot)) as Uint8Array | undefined;
      try {
        if (!firstValue) throw new ArchiveCorruptError(`reports/${slot}`, 'missing (an equivocation refers to it)');
        const first = this.decodeStoredReport(slot, `reports/${slot}`, firstValue, false);
        items.push({ runId: second.report.runId, validatorHotkey: publicKeyToHotkey(hotkeyToPublicKey(second.report.validatorHotkey)), first, second });
      } catch (err) {
        corrupt.push({ key: `reports/${slot}`, reason: (err as Error).message });
      }
    }
    return { items, corrupt };
  }

  private async scan<T>(sub: BinSub, prefix: string, decode: (key: string, value: Uint8Array) => T, label: string): Promise<ListResult<T>> {
    const items: T[] = [];
    const corrupt: CorruptEntry[] = [];
    const range = prefix ? { gte: prefix, lt: prefix + '\uffff' } : {};
    try {
      for await (const [key, value] of sub.iterator(range)) {
        try {
          items.push(decode(key, value as Uint8Array));
        } catch (err) {
          corrupt.push({ key: `${label}/${key}`, reason: err instanceof ArchiveCorruptError ? err.message.replace(/^archive entry \S+ is corrupt or foreign: /, '') : (err as Error).message });
        }
      }
    } catch (err) {
      corrupt.push({ key: `${label}/${prefix}*`, reason: `LevelDB read failed mid-scan: ${(err as Error).message}` });
    }
    return { items, corrupt };
  }

  // ---- certificates (opaque bytes; one per run, first wins) ----

  async putCertificate(runId: number, bytes: Uint8Array, opts: { sync?: boolean } = {}): Promise<'stored' | 'duplicate' | 'conflict'> {
    const key = runKey(runId);
    return this.serial(async () => {
      const prev = (await this.certificates.get(key)) as Uint8Array | undefined;
      if (prev) return bytesEqual(prev, bytes) ? 'duplicate' : 'conflict';
      await this.db.batch([{ type: 'put', sublevel: this.certificates, key, value: Uint8Array.from(bytes) }] as never, { sync: opts.sync ?? false } as never);
      return 'stored';
    });
  }

  async getCertificate(runId: number): Promise<Uint8Array | undefined> {
    const v = (await this.certificates.get(runKey(runId))) as Uint8Array | undefined;
    return v === undefined ? undefined : Uint8Array.from(v); // plain Uint8Array, not the Buffer LevelDB hands out
  }

  // ---- evaluation records (JSON, keyed by the code's sha256; last write wins) ----

  async putEvaluation(codeSha256: string, record: unknown): Promise<void> {
    fromHex(codeSha256, 32, 'codeSha256');
    await this.serial(() => this.evaluations.put(codeSha256, JSON.stringify(record) as never));
  }

  async getEvaluation(codeSha256: string): Promise<unknown | undefined> {
    fromHex(codeSha256, 32, 'codeSha256');
    return parseJsonValue(`evaluations/${codeSha256}`, (await this.evaluations.get(codeSha256)) as string | undefined);
  }

  // ---- per-run metadata (JSON; last write wins) ----

  async putRunMeta(runId: number, meta: unknown): Promise<void> {
    const key = runKey(runId);
    await this.serial(() => this.runs.put(key, JSON.stringify(meta) as never));
  }

  async getRunMeta(runId: number): Promise<unknown | undefined> {
    const key = runKey(runId);
    return parseJsonValue(`runs/${key}`, (await this.runs.get(key)) as string | undefined);
  }

  // ---- generic JSON stores for other modules ----

  private kvSub(name: string): Sub {
    return this.db.sublevel<string, string>(`kv:${name}`, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Sub;
  }

  /** A named JSON key-value store inside the archive (name: [a-z0-9-], e.g. 'quarantine'). */
  kv(name: string): JsonStore {
    if (!NAME_RE.test(name)) throw new ArchiveError(`store name ${JSON.stringify(name)} is invalid: use [a-z0-9-], starting with a letter or digit`);
    const sub = this.kvSub(name);
    return {
      get: async (key) => parseJsonValue(`kv:${name}/${key}`, (await sub.get(key)) as string | undefined),
      put: (key, value) => this.serial(() => sub.put(key, JSON.stringify(value) as never)),
      del: (key) => this.serial(() => sub.del(key)),
      entries: async (o = {}) => {
        const items: { key: string; value: unknown }[] = [];
        const corrupt: CorruptEntry[] = [];
        const range = o.prefix ? { gte: o.prefix, lt: o.prefix + '\uffff' } : {};
        for await (const [key, raw] of sub.iterator({ ...range, limit: o.limit ?? -1 })) {
          try {
            items.push({ key, value: parseJsonValue(`kv:${name}/${key}`, raw as string) });
          } catch (err) {
            corrupt.push({ key: `kv:${name}/${key}`, reason: (err as Error).message });
          }
        }
        return { items, corrupt };
      },
    };
  }
}

function parseJsonValue(key: string, raw: string | undefined): unknown | undefined {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new ArchiveCorruptError(key, `not JSON (${(err as Error).message})`);
  }
}

