// Roster: the submissions a run evaluates (one per miner uid), as read from chain commitments.
// Every validator must derive the same roster; its hash goes into each ScoreReport.
//
// Canonical encoding v1: u8 version=1 | u32 count (<= MAX_ROSTER_ENTRIES), ascending unique uid:
//   u16 uid | [32] miner public key | [32] codeSha256 | u32-len utf8 url (<= 2048 bytes) | u64 commitBlock
// rosterHash = sha256(utf8("conclave/roster/v1") || 0x00 || canonical bytes).
import { CodecError, Reader, Writer, expectUint, fromHex, sha256Hex, signingBytes, toHex } from './codec.ts';
import { hotkeyToPublicKey, publicKeyToHotkey } from './signer.ts';

export const ROSTER_DOMAIN = 'conclave/roster/v1';
export const MAX_ROSTER_ENTRIES = 4096;
export const MAX_URL_BYTES = 2048;

export interface RosterEntry {
  uid: number;
  minerHotkey: string;
  codeSha256: string;
  url: string;
  commitBlock: number;
}


/** Sorted copy by uid; duplicate uids are refused (two submissions for one uid is ambiguous). */
export function sortRoster(entries: readonly RosterEntry[]): RosterEntry[] {
  const sorted = [...entries].sort((a, b) => a.uid - b.uid);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].uid === sorted[i - 1].uid) throw new CodecError(`roster: uid ${sorted[i].uid} appears twice`);
  }
  return sorted;
}

/** Canonical bytes; input order does not matter (entries are sorted by uid). */
export function encodeRoster(entries: readonly RosterEntry[]): Uint8Array {
  if (!Array.isArray(entries)) throw new CodecError('roster: expected an array');
  if (entries.length > MAX_ROSTER_ENTRIES) throw new CodecError(`roster: ${entries.length} entries exceed the limit of ${MAX_ROSTER_ENTRIES}`);
  const w = new Writer();
  w.u8(1);
  w.u32(entries.length);
  for (const [i, e] of sortRoster(entries).entries()) {
    const where = `roster entry ${i}`;
    w.u16(expectUint(e.uid, `${where} uid`, 0xffff));
    w.fixed(hotkeyToPublicKey(e.minerHotkey), 32);
    w.fixed(fromHex(e.codeSha256, 32, `${where} codeSha256`), 32);
    if (typeof e.url !== 'string') throw new CodecError(`${where} url: expected a string`);
    w.string(e.url, MAX_URL_BYTES);
    w.u64(expectUint(e.commitBlock, `${where} commitBlock`));
  }
  return w.finish();
}

export function decodeRoster(bytes: Uint8Array): RosterEntry[] {
  const r = new Reader(bytes, 'roster');
  const version = r.u8();
  if (version !== 1) throw new CodecError(`roster: unknown version ${version} (this node speaks version 1)`);
  const n = r.u32();
  if (n > MAX_ROSTER_ENTRIES) throw new CodecError(`roster: ${n} entries exceed the limit of ${MAX_ROSTER_ENTRIES}`);
  const out: RosterEntry[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const uid = r.u16();
    if (uid <= prev) throw new CodecError(`roster entry ${i}: uid ${uid} is duplicated or out of order`);
    prev = uid;
    const minerHotkey = publicKeyToHotkey(r.fixed(32));
    const codeSha256 = toHex(r.fixed(32));
    const url = r.string(MAX_URL_BYTES);
    const commitBlock = r.u64();
    out.push({ uid, minerHotkey, codeSha256, url, commitBlock });
  }
  r.end();
  return out;
}

export function rosterHash(entries: readonly RosterEntry[]): string {
  return sha256Hex(signingBytes(ROSTER_DOMAIN, encodeRoster(entries)));
}
