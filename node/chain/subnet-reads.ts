// Pinned reads of a subnet's parameters and of one hotkey's standing: hyperparameters, the epoch
// schedule, the drand beacon, a hotkey's weights, last update and axon, the subnet owner. Each read
// is pinned to one block (SubtensorClient.at) and names a missing storage item (ChainSchemaError).
import { encodeAddress } from '@polkadot/util-crypto';
import type { SubtensorClient } from './client.ts';
import { ipFromU128 } from './encoding.ts';
import type { EpochSchedule } from './epoch-schedule.ts';
import { ChainSchemaError } from './errors.ts';
import { HYPERPARAM_ITEMS, OPTIONAL_HYPERPARAM_ITEMS, hyperparamsFrom, type HyperparamItem } from './hyperparams.ts';
import type { DrandBeacon } from './timelock/drand.ts';
import type { BlockRef, Hyperparams } from './types.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

/** The subnet's hyperparameters (SubtensorModule storage) at a block. */
export async function readHyperparams(client: SubtensorClient, netuid: number, at?: BlockRef): Promise<Hyperparams> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const exists = await client.storage(apiAt, 'subtensorModule', 'networksAdded')(netuid);
    if (!exists.isTrue) throw new Error(`subnet ${netuid} does not exist on ${client.endpoint}`);
    const camel = (item: string) => item[0].toLowerCase() + item.slice(1);
    const qs = HYPERPARAM_ITEMS.map((i) => client.storage(apiAt, 'subtensorModule', camel(i)));
    const optional = OPTIONAL_HYPERPARAM_ITEMS.map((i) => client.storage(apiAt, 'subtensorModule', camel(i), true));
    if (!optional[1] && !optional[2]) client.storage(apiAt, 'subtensorModule', 'activityCutoffFactorMilli');
    const [vals, opts]: Dyn[][] = await Promise.all([Promise.all(qs.map((q) => q(netuid))), Promise.all(optional.map((q) => (q ? q(netuid) : Promise.resolve(null))))]);
    const valueOf = (item: HyperparamItem) => vals[HYPERPARAM_ITEMS.indexOf(item)];
    return hyperparamsFrom(netuid, {
      int: (item) => Number(valueOf(item).toString()),
      big: (item) => BigInt(valueOf(item).toString()),
      flag: (item) => valueOf(item).isTrue,
      optional: (item) => {
        const v = opts[OPTIONAL_HYPERPARAM_ITEMS.indexOf(item)];
        return v === null ? null : Number(v.toString());
      },
    });
  });
}

/**
 * The subnet's epoch schedule at one block: stateful (LastEpochBlock, PendingEpochAt, SubnetEpochIndex,
 * BlocksSinceLastStep, Tempo; spec >= 423) where the runtime has those items, else the legacy modulo rule.
 */
export async function readEpochSchedule(client: SubtensorClient, netuid: number, at?: BlockRef): Promise<EpochSchedule> {
  const { apiAt, hash } = await client.at(at);
  return client.read(async () => {
    const last = client.storage(apiAt, 'subtensorModule', 'lastEpochBlock', true);
    const [block, tempo] = await Promise.all([client.blockNumber(hash), client.storage(apiAt, 'subtensorModule', 'tempo')(netuid)]);
    if (!last) return { model: 'legacy', netuid, block, tempo: Number(tempo.toString()) };
    const get = (item: string) => client.storage(apiAt, 'subtensorModule', item)(netuid);
    const [l, p, i, b] = await Promise.all([last(netuid), get('pendingEpochAt'), get('subnetEpochIndex'), get('blocksSinceLastStep')]);
    return { model: 'stateful', netuid, block, tempo: Number(tempo.toString()), lastEpochBlock: Number(l.toString()), pendingEpochAt: Number(p.toString()), subnetEpochIndex: Number(i.toString()), blocksSinceLastStep: Number(b.toString()) };
  });
}

/** The drand beacon the chain decrypts with (Drand.BeaconConfig) and the newest pulse it holds (Drand.LastStoredRound). */
export async function readDrandBeacon(client: SubtensorClient, at?: BlockRef): Promise<DrandBeacon & { lastStoredRound: number }> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const [cfg, last] = await Promise.all([client.storage(apiAt, 'drand', 'beaconConfig')(), client.storage(apiAt, 'drand', 'lastStoredRound')()]);
    const publicKey = cfg.publicKey.toU8a(true) as Uint8Array;
    if (publicKey.length !== 96) throw new ChainSchemaError(`Drand.BeaconConfig.public_key is ${publicKey.length} bytes; a BLS12-381 G2 key is 96`);
    return { publicKey, period: Number(cfg.period.toString()), genesisTime: Number(cfg.genesisTime.toString()), lastStoredRound: Number(last.toString()) };
  });
}

/** The weights `hotkey` last set on `netuid` (u16 values), or null when it is not registered there. */
export async function readWeightsOf(client: SubtensorClient, netuid: number, hotkey: string, at?: BlockRef): Promise<{ uid: number; weight: number }[] | null> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const uid = await client.storage(apiAt, 'subtensorModule', 'uids')(netuid, hotkey);
    if (uid.isNone) return null;
    return weightPairs(await client.storage(apiAt, 'subtensorModule', 'weights')(netuid, uid.unwrap()));
  });
}

