// BindingRecord: the hotkey (sr25519) vouches for a node key (ed25519) — and therefore for a libp2p
// peer id — for a bounded time, on one chain (genesis hash) and one subnet (netuid); the node key
// countersigns the same body, so nobody can bind a node key they do not hold. Peers accept
// ed25519-signed protocol messages from a peer only while a valid binding ties that peer to a hotkey
// in the metagraph.
//
// Canonical body v2: u8 version=2 | [32] genesis hash | u16 netuid | [32] hotkey public key
//   | [32] node public key | u32-len utf8 peerId (<= 128 bytes)
//   | u8 count (<= 16) of u32-len utf8 multiaddrs (<= 256 bytes each) | u64 issuedAt | u64 expiresAt
// signature     = sr25519(hotkey,   utf8("conclave/binding/v2")      || 0x00 || body)
// nodeSignature = ed25519(node key, utf8("conclave/binding-node/v2") || 0x00 || body)
// Wire form: body | [64] signature | [64] nodeSignature.
// Version 1 (no scope, no countersignature) is refused: a v1 binding could be relayed by another
// hotkey for a node key it does not hold, and replayed from another subnet.
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { CodecError, Reader, Writer, expectUint, fromHex, signingBytes, toHex } from './codec.ts';
import { hotkeyToPublicKey, publicKeyToHotkey, verifyEd25519, verifySr25519, type Ed25519Signer, type Sr25519Signer } from './signer.ts';
import type { VerifyResult } from './score-report.ts';

export const BINDING_VERSION = 2;
export const BINDING_DOMAIN = 'conclave/binding/v2';
export const BINDING_NODE_DOMAIN = 'conclave/binding-node/v2';
export const MAX_MULTIADDRS = 16;
export const MAX_MULTIADDR_BYTES = 256;
export const MAX_PEER_ID_BYTES = 128;
/** Longest validity a verifier accepts (a node re-signs its binding well before it expires). */
export const MAX_BINDING_LIFETIME_MS = 30 * 24 * 3600_000;
/** Tolerated clock skew for issuedAt in the future. */
export const BINDING_CLOCK_SKEW_MS = 60_000;
export const MAX_BINDING_BYTES = 1 + 32 + 2 + 32 + 32 + 4 + MAX_PEER_ID_BYTES + 1 + MAX_MULTIADDRS * (4 + MAX_MULTIADDR_BYTES) + 8 + 8 + 64 + 64;

export interface BindingRecord {
  version: 2;
  /** Genesis hash of the chain the binding is valid on, 32 bytes hex (no 0x). */
  genesisHash: string;
  netuid: number;
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
  /** ed25519 countersignature by the node key, 64 bytes hex. */
  nodeSignature: string;
}

export type UnsignedBinding = Omit<BindingRecord, 'signature' | 'nodeSignature'>;

/** Where a binding is valid: one chain, one subnet. */
export interface BindingScope {
  genesisHash: string;
  netuid: number;
}

/** The libp2p peer id (base58 string) of an ed25519 public key. */
export function peerIdOfNodePublicKey(nodePublicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(nodePublicKey)).toString();
}

/** A genesis hash as the binding carries it: 32 bytes, lowercase hex without 0x (a 0x prefix is accepted on input). */
export function normaliseGenesisHash(hash: string): string {
  return toHex(fromHex(hash.startsWith('0x') ? hash.slice(2) : hash, 32, 'genesis hash'));
}

export function encodeBindingBody(b: UnsignedBinding): Uint8Array {
  if (b === null || typeof b !== 'object') throw new CodecError('binding: expected an object');
  if (b.version !== BINDING_VERSION) throw new CodecError(`binding: unsupported version ${String(b.version)} (this node speaks version ${BINDING_VERSION}: scoped to genesis and netuid, countersigned by the node key)`);
  const w = new Writer();
  w.u8(BINDING_VERSION);
  w.fixed(fromHex(b.genesisHash, 32, 'binding genesisHash'), 32);
  w.u16(expectUint(b.netuid, 'binding netuid', 0xffff));
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
  w.fixed(fromHex(b.nodeSignature, 64, 'binding nodeSignature'), 64);
  return w.finish();
}

export function decodeBinding(bytes: Uint8Array): BindingRecord {
  if (bytes.length > MAX_BINDING_BYTES) throw new CodecError(`binding: ${bytes.length} bytes exceed the limit of ${MAX_BINDING_BYTES}`);
  const r = new Reader(bytes, 'binding');
  const version = r.u8();
  if (version !== BINDING_VERSION) throw new CodecError(`binding: unknown version ${version} (this node speaks version ${BINDING_VERSION}; version 1 bindings carry no chain scope and no node-key countersignature and are refused)`);
  const genesisHash = toHex(r.fixed(32));
  const netuid = r.u16();
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
  const nodeSignature = toHex(r.fixed(64));
  r.end();
  if (peerId.length === 0) throw new CodecError('binding peerId: empty');
  return { version: BINDING_VERSION, genesisHash, netuid, hotkey, nodePublicKey, peerId, multiaddrs, issuedAt, expiresAt, signature, nodeSignature };
}

