// Wire format of the run-bundle protocol (owned by node/p2p/run-bundle.ts): a past run's reveals and
// certified run, served read-only to any authenticated peer so an outside auditor can fetch it.
//
// Run bundle v1 frames (protocol /conclave/run-bundle/2.0.0 since it carries reveals and certified runs, read-only, open to any authenticated peer so that
// an outside auditor can fetch a past run; one request and one response per stream, paged by offset):
//   request:  u8 version=1 | u16 netuid | u64 runId | u16 offset (index of the first report wanted)
//   response: u8 version=1 | u8 status (0 ok, 1 rate-limited, 2 bad-request, 3 unavailable, 4 not-found)
//             | u32-len utf8 message (<= 256) | u16 total (reports the server holds for the run, <= MAX_BUNDLE_REPORTS)
//             | u16 offset | u16 count of u32-len encoded Reveals (proto/reveal.ts; each <= MAX_GOSSIP_PAYLOAD_BYTES)
//             | u32-len certified run (proto/consensus.ts CertifiedRun: commit certificate + voter bindings;
//               <= MAX_BUNDLE_CERTIFICATE_BYTES; empty when none or offset > 0)
//   The whole response is <= MAX_FETCH_RESPONSE_BYTES; the server puts as many reports as fit.
import { CodecError, Reader, Writer, expectUint } from './codec.ts';
import { MAX_FETCH_RESPONSE_BYTES, MAX_GOSSIP_PAYLOAD_BYTES, MAX_REASON_BYTES } from './frame-limits.ts';

/** Reports per run a server offers (one per validator; far above any subnet's validator count). */
export const MAX_BUNDLE_REPORTS = 1024;
export const MAX_BUNDLE_CERTIFICATE_BYTES = MAX_GOSSIP_PAYLOAD_BYTES;
export const RUN_BUNDLE_REQUEST_BYTES = 1 + 2 + 8 + 2;

export type RunBundleStatus = 'ok' | 'rate-limited' | 'bad-request' | 'unavailable' | 'not-found';
const RUN_BUNDLE_STATUSES: RunBundleStatus[] = ['ok', 'rate-limited', 'bad-request', 'unavailable', 'not-found'];

export interface RunBundleRequest {
  version: 1;
  netuid: number;
  runId: number;
  /** Index of the first report wanted (0 for the first page). */
  offset: number;
}

export interface RunBundleResponse {
  version: 1;
  status: RunBundleStatus;
  message: string;
  /** Reports the server holds for the run. */
  total: number;
  /** Index of reports[0] in the server's list. */
  offset: number;
  /** Encoded SignedScoreReports (opaque here: the auditor verifies them). */
  reports: Uint8Array[];
  /** Encoded commit certificate (proto/consensus.ts); empty when the server has none or on pages after the first. */
  certificate: Uint8Array;
}

export function encodeRunBundleRequest(q: RunBundleRequest): Uint8Array {
  const offset = expectUint(q.offset, 'run bundle offset');
  if (offset > MAX_BUNDLE_REPORTS) throw new CodecError(`run bundle request: offset ${offset} exceeds ${MAX_BUNDLE_REPORTS}`);
  const w = new Writer();
  w.u8(1).u16(expectUint(q.netuid, 'netuid')).u64(expectUint(q.runId, 'runId')).u16(offset);
  return w.finish();
}

export function decodeRunBundleRequest(bytes: Uint8Array): RunBundleRequest {
  if (bytes.length !== RUN_BUNDLE_REQUEST_BYTES) throw new CodecError(`run bundle request: expected ${RUN_BUNDLE_REQUEST_BYTES} bytes, got ${bytes.length}`);
  const r = new Reader(bytes, 'run bundle request');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`run bundle request: unknown version ${version} (this node speaks version 1)`);
  const netuid = r.u16();
  const runId = r.u64();
  const offset = r.u16();
  r.end();
  if (offset > MAX_BUNDLE_REPORTS) throw new CodecError(`run bundle request: offset ${offset} exceeds ${MAX_BUNDLE_REPORTS}`);
  return { version: 1, netuid, runId, offset };
}

