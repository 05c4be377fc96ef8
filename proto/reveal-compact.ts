// Compact reveal: the wire form of a reveal on the reports topic, relative to the run's roster.
//
// A reveal lists every miner of the run with its public key and code hash (64 of each entry's 75
// bytes), and every validator's reveal repeats the same roster: at 256 miners that is ~16 KB of each
// ~19 KB reveal, and every node receives each reveal several times (flood publish plus mesh
// forwarding). The compact form leaves out what the receiver already holds: an entry whose miner key
// and code hash are the roster's for its uid carries neither. The roster is named by the report's own
// rosterHash, so a receiver expands the frame only against the roster that report claims.
//
// Compact reveal v1 (all integers big-endian):
//   u8 version=1 | [32] salt
//   | the canonical report header verbatim (proto/score-report.ts: version .. validator public key)
//   | u32 entryCount (<= MAX_ENTRIES), each entry:
//       u16 uid | u8 tag (bits 0-6: status code; bit 7: key and code hash carried)
//       | ([32] miner public key | [32] codeSha256 when carried) | score as minimal LEB128 (<= 2^53-1)
//   | u64 issuedAt | [64] sr25519 signature
//
// expandReveal(compactReveal(x, roster), roster) is x byte for byte: the compact form only re-encodes
// the canonical reveal (proto/reveal.ts), whose bytes the content hash, the commitment and every
// signature cover. Nothing is checked here that the canonical decoder checks (order, status rules):
// the expanded bytes go through decodeReveal like any other reveal.
import { CodecError, Reader, Writer, fromHex, toHex } from './codec.ts';
import { MAX_REVEAL_BYTES, REVEAL_VERSION, SALT_BYTES } from './reveal.ts';
import { MAX_ENTRIES, MAX_HARDWARE_CLASS_BYTES } from './score-report.ts';
import { hotkeyToPublicKey } from './signer.ts';
import { rosterHash, type RosterEntry } from './roster.ts';

export const COMPACT_REVEAL_VERSION = 1;
/** A compact reveal is never longer than its canonical form (a carried entry is 75 bytes at most, like a canonical one). */
export const MAX_COMPACT_REVEAL_BYTES = MAX_REVEAL_BYTES;

const CANONICAL_ENTRY_BYTES = 2 + 32 + 32 + 8 + 1;
const SIGNATURE_BYTES = 64;
const CARRIED = 0x80;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A roster as the compact form uses it: uid → miner public key || codeSha256 (64 bytes). */
export interface CompactRoster {
  hash: string;
  entries: ReadonlyMap<number, Uint8Array>;
}

/** The receiver does not hold the roster a compact reveal names: not malformed, just not expandable here. */
export class UnknownRosterError extends Error {
  readonly rosterHash: string;
  constructor(hash: string) {
    super(`compact reveal names roster ${hash.slice(0, 16)}…, which this node does not hold (it has not read that run's roster)`);
    this.name = 'UnknownRosterError';
    this.rosterHash = hash;
  }
}

export function compactRosterOf(entries: readonly RosterEntry[]): CompactRoster {
  const map = new Map<number, Uint8Array>();
  for (const e of entries) {
    const both = new Uint8Array(64);
    both.set(hotkeyToPublicKey(e.minerHotkey), 0);
    both.set(fromHex(e.codeSha256, 32, `roster uid ${e.uid} codeSha256`), 32);
    map.set(e.uid, both);
  }
  return { hash: rosterHash(entries), entries: map };
}

/** The rosters a node can expand against, newest kept (a run and the one before it, with room for restarts and forks). */
export class CompactRosters {
  private readonly m = new Map<string, CompactRoster>();
  private readonly cap: number;
  constructor(cap = 8) {
    this.cap = cap;
  }
  add(roster: CompactRoster): void {
    this.m.delete(roster.hash);
    this.m.set(roster.hash, roster);
    while (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as string);
  }
  has(hash: string): boolean {
    return this.m.has(hash);
  }
  get(hash: string): CompactRoster | undefined {
    return this.m.get(hash);
  }
}

export type RosterLookup = (rosterHash: string) => CompactRoster | undefined;

interface ReportLayout {
  /** Offset of the canonical report in the reveal, and its length. */
  start: number;
  length: number;
  /** Bytes of the report header (version .. validator key), from `start`. */
  headerBytes: number;
  count: number;
}

