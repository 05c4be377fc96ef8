// Timelock encryption as subtensor decrypts it: the `tle` crate's Boneh–Franklin IBE over BLS12-381
// (public key in G2, identities and round signatures in G1) with an AES-256-GCM body, serialized in
// arkworks' compressed layout. Wire format and sources: ../shared/chain/commit-reveal-v4.md §3.
// Pure: no I/O; randomness is injected (`rng`) so tests can be deterministic.
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { gcm } from '@noble/ciphers/aes.js';
import { randomBytes } from '@noble/hashes/utils.js';

/** Domain separation tag of drand's bls-unchained-g1-rfc9380 scheme (quicknet). */
export const DRAND_G1_DST = 'BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_';
const CIPHER_SUITE = new TextEncoder().encode('AES_GCM_');
const G2_BYTES = 96;
const G1_BYTES = 48;
/** Bytes the ciphertext adds to the plaintext: U, V, W, the body's tag, nonce, every length prefix and the suite name. */
export const TLE_OVERHEAD = 244;

export class TimelockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimelockError';
  }
}

export type Rng = (n: number) => Uint8Array;

/** Identity of drand round `n`: sha256 of its big-endian u64. */
export function roundIdentity(round: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(round), false);
  return sha256(b);
}

/** Q_id = hash_to_G1(identity) with drand's DST. */
export function roundPoint(round: bigint | number) {
  return bls12_381.G1.hashToCurve(roundIdentity(round), { DST: DRAND_G1_DST });
}

/** Checks a drand round signature (G1, 48 bytes) against a beacon public key (G2, 96 bytes). */
export function verifyRoundSignature(round: bigint | number, signature: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    const sig = bls12_381.G1.Point.fromBytes(signature);
    const pk = bls12_381.G2.Point.fromBytes(publicKey);
    sig.assertValidity();
    pk.assertValidity();
    const lhs = bls12_381.pairing(sig, bls12_381.G2.Point.BASE);
    const rhs = bls12_381.pairing(roundPoint(round), pk);
    return bls12_381.fields.Fp12.eql(lhs, rhs);
  } catch {
    return false;
  }
}

/** Signs drand round `n` with a beacon secret key (a dev beacon: the devchain's pulses). */
export function signRound(round: bigint | number, secretKey: Uint8Array): Uint8Array {
  const sk = bls12_381.fields.Fr.fromBytes(secretKey);
  return roundPoint(round).multiply(sk).toBytes(true);
}

/** The G2 public key of a beacon secret key. */
export function beaconPublicKey(secretKey: Uint8Array): Uint8Array {
  return bls12_381.G2.Point.BASE.multiply(bls12_381.fields.Fr.fromBytes(secretKey)).toBytes(true);
}

/** arkworks' canonical serialization of a GT element: 12 Fp coefficients, c0.c0.c0 first, 48 bytes little-endian each. */
export function gtBytes(x: ReturnType<typeof bls12_381.pairing>): Uint8Array {
  const out = new Uint8Array(576);
  let o = 0;
  for (const f6 of [x.c0, x.c1]) {
    for (const f2 of [f6.c0, f6.c1, f6.c2]) {
      for (const fp of [f2.c0, f2.c1]) {
        let v = fp;
        for (let i = 0; i < 48; i++, v >>= 8n) out[o + i] = Number(v & 0xffn);
        o += 48;
      }
    }
  }
  return out;
}

function xor32(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== 32 || b.length !== 32) throw new TimelockError('internal: xor of non-32-byte values');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = a[i] ^ b[i];
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
}

/** arkworks Vec<u8>: u64 little-endian length, then the bytes. */
function vec(b: Uint8Array): Uint8Array {
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(b.length), true);
  return concat(len, b);
}

/** h3(sigma, esk) = int_be(sha256(sigma ‖ esk)) mod r, never 0. */
function h3(sigma: Uint8Array, esk: Uint8Array): bigint {
  const Fr = bls12_381.fields.Fr;
  let v = 0n;
  for (const byte of sha256(concat(sigma, esk))) v = (v << 8n) | BigInt(byte);
  const r = Fr.create(v);
  return r === 0n ? 1n : r;
}

export interface TleCiphertext {
  /** r·G2, compressed (96 bytes) */
  u: Uint8Array;
  v: Uint8Array;
  w: Uint8Array;
  /** AES-GCM ciphertext with its 16-byte tag */
  body: Uint8Array;
  nonce: Uint8Array;
  suite: Uint8Array;
}

/**
 * Encrypts `message` to drand round `round` of the beacon with G2 public key `publicKey` (96 bytes);
 * returns the arkworks-serialized TLECiphertext subtensor stores and later decrypts.
 */
