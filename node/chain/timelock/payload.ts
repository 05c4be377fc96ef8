// The plaintext of a timelocked weight commit: SCALE `WeightsTlockPayload { hotkey: Vec<u8>, uids: Vec<u16>,
// values: Vec<u16>, version_key: u64 }`, and the legacy form `(uids, values, version_key)` older runtimes
// (spec <= 300) decode. Decoding follows subtensor's reveal: try the hotkey form, check the hotkey, fall
// back to the legacy form. Sources: ../shared/chain/commit-reveal-v4.md §2.
import { compactToU8a, compactFromU8a } from '@polkadot/util';

export interface WeightsPayload {
  /** 32-byte sr25519 public key of the committing hotkey; absent in the legacy form. */
  hotkey?: Uint8Array;
  uids: number[];
  values: number[];
  versionKey: bigint;
}

function u16s(xs: number[], what: string): Uint8Array {
  const out = new Uint8Array(xs.length * 2);
  xs.forEach((x, i) => {
    if (!Number.isInteger(x) || x < 0 || x > 0xffff) throw new Error(`${what}[${i}] = ${x} is not a u16`);
    out[2 * i] = x & 0xff;
    out[2 * i + 1] = x >> 8;
  });
  return out;
}

function u64le(v: bigint): Uint8Array {
  if (v < 0n || v > 0xffffffffffffffffn) throw new Error(`version_key ${v} is not a u64`);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function cat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
}

/** SCALE bytes of the payload; with `hotkey` the current form, without it the legacy form. */
export function encodeWeightsPayload(p: WeightsPayload): Uint8Array {
  if (p.uids.length !== p.values.length) throw new Error(`${p.uids.length} uids but ${p.values.length} values`);
  const parts: Uint8Array[] = [];
  if (p.hotkey) {
    if (p.hotkey.length !== 32) throw new Error(`hotkey must be a 32-byte public key, got ${p.hotkey.length} bytes`);
    parts.push(compactToU8a(32), p.hotkey);
  }
  parts.push(compactToU8a(p.uids.length), u16s(p.uids, 'uids'), compactToU8a(p.values.length), u16s(p.values, 'values'), u64le(p.versionKey));
  return cat(parts);
}

class Cursor {
  o = 0;
  readonly b: Uint8Array;
  constructor(b: Uint8Array) {
    this.b = b;
  }
  compact(): number {
    const [len, v] = compactFromU8a(this.b.subarray(this.o));
    if (len === 0 || this.o + len > this.b.length) throw new Error('truncated compact');
    this.o += len;
    const n = v.toNumber();
    if (n > this.b.length) throw new Error('length prefix beyond the input');
    return n;
  }
  bytes(n: number): Uint8Array {
    if (this.o + n > this.b.length) throw new Error('truncated');
    const out = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return out;
  }
  u16vec(): number[] {
    const n = this.compact();
    const raw = this.bytes(2 * n);
    return Array.from({ length: n }, (_, i) => raw[2 * i] | (raw[2 * i + 1] << 8));
  }
  u64(): bigint {
    return new DataView(this.bytes(8).slice().buffer).getBigUint64(0, true);
  }
}

function decodeCurrent(b: Uint8Array): WeightsPayload {
  const c = new Cursor(b);
  const hotkey = c.bytes(c.compact());
  const uids = c.u16vec();
  const values = c.u16vec();
  return { hotkey, uids, values, versionKey: c.u64() };
}

function decodeLegacy(b: Uint8Array): WeightsPayload {
  const c = new Cursor(b);
  const uids = c.u16vec();
  const values = c.u16vec();
  return { uids, values, versionKey: c.u64() };
}

/**
 * What subtensor's reveal makes of decrypted bytes committed by `committer` (32-byte public key):
 * the weights to apply, or why the commit is dropped (silently, on chain).
 */
export function decodeWeightsPayload(b: Uint8Array, committer: Uint8Array): { ok: true; payload: WeightsPayload } | { ok: false; reason: string } {
  let current: WeightsPayload | undefined;
  try {
    current = decodeCurrent(b);
  } catch {
    current = undefined;
  }
  if (current && current.hotkey!.length >= 32) {
    const hk = current.hotkey!.subarray(0, 32);
    if (hk.every((x, i) => x === committer[i])) return { ok: true, payload: current };
    return { ok: false, reason: 'hotkey mismatch in payload' };
  }
  try {
    return { ok: true, payload: decodeLegacy(b) };
  } catch {
    return { ok: false, reason: 'error deserializing both payload formats' };
  }
}