/** Where the parts of a canonical reveal are (sizes only; the canonical decoder judges the content). */
function layoutOf(reveal: Uint8Array): ReportLayout {
  const r = new Reader(reveal, 'reveal');
  const version = r.u8();
  if (version !== REVEAL_VERSION) throw new CodecError(`reveal: unknown version ${version} (this node speaks version ${REVEAL_VERSION})`);
  r.fixed(SALT_BYTES);
  const length = r.u32();
  const start = 1 + SALT_BYTES + 4;
  if (reveal.length !== start + length + SIGNATURE_BYTES) throw new CodecError(`reveal: ${reveal.length} bytes do not hold a ${length}-byte report and its signature`);
  const hwAt = start + 1 + 2 + 8 + 32 + 32;
  if (length < hwAt - start + 4) throw new CodecError('reveal: report truncated before its hardware class');
  const hw = new DataView(reveal.buffer, reveal.byteOffset + hwAt, 4).getUint32(0);
  if (hw > MAX_HARDWARE_CLASS_BYTES) throw new CodecError(`reveal: hardware class of ${hw} bytes exceeds ${MAX_HARDWARE_CLASS_BYTES}`);
  const headerBytes = hwAt - start + 4 + hw + 32;
  if (length < headerBytes + 4 + 8) throw new CodecError('reveal: report truncated in its header');
  const count = new DataView(reveal.buffer, reveal.byteOffset + start + headerBytes, 4).getUint32(0);
  if (count > MAX_ENTRIES) throw new CodecError(`reveal: ${count} entries exceed the limit of ${MAX_ENTRIES}`);
  if (length !== headerBytes + 4 + count * CANONICAL_ENTRY_BYTES + 8) throw new CodecError(`reveal: a report of ${count} entries cannot be ${length} bytes`);
  return { start, length, headerBytes, count };
}

/** The rosterHash a canonical report header names (hex). */
function rosterHashAt(bytes: Uint8Array, headerStart: number): string {
  return toHex(bytes.subarray(headerStart + 1 + 2 + 8, headerStart + 1 + 2 + 8 + 32));
}

function bytesEqualAt(a: Uint8Array, at: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

function writeVarint(out: number[], v: bigint): void {
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/**
 * The compact form of canonical reveal bytes against `roster` (the roster the report names: a
 * different roster leaves every entry carried, which is correct, only not smaller).
 */
export function compactReveal(reveal: Uint8Array, roster: CompactRoster): Uint8Array {
  const L = layoutOf(reveal);
  const named = rosterHashAt(reveal, L.start);
  const dict = named === roster.hash ? roster.entries : new Map<number, Uint8Array>();
  const view = new DataView(reveal.buffer, reveal.byteOffset, reveal.byteLength);
  const out: number[] = [];
  let o = L.start + L.headerBytes + 4;
  const parts: Uint8Array[] = [Uint8Array.of(COMPACT_REVEAL_VERSION), reveal.subarray(1, 1 + SALT_BYTES), reveal.subarray(L.start, o)];
  for (let i = 0; i < L.count; i++) {
    const uid = view.getUint16(o);
    const status = reveal[o + 74];
    if (status >= CARRIED) throw new CodecError(`reveal entry ${i}: unknown status code ${status}`);
    const known = dict.get(uid);
    const carried = known === undefined || !bytesEqualAt(reveal, o + 2, known);
    out.length = 0;
    out.push(uid >> 8, uid & 0xff, status | (carried ? CARRIED : 0));
    parts.push(Uint8Array.from(out));
    if (carried) parts.push(reveal.subarray(o + 2, o + 66));
    const score = view.getBigUint64(o + 66);
    if (score > MAX_SAFE) throw new CodecError(`reveal entry ${i}: score ${score} exceeds 2^53-1`);
    out.length = 0;
    writeVarint(out, score);
    parts.push(Uint8Array.from(out));
    o += CANONICAL_ENTRY_BYTES;
  }
  parts.push(reveal.subarray(o, o + 8), reveal.subarray(L.start + L.length));
  const w = new Writer();
  for (const p of parts) w.fixed(p, p.length);
  return w.finish();
}

/** The rosterHash a canonical reveal's report names (hex); throws CodecError when too short to name one. */
export function revealRosterHash(reveal: Uint8Array): string {
  const at = 1 + SALT_BYTES + 4;
  if (reveal.length < at + 1 + 2 + 8 + 32) throw new CodecError('reveal: truncated before its roster hash');
  return rosterHashAt(reveal, at);
}

/** The rosterHash a compact reveal names (hex); throws CodecError when it is too short to name one. */
export function compactRevealRoster(compact: Uint8Array): string {
  const at = 1 + SALT_BYTES;
  if (compact.length < at + 1 + 2 + 8 + 32) throw new CodecError('compact reveal: truncated before its roster hash');
  return rosterHashAt(compact, at);
}

function readVarint(r: Reader, what: string): bigint {
  let v = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const b = r.u8();
    if (shift === 56n) throw new CodecError(`${what}: score varint longer than 8 bytes`);
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (b === 0 && shift > 0n) throw new CodecError(`${what}: score varint is not minimal`);
      break;
    }
  }
  if (v > MAX_SAFE) throw new CodecError(`${what}: score ${v} exceeds 2^53-1`);
  return v;
}

