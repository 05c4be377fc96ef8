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
// (keys.ts has the key schema; layout.ts the directory around the LevelDB; migrate.ts reads v1.)
//
// Writes go through one queue (read-check-write of a slot is not racy) and each call is one atomic
// batch. Reads never trust stored bytes: a value that does not decode, or does not match its key,
// is reported as corrupt while the rest stays readable. Stored proofs and first reports are never
// overwritten.
import { bytesEqual, fromHex, sha256Hex, signingBytes, toHex } from '../../proto/codec.ts';
import { decodeCertificate } from '../../proto/consensus.ts';
import {
  SCORE_REPORT_DOMAIN,
  decodeSignedScoreReport,
  encodeScoreReport,
  verifySignedScoreReport,
  type SignedScoreReport,
} from '../../proto/score-report.ts';
import { hotkeyToPublicKey, publicKeyToHotkey, verifySr25519 } from '../../proto/signer.ts';
import { ArchiveCorruptError, ArchiveError, writeError, type CorruptEntry, type ListResult } from './errors.ts';
import {
  RUN_PREFIX_LENGTH, UNKNOWN_CHAIN, listPrefix, normalizeChain, parseSlot, runPrefix, slotKey,
  type ResolvedRun, type RunRef,
} from './keys.ts';
import { writeMarker } from './layout.ts';
import { migrateV1, V1_SUBLEVELS } from './migrate.ts';
import { openReadOnly, openReadWrite, type Bin, type OpenedStore } from './open.ts';

export const ARCHIVE_FORMAT = 'conclave-archive/v2';
export const ARCHIVE_FORMAT_V1 = 'conclave-archive/v1';

export type PutReportResult =
  | { status: 'stored' | 'duplicate' | 'equivocation'; hash: string }
  | { status: 'invalid'; reason: string };

export interface EquivocationProof {
  chain: string;
  netuid: number;
  runId: number;
  validatorHotkey: string;
  /** The report archived first for this (chain, subnet, run, validator). */
  first: SignedScoreReport;
  /** A different report, also validly signed by the same hotkey. */
  second: SignedScoreReport;
}

export interface PutOptions {
  /** Skip signature verification because the caller has just verified (e.g. the gossip layer). */
  verified?: boolean;
  /** fsync before resolving (survives power loss, not just a process crash). Default false. */
  sync?: boolean;
  /** Chain (genesis hash) the reports belong to; default the archive's chain. */
  chain?: string;
}

export interface OpenOptions {
  /** Create the archive when the directory is missing or empty (read-write only). Default true. */
  createIfMissing?: boolean;
  /** Genesis hash of the chain this process works on: the default chain of reads and writes. */
  chain?: string;
  /** What the user sets to choose `dir`, for messages (default --db), e.g. node.data_dir. */
  location?: string;
}

/** Filter of listings: `chain: 'any'` spans every chain; omitted means the archive's chain. */
export interface ListFilter {
  chain?: string | 'any';
  netuid?: number;
  runId?: number;
}

export interface JsonStore {
  get(key: string): Promise<unknown | undefined>;
  put(key: string, value: unknown): Promise<void>;
  /** Writes only when the key is absent; true when written. For evidence that must never be overwritten. */
  putIfAbsent(key: string, value: unknown): Promise<boolean>;
  del(key: string): Promise<void>;
  entries(opts?: { prefix?: string; limit?: number }): Promise<ListResult<{ key: string; value: unknown }>>;
}

export type BatchOp = { type: 'put'; sublevel: unknown; key: string; value: unknown } | { type: 'del'; sublevel: unknown; key: string };