/**
 * Signs a binding of the node key to the hotkey, on one chain and subnet: the hotkey signs, the node
 * key countersigns. The peer id is derived from the node key, never taken from the caller.
 */
export function signBinding(
  fields: { genesisHash: string; netuid: number; node: Ed25519Signer; multiaddrs: string[]; issuedAt: number; expiresAt: number },
  signer: Sr25519Signer,
): BindingRecord {
  const body: UnsignedBinding = {
    version: BINDING_VERSION,
    genesisHash: normaliseGenesisHash(fields.genesisHash),
    netuid: fields.netuid,
    hotkey: signer.hotkey,
    nodePublicKey: toHex(fields.node.publicKey),
    peerId: peerIdOfNodePublicKey(fields.node.publicKey),
    multiaddrs: [...fields.multiaddrs],
    issuedAt: fields.issuedAt,
    expiresAt: fields.expiresAt,
  };
  if (body.expiresAt <= body.issuedAt) throw new Error('binding: expiresAt must be after issuedAt');
  const bytes = encodeBindingBody(body);
  return {
    ...body,
    signature: toHex(signer.sign(signingBytes(BINDING_DOMAIN, bytes))),
    nodeSignature: toHex(fields.node.sign(signingBytes(BINDING_NODE_DOMAIN, bytes))),
  };
}

/** Signatures only (hotkey and node key over the canonical body); no clock, no scope. */
export function verifyBindingSignatures(record: BindingRecord): VerifyResult {
  let body: Uint8Array;
  let sig: Uint8Array;
  let nodeSig: Uint8Array;
  let nodePk: Uint8Array;
  try {
    body = encodeBindingBody(record);
    sig = fromHex(record.signature, 64, 'binding signature');
    nodeSig = fromHex(record.nodeSignature, 64, 'binding nodeSignature');
    nodePk = fromHex(record.nodePublicKey, 32, 'binding nodePublicKey');
  } catch (err) {
    return { ok: false, reason: `malformed binding: ${(err as Error).message}` };
  }
  let derived: string;
  try {
    derived = peerIdOfNodePublicKey(nodePk);
  } catch (err) {
    return { ok: false, reason: `node public key is not a valid ed25519 key: ${(err as Error).message}` };
  }
  if (derived !== record.peerId) return { ok: false, reason: `peer id ${record.peerId} does not match node public key (expected ${derived})` };
  if (!verifyEd25519(signingBytes(BINDING_NODE_DOMAIN, body), nodeSig, nodePk)) {
    return { ok: false, reason: `node key ${record.nodePublicKey.slice(0, 16)}… did not countersign this binding (a binding names only a node key its signer holds)` };
  }
  if (!verifySr25519(signingBytes(BINDING_DOMAIN, body), sig, record.hotkey)) {
    return { ok: false, reason: `binding signature does not verify for hotkey ${record.hotkey}` };
  }
  return { ok: true };
}

/**
 * Verifies both signatures, the validity window, the peer id ↔ node key match and, when given, the
 * scope (genesis hash and netuid) and the hotkey and/or peer id the caller saw elsewhere (metagraph
 * row, libp2p connection).
 */
export function verifyBinding(record: BindingRecord, nowMs: number, expect: { hotkey?: string; peerId?: string; scope?: BindingScope } = {}): VerifyResult {
  if (record === null || typeof record !== 'object' || record.version !== BINDING_VERSION) {
    return { ok: false, reason: `binding version ${String(record?.version)} is not supported (version ${BINDING_VERSION} required)` };
  }
  if (expect.scope) {
    let genesis: string;
    try {
      genesis = normaliseGenesisHash(expect.scope.genesisHash);
    } catch (err) {
      return { ok: false, reason: `expected genesis hash is malformed: ${(err as Error).message}` };
    }
    if (record.genesisHash !== genesis) return { ok: false, reason: `binding is for chain ${record.genesisHash.slice(0, 16)}…, this mesh runs on chain ${genesis.slice(0, 16)}… (replayed from another chain?)` };
    if (record.netuid !== expect.scope.netuid) return { ok: false, reason: `binding is for netuid ${record.netuid}, this mesh is netuid ${expect.scope.netuid} (replayed from another subnet?)` };
  }
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
  return verifyBindingSignatures(record);
}

/** Two validity windows [issuedAt, expiresAt) overlap. */
export function bindingsOverlap(a: BindingRecord, b: BindingRecord): boolean {
  return a.issuedAt < b.expiresAt && b.issuedAt < a.expiresAt;
}