/** A Weights entry (Vec<(Compact<u16>, Compact<u16>)>) as uid/weight pairs. */
function weightPairs(w: Dyn): { uid: number; weight: number }[] {
  return (w as Dyn[]).map((pair) => ({ uid: Number(pair[0].toString()), weight: Number(pair[1].toString()) }));
}

/** Keys per state_queryStorageAt call: bounds one request and one answer. */
const MULTI_CHUNK = 128;

async function multi(q: Dyn, args: unknown[]): Promise<Dyn[]> {
  const out: Dyn[] = [];
  for (let i = 0; i < args.length; i += MULTI_CHUNK) out.push(...(await q.multi(args.slice(i, i + MULTI_CHUNK))));
  return out;
}

/** Each of `hotkeys`' uid on `netuid` at the decorated block (Uids, one multi-read); unregistered ones absent. */
async function uidsOf(client: SubtensorClient, apiAt: Dyn, netuid: number, hotkeys: readonly string[]): Promise<Map<string, number>> {
  const opts = await multi(client.storage(apiAt, 'subtensorModule', 'uids'), hotkeys.map((h) => [netuid, h]));
  const uids = new Map<string, number>();
  hotkeys.forEach((h, i) => {
    if (opts[i]?.isSome) uids.set(h, Number(opts[i].unwrap().toString()));
  });
  return uids;
}

/**
 * The weights each of `hotkeys` last set on `netuid`, as of one block: one Uids and one Weights
 * multi-read (state_queryStorageAt) for all of them, where readWeightsOf costs two reads per hotkey.
 * Hotkeys not registered there are absent from the map.
 */
export async function readWeightsOfMany(client: SubtensorClient, netuid: number, hotkeys: readonly string[], at?: BlockRef): Promise<Map<string, { uid: number; weight: number }[]>> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const uids = await uidsOf(client, apiAt, netuid, hotkeys);
    const reg = [...uids];
    const ws = await multi(client.storage(apiAt, 'subtensorModule', 'weights'), reg.map(([, uid]) => [netuid, uid]));
    return new Map(reg.map(([h], i) => [h, weightPairs(ws[i])]));
  });
}

/**
 * Each of `hotkeys`' uid on `netuid` and the block it last set weights at (0 when never), as of one
 * block: one Uids multi-read and one read of the subnet's LastUpdate vector. Unregistered ones absent.
 */
export async function readLastWeightsUpdates(client: SubtensorClient, netuid: number, hotkeys: readonly string[], at?: BlockRef): Promise<Map<string, { uid: number; block: number }>> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const uids = await uidsOf(client, apiAt, netuid, hotkeys);
    const last = ((await client.storage(apiAt, 'subtensorModule', 'lastUpdate')(netuid)).toJSON() ?? []) as (number | string)[];
    return new Map([...uids].map(([h, uid]) => [h, { uid, block: Number(last[uid] ?? 0) }]));
  });
}

/**
 * `hotkey`'s uid on `netuid` and the block it last set weights at (SubtensorModule.LastUpdate; 0 when
 * never), or null when it is not registered there.
 */
export async function readLastWeightsUpdate(client: SubtensorClient, netuid: number, hotkey: string, at?: BlockRef): Promise<{ uid: number; block: number } | null> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const uidOpt = await client.storage(apiAt, 'subtensorModule', 'uids')(netuid, hotkey);
    if (uidOpt.isNone) return null;
    const uid = Number(uidOpt.unwrap().toString());
    const last = await client.storage(apiAt, 'subtensorModule', 'lastUpdate')(netuid);
    return { uid, block: Number(((last.toJSON() ?? []) as (number | string)[])[uid] ?? 0) };
  });
}

/** The subnet owner's hotkey (SubnetOwnerHotkey), or null when unset or the chain has no such item. */
export async function readSubnetOwnerHotkey(client: SubtensorClient, netuid: number, at?: BlockRef): Promise<string | null> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const q = client.storage(apiAt, 'subtensorModule', 'subnetOwnerHotkey', true);
    if (!q) return null;
    const v = await q(netuid);
    const bytes = (v.isSome ? v.unwrap() : v).toU8a() as Uint8Array;
    return bytes.every((b) => b === 0) ? null : encodeAddress(bytes, 42);
  });
}

/** The axon `hotkey` serves on `netuid` (ip, port, block it was served at), or null. */
export async function readAxonOf(client: SubtensorClient, netuid: number, hotkey: string, at?: BlockRef): Promise<{ ip: string; port: number; block: number } | null> {
  const { apiAt } = await client.at(at);
  return client.read(async () => {
    const v = await client.storage(apiAt, 'subtensorModule', 'axons')(netuid, hotkey);
    if (v.isNone) return null;
    const a = v.unwrap();
    const ip = ipFromU128(BigInt(a.ip.toString()), Number(a.ipType.toString()));
    return ip ? { ip, port: Number(a.port.toString()), block: Number(a.block.toString()) } : null;
  });
}
