// SubtensorModule weights as subtensor applies them (subnets/weights.rs, coinbase/reveal_commits.rs):
// set_weights, commit_timelocked_weights (and its mechanism form with mecid 0) with every refusal the
// runtime makes, and the per-block reveal of timelocked commits: the commit queue of the reveal epoch is
// decrypted with Drand.Pulses[round] by the same TypeScript tle code the client encrypts with, the payload
// decoded (hotkey form checked against the committer, legacy form as fallback) and applied as
// set_weights; commits whose pulse is missing are retried every block of the epoch, failures dropped
// silently, expired ones removed — exactly what makes a failed reveal invisible on chain.
import { blake2AsHex, decodeAddress } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { tleDecrypt } from '../../chain/timelock/tle.ts';
import { decodeWeightsPayload } from '../../chain/timelock/payload.ts';
import { storagePrefix } from '../metadata.ts';
import { encodeEvent, ModuleError, num, type EncodedEvent, type Store } from '../runtime.ts';
import { currentEpoch } from './epochs.ts';
import { pulseSignature } from './drand.ts';

export const MAX_COMMIT_BYTES = 5000;

/** subtensor's max_upscale_to_u16: scale so the largest weight becomes 65535. */
export function maxUpscaleU16(weights: number[]): number[] {
  const max = Math.max(0, ...weights);
  if (max === 0) return weights.map(() => 0);
  return weights.map((w) => Math.round((w * 65535) / max));
}

function requireSubnet(s: Store, netuid: number): void {
  if (!s.read('subtensorModule', 'networksAdded', netuid).value?.toJSON()) throw new ModuleError('subtensorModule', 'SubnetNotExists');
}

function crEnabled(s: Store, netuid: number): boolean {
  return Boolean(s.readDefault('subtensorModule', 'commitRevealWeightsEnabled', netuid).toJSON());
}

function lastUpdate(s: Store, netuid: number): number[] {
  return (s.readDefault('subtensorModule', 'lastUpdate', netuid).toJSON() as (number | string)[]).map(Number);
}

function setLastUpdate(s: Store, netuid: number, uid: number, block: number): void {
  const lu = lastUpdate(s, netuid);
  const n = s.num('subtensorModule', 'subnetworkN', netuid);
  while (lu.length < n) lu.push(0);
  lu[uid] = block;
  s.write('subtensorModule', 'lastUpdate', [netuid], lu);
}

/** internal_set_weights: the checks and effects shared by set_weights and a reveal. */
export function applyWeights(s: Store, who: string, block: number, netuid: number, dests: number[], weights: number[], versionKey: bigint): EncodedEvent[] {
  if (dests.length !== weights.length) throw new ModuleError('subtensorModule', 'WeightVecNotEqualSize');
  requireSubnet(s, netuid);
  const n = s.num('subtensorModule', 'subnetworkN', netuid);
  if (dests.length > n) throw new ModuleError('subtensorModule', 'UidsLengthExceedUidsInSubNet');
  const uid = s.uidOf(netuid, who);
  if (uid === null) throw new ModuleError('subtensorModule', 'HotKeyNotRegisteredInSubNet');
  const networkKey = BigInt(s.readDefault('subtensorModule', 'weightsVersionKey', netuid).toString());
  if (networkKey !== 0n && versionKey < networkKey) throw new ModuleError('subtensorModule', 'IncorrectWeightVersionKey');
  const cr = crEnabled(s, netuid);
  if (!cr) {
    const last = lastUpdate(s, netuid)[uid] ?? 0;
    if (last !== 0 && block - last < s.num('subtensorModule', 'weightsSetRateLimit', netuid)) throw new ModuleError('subtensorModule', 'SettingWeightsTooFast');
  }
  const permits = s.readDefault('subtensorModule', 'validatorPermit', netuid).toJSON() as boolean[];
  const selfOnly = dests.length === 1 && dests[0] === uid;
  if (!permits[uid] && !selfOnly) throw new ModuleError('subtensorModule', 'NeuronNoValidatorPermit');
  if (new Set(dests).size !== dests.length) throw new ModuleError('subtensorModule', 'DuplicateUids');
  if (dests.some((d) => d >= n)) throw new ModuleError('subtensorModule', 'UidVecContainInvalidOne');
  const minW = s.num('subtensorModule', 'minAllowedWeights', netuid);
  if (!selfOnly && dests.length < Math.min(minW, n)) throw new ModuleError('subtensorModule', 'WeightVecLengthIsLow');
  const scaled = maxUpscaleU16(weights);
  const pairs = dests.map((d, i) => [d, scaled[i]] as [number, number]).filter(([, w]) => w > 0).sort((x, y) => x[0] - y[0]);
  s.write('subtensorModule', 'weights', [netuid, uid], pairs);
  if (!cr) setLastUpdate(s, netuid, uid, block);
  return [encodeEvent(s.meta, 'subtensorModule', 'WeightsSet', [netuid, uid])];
}

export function setWeights(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  const netuid = num(a.netuid);
  requireSubnet(s, netuid);
  if (crEnabled(s, netuid)) throw new ModuleError('subtensorModule', 'CommitRevealEnabled');
  return applyWeights(s, who, block, netuid, (a.dests as unknown[]).map(num), (a.weights as unknown[]).map(num), BigInt((a.versionKey as { toString(): string }).toString()));
}

type QueueEntry = [string, number, string, number]; // (who, commit block, ciphertext hex, round)

