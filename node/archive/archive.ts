// The archive: one LevelDB holding everything a third party needs to re-verify a run.
//
// Sublevels of one database (so one batch can span several atomically), format v2:
//   meta              'format' → 'conclave-archive/v2'; 'chain' → the genesis hash of the writer's chain
//   v2-reports        <chain>/<netuid>/<run>/<validatorPub>               → signed report bytes (the first one seen)
//   v2-equivocations  <chain>/<netuid>/<run>/<validatorPub>/<reportHash>  → a different, validly signed report of that slot
//   v2-certificates   <chain>/<netuid>/<run>                              → opaque certificate bytes (first wins)
//   v2-runs           <chain>/<netuid>/<run>                              → JSON per-run metadata
//   evaluations       <codeSha256>                                        → JSON evaluation record
//   kv:<name>         <key>                                               → JSON, generic stores for other modules
// (keys.ts has the key schema; layout.ts the directory around the LevelDB; migrate.ts reads v1;
// stored-report.ts encodes, checks and decodes stored reports; report-slots.ts decides what a batch
// of reports writes; json-store.ts the kv:<name> stores;
// types.ts the option and result shapes.)
//
// Writes go through one queue (read-check-write of a slot is not racy) and each call is one atomic
// batch. Reads never trust stored bytes: a value that does not decode, or does not match its key,
// is reported as corrupt while the rest stays readable. Stored proofs and first reports are never
// overwritten.
// Why one file of ~400 lines: every method here goes through this class's one database handle, write
// queue and corrupt-entry reporting (scan); what stands on its own (encoding, keys, slot decisions,
// layout, migration, JSON stores) is already in the files listed above.
import { bytesEqual, fromHex } from '../../proto/codec.ts';
import { certificateRunOf } from '../../proto/consensus.ts';
import type { SignedScoreReport } from '../../proto/score-report.ts';
import { hotkeyToPublicKey, publicKeyToHotkey } from '../../proto/signer.ts';
import { ArchiveCorruptError, ArchiveError, writeError, type CorruptEntry, type ListResult } from './errors.ts';
import {
  RUN_PREFIX_LENGTH, UNKNOWN_CHAIN, listPrefix, normalizeChain, parseSlot, runPrefix, slotKey,
  type ResolvedRun, type RunRef,
} from './keys.ts';
import { writeMarker } from './layout.ts';
import { migrateV1, V1_SUBLEVELS } from './migrate.ts';
import { openReadOnly, openReadWrite, type Bin, type OpenedStore } from './open.ts';
import { checkStoreName, jsonStore, parseJsonValue } from './json-store.ts';
import { planReportWrites } from './report-slots.ts';
import { decodeStoredReport, prepareEncoded, prepareReport, storedReportBytes, type Prepared, type StoredReportBytes } from './stored-report.ts';
import type { BatchOp, EquivocationProof, JsonStore, ListFilter, OpenOptions, PutOptions, PutReportResult } from './types.ts';

export const ARCHIVE_FORMAT = 'conclave-archive/v2';
export const ARCHIVE_FORMAT_V1 = 'conclave-archive/v1';

