// Commit-reveal weights on subtensor (../shared/chain/commit-reveal-v4.md): build the timelocked commit
// (SCALE payload with the hotkey, tle encryption to the chain's drand beacon, reveal round from the chain's
// epoch schedule and clock), check what the chain would refuse before sending, send it, and later confirm
// that the chain revealed it — a failed reveal leaves no error on chain, so the client reads the commit
// queue (the commit leaves it when the reveal pass takes it) and the events of the block where it left.
import { blake2AsHex, decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import type { SubtensorClient } from './client.ts';
import { normaliseWeights } from './client.ts';
import { commitTiming, epochAt, legacyEpochIndex, type EpochSchedule } from './epoch-schedule.ts';
import { encodeWeightsPayload } from './timelock/payload.ts';
import { tleEncrypt } from './timelock/tle.ts';
import { revealRoundAt, type DrandBeacon } from './timelock/drand.ts';
import type { ChainWriteResult, RevealStatus, Sr25519Signer, WeightsCommit } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

/** subtensor MAX_CRV3_COMMIT_SIZE_BYTES */
export const MAX_COMMIT_BYTES = 5000;
/** subtensor: at most this many unrevealed commits per hotkey and epoch */
export const MAX_UNREVEALED = 10;
/** Blocks after the first reveal block whose time the reveal round targets (bittensor SDK). */
export const REVEAL_MARGIN_BLOCKS = 3;

export interface CommitOptions {
  /** drand round to encrypt to; default: derived from the schedule and the chain clock */
  revealRound?: number;
  /** WeightsVersionKey to commit; default: the subnet's */
  versionKey?: bigint;
}

const COMMIT_QUEUES = ['timelockedWeightCommits', 'crv3WeightCommitsV2', 'crv3WeightCommits'] as const;
const REVEALED_EVENTS = ['TimelockedWeightsRevealed', 'CRV3WeightsRevealed'];

function fail(kind: Parameters<typeof failOf>[0], message: string, name?: string): ChainWriteResult {
  return failOf(kind, message, name);
}
function failOf(kind: 'commit-reveal' | 'rate-limited' | 'not-registered' | 'invalid-input' | 'rejected' | 'disconnected', message: string, name?: string): ChainWriteResult {
  return { ok: false, error: { kind, message: name ? `SubtensorModule.${name} (checked before sending): ${message}` : message, ...(name ? { module: { section: 'subtensorModule', name } } : {}) } };
}

/** The epoch a commit made in block `b` is keyed under, from the schedule read at that block (after it executed). */
export function commitEpochAt(s: EpochSchedule): number {
  return s.model === 'stateful' ? epochAt(s, s.block) : legacyEpochIndex(s.block, s.tempo, s.netuid);
}

function queueItem(client: SubtensorClient, apiAt: Dyn): { name: string; q: Dyn } {
  for (const name of COMMIT_QUEUES) {
    const q = client.storage(apiAt, 'subtensorModule', name, true);
    if (q) return { name, q };
  }
  client.storage(apiAt, 'subtensorModule', 'timelockedWeightCommits'); // throws the schema error naming it
  throw new Error('unreachable');
}

/** Entries of a commit queue as [who (SS58), round, ciphertext hash | null, commit block | null]. */
function queueEntries(v: Dyn): { who: string; round: number; hash: string | null; block: number | null }[] {
  const list = (v?.isSome ? v.unwrap() : v) as Dyn[] | undefined;
  if (!list || typeof list.map !== 'function') return [];
  return list.map((t: Dyn) => {
    const parts = [...t];
    const who = encodeAddress(parts[0].toU8a(), 42);
    const round = Number(parts[parts.length - 1].toString());
    // (who, commit_block, ciphertext, round) since the v4 queue; (who, ciphertext, round) before it
    const bytes = parts.length === 4 ? parts[2] : parts.length === 3 ? parts[1] : null;
    const block = parts.length === 4 ? Number(parts[1].toString()) : null;
    return { who, round, hash: bytes ? blake2AsHex(bytes.toU8a(true), 256) : null, block };
  });
}

/**
 * The drand round to encrypt to: the bittensor SDK's round for the time of first reveal block + 3
 * blocks, but never one drand publishes before the first reveal block (on chains with blocks much shorter
 * than the 3 s drand period the SDK's round could open before the reveal epoch). Refused when even the
 * earliest admissible round is published after the reveal epoch ends: the commit would expire unrevealed.
 */
export function revealRoundFor(beacon: DrandBeacon, chainNowMs: number, head: number, firstRevealBlock: number, blockTimeMs: number, tempo: number): { ok: true; round: number } | { ok: false; reason: string } {
  const at = (block: number) => chainNowMs / 1000 + ((block - head) * blockTimeMs) / 1000;
  const sdk = revealRoundAt(beacon, at(firstRevealBlock + REVEAL_MARGIN_BLOCKS));
  const tReveal = at(firstRevealBlock);
  const earliest = Math.max(1, Math.ceil((tReveal - beacon.genesisTime) / beacon.period) + 1);
  const round = Math.max(sdk, earliest);
  const publishedAt = beacon.genesisTime + (round - 1) * beacon.period;
  const epochEnd = tReveal + (tempo * blockTimeMs) / 1000;
  if (publishedAt >= epochEnd) {
    return { ok: false, reason: `drand round ${round} is published at ${publishedAt}, after the reveal epoch ends (${Math.floor(epochEnd)}: ${tempo} blocks of ${blockTimeMs} ms): the commit would expire unrevealed; the subnet's epoch is shorter than the drand period` };
  }
  return { ok: true, round };
}

export async function commitWeights(client: SubtensorClient, signer: Sr25519Signer, netuid: number, uids: number[], weights: number[], opts: CommitOptions): Promise<ChainWriteResult & { commit?: WeightsCommit }> {
  const norm = normaliseWeights(uids, weights);
  if (!norm.ok) return fail('invalid-input', norm.reason);
  const tx = client.api.tx as Dyn;
  const v4 = tx.subtensorModule?.commitTimelockedWeights;
  const crv3 = tx.subtensorModule?.commitCrv3Weights;
  if (!v4 && !crv3) return fail('rejected', `the runtime at ${client.endpoint} has no commit_timelocked_weights (nor the older commit_crv3_weights): cannot commit weights on a commit-reveal subnet`);
  let built: { ct: Uint8Array; round: number; version: number; commitEpoch: number; revealEpoch: number; firstRevealBlock: number };
  try {
    const head = await client.bestBlock();
    const { apiAt, hash } = await client.at(head.hash);
    const hp = await client.hyperparams(netuid, hash);
    if (!hp.commitRevealEnabled) return fail('commit-reveal', `commit-reveal is disabled on subnet ${netuid}; send plain set_weights`, 'CommitRevealDisabled');
    const mine = await client.lastWeightsUpdate(netuid, signer.hotkey, hash);
    if (!mine) return fail('not-registered', `hotkey ${signer.hotkey} is not registered on subnet ${netuid}`, 'HotKeyNotRegisteredInSubNet');
    const next = mine.block + hp.weightsRateLimit;
    if (mine.block !== 0 && head.number + 1 < next) {
      return fail('rate-limited', `uid ${mine.uid} last set or committed weights at block ${mine.block}; one per ${hp.weightsRateLimit} blocks, next at block ${next} (now ${head.number})`, 'CommittingWeightsTooFast');
    }
    const sched = await client.epochSchedule(netuid, hash);
    const timing = commitTiming(sched, hp.revealPeriodEpochs ?? 1);
    const beacon = await client.drandBeacon(hash);
    let round = opts.revealRound;
    if (round === undefined) {
      const r = revealRoundFor(beacon, await client.chainTimeMs(hash), head.number, timing.firstRevealBlock, client.blockTimeMs(), sched.tempo);
      if (!r.ok) return fail('commit-reveal', r.reason);
      round = r.round;
    }
    if (!Number.isSafeInteger(round) || round < 1) return fail('invalid-input', `reveal round ${round} is not a positive integer`);
    if (round < beacon.lastStoredRound) {
      return fail('commit-reveal', `reveal round ${round} is older than the newest drand pulse on chain (Drand.LastStoredRound ${beacon.lastStoredRound}): the commit would open at once`, 'InvalidRevealRound');
    }
    const versionQ = client.storage(apiAt, 'subtensorModule', 'commitRevealWeightsVersion', true);
    const version = versionQ ? Number((await versionQ()).toString()) : 0;
    const { q } = queueItem(client, apiAt);
    const pending = queueEntries(await q(netuid, timing.commitEpoch)).filter((e) => e.who === signer.hotkey).length;
    if (pending >= MAX_UNREVEALED) return fail('commit-reveal', `hotkey ${signer.hotkey} already has ${pending} unrevealed commits in epoch ${timing.commitEpoch}`, 'TooManyUnrevealedCommits');
    const payload = encodeWeightsPayload({ hotkey: v4 ? decodeAddress(signer.hotkey) : undefined, uids: norm.uids, values: norm.weights, versionKey: opts.versionKey ?? hp.weightsVersionKey });
    const ct = tleEncrypt(payload, round, beacon.publicKey);
    if (ct.length > MAX_COMMIT_BYTES) return fail('invalid-input', `the commit is ${ct.length} bytes; subtensor accepts at most ${MAX_COMMIT_BYTES} (too many uids)`);
    built = { ct, round, version, ...timing };
  } catch (err) {
    return fail(client.isConnected ? 'rejected' : 'disconnected', (err as Error).message);
  }
  const res = await client.submit(signer, () => (v4 ? v4(netuid, u8aToHex(built.ct), built.round, built.version) : crv3(netuid, u8aToHex(built.ct), built.round)));
  if (!res.ok) return res;
  // the epoch the chain keyed it under follows from the block it landed in
  let commitEpoch = built.commitEpoch;
  let revealEpoch = built.revealEpoch;
  let expectedRevealBlock = built.firstRevealBlock;
  try {
    const at = await client.epochSchedule(netuid, res.blockHash);
    const rp = (await client.hyperparams(netuid, res.blockHash)).revealPeriodEpochs ?? 1;
    commitEpoch = commitEpochAt(at);
    if (commitEpoch !== built.commitEpoch) {
      revealEpoch = commitEpoch + rp;
      expectedRevealBlock = commitTiming({ ...at, block: at.block }, rp).firstRevealBlock;
    }
  } catch {
    // keep the prediction; confirmReveal reads the queue by epoch and falls back to scanning
  }
  return {
    ...res,
    commit: {
      netuid, hotkey: signer.hotkey, commitBlock: res.block, commitEpoch, revealEpoch, expectedRevealBlock, revealRound: built.round,
      format: v4 ? 'v4' : 'crv3', commitHash: blake2AsHex(built.ct, 256), uids: norm.uids, values: norm.weights,
    },
  };
}

/**
 * Where the reveal of `commit` stands. The chain takes the commit out of its queue when it reveals or
 * drops it (decryption, payload or weights check failed — silently) or when it expires; the events of the
 * block where it left say which. Pending while the reveal epoch has not come, or has come but the drand
 * pulse for the round is not on chain yet.
 */
export async function confirmReveal(client: SubtensorClient, c: WeightsCommit): Promise<RevealStatus> {
  const head = await client.bestBlock();
  const sched = await client.epochSchedule(c.netuid, head.hash);
  const current = commitEpochAt(sched);
  if (current < c.revealEpoch) return { state: 'pending', reason: `reveal epoch ${c.revealEpoch} not reached (epoch ${current} at block ${head.number}; expected from block ~${c.expectedRevealBlock})` };
  const present = async (hash: string): Promise<boolean> => {
    const { apiAt } = await client.at(hash);
    const { q } = queueItem(client, apiAt);
    return queueEntries(await client.read(() => q(c.netuid, c.commitEpoch))).some((e) => e.who === c.hotkey && e.round === c.revealRound && (e.hash === null || c.commitHash === '' || e.hash === c.commitHash));
  };
  if (await present(head.hash)) {
    if (current > c.revealEpoch) return { state: 'failed', reason: `the reveal epoch ${c.revealEpoch} passed without the drand pulse for round ${c.revealRound} reaching the chain; the commit expires unrevealed` };
    return { state: 'pending', reason: `in reveal epoch ${c.revealEpoch}, waiting for drand round ${c.revealRound} on chain` };
  }
  // first block at which the commit is no longer queued: binary search (it was queued at commitBlock)
  let lo = c.commitBlock;
  let hi = head.number;
  if (!(await present(await client.blockHash(lo)))) return { state: 'failed', block: lo, reason: `the commit is not in the chain's queue for epoch ${c.commitEpoch} at its own block ${lo}` };
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await present(await client.blockHash(mid))) lo = mid;
    else hi = mid;
  }
  const gone = await client.blockHash(hi);
  const { apiAt } = await client.at(gone);
  const events = (await client.read(() => client.storage(apiAt, 'system', 'events')())) as Dyn[];
  const revealed = events.some((r: Dyn) => r.event.section === 'subtensorModule' && REVEALED_EVENTS.includes(r.event.method)
    && encodeAddress(r.event.data[1].toU8a(), 42) === c.hotkey && Number(r.event.data[0].toString()) === c.netuid);
  if (!revealed) {
    return { state: 'failed', block: hi, reason: `the chain took the commit out of its queue at block ${hi} without revealing it (wrong drand round or beacon, undecodable payload, or weights refused by the set_weights checks; subtensor does not record which)` };
  }
  const weights = await client.weightsOf(c.netuid, c.hotkey, gone);
  const weightsOnChain = weights !== null && sameU16Weights(weights, c.uids, c.values);
  return { state: 'revealed', block: hi, weightsOnChain };
}

