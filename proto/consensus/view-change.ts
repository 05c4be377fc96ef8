// View changes: signing bytes, signature, bytes (layout: ../consensus.ts).
import { CodecError, Reader, Writer, expectUint, fromHex, signingBytes, toHex } from '../codec.ts';
import { VIEW_CHANGE_DOMAIN, type ViewChange } from './types.ts';
import { decisionHash } from './decision.ts';
import { readCertificate, writeCertificate } from './certificate.ts';

// ---- view changes ----

export function viewChangeSigningBytes(vc: Omit<ViewChange, 'voter' | 'signature'>): Uint8Array {
  const w = new Writer().u16(expectUint(vc.netuid, 'view-change netuid', 0xffff)).u64(expectUint(vc.runId, 'view-change runId')).u32(expectUint(vc.newView, 'view-change view', 0xffffffff));
  if (vc.prepared) w.u8(1).u32(vc.prepared.view).fixed(fromHex(decisionHash(vc.prepared.decision), 32), 32);
  else w.u8(0);
  return signingBytes(VIEW_CHANGE_DOMAIN, w.finish());
}

export function signViewChange(vc: Omit<ViewChange, 'voter' | 'signature'>, signer: { publicKey: Uint8Array; sign(m: Uint8Array): Uint8Array }): ViewChange {
  const body = { netuid: vc.netuid, runId: vc.runId, newView: vc.newView, prepared: vc.prepared };
  return { ...body, voter: toHex(signer.publicKey), signature: toHex(signer.sign(viewChangeSigningBytes(body))) };
}

export function writeViewChange(w: Writer, vc: ViewChange): void {
  w.u16(expectUint(vc.netuid, 'view-change netuid', 0xffff)).u64(expectUint(vc.runId, 'view-change runId')).u32(expectUint(vc.newView, 'view-change view', 0xffffffff));
  if (vc.prepared) {
    w.u8(1);
    writeCertificate(w, vc.prepared);
  } else w.u8(0);
  w.fixed(fromHex(vc.voter, 32, 'view-change voter'), 32).fixed(fromHex(vc.signature, 64, 'view-change signature'), 64);
}

export function readViewChange(r: Reader): ViewChange {
  const netuid = r.u16();
  const runId = r.u64();
  const newView = r.u32();
  const f = r.u8();
  if (f > 1) throw new CodecError(`view-change: non-canonical lock flag ${f}`);
  const prepared = f === 1 ? readCertificate(r) : null;
  if (prepared && prepared.phase !== 'prepare') throw new CodecError('view-change: the lock must be a prepare certificate');
  return { netuid, runId, newView, prepared, voter: toHex(r.fixed(32)), signature: toHex(r.fixed(64)) };
}