/**
 * The canonical reveal bytes of a compact reveal. Throws UnknownRosterError when `lookup` does not
 * hold the roster the report names, CodecError when the frame is malformed (an entry left out for a
 * uid the roster does not have included).
 */
export function expandReveal(compact: Uint8Array, lookup: RosterLookup): Uint8Array {
  if (compact.length > MAX_COMPACT_REVEAL_BYTES) throw new CodecError(`compact reveal: ${compact.length} bytes exceed the limit of ${MAX_COMPACT_REVEAL_BYTES}`);
  const r = new Reader(compact, 'compact reveal');
  const version = r.u8();
  if (version !== COMPACT_REVEAL_VERSION) throw new CodecError(`compact reveal: unknown version ${version} (this node speaks version ${COMPACT_REVEAL_VERSION})`);
  const salt = r.fixed(SALT_BYTES);
  const fixedHead = r.fixed(1 + 2 + 8 + 32 + 32);
  const hw = r.u32();
  if (hw > MAX_HARDWARE_CLASS_BYTES) throw new CodecError(`compact reveal: hardware class of ${hw} bytes exceeds ${MAX_HARDWARE_CLASS_BYTES}`);
  const hwBytes = r.fixed(hw);
  const validator = r.fixed(32);
  const count = r.u32();
  if (count > MAX_ENTRIES) throw new CodecError(`compact reveal: ${count} entries exceed the limit of ${MAX_ENTRIES}`);
  const named = toHex(fixedHead.subarray(1 + 2 + 8, 1 + 2 + 8 + 32));
  const roster = lookup(named);
  if (roster === undefined) throw new UnknownRosterError(named);
  const headerBytes = fixedHead.length + 4 + hw + 32;
  const reportLength = headerBytes + 4 + count * CANONICAL_ENTRY_BYTES + 8;
  const out = new Uint8Array(1 + SALT_BYTES + 4 + reportLength + SIGNATURE_BYTES);
  const view = new DataView(out.buffer);
  let o = 0;
  out[o++] = REVEAL_VERSION;
  out.set(salt, o); o += SALT_BYTES;
  view.setUint32(o, reportLength); o += 4;
  out.set(fixedHead, o); o += fixedHead.length;
  view.setUint32(o, hw); o += 4;
  out.set(hwBytes, o); o += hw;
  out.set(validator, o); o += 32;
  view.setUint32(o, count); o += 4;
  for (let i = 0; i < count; i++) {
    const where = `compact reveal entry ${i}`;
    const uid = r.u16();
    const tag = r.u8();
    view.setUint16(o, uid);
    if (tag & CARRIED) {
      out.set(r.fixed(64), o + 2);
    } else {
      const known = roster.entries.get(uid);
      if (known === undefined) throw new CodecError(`${where}: uid ${uid} left out, but roster ${named.slice(0, 16)}… has no uid ${uid}`);
      out.set(known, o + 2);
    }
    view.setBigUint64(o + 66, readVarint(r, where));
    out[o + 74] = tag & ~CARRIED;
    o += CANONICAL_ENTRY_BYTES;
  }
  out.set(r.fixed(8), o); o += 8;
  out.set(r.fixed(SIGNATURE_BYTES), o);
  r.end();
  return out;
}
