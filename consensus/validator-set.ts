// The validator set of one run, derived from a metagraph snapshot, and the quorum arithmetic.
// Pure: no I/O. Stakes are bigint (rao); quorum comparisons are exact rational arithmetic.
import { createHash } from 'node:crypto';

/** A metagraph row, as produced by the chain client. */
export interface Neuron {
  uid: number;
  hotkey: string;
  stake: bigint;
  validatorPermit: boolean;
  axon?: { ip: string; port: number };
}

/** A member of a run's validator set. Voting power = stake. */
export interface Member {
  uid: number;
  hotkey: string;
  stake: bigint;
}

export interface ValidatorSet {
  /** Sorted by uid ascending; the index into this array is the member's position (proposer rotation). */
  members: Member[];
  totalStake: bigint;
}

/** A fraction num/den of total voting power; "meets" means strictly greater than it. */
export interface Threshold {
  num: number;
  den: number;
}

export const DEFAULT_THRESHOLD: Threshold = { num: 2, den: 3 };

export class ConsensusConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConsensusConfigError';
  }
}

/** Refuses thresholds below 1/2 (two disjoint quorums would be possible) or above 1. */
export function checkThreshold(t: Threshold): Threshold {
  if (!t || !Number.isSafeInteger(t.num) || !Number.isSafeInteger(t.den) || t.num <= 0 || t.den <= 0) {
    throw new ConsensusConfigError(`quorum threshold must be a positive fraction num/den, got ${JSON.stringify(t)}`);
  }
  if (2 * t.num < t.den) throw new ConsensusConfigError(`quorum threshold ${t.num}/${t.den} is below 1/2; use at least 1/2 (default 2/3)`);
  if (t.num >= t.den) throw new ConsensusConfigError(`quorum threshold ${t.num}/${t.den} must be below 1 (strictly-greater comparison would never pass)`);
  return t;
}

/** Parses "2/3" or "0.6667" style input (CLI, config). */
export function parseThreshold(s: string): Threshold {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (m) return checkThreshold({ num: Number(m[1]), den: Number(m[2]) });
  throw new ConsensusConfigError(`quorum threshold ${JSON.stringify(s)}: expected a fraction like 2/3`);
}

/** power > threshold * total, exactly. */
export function meetsThreshold(power: bigint, total: bigint, t: Threshold): boolean {
  if (total <= 0n) return false;
  return power * BigInt(t.den) > total * BigInt(t.num);
}

/**
 * Members of a run: validators holding a permit with stake >= minStake. Duplicate uids or hotkeys
 * in the snapshot are refused (a corrupt snapshot must not silently change voting power).
 */
export function buildValidatorSet(neurons: readonly Neuron[], opts: { minStake?: bigint } = {}): ValidatorSet {
  const minStake = opts.minStake ?? 0n;
  const seenUid = new Set<number>();
  const seenHotkey = new Set<string>();
  const members: Member[] = [];
  for (const n of neurons) {
    if (!Number.isSafeInteger(n.uid) || n.uid < 0 || n.uid > 0xffff) throw new ConsensusConfigError(`metagraph: uid ${n.uid} out of range 0..65535`);
    if (typeof n.stake !== 'bigint' || n.stake < 0n) throw new ConsensusConfigError(`metagraph uid ${n.uid}: stake must be a non-negative bigint (rao)`);
    if (seenUid.has(n.uid)) throw new ConsensusConfigError(`metagraph: uid ${n.uid} appears twice; refresh the metagraph snapshot`);
    if (seenHotkey.has(n.hotkey)) throw new ConsensusConfigError(`metagraph: hotkey ${n.hotkey} appears twice; refresh the metagraph snapshot`);
    seenUid.add(n.uid);
    seenHotkey.add(n.hotkey);
    if (!n.validatorPermit || n.stake < minStake || n.stake === 0n) continue;
    members.push({ uid: n.uid, hotkey: n.hotkey, stake: n.stake });
  }
  members.sort((a, b) => a.uid - b.uid);
  return { members, totalStake: members.reduce((s, m) => s + m.stake, 0n) };
}

/**
 * The proposer order of a run: a permutation of the member positions drawn from
 * sha256("conclave/proposer/v2" || 0x00 || seed || u64 runId || u32 counter) (Fisher-Yates, rejection
 * sampling, no modulo bias). `seed` is the hash of the run's commit-deadline block: nobody can tell
 * who proposes, or in which order, before every report is committed. Each member proposes once in
 * any n consecutive views.
 */
export function proposerOrder(memberCount: number, runId: number, seedHex: string): number[] {
  if (memberCount <= 0) throw new ConsensusConfigError('empty validator set: no proposer');
  if (!/^[0-9a-f]{64}$/.test(seedHex)) throw new ConsensusConfigError('proposer seed must be a 32-byte block hash (64 lowercase hex characters)');
  const order = Array.from({ length: memberCount }, (_, i) => i);
  const run = new Uint8Array(8);
  new DataView(run.buffer).setBigUint64(0, BigInt(runId));
  let counter = 0;
  let pool: number[] = [];
  const next = (): number => {
    if (pool.length === 0) {
      const c = new Uint8Array(4);
      new DataView(c.buffer).setUint32(0, counter++);
      const h = createHash('sha256').update('conclave/proposer/v2\0').update(Buffer.from(seedHex, 'hex')).update(run).update(c).digest();
      for (let i = 0; i < 32; i += 4) pool.push(h.readUInt32BE(i));
    }
    return pool.shift()!;
  };
  for (let i = memberCount - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = Math.floor(0x1_0000_0000 / bound) * bound;
    let x = next();
    while (x >= limit) x = next();
    const j = x % bound;
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Proposer (and vote collector) of a view: the run's order, repeating every n views. */
export function proposerIndex(memberCount: number, runId: number, view: number, seedHex: string): number {
  return proposerOrder(memberCount, runId, seedHex)[view % memberCount];
}
