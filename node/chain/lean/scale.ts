// SCALE, the little of it a storage reader needs (pure): a cursor over bytes with fixed-width and
// compact integers, length-prefixed bytes and strings, and the matching encoders for storage keys.
import { toHex } from '../../../proto/codec.ts';

export class ScaleError extends Error {}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

export class ScaleReader {
  private readonly b: Uint8Array;
  private o = 0;

  constructor(bytes: Uint8Array) {
    this.b = bytes;
  }

  get offset(): number {
    return this.o;
  }

  get remaining(): number {
    return this.b.length - this.o;
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.o + n > this.b.length) throw new ScaleError(`SCALE: ${n} bytes wanted at offset ${this.o}, ${this.b.length - this.o} left`);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }

  u8(): number {
    return this.bytes(1)[0];
  }

  u16(): number {
    const v = this.bytes(2);
    return v[0] | (v[1] << 8);
  }

  u32(): number {
    const v = this.bytes(4);
    return (v[0] | (v[1] << 8) | (v[2] << 16)) + v[3] * 0x1000000;
  }

  /** Little-endian unsigned integer of `n` bytes. */
  uint(n: number): bigint {
    const v = this.bytes(n);
    let x = 0n;
    for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(v[i]);
    return x;
  }

  compact(): bigint {
    const first = this.b[this.o];
    if (first !== undefined && (first & 3) === 3) {
      this.o += 1;
      return this.uint((first >> 2) + 4);
    }
    return BigInt(this.compactNumber());
  }

  /** A compact integer as a number (type ids, lengths: metadata parsing reads tens of thousands); refused past 2^53-1. */
  compactNumber(): number {
    const first = this.b[this.o];
    if (first === undefined) throw new ScaleError(`SCALE: compact wanted at offset ${this.o}, nothing left`);
    switch (first & 3) {
      case 0: this.o += 1; return first >> 2;
      case 1: return this.u16() >>> 2;
      case 2: return this.u32() >>> 2;
      default: {
        const at = this.o;
        const v = this.compact();
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ScaleError(`SCALE: compact ${v} at offset ${at} is too large here`);
        return Number(v);
      }
    }
  }

  /** A compact length or count, refused past what the remaining bytes could hold (a corrupt prefix). */
  length(minItemBytes = 1): number {
    const n = this.compactNumber();
    const cap = minItemBytes > 0 ? Math.floor(this.remaining / minItemBytes) : 10_000_000;
    if (n > cap) throw new ScaleError(`SCALE: length ${n} at offset ${this.o} exceeds what the ${this.remaining} bytes left can hold`);
    return n;
  }

  vecBytes(): Uint8Array {
    return this.bytes(this.length(1));
  }

  str(): string {
    return UTF8.decode(this.vecBytes());
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new ScaleError(`SCALE: bool byte ${v} at offset ${this.o - 1}`);
    return v === 1;
  }

  option<T>(inner: () => T): T | null {
    const tag = this.u8();
    if (tag === 0) return null;
    if (tag === 1) return inner();
    throw new ScaleError(`SCALE: Option tag ${tag} at offset ${this.o - 1}`);
  }

  vec<T>(item: () => T): T[] {
    const n = this.length(0);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
}

/** Little-endian encoding of a non-negative integer in `n` bytes. */
export function uintLe(value: bigint | number, n: number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(8 * n)) throw new ScaleError(`SCALE: ${value} does not fit ${n} bytes`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new ScaleError(`not a hex string: ${hex.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function bytesToHex(b: Uint8Array): string {
  return '0x' + toHex(b);
}
