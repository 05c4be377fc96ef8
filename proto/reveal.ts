// Reveal: a validator's signed score report together with the salt of its on-chain commitment.
//
// Before the commit deadline a validator commits `sha256(salt || report)` on chain, where `report` is
// the canonical ScoreReport encoding (proto/score-report.ts) and `salt` 32 fresh random bytes; the
// report and the salt stay on the node until the reveal window opens. The salt makes the commitment
// unguessable: scores repeat across runs and issuedAt is only milliseconds, so an unsalted hash of a
// report can be brute-forced from a handful of candidate score maps within the commit window.
//
// Wire form v1: u8 version=1 | [32] salt | signed report (u32-len canonical report | [64] sr25519 signature)
// Content key of a reveal (gossip, fetch, dedup): sha256 of these bytes. The report hash
// (`scoreReportHash`, sha256 of the canonical report) stays the report's identifier in decisions.
import { randomBytes } from 'node:crypto';
import { CodecError, Reader, Writer, fromHex, sha256Hex, toHex } from './codec.ts';
import { MAX_SIGNED_REPORT_BYTES, decodeSignedScoreReport, encodeScoreReport, encodeSignedScoreReport, reportBytesOfSigned, scoreReportHeader, type SignedScoreReport } from './score-report.ts';

export const REVEAL_VERSION = 1;
export const SALT_BYTES = 32;
export const MAX_REVEAL_BYTES = 1 + SALT_BYTES + MAX_SIGNED_REPORT_BYTES;

export interface Reveal {
  /** 32 bytes, lowercase hex. */
  salt: string;
  signed: SignedScoreReport;
}

/** A fresh salt (32 random bytes, hex). */
export function freshSalt(): string {
  return toHex(randomBytes(SALT_BYTES));
}

/** The commitment put on chain: sha256(salt || canonical report bytes), hex. */
export function reportCommitment(saltHex: string, canonicalReport: Uint8Array): string {
  const salt = fromHex(saltHex, SALT_BYTES, 'reveal salt');
  const buf = new Uint8Array(SALT_BYTES + canonicalReport.length);
  buf.set(salt, 0);
  buf.set(canonicalReport, SALT_BYTES);
  return sha256Hex(buf);
}

/** The commitment a reveal opens (recomputed from its salt and the report's canonical bytes). */
export function revealCommitment(r: Reveal): string {
  return reportCommitment(r.salt, encodeScoreReport(r.signed.report));
}

export function encodeReveal(r: Reveal): Uint8Array {
  if (r === null || typeof r !== 'object') throw new CodecError('reveal: expected an object');
  const signed = encodeSignedScoreReport(r.signed);
  const w = new Writer();
  w.u8(REVEAL_VERSION).fixed(fromHex(r.salt, SALT_BYTES, 'reveal salt'), SALT_BYTES).fixed(signed, signed.length);
  return w.finish();
}

/**
 * The same bytes as encodeReveal, from a salt and a report already in its canonical signed encoding
 * (as an archive stores it): no decode, no re-encode. The caller vouches that `signed` is canonical;
 * a reader of the reveal decodes it strictly either way.
 */
export function encodeRevealBytes(saltHex: string, signed: Uint8Array): Uint8Array {
  if (signed.length > MAX_SIGNED_REPORT_BYTES) throw new CodecError(`reveal: a signed report of ${signed.length} bytes exceeds the limit of ${MAX_SIGNED_REPORT_BYTES}`);
  const out = new Uint8Array(1 + SALT_BYTES + signed.length);
  out[0] = REVEAL_VERSION;
  out.set(fromHex(saltHex, SALT_BYTES, 'reveal salt'), 1);
  out.set(signed, 1 + SALT_BYTES);
  return out;
}

/**
 * decodeReveal, also handing back the canonical report bytes inside the reveal (a view, not a copy):
 * the strict decode proves them canonical, so hashes, signature checks and the commitment can use
 * them instead of encoding the report again.
 */
export function decodeRevealWithReport(bytes: Uint8Array): { reveal: Reveal; reportBytes: Uint8Array } {
  const reveal = decodeReveal(bytes);
  return { reveal, reportBytes: reportBytesOfSigned(bytes.subarray(1 + SALT_BYTES))! };
}

/** The author's sr25519 public key (hex) of reveal bytes, read from the report's header without decoding its entries. */
export function revealAuthorPublicKey(bytes: Uint8Array): string {
  if (bytes.length < 1 + SALT_BYTES + 4) throw new CodecError(`reveal: truncated (${bytes.length} bytes)`);
  if (bytes[0] !== REVEAL_VERSION) throw new CodecError(`reveal: unknown version ${bytes[0]} (this node speaks version ${REVEAL_VERSION})`);
  const start = 1 + SALT_BYTES + 4;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1 + SALT_BYTES);
  if (start + n + 64 !== bytes.length) throw new CodecError(`reveal: a report of ${n} bytes and a signature do not fill ${bytes.length - start} bytes`);
  return scoreReportHeader(bytes.subarray(start, start + n)).validatorPublicKey;
}

export function decodeReveal(bytes: Uint8Array): Reveal {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('reveal: expected bytes');
  if (bytes.length > MAX_REVEAL_BYTES) throw new CodecError(`reveal: ${bytes.length} bytes exceed the limit of ${MAX_REVEAL_BYTES}`);
  const r = new Reader(bytes, 'reveal');
  const version = r.u8();
  if (version !== REVEAL_VERSION) throw new CodecError(`reveal: unknown version ${version} (this node speaks version ${REVEAL_VERSION})`);
  const salt = toHex(r.fixed(SALT_BYTES));
  const signed = decodeSignedScoreReport(r.fixed(r.remaining));
  return { salt, signed };
}
