// BindingRecord: the hotkey (sr25519) vouches for a node key (ed25519) — and therefore for a libp2p
// peer id — for a bounded time. Peers accept ed25519-signed protocol messages from a peer only
// while a valid binding ties that peer to a hotkey in the metagraph.
//
// Canonical body v1: u8 version=1 | [32] hotkey public key | [32] node public key
//   | u32-len utf8 peerId (<= 128 bytes) | u8 count (<= 16) of u32-len utf8 multiaddrs (<= 256 bytes each)
//   | u64 issuedAt | u64 expiresAt
// Signature = sr25519(hotkey, utf8("conclave/binding/v1") || 0x00 || body). Wire form: body | [64] signature.
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { CodecError, Reader, Writer, expectUint, fromHex, signingBytes, toHex } from './codec.ts';
import { hotkeyToPublicKey, publicKeyToHotkey, verifySr25519, type Sr25519Signer } from './signer.ts';
import type { VerifyResult } from './score-report.ts';

export const BINDING_DOMAIN = 'conclave/binding/v1';
export const MAX_MULTIADDRS = 16;
export const MAX_MULTIADDR_BYTES = 256;
export const MAX_PEER_ID_BYTES = 128;
/** Longest validity a verifier accepts (a node re-signs its binding well before it expires). */
export const MAX_BINDING_LIFETIME_MS = 30 * 24 * 3600_000;
/** Tolerated clock skew for issuedAt in the future. */
export const BINDING_CLOCK_SKEW_MS = 60_000;
export const MAX_BINDING_BYTES = 1 + 32 + 32 + 4 + MAX_PEER_ID_BYTES + 1 + MAX_MULTIADDRS * (4 + MAX_MULTIADDR_BYTES) + 8 + 8 + 64;

export interface BindingRecord {
  version: 1;
  hotkey: string;
  /** ed25519 public key, 32 bytes hex. */
  nodePublicKey: string;
  /** libp2p peer id string derived from nodePublicKey. */
  peerId: string;
  multiaddrs: string[];
  issuedAt: number;
  expiresAt: number;
  /** sr25519 signature by hotkey, 64 bytes hex. */
  signature: string;
}

export type UnsignedBinding = Omit<BindingRecord, 'signature'>;

/** The libp2p peer id (base58 string) of an ed25519 public key. */
export function peerIdOfNodePublicKey(nodePublicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(nodePublicKey)).toString();
}


export function encodeBindingBody(b: UnsignedBinding): Uint8Array {
  if (b === null || typeof b !== 'object') throw new CodecError('binding: expected an object');
  if (b.version !== 1) throw new CodecError(`binding: unsupported version ${String(b.version)} (this node speaks version 1)`);
  const w = new Writer();
  w.u8(1);
  w.fixed(hotkeyToPublicKey(b.hotkey), 32);
  w.fixed(fromHex(b.nodePublicKey, 32, 'binding nodePublicKey'), 32);
  if (typeof b.peerId !== 'string' || b.peerId.length === 0) throw new CodecError('binding peerId: expected a non-empty string');
  w.string(b.peerId, MAX_PEER_ID_BYTES);
  if (!Array.isArray(b.multiaddrs) || b.multiaddrs.length > MAX_MULTIADDRS) throw new CodecError(`binding multiaddrs: expected an array of at most ${MAX_MULTIADDRS} strings`);
  w.u8(b.multiaddrs.length);
  for (const [i, m] of b.multiaddrs.entries()) {
    if (typeof m !== 'string' || !m.startsWith('/')) throw new CodecError(`binding multiaddrs[${i}]: expected a multiaddr string starting with '/'`);
    w.string(m, MAX_MULTIADDR_BYTES);
  }
  w.u64(expectUint(b.issuedAt, 'binding issuedAt'));
  w.u64(expectUint(b.expiresAt, 'binding expiresAt'));
  return w.finish();
}

export function encodeBinding(b: BindingRecord): Uint8Array {
  const body = encodeBindingBody(b);
  const w = new Writer();
  w.fixed(body, body.length);
  w.fixed(fromHex(b.signature, 64, 'binding signature'), 64);
  return w.finish();
}

