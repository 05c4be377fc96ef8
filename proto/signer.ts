// Signing identities.
//
// - sr25519 (Bittensor hotkeys): schnorrkel via @polkadot/wasm-crypto, the same WASM build that
//   @polkadot/util-crypto initialises in `cryptoWaitReady()`. We call it directly because the
//   pure-JS path in util-crypto 14 is ~20x slower (ms per signature), which matters when a node
//   verifies every gossiped report. Signatures are randomised (two signatures of one message differ).
// - ed25519 (node key, high-volume protocol messages): Node's native crypto.
//
// Hotkeys are SS58 strings (prefix 42) in TypeScript and 32-byte public keys on the wire.
import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, randomBytes, type KeyObject } from 'node:crypto';
import * as wasm from '@polkadot/wasm-crypto';
import { CodecError } from './codec.ts';
import { clip } from './clip.ts';

const MAX_SS58_CHARS = 64;

export interface Sr25519Signer {
  /** SS58 address (prefix 42) of `publicKey`. */
  hotkey: string;
  publicKey: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

export interface Ed25519Signer {
  publicKey: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

export const SS58_PREFIX = 42;

/** Initialises the sr25519 WASM. Await once before any sr25519 call (idempotent, cheap after the first). */
export async function cryptoReady(): Promise<void> {
  await wasm.waitReady();
  if (!wasm.isReady()) throw new Error('sr25519 WASM (@polkadot/wasm-crypto) failed to initialise');
}

function requireReady(): void {
  if (!wasm.isReady()) {
    throw new Error('sr25519 crypto is not initialised: `await cryptoReady()` (proto/signer.ts) or `await cryptoWaitReady()` first');
  }
}

// SS58 checksums cost a blake2b each; the same few hundred hotkeys recur in every report.
const SS58_CACHE_MAX = 8192;
const ss58ToPk = new Map<string, Uint8Array>();
const pkToSs58 = new Map<string, string>();

/** SS58 (any prefix, checksum verified) → 32-byte public key. Throws CodecError naming the problem. */
export function hotkeyToPublicKey(hotkey: string): Uint8Array {
  const cached = ss58ToPk.get(hotkey);
  if (cached) return Uint8Array.from(cached);
  const pk = decodeHotkeyUncached(hotkey);
  if (ss58ToPk.size >= SS58_CACHE_MAX) ss58ToPk.clear();
  ss58ToPk.set(hotkey, Uint8Array.from(pk));
  return pk;
}

function decodeHotkeyUncached(hotkey: string): Uint8Array {
  if (typeof hotkey !== 'string' || hotkey.length === 0) throw new CodecError('hotkey: expected an SS58 address string');
  // An SS58 address of a 32-byte key is 47..50 characters; base58 decoding is quadratic, so refuse long input first.
  if (hotkey.length > MAX_SS58_CHARS) throw new CodecError(`hotkey ${clip(hotkey)} is not a valid SS58 address: longer than ${MAX_SS58_CHARS} characters`);
  const raw = base58Decode(hotkey);
  if (!raw) throw new CodecError(`hotkey ${clip(hotkey)} is not a valid SS58 address: not base58`);
  const prefixLen = raw.length > 0 && raw[0] >= 64 ? 2 : 1;
  if (raw.length !== prefixLen + 32 + 2) {
    throw new CodecError(`hotkey ${clip(hotkey)} is not a valid SS58 address of a 32-byte public key (decoded ${raw.length} bytes)`);
  }
  const body = raw.subarray(0, prefixLen + 32);
  const sum = ss58Checksum(body);
  if (sum[0] !== raw[prefixLen + 32] || sum[1] !== raw[prefixLen + 33]) {
    throw new CodecError(`hotkey ${clip(hotkey)} is not a valid SS58 address: checksum mismatch (typo?)`);
  }
  return Uint8Array.from(raw.subarray(prefixLen, prefixLen + 32));
}

// ---- SS58 (substrate address format): base58(prefix || publicKey || blake2b-512("SS58PRE" || prefix || publicKey)[0..2]) ----

const SS58_PRE = Buffer.from('SS58PRE');
function ss58Checksum(body: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('blake2b512').update(SS58_PRE).update(body).digest().subarray(0, 2));
}

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const B58_INDEX = new Map([...B58].map((c, i) => [c, i]));

function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  return '1'.repeat(zeros) + out;
}

function base58Decode(s: string): Uint8Array | undefined {
  if (s.length > 128) return undefined;
  let n = 0n;
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '1') zeros++;
  for (const c of s) {
    const v = B58_INDEX.get(c);
    if (v === undefined) return undefined;
    n = n * 58n + BigInt(v);
  }
  const bytes: number[] = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return Uint8Array.from([...new Array(zeros).fill(0), ...bytes]);
}

function ss58Encode(publicKey: Uint8Array, prefix: number): string {
  const body = new Uint8Array(33);
  body[0] = prefix;
  body.set(publicKey, 1);
  const sum = ss58Checksum(body);
  const full = new Uint8Array(35);
  full.set(body);
  full.set(sum, 33);
  return base58Encode(full);
}

