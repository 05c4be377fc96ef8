// ScoreReport: one validator's scores for every submission of one run, and its sr25519-signed form.
//
// Canonical encoding v1 (all integers big-endian, see proto/codec.ts):
//   u8 version=1 | u16 netuid | u64 runId | [32] rosterHash | [32] policyHash
//   | u32-len utf8 hardwareClass (1..64 bytes, [A-Za-z0-9._:+-]) | [32] validator public key
//   | u32 entryCount (<= MAX_ENTRIES), entries strictly ascending by uid:
//       u16 uid | [32] miner public key | [32] codeSha256 | u64 score | u8 status
//   | u64 issuedAt
// scoreReportHash = sha256(canonical bytes) — this is what goes on chain.
// Signature = sr25519(hotkey, utf8("conclave/score-report/v1") || 0x00 || canonical bytes).
// Signed encoding: u32-len canonical report bytes | [64] signature.
import { clip } from './clip.ts';
import { CodecError, Reader, Writer, expectUint, fromHex, sha256Hex, signingBytes, toHex } from './codec.ts';
import { hotkeyToPublicKey, publicKeyHexToHotkey, publicKeyToHotkey, verifySr25519, type Sr25519Signer } from './signer.ts';

export const SCORE_REPORT_DOMAIN = 'conclave/score-report/v1';
export const SCORE_REPORT_VERSION = 1;
/** A score is round(value * SCORE_SCALE): MFU 0.4213 → 421300. */
export const SCORE_SCALE = 1_000_000;
export const MAX_ENTRIES = 4096;
export const MAX_HARDWARE_CLASS_BYTES = 64;
/** One canonical entry: u16 uid | [32] miner public key | [32] codeSha256 | u64 score | u8 status. */
export const ENTRY_BYTES = 2 + 32 + 32 + 8 + 1;
const HEADER_BYTES = 1 + 2 + 8 + 32 + 32 + 4 + MAX_HARDWARE_CLASS_BYTES + 32 + 4 + 8;
export const MAX_REPORT_BYTES = HEADER_BYTES + MAX_ENTRIES * ENTRY_BYTES;
export const MAX_SIGNED_REPORT_BYTES = 4 + MAX_REPORT_BYTES + 64;

export const SCORE_STATUSES = [
  'scored',
  'rejected-static',
  'rejected-runtime',
  'duplicate',
  'quarantined',
  'fetch-failed',
  'timeout',
  'not-evaluated',
] as const;
export type ScoreStatus = (typeof SCORE_STATUSES)[number];

export interface ScoreEntry {
  uid: number;
  minerHotkey: string;
  codeSha256: string;
  /** Fixed-point, SCORE_SCALE per unit; must be 0 unless status is 'scored'. */
  score: number;
  status: ScoreStatus;
}

export interface ScoreReport {
  version: 1;
  netuid: number;
  /** Block number at which the run's epoch starts. */
  runId: number;
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  validatorHotkey: string;
  /** Sorted by uid, unique. */
  entries: ScoreEntry[];
  /** Unix time in ms. */
  issuedAt: number;
}

