// Canonical binary codec shared by every wire message.
//
// Rules (so that one value has exactly one encoding, on every platform):
// - integers are big-endian, fixed width; u64 values are JS safe integers (< 2^53) or bigint;
// - byte strings and UTF-8 strings are prefixed with a u32 length;
// - fixed-size fields (hashes, keys, signatures) carry no prefix;
// - a decoder must consume the whole input: trailing bytes are an error;
// - strings must be valid UTF-8 (decoding is fatal) and within the caller's bound.
import { createHash } from 'node:crypto';
import { clip } from './clip.ts';

export class CodecError extends Error {
  readonly code = 'CODEC';
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  u8(v: number): this {
    checkUint(v, 0xff, 'u8');
    return this.push(Uint8Array.of(v));
  }

  u16(v: number): this {
    checkUint(v, 0xffff, 'u16');
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v);
    return this.push(b);
  }

  u32(v: number): this {
    checkUint(v, 0xffffffff, 'u32');
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return this.push(b);
  }

  /** u64 from a safe integer or a bigint. */
  u64(v: number | bigint): this {
    const big = typeof v === 'bigint' ? v : BigInt(checkSafeUint(v, 'u64'));
    if (big < 0n || big > 0xffffffffffffffffn) throw new CodecError(`u64 out of range: ${v}`);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, big);
    return this.push(b);
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  /** Fixed-length bytes, no prefix. */
  fixed(v: Uint8Array, length: number, what = 'fixed bytes'): this {
    if (v.length !== length) throw new CodecError(`${what}: expected ${length} bytes, got ${v.length}`);
    return this.push(Uint8Array.from(v));
  }

  /** Length-prefixed (u32) bytes. */
  bytes(v: Uint8Array): this {
    this.u32(v.length);
    return this.push(Uint8Array.from(v));
  }

  /** Length-prefixed (u32) UTF-8 string. */
  string(v: string, maxBytes = 1024): this {
    const b = utf8Encoder.encode(v);
    if (b.length > maxBytes) throw new CodecError(`string longer than ${maxBytes} bytes`);
    return this.bytes(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export class Reader {
  private offset = 0;
  private readonly view: DataView;
  private readonly buf: Uint8Array;
  private readonly what: string;

  constructor(buf: Uint8Array, what = 'message') {
    this.buf = buf;
    this.what = what;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new CodecError(`${this.what}: truncated (need ${n} bytes at offset ${this.offset}, have ${this.buf.length - this.offset})`);
    }
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** u64 that must fit a JS safe integer. */
  u64(): number {
    const v = this.u64big();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError(`${this.what}: u64 ${v} exceeds 2^53-1`);
    return Number(v);
  }

  u64big(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return v;
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new CodecError(`${this.what}: non-canonical bool ${v}`);
    return v === 1;
  }

  fixed(length: number): Uint8Array {
    this.need(length);
    const v = this.buf.slice(this.offset, this.offset + length);
    this.offset += length;
    return v;
  }

  bytes(maxLength: number): Uint8Array {
    const n = this.u32();
    if (n > maxLength) throw new CodecError(`${this.what}: byte string of ${n} exceeds limit ${maxLength}`);
    return this.fixed(n);
  }

  string(maxBytes = 1024): string {
    const b = this.bytes(maxBytes);
    try {
      return utf8Decoder.decode(b);
    } catch {
      throw new CodecError(`${this.what}: string is not valid UTF-8`);
    }
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  /** Every decoder ends with this: trailing bytes make an encoding non-canonical. */
  end(): void {
    if (this.offset !== this.buf.length) {
      throw new CodecError(`${this.what}: ${this.buf.length - this.offset} trailing bytes`);
    }
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CodecError(`${what} out of range: ${clip(v)}`);
}

function checkSafeUint(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new CodecError(`${what} must be a non-negative safe integer: ${clip(v)}`);
  return v;
}

/** A decoded or user-given field that must be an integer in 0..max (default: any safe non-negative integer). */
export function expectUint(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new CodecError(`${what}: expected an integer in 0..${max === Number.MAX_SAFE_INTEGER ? '2^53-1' : max}, got ${clip(v)}`);
  }
  return v;
}

/** Domain-separated signing bytes: utf8(domain) || 0x00 || payload. */
export function signingBytes(domain: string, payload: Uint8Array): Uint8Array {
  const d = utf8Encoder.encode(domain);
  const out = new Uint8Array(d.length + 1 + payload.length);
  out.set(d, 0);
  out[d.length] = 0;
  out.set(payload, d.length + 1);
  return out;
}

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const HEX_RE = /^[0-9a-f]*$/;

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Strict lowercase hex (no 0x prefix) of an exact byte length. */
export function fromHex(hex: string, length?: number, what = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !HEX_RE.test(hex)) {
    throw new CodecError(`${what}: expected lowercase hex without 0x`);
  }
  if (length !== undefined && hex.length !== length * 2) {
    throw new CodecError(`${what}: expected ${length} bytes (${length * 2} hex chars), got ${hex.length / 2}`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
