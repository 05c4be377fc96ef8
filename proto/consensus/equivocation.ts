// Equivocation proofs: two conflicting reports, votes or bindings by one signer.
import { CodecError, Reader, Writer } from '../codec.ts';
import { MAX_SIGNED_REPORT_BYTES, decodeSignedScoreReport, encodeSignedScoreReport } from '../score-report.ts';
import { MAX_BINDING_BYTES, decodeBinding, encodeBinding } from '../binding.ts';
import type { EquivocationProof } from './types.ts';
import { readVote, writeVote } from './vote.ts';

// ---- equivocation proofs ----

export function writeProof(w: Writer, p: EquivocationProof): void {
  if (p.kind === 'report') {
    w.u8(1).bytes(encodeSignedScoreReport(p.a)).bytes(encodeSignedScoreReport(p.b));
  } else if (p.kind === 'vote') {
    w.u8(2);
    writeVote(w, p.a);
    writeVote(w, p.b);
    if (p.binding) w.u8(1).bytes(encodeBinding(p.binding));
    else w.u8(0);
  } else if (p.kind === 'binding') {
    w.u8(3).bytes(encodeBinding(p.a)).bytes(encodeBinding(p.b));
  } else {
    throw new CodecError(`equivocation proof: unknown kind ${(p as { kind: string }).kind}`);
  }
}

export function readProof(r: Reader): EquivocationProof {
  const k = r.u8();
  if (k === 1) return { kind: 'report', a: decodeSignedScoreReport(r.bytes(MAX_SIGNED_REPORT_BYTES)), b: decodeSignedScoreReport(r.bytes(MAX_SIGNED_REPORT_BYTES)) };
  if (k === 2) {
    const a = readVote(r);
    const b = readVote(r);
    const f = r.u8();
    if (f > 1) throw new CodecError(`equivocation proof: non-canonical binding flag ${f}`);
    return { kind: 'vote', a, b, binding: f === 1 ? decodeBinding(r.bytes(MAX_BINDING_BYTES)) : null };
  }
  if (k === 3) return { kind: 'binding', a: decodeBinding(r.bytes(MAX_BINDING_BYTES)), b: decodeBinding(r.bytes(MAX_BINDING_BYTES)) };
  throw new CodecError(`equivocation proof: unknown kind ${k}`);
}

export function encodeEquivocationProof(p: EquivocationProof): Uint8Array {
  const w = new Writer();
  writeProof(w, p);
  return w.finish();
}

export function decodeEquivocationProof(bytes: Uint8Array): EquivocationProof {
  const r = new Reader(bytes, 'equivocation proof');
  const p = readProof(r);
  r.end();
  return p;
}