export interface SignedScoreReport {
  report: ScoreReport;
  /** sr25519 signature, 64 bytes, lowercase hex. */
  signature: string;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

const HARDWARE_CLASS_RE = /^[A-Za-z0-9._:+-]{1,64}$/;

/** round(value * SCORE_SCALE); refuses negative or non-finite values. */
export function toScore(value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new CodecError(`score value must be a finite number >= 0, got ${value}`);
  return Math.round(value * SCORE_SCALE);
}

function statusCode(status: ScoreStatus, where: string): number {
  const i = SCORE_STATUSES.indexOf(status);
  if (i < 0) throw new CodecError(`${where}: unknown status ${clip(status)} (expected one of ${SCORE_STATUSES.join(', ')})`);
  return i;
}


const HEX32_RE = /^[0-9a-f]{64}$/;

function putHex32(buf: Buffer, at: number, hex: unknown, what: string): void {
  if (typeof hex !== 'string' || !HEX32_RE.test(hex)) {
    fromHex(hex as string, 32, what); // throws the precise error
    throw new CodecError(`${what}: expected 32 bytes of lowercase hex`);
  }
  buf.write(hex, at, 32, 'hex');
}

/** hotkeyToPublicKey with the field named in the error (which quotes the value cut short). */
function fieldHotkey(hotkey: string, what: string): Uint8Array {
  try {
    return hotkeyToPublicKey(hotkey);
  } catch (err) {
    throw new CodecError(`${what}: ${(err as Error).message}`);
  }
}

// Writes straight into one buffer of the exact size (the Writer's per-field allocations made this
// the hot spot of archiving); the layout is the one documented at the top of this file.
export function encodeScoreReport(report: ScoreReport): Uint8Array {
  if (report === null || typeof report !== 'object') throw new CodecError('score report: expected an object');
  if (report.version !== SCORE_REPORT_VERSION) throw new CodecError(`score report: unsupported version ${clip(report.version)} (this node speaks version 1)`);
  if (typeof report.hardwareClass !== 'string' || !HARDWARE_CLASS_RE.test(report.hardwareClass)) {
    throw new CodecError(`score report hardwareClass: expected 1..64 chars of [A-Za-z0-9._:+-], got ${clip(report.hardwareClass)}`);
  }
  if (!Array.isArray(report.entries)) throw new CodecError('score report entries: expected an array');
  const n = report.entries.length;
  if (n > MAX_ENTRIES) throw new CodecError(`score report: ${n} entries exceed the limit of ${MAX_ENTRIES}`);
  const hw = report.hardwareClass; // ASCII by the regex: one byte per char
  const size = 1 + 2 + 8 + 32 + 32 + 4 + hw.length + 32 + 4 + n * ENTRY_BYTES + 8;
  const buf = Buffer.alloc(size);
  let o = 0;
  buf[o++] = report.version;
  buf.writeUInt16BE(expectUint(report.netuid, 'score report netuid', 0xffff), o); o += 2;
  buf.writeBigUInt64BE(BigInt(expectUint(report.runId, 'score report runId')), o); o += 8;
  putHex32(buf, o, report.rosterHash, 'score report rosterHash'); o += 32;
  putHex32(buf, o, report.policyHash, 'score report policyHash'); o += 32;
  buf.writeUInt32BE(hw.length, o); o += 4;
  buf.write(hw, o, 'latin1'); o += hw.length;
  buf.set(fieldHotkey(report.validatorHotkey, 'score report validatorHotkey'), o); o += 32;
  buf.writeUInt32BE(n, o); o += 4;
  let prevUid = -1;
  for (let i = 0; i < n; i++) {
    const e = report.entries[i];
    const where = `score report entry ${i}`;
    if (e === null || typeof e !== 'object') throw new CodecError(`${where}: expected an object`);
    const uid = expectUint(e.uid, `${where} uid`, 0xffff);
    if (uid <= prevUid) throw new CodecError(`${where}: uid ${uid} ${uid === prevUid ? 'is duplicated' : 'is out of order'} (entries must be sorted by uid, unique)`);
    prevUid = uid;
    const code = statusCode(e.status, where);
    const score = expectUint(e.score, `${where} score`);
    if (e.status !== 'scored' && score !== 0) throw new CodecError(`${where}: status '${e.status}' must carry score 0, got ${score}`);
    buf.writeUInt16BE(uid, o); o += 2;
    buf.set(fieldHotkey(e.minerHotkey, `${where} minerHotkey`), o); o += 32;
    putHex32(buf, o, e.codeSha256, `${where} codeSha256`); o += 32;
    buf.writeBigUInt64BE(BigInt(score), o); o += 8;
    buf[o++] = code;
  }
  buf.writeBigUInt64BE(BigInt(expectUint(report.issuedAt, 'score report issuedAt')), o); o += 8;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Strict decoder: refuses oversize input, unknown versions, unsorted/duplicate entries, trailing bytes. */
export function decodeScoreReport(bytes: Uint8Array): ScoreReport {
  if (bytes.length > MAX_REPORT_BYTES) throw new CodecError(`score report: ${bytes.length} bytes exceed the limit of ${MAX_REPORT_BYTES}`);
  // The Reader handles the variable-length header; the fixed-width entries are read straight
  // from the buffer once their total size has been checked.
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(bytes, 'score report');
  const version = r.u8();
  if (version !== SCORE_REPORT_VERSION) throw new CodecError(`score report: unknown version ${version} (this node speaks version 1)`);
  const netuid = r.u16();
  const runId = r.u64();
  const rosterHash = toHex(r.fixed(32));
  const policyHash = toHex(r.fixed(32));
  const hardwareClass = r.string(MAX_HARDWARE_CLASS_BYTES);
  if (!HARDWARE_CLASS_RE.test(hardwareClass)) throw new CodecError(`score report hardwareClass ${clip(hardwareClass)} has characters outside [A-Za-z0-9._:+-] or is empty`);
  const validatorHotkey = publicKeyToHotkey(r.fixed(32));
  const count = r.u32();
  if (count > MAX_ENTRIES) throw new CodecError(`score report: ${count} entries exceed the limit of ${MAX_ENTRIES}`);
  const expected = count * ENTRY_BYTES + 8;
  if (r.remaining < expected) throw new CodecError(`score report: truncated (${count} entries announced, ${r.remaining} bytes left)`);
  if (r.remaining > expected) throw new CodecError(`score report: ${r.remaining - expected} trailing bytes`);
  let o = bytes.length - r.remaining;
  const entries: ScoreEntry[] = new Array(count);
  let prevUid = -1;
  for (let i = 0; i < count; i++) {
    const uid = buf.readUInt16BE(o);
    if (uid <= prevUid) throw new CodecError(`score report entry ${i}: uid ${uid} ${uid === prevUid ? 'is duplicated' : 'is out of order'} (entries must be sorted by uid, unique)`);
    prevUid = uid;
    const minerHotkey = publicKeyHexToHotkey(buf.toString('hex', o + 2, o + 34));
    const codeSha256 = buf.toString('hex', o + 34, o + 66);
    const big = buf.readBigUInt64BE(o + 66);
    if (big > MAX_SAFE) throw new CodecError(`score report entry ${i}: score ${big} exceeds 2^53-1`);
    const score = Number(big);
    const code = buf[o + 74];
    const status = SCORE_STATUSES[code];
    if (status === undefined) throw new CodecError(`score report entry ${i}: unknown status code ${code}`);
    if (status !== 'scored' && score !== 0) throw new CodecError(`score report entry ${i}: status '${status}' must carry score 0, got ${score}`);
    entries[i] = { uid, minerHotkey, codeSha256, score, status };
    o += ENTRY_BYTES;
  }
  const issuedBig = buf.readBigUInt64BE(o);
  if (issuedBig > MAX_SAFE) throw new CodecError(`score report: issuedAt ${issuedBig} exceeds 2^53-1`);
  return { version: 1, netuid, runId, rosterHash, policyHash, hardwareClass, validatorHotkey, entries, issuedAt: Number(issuedBig) };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** What `scoreReportHeader` reads: the fields that place a report (its run and author), not its entries. */
export interface ScoreReportHeader {
  netuid: number;
  runId: number;
  /** The author's sr25519 public key, 64 lowercase hex. */
  validatorPublicKey: string;
  entryCount: number;
}

/**
 * The header of canonical report bytes, with the framing checked (version, hardware-class length,
 * entry count against the total length) but no entry decoded: for stores that hand reports on as
 * bytes (an archive serving a run's evidence) and must place them without paying a full decode.
 * Whoever consumes the bytes still decodes them strictly.
 */
export function scoreReportHeader(bytes: Uint8Array): ScoreReportHeader {
  if (bytes.length > MAX_REPORT_BYTES) throw new CodecError(`score report: ${bytes.length} bytes exceed the limit of ${MAX_REPORT_BYTES}`);
  const r = new Reader(bytes, 'score report');
  const version = r.u8();
  if (version !== SCORE_REPORT_VERSION) throw new CodecError(`score report: unknown version ${version} (this node speaks version 1)`);
  const netuid = r.u16();
  const runId = r.u64();
  r.fixed(64); // rosterHash, policyHash
  const hwLength = r.u32();
  if (hwLength < 1 || hwLength > MAX_HARDWARE_CLASS_BYTES) throw new CodecError(`score report hardwareClass: ${hwLength} bytes, expected 1..${MAX_HARDWARE_CLASS_BYTES}`);
  r.fixed(hwLength);
  const validatorPublicKey = toHex(r.fixed(32));
  const entryCount = r.u32();
  if (entryCount > MAX_ENTRIES) throw new CodecError(`score report: ${entryCount} entries exceed the limit of ${MAX_ENTRIES}`);
  const expected = entryCount * ENTRY_BYTES + 8;
  if (r.remaining !== expected) throw new CodecError(`score report: ${entryCount} entries announced need ${expected} more bytes, ${r.remaining} left`);
  return { netuid, runId, validatorPublicKey, entryCount };
}

export function scoreReportHash(report: ScoreReport): string {
  return sha256Hex(encodeScoreReport(report));
}

export function scoreReportSigningBytes(report: ScoreReport): Uint8Array {
  return signingBytes(SCORE_REPORT_DOMAIN, encodeScoreReport(report));
}

export function signScoreReport(report: ScoreReport, signer: Sr25519Signer): SignedScoreReport {
  const pk = hotkeyToPublicKey(report.validatorHotkey);
  if (toHex(pk) !== toHex(signer.publicKey)) {
    throw new Error(`report names validator ${report.validatorHotkey} but the signing hotkey is ${signer.hotkey}`);
  }
  const signature = toHex(signer.sign(scoreReportSigningBytes(report)));
  return { report, signature };
}

/**
 * verifySignedScoreReport over report bytes the caller already holds in canonical form (e.g. the slice
 * of a strictly decoded reveal), so the report is not encoded again.
 */
export function verifyScoreReportBytes(reportBytes: Uint8Array, signatureHex: string, hotkey: string): VerifyResult {
  let sig: Uint8Array;
  try {
    sig = fromHex(signatureHex, 64, 'signature');
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (!verifySr25519(signingBytes(SCORE_REPORT_DOMAIN, reportBytes), sig, hotkey)) {
    return { ok: false, reason: `signature does not verify for validator hotkey ${hotkey}` };
  }
  return { ok: true };
}

export function verifySignedScoreReport(signed: SignedScoreReport): VerifyResult {
  if (signed === null || typeof signed !== 'object') return { ok: false, reason: 'not a signed report object' };
  let reportBytes: Uint8Array;
  try {
    reportBytes = encodeScoreReport(signed.report);
  } catch (err) {
    return { ok: false, reason: `malformed report: ${(err as Error).message}` };
  }
  return verifyScoreReportBytes(reportBytes, signed.signature, signed.report.validatorHotkey);
}

/** The canonical report bytes inside a signed report's encoding (a view), without a full decode; undefined when the framing does not hold. */
export function reportBytesOfSigned(signed: Uint8Array): Uint8Array | undefined {
  if (signed.length < 4 + 64) return undefined;
  const n = new DataView(signed.buffer, signed.byteOffset, signed.byteLength).getUint32(0);
  if (4 + n + 64 !== signed.length) return undefined;
  return signed.subarray(4, 4 + n);
}

export function encodeSignedScoreReport(signed: SignedScoreReport): Uint8Array {
  const w = new Writer();
  w.bytes(encodeScoreReport(signed.report));
  w.fixed(fromHex(signed.signature, 64, 'signature'), 64);
  return w.finish();
}

/** Decodes (does not verify) a signed report; call verifySignedScoreReport on the result. */
export function decodeSignedScoreReport(bytes: Uint8Array): SignedScoreReport {
  if (bytes.length > MAX_SIGNED_REPORT_BYTES) throw new CodecError(`signed score report: ${bytes.length} bytes exceed the limit of ${MAX_SIGNED_REPORT_BYTES}`);
  const r = new Reader(bytes, 'signed score report');
  const report = decodeScoreReport(r.bytes(MAX_REPORT_BYTES));
  const signature = toHex(r.fixed(64));
  r.end();
  return { report, signature };
}

// ---- JSON (CLI files, HTTP): strict shape checks, then the canonical encoder's checks ----

function expectObject(v: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CodecError(`${what}: expected a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new CodecError(`${what}: unknown field ${k.length <= 40 ? `'${k}'` : clip(k)}`);
  for (const k of keys) if (!(k in o)) throw new CodecError(`${what}: missing field '${k}'`);
  return o;
}

const REPORT_KEYS = ['version', 'netuid', 'runId', 'rosterHash', 'policyHash', 'hardwareClass', 'validatorHotkey', 'entries', 'issuedAt'] as const;
const ENTRY_KEYS = ['uid', 'minerHotkey', 'codeSha256', 'score', 'status'] as const;

/** Validates parsed JSON as a ScoreReport (exact fields, canonical values); returns a normalised copy. */
export function parseScoreReportJson(value: unknown): ScoreReport {
  const o = expectObject(value, 'score report', REPORT_KEYS);
  if (!Array.isArray(o.entries)) throw new CodecError('score report entries: expected an array');
  const entries = o.entries.map((e, i) => {
    const x = expectObject(e, `score report entry ${i}`, ENTRY_KEYS);
    return { uid: x.uid, minerHotkey: x.minerHotkey, codeSha256: x.codeSha256, score: x.score, status: x.status } as ScoreEntry;
  });
  const report = { ...(o as unknown as ScoreReport), entries };
  // The decoder's output is the normal form (hotkeys in SS58 prefix 42).
  return decodeScoreReport(encodeScoreReport(report));
}

/**
 * The canonical signed bytes of a signed report given as parsed JSON: the same checks as
 * parseSignedScoreReportJson without building the normalised copy (bulk imports keep only bytes).
 */
export function encodeSignedScoreReportJson(value: unknown): Uint8Array {
  const o = expectObject(value, 'signed score report', ['report', 'signature']);
  const r = expectObject(o.report, 'score report', REPORT_KEYS);
  if (!Array.isArray(r.entries)) throw new CodecError('score report entries: expected an array');
  r.entries.forEach((e, i) => expectObject(e, `score report entry ${i}`, ENTRY_KEYS));
  const reportBytes = encodeScoreReport(r as unknown as ScoreReport);
  if (typeof o.signature !== 'string') throw new CodecError('signed score report: signature must be a hex string');
  const sig = fromHex(o.signature, 64, 'signature');
  const out = new Uint8Array(4 + reportBytes.length + 64);
  new DataView(out.buffer).setUint32(0, reportBytes.length);
  out.set(reportBytes, 4);
  out.set(sig, 4 + reportBytes.length);
  return out;
}

export function parseSignedScoreReportJson(value: unknown): SignedScoreReport {
  const o = expectObject(value, 'signed score report', ['report', 'signature']);
  const report = parseScoreReportJson(o.report);
  if (typeof o.signature !== 'string') throw new CodecError('signed score report: signature must be a hex string');
  fromHex(o.signature, 64, 'signature');
  return { report, signature: o.signature };
}