export function encodeRunBundleResponse(s: RunBundleResponse): Uint8Array {
  const code = RUN_BUNDLE_STATUSES.indexOf(s.status);
  if (code < 0) throw new CodecError(`run bundle response: unknown status ${JSON.stringify(s.status)}`);
  if (s.total > MAX_BUNDLE_REPORTS) throw new CodecError(`run bundle response: total ${s.total} exceeds ${MAX_BUNDLE_REPORTS}`);
  if (s.offset + s.reports.length > s.total) throw new CodecError(`run bundle response: offset ${s.offset} + ${s.reports.length} reports exceed total ${s.total}`);
  if (s.certificate.length > MAX_BUNDLE_CERTIFICATE_BYTES) throw new CodecError(`run bundle response: certificate of ${s.certificate.length} bytes exceeds ${MAX_BUNDLE_CERTIFICATE_BYTES}`);
  const w = new Writer();
  w.u8(1).u8(code).string(s.message.slice(0, 200), MAX_REASON_BYTES).u16(s.total).u16(s.offset).u16(s.reports.length);
  for (const r of s.reports) {
    if (r.length > MAX_GOSSIP_PAYLOAD_BYTES) throw new CodecError(`run bundle response: a report of ${r.length} bytes exceeds ${MAX_GOSSIP_PAYLOAD_BYTES}`);
    w.bytes(r);
  }
  w.bytes(s.certificate);
  const out = w.finish();
  if (out.length > MAX_FETCH_RESPONSE_BYTES) throw new CodecError(`run bundle response: ${out.length} bytes exceed the limit of ${MAX_FETCH_RESPONSE_BYTES}`);
  return out;
}

export function decodeRunBundleResponse(bytes: Uint8Array): RunBundleResponse {
  if (bytes.length > MAX_FETCH_RESPONSE_BYTES) throw new CodecError(`run bundle response: ${bytes.length} bytes exceed the limit of ${MAX_FETCH_RESPONSE_BYTES}`);
  const r = new Reader(bytes, 'run bundle response');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`run bundle response: unknown version ${version}`);
  const code = r.u8();
  const status = RUN_BUNDLE_STATUSES[code];
  if (status === undefined) throw new CodecError(`run bundle response: unknown status code ${code}`);
  const message = r.string(MAX_REASON_BYTES);
  const total = r.u16();
  const offset = r.u16();
  const n = r.u16();
  if (total > MAX_BUNDLE_REPORTS || offset + n > total) throw new CodecError(`run bundle response: inconsistent counts (total ${total}, offset ${offset}, count ${n})`);
  const reports: Uint8Array[] = [];
  for (let i = 0; i < n; i++) reports.push(r.bytes(MAX_GOSSIP_PAYLOAD_BYTES));
  const certificate = r.bytes(MAX_BUNDLE_CERTIFICATE_BYTES);
  r.end();
  return { version: 1, status, message, total, offset, reports, certificate };
}

/**
 * One page of a run bundle (pure): reports from `offset` while the frame stays under `maxBytes`
 * (at least one report per page when any is left, so paging always advances); the certificate on page 0 only.
 */
export function runBundlePage(reports: Uint8Array[], certificate: Uint8Array | null, offset: number, maxBytes = MAX_FETCH_RESPONSE_BYTES): RunBundleResponse {
  const all = reports.slice(0, MAX_BUNDLE_REPORTS);
  const cert = offset === 0 && certificate ? certificate : new Uint8Array(0);
  let size = 1 + 1 + 4 + 2 + 2 + 2 + 4 + cert.length;
  const page: Uint8Array[] = [];
  for (let i = offset; i < all.length; i++) {
    const next = size + 4 + all[i].length;
    if (next > maxBytes && page.length > 0) break;
    size = next;
    page.push(all[i]);
  }
  return { version: 1, status: 'ok', message: '', total: all.length, offset: Math.min(offset, all.length), reports: page, certificate: cert };
}