export function decodeBinding(bytes: Uint8Array): BindingRecord {
  if (bytes.length > MAX_BINDING_BYTES) throw new CodecError(`binding: ${bytes.length} bytes exceed the limit of ${MAX_BINDING_BYTES}`);
  const r = new Reader(bytes, 'binding');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`binding: unknown version ${version} (this node speaks version 1)`);
  const hotkey = publicKeyToHotkey(r.fixed(32));
  const nodePublicKey = toHex(r.fixed(32));
  const peerId = r.string(MAX_PEER_ID_BYTES);
  const n = r.u8();
  if (n > MAX_MULTIADDRS) throw new CodecError(`binding: ${n} multiaddrs exceed the limit of ${MAX_MULTIADDRS}`);
  const multiaddrs: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = r.string(MAX_MULTIADDR_BYTES);
    if (!m.startsWith('/')) throw new CodecError(`binding multiaddrs[${i}]: expected a multiaddr string starting with '/'`);
    multiaddrs.push(m);
  }
  const issuedAt = r.u64();
  const expiresAt = r.u64();
  const signature = toHex(r.fixed(64));
  r.end();
  if (peerId.length === 0) throw new CodecError('binding peerId: empty');
  return { version: 1, hotkey, nodePublicKey, peerId, multiaddrs, issuedAt, expiresAt, signature };
}

/**
 * Signs a binding of `nodePublicKey` (its peer id is derived, not trusted from the caller) to the hotkey.
 */
export function signBinding(
  fields: { nodePublicKey: Uint8Array | string; multiaddrs: string[]; issuedAt: number; expiresAt: number },
  signer: Sr25519Signer,
): BindingRecord {
  const nodePk = typeof fields.nodePublicKey === 'string' ? fromHex(fields.nodePublicKey, 32, 'nodePublicKey') : fields.nodePublicKey;
  const body: UnsignedBinding = {
    version: 1,
    hotkey: signer.hotkey,
    nodePublicKey: toHex(nodePk),
    peerId: peerIdOfNodePublicKey(nodePk),
    multiaddrs: [...fields.multiaddrs],
    issuedAt: fields.issuedAt,
    expiresAt: fields.expiresAt,
  };
  if (body.expiresAt <= body.issuedAt) throw new Error('binding: expiresAt must be after issuedAt');
  const signature = toHex(signer.sign(signingBytes(BINDING_DOMAIN, encodeBindingBody(body))));
  return { ...body, signature };
}

/**
 * Verifies signature, validity window and the peer id ↔ node key match. Optional `expect` pins the
 * hotkey and/or peer id the caller saw elsewhere (metagraph row, libp2p connection).
 */
export function verifyBinding(record: BindingRecord, nowMs: number, expect: { hotkey?: string; peerId?: string } = {}): VerifyResult {
  let body: Uint8Array;
  let sig: Uint8Array;
  try {
    body = encodeBindingBody(record);
    sig = fromHex(record.signature, 64, 'binding signature');
  } catch (err) {
    return { ok: false, reason: `malformed binding: ${(err as Error).message}` };
  }
  let derived: string;
  try {
    derived = peerIdOfNodePublicKey(fromHex(record.nodePublicKey, 32));
  } catch (err) {
    return { ok: false, reason: `node public key is not a valid ed25519 key: ${(err as Error).message}` };
  }
  if (derived !== record.peerId) return { ok: false, reason: `peer id ${record.peerId} does not match node public key (expected ${derived})` };
  if (record.expiresAt <= record.issuedAt) return { ok: false, reason: 'binding expires before it is issued' };
  if (record.expiresAt - record.issuedAt > MAX_BINDING_LIFETIME_MS) return { ok: false, reason: `binding lifetime exceeds ${MAX_BINDING_LIFETIME_MS / 86_400_000} days` };
  if (nowMs >= record.expiresAt) return { ok: false, reason: `binding expired at ${new Date(record.expiresAt).toISOString()}` };
  if (record.issuedAt > nowMs + BINDING_CLOCK_SKEW_MS) return { ok: false, reason: `binding issued in the future (${new Date(record.issuedAt).toISOString()}); check the clocks` };
  if (expect.hotkey !== undefined) {
    let same = false;
    try {
      same = toHex(hotkeyToPublicKey(expect.hotkey)) === toHex(hotkeyToPublicKey(record.hotkey));
    } catch { /* invalid expected hotkey → mismatch */ }
    if (!same) return { ok: false, reason: `binding is for hotkey ${record.hotkey}, expected ${expect.hotkey}` };
  }
  if (expect.peerId !== undefined && expect.peerId !== record.peerId) {
    return { ok: false, reason: `binding is for peer ${record.peerId}, expected ${expect.peerId}` };
  }
  if (!verifySr25519(signingBytes(BINDING_DOMAIN, body), sig, record.hotkey)) {
    return { ok: false, reason: `binding signature does not verify for hotkey ${record.hotkey}` };
  }
  return { ok: true };
}
