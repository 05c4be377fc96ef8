// A signed score report as the archive stores it (the canonical signed encoding) and the checks
// around it: preparing a report for a write (encode, verify, slot key) and decoding a stored one
// against the slot it sits in. Pure: no store access.
import { fromHex, sha256Hex, toHex } from '../../proto/codec.ts';
import {
  decodeSignedScoreReport,
  encodeScoreReport,
  reportBytesOfSigned,
  scoreReportHeader,
  verifyScoreReportBytes,
  verifySignedScoreReport,
  type SignedScoreReport,
} from '../../proto/score-report.ts';
import { hotkeyToPublicKey } from '../../proto/signer.ts';
import { ArchiveCorruptError } from './errors.ts';
import { parseSlot, slotKey } from './keys.ts';

/** Same bytes as encodeSignedScoreReport, from already-encoded report bytes (one allocation). */
export function encodeSigned(reportBytes: Uint8Array, signature: string): Uint8Array {
  const sig = fromHex(signature, 64, 'signature');
  const out = new Uint8Array(4 + reportBytes.length + 64);
  new DataView(out.buffer).setUint32(0, reportBytes.length);
  out.set(reportBytes, 4);
  out.set(sig, 4 + reportBytes.length);
  return out;
}

/** A report ready to write (its slot, canonical bytes, stored value, hash), or why it is refused. */
export type Prepared = { slot: string; reportBytes: Uint8Array; value: Uint8Array; hash: string } | { slot?: undefined; error: string };

/** Encodes `s` for its slot on `chain` and, unless `verified`, checks its signature. */
export function prepareReport(s: SignedScoreReport, chain: string, verified: boolean): Prepared {
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
 * A report already in its canonical signed encoding (bulk imports): decoded once to check it,
 * verified (unless `verified`) over its own bytes, and stored as given — no re-encoding.
 */
export function prepareEncoded(bytes: Uint8Array, chain: string, verified: boolean): Prepared {
  try {
    const signed = decodeSignedScoreReport(bytes);
    const reportBytes = reportBytesOfSigned(bytes)!;
    if (!verified) {
      const v = verifyScoreReportBytes(reportBytes, signed.signature, signed.report.validatorHotkey);
      if (!v.ok) return { error: v.reason };
    }
    const slot = slotKey({ chain, netuid: signed.report.netuid, runId: signed.report.runId }, signed.report.validatorHotkey);
    return { slot, reportBytes, value: bytes, hash: sha256Hex(reportBytes) };
  } catch (err) {
    return { error: `malformed report: ${(err as Error).message}` };
  }
}

/** Whether stored bytes decode as a signed report at all. */
export function decodes(value: Uint8Array): boolean {
  try {
    decodeSignedScoreReport(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * A stored report, checked against its slot. `slot` is the key of the first report; `key` names
 * the entry in errors. Throws ArchiveCorruptError when it does not decode, sits in another slot,
 * or (with `verify`) its signature fails.
 */
export function decodeStoredReport(slot: string, key: string, value: Uint8Array, verify: boolean): SignedScoreReport {
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

/** A stored report kept as its bytes: the canonical signed encoding, the report inside it, its hash. */
export interface StoredReportBytes {
  value: Uint8Array;
  reportBytes: Uint8Array;
  /** sha256 of `reportBytes` (the report's identifier, `scoreReportHash`), hex. */
  hash: string;
}

/**
 * A stored report as bytes, checked against its slot from the report's header alone (framing, netuid,
 * run, author) with no entry decoded: for handing a run's evidence on (run bundles, audits), whose
 * reader decodes and verifies every report strictly anyway. Throws ArchiveCorruptError like
 * decodeStoredReport for a value that is not framed as a signed report or sits in another slot.
 */
export function storedReportBytes(slot: string, key: string, value: Uint8Array): StoredReportBytes {
  const reportBytes = reportBytesOfSigned(value);
  if (!reportBytes) throw new ArchiveCorruptError(key, `is not a signed report (${value.length} bytes; expected a u32 length, the report and a 64-byte signature)`);
  let header;
  try {
    header = scoreReportHeader(reportBytes);
  } catch (err) {
    throw new ArchiveCorruptError(key, (err as Error).message);
  }
  const s = parseSlot(slot);
  if (!s || s.netuid !== header.netuid || s.runId !== header.runId || header.validatorPublicKey !== s.pubHex) {
    throw new ArchiveCorruptError(key, `holds the report of netuid ${header.netuid} run ${header.runId} by public key ${header.validatorPublicKey}`);
  }
  return { value, reportBytes, hash: sha256Hex(reportBytes) };
}