type Sub = ReturnType<Bin['sublevel']>;
type BinSub = ReturnType<typeof binSub>;
function binSub(db: Bin, name: string) {
  return db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' });
}
function strSub(db: Bin, name: string): Sub {
  return db.sublevel<string, string>(name, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Sub;
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

type Prepared = { slot: string; reportBytes: Uint8Array; value: Uint8Array; hash: string } | { slot?: undefined; error: string };

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

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
      prepare: (s: SignedScoreReport) => this.prepare(s, this.chain, true),
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

  private prepare(s: SignedScoreReport, chain: string, verified: boolean): Prepared {
    try {
      const reportBytes = encodeScoreReport(s.report);
      const value = encodeSigned(reportBytes, s.signature);
      if (!verified) {
        const v = verifySignedScoreReport(s);
        if (!v.ok) return { error: v.reason };
      }
      const slot = slotKey({ chain, netuid: s.report.netuid, runId: s.report.runId }, s.report.validatorHotkey);
      return { slot, reportBytes, value, hash: sha256Hex(reportBytes) };
    } catch (err) {
      return { error: `malformed report: ${(err as Error).message}` };
    }
  }

  /**
   * putReports for reports already in their canonical signed encoding (bulk imports): each is
   * decoded once to check it, verified over its own bytes, and stored as given — no re-encoding.
   */
  async putEncodedReports(encoded: readonly Uint8Array[], opts: PutOptions = {}): Promise<PutReportResult[]> {
    this.writable();
    const chain = opts.chain === undefined ? this.chain : normalizeChain(opts.chain);
    const prepared = encoded.map((bytes): Prepared => {
      try {
        const signed = decodeSignedScoreReport(bytes);
        const reportBytes = innerReportBytes(bytes)!;
        if (!opts.verified && !verifySr25519(signingBytes(SCORE_REPORT_DOMAIN, reportBytes), fromHex(signed.signature, 64, 'signature'), signed.report.validatorHotkey)) {
          return { error: `signature does not verify for validator hotkey ${signed.report.validatorHotkey}` };
        }
        const slot = slotKey({ chain, netuid: signed.report.netuid, runId: signed.report.runId }, signed.report.validatorHotkey);
        return { slot, reportBytes, value: bytes, hash: sha256Hex(reportBytes) };
      } catch (err) {
        return { error: `malformed report: ${(err as Error).message}` };
      }
    });
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
    const prepared = signed.map((s) => this.prepare(s, chain, opts.verified ?? false));
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
    const ops: BatchOp[] = [];
    const results: PutReportResult[] = [];
    for (const p of prepared) {
      if (p.slot === undefined) { results.push({ status: 'invalid', reason: p.error }); continue; }
      const prev = current.get(p.slot);
      const prevReport = prev && innerReportBytes(prev);
      if (!prev) {
        ops.push({ type: 'put', sublevel: this.reports, key: p.slot, value: p.value });
        current.set(p.slot, p.value);
        results.push({ status: 'stored', hash: p.hash });
      } else if (prevReport && bytesEqual(prevReport, p.reportBytes)) {
        results.push({ status: 'duplicate', hash: p.hash });
      } else if (!prevReport || !decodes(prev)) {
        // The slot holds bytes that are not a report: keep them aside, store the valid one.
        ops.push({ type: 'put', sublevel: this.kvSub('corrupt-reports'), key: `${p.slot}/${Date.now()}`, value: JSON.stringify(toHex(prev)) });
        ops.push({ type: 'put', sublevel: this.reports, key: p.slot, value: p.value });
        current.set(p.slot, p.value);
        results.push({ status: 'stored', hash: p.hash });
      } else {
        const key = `${p.slot}/${p.hash}`;
        if (proofs.has(key)) {
          results.push({ status: 'duplicate', hash: p.hash }); // this proof is already kept: never overwritten
        } else {
          ops.push({ type: 'put', sublevel: this.equivocationsDb, key, value: p.value });
          proofs.add(key);
          results.push({ status: 'equivocation', hash: p.hash });
        }
      }
    }
    ops.push(...extra);
    if (ops.length) await this.db.batch(ops as never, { sync } as never);
    return results;
  }

  /** `slot` is the key of the first report; `key` names the entry in errors. */
  private decodeStoredReport(slot: string, key: string, value: Uint8Array, verify: boolean): SignedScoreReport {
    let signed: SignedScoreReport;
    try {
      signed = decodeSignedScoreReport(value);
    } catch (err) {
      throw new ArchiveCorruptError(key, (err as Error).message);
    }
    const s = parseSlot(slot);
    if (!s || s.netuid !== signed.report.netuid || s.runId !== signed.report.runId || toHex(hotkeyToPublicKey(signed.report.validatorHotkey)) !== s.pubHex) {
      throw new ArchiveCorruptError(key, `holds the report of netuid ${signed.report.netuid} run ${signed.report.runId} by ${signed.report.validatorHotkey}`);
    }
    if (verify) {
      const v = verifySignedScoreReport(signed);
      if (!v.ok) throw new ArchiveCorruptError(key, v.reason);
    }
    return signed;
  }

  /** The (first) report of `validatorHotkey` in the run; throws ArchiveCorruptError if unreadable. */
  async getReport(run: RunRef, validatorHotkey: string, opts: { verify?: boolean } = {}): Promise<SignedScoreReport | undefined> {
    const key = slotKey(this.resolve(run), validatorHotkey);
    const value = (await this.reports.get(key)) as Uint8Array | undefined;
    return value === undefined ? undefined : this.decodeStoredReport(key, `reports/${key}`, value, opts.verify ?? false);
  }

  /** Every archived report of the run (one per validator), ordered by validator public key. */
  async reportsOfRun(run: RunRef, opts: { verify?: boolean } = {}): Promise<ListResult<SignedScoreReport>> {
    const prefix = `${runPrefix(this.resolve(run))}/`;
    return this.scan(this.reports, prefix, (key, value) => this.decodeStoredReport(key, `reports/${key}`, value, opts.verify ?? false), 'reports');
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
      return { slot, s, second: this.decodeStoredReport(slot, `equivocations/${key}`, value, false) };
    }, 'equivocations');
    const items: EquivocationProof[] = [];
    const corrupt = [...seconds.corrupt];
    for (const x of seconds.items) {
      if (!x) continue;
      const { slot, s, second } = x;
      const firstValue = (await this.reports.get(slot)) as Uint8Array | undefined;
      try {
        if (!firstValue) throw new ArchiveCorruptError(`reports/${slot}`, 'missing (an equivocation refers to it)');
        const first = this.decodeStoredReport(slot, `reports/${slot}`, firstValue, false);
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
    try {
      decision = decodeCertificate(bytes).decision;
    } catch {
      decision = undefined; // consensus owns the format; an undecodable certificate is kept as given
    }
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
    if (!NAME_RE.test(name)) throw new ArchiveError(`store name ${JSON.stringify(name).slice(0, 70)} is invalid: use [a-z0-9-], starting with a letter or digit`);
    const sub = this.kvSub(name);
    return {
      get: async (key) => parseJsonValue(`kv:${name}/${key}`, (await sub.get(key)) as string | undefined),
      put: async (key, value) => { this.writable(); await this.serial(() => sub.put(key, JSON.stringify(value) as never)); },
      putIfAbsent: async (key, value) => {
        this.writable();
        return this.serial(async () => {
          if ((await sub.get(key)) !== undefined) return false;
          await sub.put(key, JSON.stringify(value) as never);
          return true;
        });
      },
      del: async (key) => { this.writable(); await this.serial(() => sub.del(key)); },
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

function decodes(value: Uint8Array): boolean {
  try {
    decodeSignedScoreReport(value);
    return true;
  } catch {
    return false;
  }
}

function parseJsonValue(key: string, raw: string | undefined): unknown | undefined {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new ArchiveCorruptError(key, `not JSON (${(err as Error).message.slice(0, 120)})`);
  }
}
