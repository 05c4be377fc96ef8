// Storage key hashers of FRAME (pure): xxHash64 (twox), BLAKE2b-128/256 and their *Concat forms.
import { blake2b } from '@noble/hashes/blake2.js';

const M = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, lane: bigint) => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1) + P4) & M;

function le(b: Uint8Array, o: number, n: number): bigint {
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[o + i]);
  return x;
}

/** XXH64 of `data` with `seed`. */
export function xxhash64(data: Uint8Array, seed: bigint): bigint {
  const len = data.length;
  let o = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed & M, v4 = (seed - P1) & M;
    for (; o + 32 <= len; o += 32) {
      v1 = round(v1, le(data, o, 8));
      v2 = round(v2, le(data, o + 8, 8));
      v3 = round(v3, le(data, o + 16, 8));
      v4 = round(v4, le(data, o + 24, 8));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(len)) & M;
  for (; o + 8 <= len; o += 8) h = ((rotl(h ^ round(0n, le(data, o, 8)), 27n) * P1) + P4) & M;
  if (o + 4 <= len) {
    h = ((rotl(h ^ ((le(data, o, 4) * P1) & M), 23n) * P2) + P3) & M;
    o += 4;
  }
  for (; o < len; o++) h = (rotl(h ^ ((BigInt(data[o]) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  h ^= h >> 32n;
  return h;
}

function twox(data: Uint8Array, rounds: number): Uint8Array {
  const out = new Uint8Array(8 * rounds);
  for (let i = 0; i < rounds; i++) {
    let h = xxhash64(data, BigInt(i));
    for (let j = 0; j < 8; j++, h >>= 8n) out[8 * i + j] = Number(h & 0xffn);
  }
  return out;
}

export const twox128 = (data: Uint8Array) => twox(data, 2);
export const twox256 = (data: Uint8Array) => twox(data, 4);
export const twox64 = (data: Uint8Array) => twox(data, 1);
export const blake2_128 = (data: Uint8Array) => blake2b(data, { dkLen: 16 });
export const blake2_256 = (data: Uint8Array) => blake2b(data, { dkLen: 32 });

export type Hasher = 'Blake2_128' | 'Blake2_256' | 'Blake2_128Concat' | 'Twox128' | 'Twox256' | 'Twox64Concat' | 'Identity';
/** In the order of frame-metadata's StorageHasher enum. */
export const HASHERS: readonly Hasher[] = ['Blake2_128', 'Blake2_256', 'Blake2_128Concat', 'Twox128', 'Twox256', 'Twox64Concat', 'Identity'];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
}

/** The key part for one encoded map key under `hasher`. */
export function hashKey(hasher: Hasher, encoded: Uint8Array): Uint8Array {
  switch (hasher) {
    case 'Blake2_128': return blake2_128(encoded);
    case 'Blake2_256': return blake2_256(encoded);
    case 'Blake2_128Concat': return concat(blake2_128(encoded), encoded);
    case 'Twox128': return twox128(encoded);
    case 'Twox256': return twox256(encoded);
    case 'Twox64Concat': return concat(twox64(encoded), encoded);
    case 'Identity': return encoded;
  }
}

/** Whether a key part under `hasher` ends with the encoded key itself (*Concat, Identity), so it can be read back. */
export function keepsKey(hasher: Hasher): boolean {
  return hasher === 'Blake2_128Concat' || hasher === 'Twox64Concat' || hasher === 'Identity';
}

export { concat };
