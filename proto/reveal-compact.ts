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
import { CodecError, Reader, fromHex, toHex } from './codec.ts';
import { MAX_REVEAL_BYTES, REVEAL_VERSION, SALT_BYTES } from './reveal.ts';
import { ENTRY_BYTES, MAX_ENTRIES, MAX_HARDWARE_CLASS_BYTES } from './score-report.ts';
import { hotkeyToPublicKey } from './signer.ts';
import { rosterHash, type RosterEntry } from './roster.ts';

export const COMPACT_REVEAL_VERSION = 1;
/** A compact reveal is never longer than its canonical form (a carried entry is 75 bytes at most, like a canonical one). */
export const MAX_COMPACT_REVEAL_BYTES = MAX_REVEAL_BYTES;

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

// Offsets: the canonical report inside a reveal (after version, salt and its u32 length), and inside
// a report header its rosterHash and the u32 length of its hardware class.
const REPORT_AT = 1 + SALT_BYTES + 4;
const ROSTER_HASH_AT = 1 + 2 + 8;
const HW_LENGTH_AT = ROSTER_HASH_AT + 32 + 32;

/** Where the entries of a canonical reveal start, and how many (sizes only; the canonical decoder judges the content). */
function entriesOf(reveal: Uint8Array): { at: number; count: number } {
  const r = new Reader(reveal, 'reveal');
  const version = r.u8();
  if (version !== REVEAL_VERSION) throw new CodecError(`reveal: unknown version ${version} (this node speaks version ${REVEAL_VERSION})`);
  r.fixed(SALT_BYTES);
  const length = r.u32();
  if (reveal.length !== REPORT_AT + length + SIGNATURE_BYTES) throw new CodecError(`reveal: ${reveal.length} bytes do not hold a ${length}-byte report and its signature`);
  if (length < HW_LENGTH_AT + 4) throw new CodecError('reveal: report truncated before its hardware class');
  const view = new DataView(reveal.buffer, reveal.byteOffset, reveal.byteLength);
  const hw = view.getUint32(REPORT_AT + HW_LENGTH_AT);
  if (hw > MAX_HARDWARE_CLASS_BYTES) throw new CodecError(`reveal: hardware class of ${hw} bytes exceeds ${MAX_HARDWARE_CLASS_BYTES}`);
  const headerBytes = HW_LENGTH_AT + 4 + hw + 32;
  if (length < headerBytes + 4 + 8) throw new CodecError('reveal: report truncated in its header');
  const count = view.getUint32(REPORT_AT + headerBytes);
  if (count > MAX_ENTRIES) throw new CodecError(`reveal: ${count} entries exceed the limit of ${MAX_ENTRIES}`);
  if (length !== headerBytes + 4 + count * ENTRY_BYTES + 8) throw new CodecError(`reveal: a report of ${count} entries cannot be ${length} bytes`);
  return { at: REPORT_AT + headerBytes + 4, count };
}

/** The rosterHash a canonical report header starting at `headerStart` names (hex). */
function rosterHashAt(bytes: Uint8Array, headerStart: number): string {
  return toHex(bytes.subarray(headerStart + ROSTER_HASH_AT, headerStart + ROSTER_HASH_AT + 32));
}

function bytesEqualAt(a: Uint8Array, at: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/** Writes `v` as minimal LEB128 at `at`; returns the offset after it. */
function writeVarint(out: Uint8Array, at: number, v: bigint): number {
  while (v >= 0x80n) {
    out[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[at++] = Number(v);
  return at;
}

/**
 * The compact form of canonical reveal bytes against `roster` (the roster the report names: a
 * different roster leaves every entry carried, which is correct, only not smaller).
 */
export function compactReveal(reveal: Uint8Array, roster: CompactRoster): Uint8Array {
  const { at, count } = entriesOf(reveal);
  const dict = rosterHashAt(reveal, REPORT_AT) === roster.hash ? roster.entries : undefined;
  const view = new DataView(reveal.buffer, reveal.byteOffset, reveal.byteLength);
  // never longer than the reveal: no report length field, and a carried entry takes at most 75 bytes
  const out = new Uint8Array(reveal.length);
  out[0] = COMPACT_REVEAL_VERSION;
  out.set(reveal.subarray(1, 1 + SALT_BYTES), 1);
  out.set(reveal.subarray(REPORT_AT, at), 1 + SALT_BYTES); // header and entry count
  let w = 1 + SALT_BYTES + (at - REPORT_AT);
  let o = at;
  for (let i = 0; i < count; i++, o += ENTRY_BYTES) {
    const uid = view.getUint16(o);
    const status = reveal[o + 74];
    if (status >= CARRIED) throw new CodecError(`reveal entry ${i}: unknown status code ${status}`);
    const known = dict?.get(uid);
    const carried = known === undefined || !bytesEqualAt(reveal, o + 2, known);
    out[w++] = uid >> 8;
    out[w++] = uid & 0xff;
    out[w++] = status | (carried ? CARRIED : 0);
    if (carried) {
      out.set(reveal.subarray(o + 2, o + 66), w);
      w += 64;
    }
    const score = view.getBigUint64(o + 66);
    if (score > MAX_SAFE) throw new CodecError(`reveal entry ${i}: score ${score} exceeds 2^53-1`);
    w = writeVarint(out, w, score);
  }
  out.set(reveal.subarray(o), w); // issuedAt and the signature
  return out.slice(0, w + reveal.length - o);
}

/** The rosterHash a canonical reveal's report names (hex); throws CodecError when too short to name one. */
export function revealRosterHash(reveal: Uint8Array): string {
  if (reveal.length < REPORT_AT + ROSTER_HASH_AT + 32) throw new CodecError('reveal: truncated before its roster hash');
  return rosterHashAt(reveal, REPORT_AT);
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
  const fixedHead = r.fixed(HW_LENGTH_AT);
  const hw = r.u32();
  if (hw > MAX_HARDWARE_CLASS_BYTES) throw new CodecError(`compact reveal: hardware class of ${hw} bytes exceeds ${MAX_HARDWARE_CLASS_BYTES}`);
  const hwBytes = r.fixed(hw);
  const validator = r.fixed(32);
  const count = r.u32();
  if (count > MAX_ENTRIES) throw new CodecError(`compact reveal: ${count} entries exceed the limit of ${MAX_ENTRIES}`);
  const named = rosterHashAt(fixedHead, 0);
  const roster = lookup(named);
  if (roster === undefined) throw new UnknownRosterError(named);
  const headerBytes = fixedHead.length + 4 + hw + 32;
  const reportLength = headerBytes + 4 + count * ENTRY_BYTES + 8;
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
    o += ENTRY_BYTES;
  }
  out.set(r.fixed(8), o); o += 8;
  out.set(r.fixed(SIGNATURE_BYTES), o);
  r.end();
  return out;
}