/** 32-byte public key → SS58 address with prefix 42 (the canonical TypeScript form). */
export function publicKeyToHotkey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new CodecError(`public key: expected 32 bytes, got ${publicKey.length}`);
  return publicKeyHexToHotkey(Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex'));
}

/** Same as publicKeyToHotkey for a public key given as 64 lowercase hex chars (decoder fast path). */
export function publicKeyHexToHotkey(hex: string): string {
  let s = pkToSs58.get(hex);
  if (s === undefined) {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new CodecError('public key: expected 32 bytes of lowercase hex');
    s = ss58Encode(new Uint8Array(Buffer.from(hex, 'hex')), SS58_PREFIX);
    if (pkToSs58.size >= SS58_CACHE_MAX) pkToSs58.clear();
    pkToSs58.set(hex, s);
  }
  return s;
}

/** The canonical (prefix 42) spelling of an SS58 hotkey; throws if invalid. */
export function canonicalHotkey(hotkey: string): string {
  return publicKeyToHotkey(hotkeyToPublicKey(hotkey));
}

/**
 * Signature checks made by this process so far (every call, valid or not). Read by benchmarks
 * (bench/scale) to report verifications per node; a plain counter, no effect on the checks.
 */
export const verifyCounts = { sr25519: 0, ed25519: 0 };

export function verifySr25519(msg: Uint8Array, sig: Uint8Array, hotkey: string | Uint8Array): boolean {
  requireReady();
  verifyCounts.sr25519++;
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
  let pk: Uint8Array;
  try {
    pk = typeof hotkey === 'string' ? hotkeyToPublicKey(hotkey) : hotkey;
  } catch {
    return false;
  }
  if (pk.length !== 32) return false;
  try {
    return wasm.sr25519Verify(sig, msg, pk);
  } catch {
    return false;
  }
}

/**
 * Signer from a 32-byte mini-secret seed (what Bittensor keyfiles call `secretSeed`, and what
 * `mnemonicToMiniSecret` yields). Matches substrate-interface / btcli key derivation.
 */
export function sr25519SignerFromSeed(seed: Uint8Array): Sr25519Signer {
  requireReady();
  if (seed.length !== 32) throw new Error(`sr25519 seed: expected 32 bytes, got ${seed.length}`);
  const kp = wasm.sr25519KeypairFromSeed(seed);
  return sr25519SignerFromKeypair(kp.slice(0, 64), kp.slice(64, 96));
}

/**
 * Signer from a 64-byte secret key in schnorrkel "half ed25519" form (what Bittensor keyfiles call
 * `privateKey`) and its public key. Refuses a pair that does not sign-and-verify.
 */
export function sr25519SignerFromSecretKey(secretKey: Uint8Array, publicKey: Uint8Array): Sr25519Signer {
  requireReady();
  if (secretKey.length !== 64) throw new Error(`sr25519 secret key: expected 64 bytes, got ${secretKey.length}`);
  if (publicKey.length !== 32) throw new Error(`sr25519 public key: expected 32 bytes, got ${publicKey.length}`);
  return sr25519SignerFromKeypair(Uint8Array.from(secretKey), Uint8Array.from(publicKey));
}

function sr25519SignerFromKeypair(secret: Uint8Array, publicKey: Uint8Array): Sr25519Signer {
  const probe = new TextEncoder().encode('conclave/key-check');
  let ok = false;
  try {
    ok = wasm.sr25519Verify(wasm.sr25519Sign(publicKey, secret, probe), probe, publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new Error('sr25519 secret key does not match its public key (signature self-check failed)');
  const hotkey = publicKeyToHotkey(publicKey);
  const pub = Uint8Array.from(publicKey);
  return {
    hotkey,
    publicKey: pub,
    sign(msg: Uint8Array): Uint8Array {
      requireReady();
      return wasm.sr25519Sign(pub, secret, msg);
    },
  };
}

// ---- ed25519 (Node native) ----

// DER prefixes that wrap a raw 32-byte ed25519 seed / public key as PKCS#8 / SPKI.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** Ed25519 signer from a 32-byte seed (RFC 8032 private key). */
export function ed25519SignerFromSeed(seed: Uint8Array): Ed25519Signer {
  if (seed.length !== 32) throw new Error(`ed25519 seed: expected 32 bytes, got ${seed.length}`);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return {
    publicKey,
    sign(msg: Uint8Array): Uint8Array {
      return new Uint8Array(edSign(null, msg, priv));
    },
  };
}

export function randomEd25519Seed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

// Small cache: protocol messages from the same few peers are verified at high rates.
const edKeyCache = new Map<string, KeyObject>();

export function verifyEd25519(msg: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean {
  verifyCounts.ed25519++;
  if (!(sig instanceof Uint8Array) || sig.length !== 64 || !(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  const cacheKey = Buffer.from(publicKey).toString('hex');
  let key = edKeyCache.get(cacheKey);
  try {
    if (!key) {
      key = ed25519PublicKeyObject(publicKey);
      if (edKeyCache.size > 1024) edKeyCache.clear();
      edKeyCache.set(cacheKey, key);
    }
    return edVerify(null, msg, key, sig);
  } catch {
    return false;
  }
}