type Sub = ReturnType<Bin['sublevel']>;
type BinSub = ReturnType<typeof binSub>;
function binSub(db: Bin, name: string) {
  return db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' });
}
function strSub(db: Bin, name: string): Sub {
  return db.sublevel<string, string>(name, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Sub;
}

export class Archive {
  readonly dir: string;
  readonly readOnly: boolean;
  /** Default chain (genesis hash, hex) of reads and writes that name none. */
  chain: string = UNKNOWN_CHAIN;
  private readonly opened: OpenedStore;
  private readonly db: Bin;
  private readonly meta: Sub;
  private readonly reports: BinSub;
  private readonly equivocationsDb: BinSub;
  private readonly certificates: BinSub;
  private readonly evaluations: Sub;
  private readonly runsDb: Sub;
  private queue: Promise<unknown> = Promise.resolve();

  private readonly where: string;

  private constructor(dir: string, opened: OpenedStore, where: string) {
    this.dir = dir;
    this.where = where;
    this.opened = opened;
    this.readOnly = opened.readOnly;
    const db = opened.db;
    this.db = db;
    this.meta = strSub(db, 'meta');
    this.reports = binSub(db, 'v2-reports');
    this.equivocationsDb = binSub(db, 'v2-equivocations');
    this.certificates = binSub(db, 'v2-certificates');
    this.evaluations = strSub(db, 'evaluations');
    this.runsDb = strSub(db, 'v2-runs');
  }

  /**
   * Opens the archive in `dir` for reading and writing (creating it if allowed), holding its lock
   * until close. Refuses a directory that holds something else, a LevelDB that is not a Conclave
   * archive, and an archive in use by another writer or a repair.
   */
  static async open(dir: string, opts: OpenOptions = {}): Promise<Archive> {
    const where = opts.location ?? '--db';
    const opened = await openReadWrite(dir, opts.createIfMissing ?? true, where);
    return Archive.init(dir, opened, opts.chain, where);
  }

  /**
   * Opens a private snapshot of the archive for reading: works on a read-only mount and beside a
   * live node, takes no lock and writes nothing to `dir`. Writes through it are refused.
   */
  static async openReadOnly(dir: string, opts: { chain?: string; location?: string } = {}): Promise<Archive> {
    const where = opts.location ?? '--db';
    const opened = await openReadOnly(dir, where);
    return Archive.init(dir, opened, opts.chain, where);
  }

  private static async init(dir: string, opened: OpenedStore, chain: string | undefined, where: string): Promise<Archive> {
    const a = new Archive(dir, opened, where);
    try {
      await a.setUp(chain);
    } catch (err) {
      await a.close();
      throw err;
    }
    return a;
  }

  private async setUp(chainOpt: string | undefined): Promise<void> {
    const given = chainOpt === undefined ? undefined : normalizeChain(chainOpt);
    const stored = (await this.meta.get('chain')) as string | undefined;
    this.chain = given ?? stored ?? UNKNOWN_CHAIN;
    await this.checkFormat();
    if (!this.readOnly) {
      if (given && !stored) await this.meta.put('chain', given as never);
      if (!this.opened.marker) writeMarker(this.dir, { tmp: 'adopt:marker-tmp', done: 'adopt:marker' });
    }
  }

  private async checkFormat(): Promise<void> {
    let format = (await this.meta.get('format')) as string | undefined;
    if (format === undefined) {
      const schema = await this.keySchema();
      if (schema === 'empty') format = ARCHIVE_FORMAT;
      else if (schema !== 'foreign' && this.opened.marker) format = schema === 'v2' ? ARCHIVE_FORMAT : ARCHIVE_FORMAT_V1;
      else throw new ArchiveError(`${this.dir} is a LevelDB database but not a Conclave archive (no format marker); point ${this.where} at an empty directory`);
      // Written in the store (a private copy when read-only) so that later opens agree.
      await this.meta.put('format', format as never);
    }
    if (format === ARCHIVE_FORMAT_V1) {
      await migrateV1(this.migrationPort());
      return;
    }
    if (format !== ARCHIVE_FORMAT) throw new ArchiveError(`archive ${this.dir} has format '${format}', this node reads '${ARCHIVE_FORMAT}' (and migrates v1); upgrade Conclave or use another ${this.where}`);
  }

  /** What the keys say the store is: a Conclave archive of v1/v2 schema, empty, or something else. */
  private async keySchema(): Promise<'empty' | 'v1' | 'v2' | 'foreign'> {
    let any = false;
    for await (const k of this.db.keys({ limit: 1 })) any = k !== undefined;
    if (!any) return 'empty';
    for await (const _k of this.db.keys({ gte: '!v2-', lt: '!v2.', limit: 1 })) return 'v2';
    for (const name of V1_SUBLEVELS) {
      for await (const _k of this.db.keys({ gte: `!${name}!`, lt: `!${name}"`, limit: 1 })) return 'v1';
    }
    return 'foreign';
  }

  private migrationPort() {
    return {
      db: this.db,
      chain: this.chain,
      prepare: (s: SignedScoreReport) => prepareReport(s, this.chain, true),
      apply: (p: Prepared[], extra: BatchOp[]) => this.serial(() => this.applyPrepared(p, extra, false)),
      certificates: this.certificates,
      runs: this.runsDb,
      meta: this.meta,
      kvSub: (name: string) => this.kvSub(name),
      formatOp: { type: 'put' as const, sublevel: this.meta, key: 'format', value: ARCHIVE_FORMAT },
    };
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
    await this.db.close().catch(() => {});
    await this.opened.lock?.release();
    this.opened.snapshot?.remove();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = () => fn().catch((err: unknown) => { throw writeError(this.dir, err); });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private writable(): void {
    if (this.readOnly) throw new ArchiveError(`archive ${this.dir} was opened read-only (a snapshot); writes are refused`);
  }

  private resolve(ref: RunRef): ResolvedRun {
    return { chain: ref.chain === undefined ? this.chain : normalizeChain(ref.chain), netuid: ref.netuid, runId: ref.runId };
  }

  private filterChain(chain: string | undefined): string | undefined {
    if (chain === 'any') return undefined;
    return chain === undefined ? this.chain : normalizeChain(chain);
  }

  // ---- signed score reports ----

  async putReport(signed: SignedScoreReport, opts: PutOptions = {}): Promise<PutReportResult> {
    return (await this.putReports([signed], opts))[0];
  }

  /**
   * putReports for reports already in their canonical signed encoding (bulk imports): each is
   * decoded once to check it, verified over its own bytes, and stored as given — no re-encoding.
   */
  async putEncodedReports(encoded: readonly Uint8Array[], opts: PutOptions = {}): Promise<PutReportResult[]> {
    this.writable();
    const chain = opts.chain === undefined ? this.chain : normalizeChain(opts.chain);
    const prepared = encoded.map((bytes) => prepareEncoded(bytes, chain, opts.verified ?? false));
    return this.serial(() => this.applyPrepared(prepared, [], opts.sync ?? false));
  }

  /**
   * Archives reports in one atomic batch, each under (chain, its netuid, its run, its validator).
   * Per report: 'stored' (first for its slot), 'duplicate' (same report content already there, or
   * the same equivocation already kept; a re-signature is not a conflict), 'equivocation'
   * (different content: kept beside the first, never over it or over an earlier proof), or
   * 'invalid' (bad signature or malformed; nothing written for it).
   */
  async putReports(signed: readonly SignedScoreReport[], opts: PutOptions = {}): Promise<PutReportResult[]> {
    this.writable();
    const chain = opts.chain === undefined ? this.chain : normalizeChain(opts.chain);
    // Encode and verify outside the queue: it is the CPU-heavy part and needs no store state.
    const prepared = signed.map((s) => prepareReport(s, chain, opts.verified ?? false));
    return this.serial(() => this.applyPrepared(prepared, [], opts.sync ?? false));
  }

  private async applyPrepared(prepared: Prepared[], extra: BatchOp[], sync: boolean): Promise<PutReportResult[]> {
    const valid = prepared.filter((p): p is Exclude<Prepared, { error: string }> => p.slot !== undefined);
    const slots = [...new Set(valid.map((p) => p.slot))];
    const existing = slots.length ? await this.reports.getMany(slots) : [];
    const current = new Map<string, Uint8Array | undefined>();
    slots.forEach((k, i) => current.set(k, existing[i] as Uint8Array | undefined));
    const eqKeys = [...new Set(valid.map((p) => `${p.slot}/${p.hash}`))];
    const eqExisting = eqKeys.length ? await this.equivocationsDb.getMany(eqKeys) : [];
    const proofs = new Set(eqKeys.filter((_, i) => eqExisting[i] !== undefined));
    const { writes, results } = planReportWrites(prepared, current, proofs);
    const ops: BatchOp[] = writes.map((w) => ({ type: 'put', sublevel: w.to === 'reports' ? this.reports : w.to === 'equivocations' ? this.equivocationsDb : this.kvSub(w.to), key: w.key, value: w.value }));
    ops.push(...extra);
    if (ops.length) await this.db.batch(ops as never, { sync } as never);
    return results;
  }

  /** The (first) report of `validatorHotkey` in the run; throws ArchiveCorruptError if unreadable. */
  async getReport(run: RunRef, validatorHotkey: string, opts: { verify?: boolean } = {}): Promise<SignedScoreReport | undefined> {
    const key = slotKey(this.resolve(run), validatorHotkey);
    const value = (await this.reports.get(key)) as Uint8Array | undefined;
    return value === undefined ? undefined : decodeStoredReport(key, `reports/${key}`, value, opts.verify ?? false);
  }

  /** Every archived report of the run (one per validator), ordered by validator public key. */
  async reportsOfRun(run: RunRef, opts: { verify?: boolean } = {}): Promise<ListResult<SignedScoreReport>> {
    const prefix = `${runPrefix(this.resolve(run))}/`;
    return this.scan(this.reports, prefix, (key, value) => decodeStoredReport(key, `reports/${key}`, value, opts.verify ?? false), 'reports');
  }

  /**
   * Every archived report of the run as stored bytes (ordered as reportsOfRun), each placed by its
   * header only: for passing a run's evidence on to a reader that decodes it strictly.
   */
  async reportBytesOfRun(run: RunRef): Promise<ListResult<StoredReportBytes>> {
    const prefix = `${runPrefix(this.resolve(run))}/`;
    return this.scan(this.reports, prefix, (key, value) => storedReportBytes(key, `reports/${key}`, value), 'reports');
  }

  /** How many validators have a (first) report in the run; counts keys, decodes nothing. */
  async reportCount(run: RunRef): Promise<number> {
    const prefix = `${runPrefix(this.resolve(run))}/`;
    let n = 0;
    for await (const _k of this.reports.keys({ gte: prefix, lt: prefix + '\uffff' })) n++;
    return n;
  }

  /** Runs that have at least one report, in (chain, netuid, run) order; skips over each run's reports with seek. */
  async runs(f: { chain?: string | 'any'; netuid?: number; limit?: number } = {}): Promise<ResolvedRun[]> {
    const out: ResolvedRun[] = [];
    const limit = f.limit ?? Infinity;
    const prefix = listPrefix({ chain: this.filterChain(f.chain), netuid: f.netuid });
    const it = this.reports.keys(prefix ? { gte: prefix, lt: prefix + '\uffff' } : {});
    try {
      while (out.length < limit) {
        const key = await it.next();
        if (key === undefined) break;
        const s = parseSlot(key);
        if (!s) continue;
        out.push({ chain: s.chain, netuid: s.netuid, runId: s.runId });
        it.seek(`${key.slice(0, RUN_PREFIX_LENGTH)}0`); // '0' sorts right after '/', i.e. past this run's keys
      }
    } finally {
      await it.close();
    }
    return out;
  }

  /** Equivocation proofs, optionally of one chain/subnet/run. Each pairs the first report with a conflicting one. */
  async equivocations(f: ListFilter = {}): Promise<ListResult<EquivocationProof>> {
    const chain = this.filterChain(f.chain);
    const prefix = listPrefix({ chain, netuid: chain === undefined ? undefined : f.netuid, runId: chain === undefined || f.netuid === undefined ? undefined : f.runId });
    const seconds = await this.scan(this.equivocationsDb, prefix, (key, value) => {
      const slot = key.slice(0, key.lastIndexOf('/'));
      const s = parseSlot(slot);
      if (!s) throw new ArchiveCorruptError(`equivocations/${key}`, 'key is not <chain>/<netuid>/<run>/<validator>/<hash>');
      if ((f.netuid !== undefined && s.netuid !== f.netuid) || (f.runId !== undefined && s.runId !== f.runId)) return null;
      return { slot, s, second: decodeStoredReport(slot, `equivocations/${key}`, value, false) };
    }, 'equivocations');
    const items: EquivocationProof[] = [];
    const corrupt = [...seconds.corrupt];
    for (const x of seconds.items) {
      if (!x) continue;
      const { slot, s, second } = x;
      const firstValue = (await this.reports.get(slot)) as Uint8Array | undefined;
      try {
        if (!firstValue) throw new ArchiveCorruptError(`reports/${slot}`, 'missing (an equivocation refers to it)');
        const first = decodeStoredReport(slot, `reports/${slot}`, firstValue, false);
        items.push({ chain: s.chain, netuid: s.netuid, runId: s.runId, validatorHotkey: publicKeyToHotkey(hotkeyToPublicKey(second.report.validatorHotkey)), first, second });
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

  async putCertificate(run: RunRef, bytes: Uint8Array, opts: { sync?: boolean } = {}): Promise<'stored' | 'duplicate' | 'conflict'> {
    this.writable();
    const r = this.resolve(run);
    const key = runPrefix(r);
    let decision: { netuid: number; runId: number } | undefined;
    // consensus owns the format; a certificate whose header does not name a run is kept as given
    decision = certificateRunOf(bytes) ?? undefined;
    if (decision && (decision.netuid !== r.netuid || decision.runId !== r.runId)) {
      throw new ArchiveError(`certificate is for netuid ${decision.netuid} run ${decision.runId}, not netuid ${r.netuid} run ${r.runId}`);
    }
    return this.serial(async () => {
      const prev = (await this.certificates.get(key)) as Uint8Array | undefined;
      if (prev) return bytesEqual(prev, bytes) ? 'duplicate' : 'conflict';
      await this.db.batch([{ type: 'put', sublevel: this.certificates, key, value: Uint8Array.from(bytes) }] as never, { sync: opts.sync ?? false } as never);
      return 'stored';
    });
  }

  async getCertificate(run: RunRef): Promise<Uint8Array | undefined> {
    const v = (await this.certificates.get(runPrefix(this.resolve(run)))) as Uint8Array | undefined;
    return v === undefined ? undefined : Uint8Array.from(v); // plain Uint8Array, not the Buffer LevelDB hands out
  }

  // ---- evaluation records (JSON, keyed by the code's sha256; last write wins) ----

  async putEvaluation(codeSha256: string, record: unknown): Promise<void> {
    this.writable();
    fromHex(codeSha256, 32, 'codeSha256');
    await this.serial(() => this.evaluations.put(codeSha256, JSON.stringify(record) as never));
  }

  async getEvaluation(codeSha256: string): Promise<unknown | undefined> {
    fromHex(codeSha256, 32, 'codeSha256');
    return parseJsonValue(`evaluations/${codeSha256}`, (await this.evaluations.get(codeSha256)) as string | undefined);
  }

  // ---- per-run metadata (JSON; last write wins) ----

  async putRunMeta(run: RunRef, meta: unknown): Promise<void> {
    this.writable();
    const key = runPrefix(this.resolve(run));
    await this.serial(() => this.runsDb.put(key, JSON.stringify(meta) as never));
  }

  async getRunMeta(run: RunRef): Promise<unknown | undefined> {
    const key = runPrefix(this.resolve(run));
    return parseJsonValue(`runs/${key}`, (await this.runsDb.get(key)) as string | undefined);
  }

  // ---- generic JSON stores for other modules ----

  private kvSub(name: string): Sub {
    return strSub(this.db, `kv:${name}`);
  }

  /** A named JSON key-value store inside the archive (name: [a-z0-9-], e.g. 'quarantine'). */
  kv(name: string): JsonStore {
    checkStoreName(name);
    return jsonStore(name, this.kvSub(name), { writable: () => this.writable(), serial: (fn) => this.serial(fn) });
  }
}

