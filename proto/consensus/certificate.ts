// Certificates (a quorum of votes on one decision) and certified runs (a commit certificate with its
// voters' bindings) (layouts: ../consensus.ts).
import { CodecError, Reader, Writer, expectUint } from '../codec.ts';
import { MAX_BINDING_BYTES, decodeBinding, encodeBinding, type BindingRecord } from '../binding.ts';
import { CERTIFIED_RUN_VERSION, type Certificate, type CertifiedRun, DECISION_VERSION, MAX_CERTIFIED_RUN_BYTES, MAX_CERT_BYTES, MAX_DECISION_BYTES, MAX_MEMBERS, type Vote } from './types.ts';
import { decodeDecision, encodeDecision } from './decision.ts';
import { readVote, writeVote } from './vote.ts';

// ---- certificates ----

export function writeCertificate(w: Writer, c: Certificate): void {
  if (c.phase !== 'prepare' && c.phase !== 'commit') throw new CodecError(`certificate phase: expected prepare or commit`);
  if (c.votes.length > MAX_MEMBERS) throw new CodecError('certificate: too many votes');
  w.u8(c.phase === 'prepare' ? 1 : 2).u32(expectUint(c.view, 'certificate view', 0xffffffff)).bytes(encodeDecision(c.decision));
  w.u16(c.votes.length);
  let prev = '';
  for (const v of c.votes) {
    if (v.voter <= prev) throw new CodecError('certificate votes: voters must be strictly ascending');
    prev = v.voter;
    writeVote(w, v);
  }
}

export function readCertificate(r: Reader): Certificate {
  const p = r.u8();
  if (p !== 1 && p !== 2) throw new CodecError(`certificate: unknown phase ${p}`);
  const view = r.u32();
  const decision = decodeDecision(r.bytes(MAX_DECISION_BYTES));
  const n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('certificate: too many votes');
  const votes: Vote[] = [];
  let prev = '';
  for (let i = 0; i < n; i++) {
    const v = readVote(r);
    if (v.voter <= prev) throw new CodecError('certificate votes: voters must be strictly ascending');
    prev = v.voter;
    votes.push(v);
  }
  return { phase: p === 1 ? 'prepare' : 'commit', view, decision, votes };
}

export function encodeCertificate(c: Certificate): Uint8Array {
  const w = new Writer();
  writeCertificate(w, c);
  return w.finish();
}

export function decodeCertificate(bytes: Uint8Array): Certificate {
  const r = new Reader(bytes, 'certificate');
  const c = readCertificate(r);
  r.end();
  return c;
}

/**
 * The netuid and run of an encoded certificate of ANY decision version (1 or 2), read from its header
 * (u8 phase | u32 view | u32 len | decision: u8 version | u16 netuid | u64 runId ...), or null. For
 * archives, which file certificates by run and keep those of older protocol versions: it does not
 * validate the certificate (decodeCertificate does, for the current version only).
 */
export function certificateRunOf(bytes: Uint8Array): { netuid: number; runId: number; decisionVersion: number } | null {
  try {
    const r = new Reader(bytes, 'certificate');
    const phase = r.u8();
    if (phase !== 1 && phase !== 2) return null;
    r.u32();
    const len = r.u32();
    if (len > r.remaining || len < 11) return null;
    const decisionVersion = r.u8();
    if (decisionVersion !== 1 && decisionVersion !== DECISION_VERSION) return null;
    return { netuid: r.u16(), runId: r.u64(), decisionVersion };
  } catch {
    return null;
  }
}

// ---- certified runs (commit certificate + voter bindings) ----

export function writeCertifiedRun(w: Writer, x: CertifiedRun): void {
  if (x.certificate.phase !== 'commit') throw new CodecError('certified run: the certificate must be a commit certificate');
  if (x.bindings.length > MAX_MEMBERS) throw new CodecError('certified run: too many bindings');
  const cw = new Writer();
  writeCertificate(cw, x.certificate);
  w.u8(CERTIFIED_RUN_VERSION).bytes(cw.finish()).u16(x.bindings.length);
  for (const b of x.bindings) w.bytes(encodeBinding(b));
}

export function readCertifiedRun(r: Reader): CertifiedRun {
  const version = r.u8();
  if (version !== CERTIFIED_RUN_VERSION) throw new CodecError(`certified run: unknown version ${version} (this node speaks version ${CERTIFIED_RUN_VERSION})`);
  const certificate = decodeCertificate(r.bytes(MAX_CERT_BYTES));
  if (certificate.phase !== 'commit') throw new CodecError('certified run: the certificate must be a commit certificate');
  const n = r.u16();
  if (n > MAX_MEMBERS) throw new CodecError('certified run: too many bindings');
  const bindings: BindingRecord[] = [];
  for (let i = 0; i < n; i++) bindings.push(decodeBinding(r.bytes(MAX_BINDING_BYTES)));
  return { certificate, bindings };
}

export function encodeCertifiedRun(x: CertifiedRun): Uint8Array {
  const w = new Writer();
  writeCertifiedRun(w, x);
  return w.finish();
}

export function decodeCertifiedRun(bytes: Uint8Array): CertifiedRun {
  if (bytes.length > MAX_CERTIFIED_RUN_BYTES) throw new CodecError(`certified run: ${bytes.length} bytes exceed the limit`);
  const r = new Reader(bytes, 'certified run');
  const x = readCertifiedRun(r);
  r.end();
  return x;
}
