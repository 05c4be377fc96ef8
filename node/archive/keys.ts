// Key schema of the archive (format v2). A run is identified by the chain (its genesis hash), the
// subnet (netuid) and the run id: two subnets, or two chains, can have the same run id and the same
// validator hotkey without their reports meeting under one key.
//
//   slot         <chain64>/<netuid5>/<run16>/<validatorPubHex64>
//   equivocation <slot>/<reportSha256>
//   run          <chain64>/<netuid5>/<run16>
// chain64 is the genesis hash in lowercase hex (UNKNOWN_CHAIN when the writer did not know it);
// netuid and run are zero-padded decimals so that key order is (chain, subnet, run) order.
import { toHex } from '../../proto/codec.ts';
import { hotkeyToPublicKey } from '../../proto/signer.ts';
import { clip } from '../../proto/clip.ts';
import { ArchiveError } from './errors.ts';

/** Reports archived without knowing the chain (e.g. `archive put` without --genesis) live under this chain id. */
export const UNKNOWN_CHAIN = '0'.repeat(64);

export interface RunRef {
  netuid: number;
  runId: number;
  /** Genesis hash (hex); default: the archive's chain. */
  chain?: string;
}

export interface ResolvedRun {
  chain: string;
  netuid: number;
  runId: number;
}

/** A genesis hash as given by a user or the chain client (0x-prefixed or not, any case) → 64 lowercase hex. */
export function normalizeChain(genesis: string): string {
  const s = typeof genesis === 'string' ? genesis.toLowerCase().replace(/^0x/, '') : '';
  if (!/^[0-9a-f]{64}$/.test(s)) throw new ArchiveError(`genesis hash must be 32 bytes of hex (0x…), got ${clip(genesis)}`);
  return s;
}

export function runKey(runId: number): string {
  if (!Number.isSafeInteger(runId) || runId < 0) throw new ArchiveError(`runId must be a non-negative safe integer, got ${clip(runId)}`);
  return String(runId).padStart(16, '0');
}

export function netuidKey(netuid: number): string {
  if (!Number.isInteger(netuid) || netuid < 0 || netuid > 0xffff) throw new ArchiveError(`netuid must be an integer in 0..65535, got ${clip(netuid)}`);
  return String(netuid).padStart(5, '0');
}

export function runPrefix(r: ResolvedRun): string {
  return `${r.chain}/${netuidKey(r.netuid)}/${runKey(r.runId)}`;
}

export function slotKey(r: ResolvedRun, validatorHotkey: string): string {
  return `${runPrefix(r)}/${toHex(hotkeyToPublicKey(validatorHotkey))}`;
}

const SLOT_RE = /^([0-9a-f]{64})\/(\d{5})\/(\d{16})\/([0-9a-f]{64})$/;

export interface ParsedSlot extends ResolvedRun {
  pubHex: string;
}

export function parseSlot(slot: string): ParsedSlot | undefined {
  const m = SLOT_RE.exec(slot);
  return m ? { chain: m[1], netuid: Number(m[2]), runId: Number(m[3]), pubHex: m[4] } : undefined;
}

/** Length of `<chain>/<netuid>/<run>`, the part of a slot key that names the run. */
export const RUN_PREFIX_LENGTH = 64 + 1 + 5 + 1 + 16;

/** Key-range prefix for a listing filter: as many leading components as are fixed. */
export function listPrefix(f: { chain?: string; netuid?: number; runId?: number }): string {
  if (f.chain === undefined) return '';
  if (f.netuid === undefined) return `${f.chain}/`;
  if (f.runId === undefined) return `${f.chain}/${netuidKey(f.netuid)}/`;
  return `${f.chain}/${netuidKey(f.netuid)}/${runKey(f.runId)}/`;
}