function queue(s: Store, netuid: number, epoch: number): QueueEntry[] {
  const v = s.readDefault('subtensorModule', 'timelockedWeightCommits', netuid, epoch).toJSON() as [string, number | string, string, number | string][];
  return (v ?? []).map(([w, b, c, r]) => [w, Number(b), c, Number(r)]);
}

function writeQueue(s: Store, netuid: number, epoch: number, q: QueueEntry[]): void {
  if (q.length === 0) s.remove('subtensorModule', 'timelockedWeightCommits', netuid, epoch);
  else s.write('subtensorModule', 'timelockedWeightCommits', [netuid, epoch], q);
}

/** Pool-level checks current runtimes make for timelocked commits (SubtensorTransactionExtension): InvalidRevealRound. */
export function validateCommit(s: Store, a: Record<string, unknown>): void {
  if (num(a.revealRound) < s.num('drand', 'lastStoredRound')) throw new ModuleError('subtensorModule', 'InvalidRevealRound');
}

export function commitTimelocked(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  const netuid = num(a.netuid);
  requireSubnet(s, netuid);
  if (a.mecid !== undefined && num(a.mecid) >= s.num('subtensorModule', 'mechanismCountCurrent', netuid)) throw new ModuleError('subtensorModule', 'MechanismDoesNotExist');
  if (a.mecid !== undefined && num(a.mecid) !== 0) throw new ModuleError('subtensorModule', 'MechanismDoesNotExist'); // the devchain runs mechanism 0 only
  if (!crEnabled(s, netuid)) throw new ModuleError('subtensorModule', 'CommitRevealDisabled');
  if (num(a.commitRevealVersion) !== s.num('subtensorModule', 'commitRevealWeightsVersion')) throw new ModuleError('subtensorModule', 'IncorrectCommitRevealVersion');
  const uid = s.uidOf(netuid, who);
  if (uid === null) throw new ModuleError('subtensorModule', 'HotKeyNotRegisteredInSubNet');
  const last = lastUpdate(s, netuid)[uid] ?? 0;
  if (last !== 0 && block - last < s.num('subtensorModule', 'weightsSetRateLimit', netuid)) throw new ModuleError('subtensorModule', 'CommittingWeightsTooFast');
  const commit = (a.commit as { toU8a(raw: boolean): Uint8Array }).toU8a(true);
  const round = num(a.revealRound);
  const epoch = currentEpoch(s, netuid, block);
  const q = queue(s, netuid, epoch);
  if (q.filter(([w]) => w === who).length >= 10) throw new ModuleError('subtensorModule', 'TooManyUnrevealedCommits');
  q.push([who, block, u8aToHex(commit), round]);
  writeQueue(s, netuid, epoch, q);
  setLastUpdate(s, netuid, uid, block);
  return [encodeEvent(s.meta, 'subtensorModule', 'TimelockedWeightsCommitted', [who, netuid, blake2AsHex(commit, 256), round])];
}

/** The epochs with a commit queue on `netuid` (TimelockedWeightCommits keys: Twox64Concat(u16) ‖ Twox64Concat(u64)). */
function queuedEpochs(s: Store, netuid: number): number[] {
  const prefix = storagePrefix(s.meta, 'subtensorModule', 'timelockedWeightCommits', netuid);
  return s.ov.keys(prefix).map((k) => {
    const le = k.slice(-16);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(le.slice(2 * i, 2 * i + 2), 16));
    return Number(v);
  });
}

/** reveal_crv3_commits_for_subnet at block `b` (on_initialize, before the epoch schedule advances). */
export function revealCommits(s: Store, netuid: number, b: number, log: (l: string) => void = () => {}): EncodedEvent[] {
  const rp = s.num('subtensorModule', 'revealPeriodEpochs', netuid);
  const cur = currentEpoch(s, netuid, b);
  const revealEpoch = Math.max(0, cur - rp);
  for (const e of queuedEpochs(s, netuid)) if (e < revealEpoch) writeQueue(s, netuid, e, []);
  if (cur < rp) return [];
  const entries = queue(s, netuid, revealEpoch);
  if (entries.length === 0) return [];
  const events: EncodedEvent[] = [];
  const unrevealed: QueueEntry[] = [];
  for (const entry of entries) {
    const [who, , ct, round] = entry;
    const sig = pulseSignature(s, round);
    if (!sig) {
      unrevealed.push(entry);
      continue;
    }
    let plain: Uint8Array;
    try {
      plain = tleDecrypt(Uint8Array.from(Buffer.from(ct.slice(2), 'hex')), sig);
    } catch (err) {
      log(`devchain: reveal of ${who}'s commit dropped: ${(err as Error).message}`);
      continue;
    }
    const p = decodeWeightsPayload(plain, decodeAddress(who));
    if (!p.ok) {
      log(`devchain: reveal of ${who}'s commit dropped: ${p.reason}`);
      continue;
    }
    try {
      events.push(...applyWeights(s, who, b, netuid, p.payload.uids, p.payload.values, p.payload.versionKey));
    } catch (err) {
      log(`devchain: reveal of ${who}'s commit dropped: weights refused (${(err as Error).message})`);
      continue;
    }
    events.push(encodeEvent(s.meta, 'subtensorModule', 'TimelockedWeightsRevealed', [netuid, who]));
  }
  writeQueue(s, netuid, revealEpoch, unrevealed);
  return events;
}