function sameU16Weights(onChain: { uid: number; weight: number }[], uids: number[], values: number[]): boolean {
  const want = new Map(uids.map((u, i) => [u, values[i]]));
  const got = onChain.filter((w) => w.weight > 0);
  return got.length === want.size && got.every((w) => want.get(w.uid) === w.weight);
}

/**
 * `hotkey`'s timelocked commit included in block `block` on `netuid`, read back from the chain's commit
 * queue (for a restart that lost the commit's details between sending it and recording it). `uids` /
 * `weights` are what was committed (the queue holds only the ciphertext).
 */
export async function findWeightsCommit(client: SubtensorClient, netuid: number, hotkey: string, block: number, uids: number[], weights: number[]): Promise<WeightsCommit | null> {
  const norm = normaliseWeights(uids, weights);
  if (!norm.ok) return null;
  const hash = await client.blockHash(block);
  const sched = await client.epochSchedule(netuid, hash);
  const commitEpoch = commitEpochAt(sched);
  const { apiAt } = await client.at(hash);
  const { name, q } = queueItem(client, apiAt);
  const entry = queueEntries(await client.read(() => q(netuid, commitEpoch))).find((e) => e.who === hotkey && (e.block === null || e.block === block));
  if (!entry) return null;
  const rp = (await client.hyperparams(netuid, hash)).revealPeriodEpochs ?? 1;
  const revealEpoch = commitEpoch + rp;
  let expectedRevealBlock: number;
  try {
    expectedRevealBlock = commitTiming({ ...sched, block }, rp).firstRevealBlock;
  } catch {
    expectedRevealBlock = block;
  }
  return {
    netuid, hotkey, commitBlock: block, commitEpoch, revealEpoch, expectedRevealBlock, revealRound: entry.round,
    format: name === 'timelockedWeightCommits' ? 'v4' : 'crv3', commitHash: entry.hash ?? '', uids: norm.uids, values: norm.weights,
  };
}