export function tleEncrypt(message: Uint8Array, round: bigint | number, publicKey: Uint8Array, rng: Rng = randomBytes): Uint8Array {
  if (publicKey.length !== G2_BYTES) throw new TimelockError(`beacon public key is ${publicKey.length} bytes; a G2 point is ${G2_BYTES}`);
  const pk = bls12_381.G2.Point.fromBytes(publicKey);
  const esk = rng(32);
  const sigma = rng(32);
  const nonce = rng(12);
  const r = h3(sigma, esk);
  const u = bls12_381.G2.Point.BASE.multiply(r);
  const gid = bls12_381.pairing(roundPoint(round), pk.multiply(r));
  const v = xor32(sigma, sha256(gtBytes(gid)));
  const w = xor32(esk, sha256(sigma));
  const body = gcm(esk, nonce).encrypt(message);
  return serialize({ u: u.toBytes(true), v, w, body, nonce, suite: CIPHER_SUITE });
}

/**
 * Decrypts with the round's signature σ (48-byte compressed G1, `Drand.Pulses[round].signature`), as the
 * chain does. Throws TimelockError when σ is for another round (the U check fails) or the body was altered.
 */
export function tleDecrypt(ciphertext: Uint8Array, signature: Uint8Array): Uint8Array {
  const ct = deserialize(ciphertext);
  if (signature.length !== G1_BYTES) throw new TimelockError(`round signature is ${signature.length} bytes; a G1 point is ${G1_BYTES}`);
  const sig = bls12_381.G1.Point.fromBytes(signature);
  const u = bls12_381.G2.Point.fromBytes(ct.u);
  const sigma = xor32(ct.v, sha256(gtBytes(bls12_381.pairing(sig, u))));
  const esk = xor32(ct.w, sha256(sigma));
  if (!bls12_381.G2.Point.BASE.multiply(h3(sigma, esk)).equals(u)) {
    throw new TimelockError('the signature does not open this ciphertext (wrong round or wrong beacon)');
  }
  try {
    return gcm(esk, ct.nonce).decrypt(ct.body);
  } catch {
    throw new TimelockError('AES-GCM authentication failed: the ciphertext body was altered');
  }
}

export function serialize(c: TleCiphertext): Uint8Array {
  if (c.u.length !== G2_BYTES) throw new TimelockError('U must be a 96-byte compressed G2 point');
  return concat(c.u, vec(c.v), vec(c.w), vec(concat(vec(c.body), vec(c.nonce))), vec(c.suite));
}

/** Parses the arkworks layout; refuses trailing bytes, wrong lengths and an unknown cipher suite. */
export function deserialize(bytes: Uint8Array): TleCiphertext {
  const r = new Reader(bytes, 'ciphertext');
  const u = r.take(G2_BYTES, 'U');
  const v = r.vec('V', 32);
  const w = r.vec('W', 32);
  const inner = new Reader(r.vec('body', bytes.length), 'ciphertext body');
  const suite = r.vec('cipher suite', 64);
  r.end();
  const body = inner.vec('AES-GCM ciphertext', bytes.length);
  const nonce = inner.vec('AES-GCM nonce', 12);
  inner.end();
  if (v.length !== 32 || w.length !== 32) throw new TimelockError('V and W must be 32 bytes');
  if (nonce.length !== 12) throw new TimelockError(`AES-GCM nonce is ${nonce.length} bytes; expected 12`);
  if (body.length < 16) throw new TimelockError('AES-GCM body shorter than its 16-byte tag');
  if (suite.length !== CIPHER_SUITE.length || suite.some((x, i) => x !== CIPHER_SUITE[i])) throw new TimelockError(`unknown cipher suite "${new TextDecoder().decode(suite)}" (expected AES_GCM_)`);
  return { u, v, w, body, nonce, suite };
}

class Reader {
  private o = 0;
  private readonly b: Uint8Array;
  private readonly what: string;
  constructor(b: Uint8Array, what: string) {
    this.b = b;
    this.what = what;
  }
  take(n: number, field: string): Uint8Array {
    if (this.o + n > this.b.length) throw new TimelockError(`${this.what} truncated reading ${field} (${n} bytes at offset ${this.o} of ${this.b.length})`);
    const out = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return out;
  }
  vec(field: string, max: number): Uint8Array {
    const lenBytes = this.take(8, `${field} length`);
    let len = 0n;
    for (let i = 7; i >= 0; i--) len = (len << 8n) | BigInt(lenBytes[i]);
    if (len > BigInt(max)) throw new TimelockError(`${this.what}: ${field} length ${len} exceeds ${max}`);
    return this.take(Number(len), field);
  }
  end(): void {
    if (this.o !== this.b.length) throw new TimelockError(`${this.b.length - this.o} trailing bytes after the ${this.what}`);
  }
}
