// A read-only subtensor client without @polkadot/api, for commands that only read (`conclave audit`):
// raw JSON-RPC storage reads (state_getKeysPaged, state_queryStorageAt) decoded against the runtime
// metadata of the block read. Each item is found by name in that block's metadata and a missing one
// is a ChainSchemaError naming it. It answers the reads the audit makes with the same results as
// SubtensorClient (test/chain/lean-reader.test.ts compares them), at a fraction of the CPU:
// @polkadot/api's module load and metadata decoration are most of an audit's CPU (docs/p2p.md).
import { ChainSchemaError } from '../errors.ts';
import { resolveEndpoint } from '../endpoints.ts';
import { ipFromU128 } from '../encoding.ts';
import type { EpochSchedule } from '../epoch-schedule.ts';
import { joinMinerRoster, newestCommitments, scoreCommitmentsOf } from '../commitments.ts';
import type { BlockRef, CommitmentRecord, Hyperparams, Neuron, RosterEntry } from '../types.ts';
import { publicKeyToHotkey, hotkeyToPublicKey } from '../../../proto/signer.ts';
import { decodeAll, encodeKeyArg, keyArgTypes, type Value } from './codec.ts';
import { concat, hashKey, keepsKey, twox128 } from './hashers.ts';
import { parseMetadata, type RuntimeMetadata, type StorageEntry } from './metadata.ts';
import { JsonRpcSocket } from './rpc.ts';
import { HYPERPARAM_ITEMS, OPTIONAL_HYPERPARAM_ITEMS, hyperparamsFrom, type HyperparamItem } from '../hyperparams.ts';
import { rawEntries, rawValues, type RpcSend } from '../raw-storage.ts';
import { bytesToHex, hexToBytes } from './scale.ts';

type KeyArg = number | bigint | Uint8Array;
type Obj = { [k: string]: Value };

const utf8 = new TextEncoder();
const big = (v: Value, what: string): bigint => {
  if (typeof v === 'number' || typeof v === 'bigint') return BigInt(v);
  throw new ChainSchemaError(`${what}: expected an integer, got ${typeof v}`);
};
const num = (v: Value, what: string): number => Number(big(v, what));

export class LeanChainReader {
  readonly endpoint: string;
  private readonly rpc: JsonRpcSocket;
  private readonly metadata = new Map<number, Promise<RuntimeMetadata>>();
  private readonly itemPrefixes = new Map<string, Uint8Array>();
  private readonly send: RpcSend;

  private constructor(endpoint: string, rpc: JsonRpcSocket) {
    this.endpoint = endpoint;
    this.rpc = rpc;
    this.send = (method, params) => rpc.call(method, params);
  }

  static async connect(opts: { endpoint: string; timeoutMs?: number }): Promise<LeanChainReader> {
    const endpoint = resolveEndpoint(opts.endpoint);
    return new LeanChainReader(endpoint, await JsonRpcSocket.open(endpoint, opts.timeoutMs ?? 30_000));
  }

  close(): void {
    this.rpc.close();
  }

  async genesisHash(): Promise<string> {
    return this.blockHash(0);
  }

  /** Block hash for a BlockRef (number → chain_getBlockHash; undefined → best block). */
  async blockHash(at?: BlockRef): Promise<string> {
    if (typeof at === 'string') return at;
    const h = await this.rpc.call<string | null>('chain_getBlockHash', at === undefined ? [] : [at]);
    if (!h) throw new Error(`block #${at} does not exist yet on ${this.endpoint}`);
    return h;
  }

  async blockNumber(hash: string): Promise<number> {
    const header = await this.rpc.call<{ number: string } | null>('chain_getHeader', [hash]);
    if (!header) throw new Error(`block ${hash} is unknown to ${this.endpoint}`);
    return Number(BigInt(header.number));
  }

  async bestBlock(): Promise<{ number: number; hash: string }> {
    const hash = await this.blockHash();
    return { number: await this.blockNumber(hash), hash };
  }

  /** The metadata of the runtime at `hash` (one fetch and parse per spec version). */
  private async metadataAt(hash: string): Promise<RuntimeMetadata> {
    const { specVersion } = await this.rpc.call<{ specVersion: number }>('state_getRuntimeVersion', [hash]);
    let md = this.metadata.get(specVersion);
    if (!md) {
      md = this.rpc.call<string>('state_getMetadata', [hash]).then((hex) => parseMetadata(hexToBytes(hex)));
      md.catch(() => this.metadata.delete(specVersion));
      this.metadata.set(specVersion, md);
    }
    return md;
  }

  private entry(md: RuntimeMetadata, pallet: string, item: string, optional: true): StorageEntry | null;
  private entry(md: RuntimeMetadata, pallet: string, item: string, optional?: false): StorageEntry;
  private entry(md: RuntimeMetadata, pallet: string, item: string, optional = false): StorageEntry | null {
    const e = md.storage.get(`${pallet}.${item}`) ?? null;
    if (!e && !optional) throw new ChainSchemaError(`the chain at ${this.endpoint} has no storage ${pallet}.${item} in its metadata; Conclave needs it (is this a subtensor node of a supported version?)`);
    return e;
  }

  private requireHashers(e: StorageEntry, want: string[]): void {
    if (e.hashers.join(',') !== want.join(',')) throw new ChainSchemaError(`${e.pallet}.${e.name} uses key hashers [${e.hashers.join(', ')}], expected [${want.join(', ')}]; this subtensor version is not supported yet`);
  }

  /** twox128(pallet) ++ twox128(item), once per storage item: a lookup reads hundreds of keys of a few items. */
  private itemPrefix(e: StorageEntry): Uint8Array {
    const id = `${e.prefix}\u0000${e.name}`;
    let p = this.itemPrefixes.get(id);
    if (!p) {
      p = concat(twox128(utf8.encode(e.prefix)), twox128(utf8.encode(e.name)));
      this.itemPrefixes.set(id, p);
    }
    return p;
  }

  /** The storage key of `e` for the first `args.length` of its keys (all of them: one value; fewer: a prefix). */
  private key(md: RuntimeMetadata, e: StorageEntry, args: KeyArg[]): string {
    const parts = [this.itemPrefix(e)];
    if (args.length > 0) {
      if (e.keyType === null || args.length > e.hashers.length) throw new ChainSchemaError(`${e.pallet}.${e.name} takes ${e.hashers.length} key(s), ${args.length} given`);
      const types = keyArgTypes(md, e.keyType, e.hashers.length);
      args.forEach((a, i) => parts.push(hashKey(e.hashers[i], encodeKeyArg(md, types[i], a))));
    }
    return bytesToHex(concat(...parts));
  }

  private decode(md: RuntimeMetadata, e: StorageEntry, hex: string | null): Value {
    if (hex === null) return e.optional ? null : decodeAll(md, e.valueType, e.defaultValue, `${e.pallet}.${e.name} default`);
    return decodeAll(md, e.valueType, hexToBytes(hex), `${e.pallet}.${e.name}`);
  }

  /** One value of `Pallet.Item` at `hash`. */
  private async get(md: RuntimeMetadata, hash: string, e: StorageEntry, args: KeyArg[]): Promise<Value> {
    return this.decode(md, e, await this.rpc.call<string | null>('state_getStorage', [this.key(md, e, args), hash]));
  }

  /** Values of `e` for each key tuple, in order. */
  private async getMany(md: RuntimeMetadata, hash: string, e: StorageEntry, argsList: KeyArg[][]): Promise<Value[]> {
    const vals = await rawValues(this.send, argsList.map((a) => this.key(md, e, a)), hash);
    return vals.map((v) => this.decode(md, e, v));
  }

  /** Every (key bytes, value) of `e` under the key prefix `args` at `hash` (absent values skipped). */
  private async entries(md: RuntimeMetadata, hash: string, e: StorageEntry, args: KeyArg[]): Promise<[Uint8Array, Value][]> {
    const out: [Uint8Array, Value][] = [];
    for (const [k, v] of await rawEntries(this.send, this.key(md, e, args), hash)) {
      if (v !== null) out.push([hexToBytes(k), this.decode(md, e, v)]);
    }
    return out;
  }

  private async pinned(at: BlockRef): Promise<{ md: RuntimeMetadata; hash: string }> {
    const hash = await this.blockHash(at);
    return { md: await this.metadataAt(hash), hash };
  }

  /** The last key of a map key whose hasher carries it in the clear (a *Concat or Identity hasher), as bytes of `len`. */
  private lastKeyBytes(e: StorageEntry, key: Uint8Array, len: number): Uint8Array {
    if (!keepsKey(e.hashers[e.hashers.length - 1])) throw new ChainSchemaError(`${e.pallet}.${e.name}: its last key hasher ${e.hashers[e.hashers.length - 1]} does not keep the key readable`);
    return key.subarray(key.length - len);
  }

  async hyperparams(netuid: number, at?: BlockRef): Promise<Hyperparams> {
    const { md, hash } = await this.pinned(at);
    const S = 'SubtensorModule';
    if ((await this.get(md, hash, this.entry(md, S, 'NetworksAdded'), [netuid])) !== true) throw new Error(`subnet ${netuid} does not exist on ${this.endpoint}`);
    const items = HYPERPARAM_ITEMS.map((i) => this.entry(md, S, i));
    const optional = OPTIONAL_HYPERPARAM_ITEMS.map((i) => this.entry(md, S, i, true));
    if (!optional[1] && !optional[2]) this.entry(md, S, 'ActivityCutoffFactorMilli');
    const [vals, opts] = await Promise.all([Promise.all(items.map((e) => this.get(md, hash, e, [netuid]))), Promise.all(optional.map((e) => (e ? this.get(md, hash, e, [netuid]) : null)))]);
    const valueOf = (item: HyperparamItem) => vals[HYPERPARAM_ITEMS.indexOf(item)];
    return hyperparamsFrom(netuid, {
      int: (item) => num(valueOf(item), item),
      big: (item) => big(valueOf(item), item),
      flag: (item) => valueOf(item) === true,
      optional: (item) => {
        const v = opts[OPTIONAL_HYPERPARAM_ITEMS.indexOf(item)];
        return v === null ? null : num(v, item);
      },
    });
  }

  async epochSchedule(netuid: number, at?: BlockRef): Promise<EpochSchedule> {
    const { md, hash } = await this.pinned(at);
    const S = 'SubtensorModule';
    const last = this.entry(md, S, 'LastEpochBlock', true);
    const [block, tempoV] = await Promise.all([this.blockNumber(hash), this.get(md, hash, this.entry(md, S, 'Tempo'), [netuid])]);
    const tempo = num(tempoV, 'Tempo');
    if (!last) return { model: 'legacy', netuid, block, tempo };
    const [l, p, i, b] = await Promise.all([last, ...['PendingEpochAt', 'SubnetEpochIndex', 'BlocksSinceLastStep'].map((x) => this.entry(md, S, x))].map((e) => this.get(md, hash, e, [netuid])));
    return { model: 'stateful', netuid, block, tempo, lastEpochBlock: num(l, 'LastEpochBlock'), pendingEpochAt: num(p, 'PendingEpochAt'), subnetEpochIndex: num(i, 'SubnetEpochIndex'), blocksSinceLastStep: num(b, 'BlocksSinceLastStep') };
  }

  /** uid → hotkey (Keys), stake (TotalHotkeyAlpha), validator permits and axons of `netuid` at a block. */
  async metagraph(netuid: number, at?: BlockRef): Promise<Neuron[]> {
    const { md, hash } = await this.pinned(at);
    const S = 'SubtensorModule';
    const keysE = this.entry(md, S, 'Keys');
    const stakeE = this.entry(md, S, 'TotalHotkeyAlpha');
    const axonsE = this.entry(md, S, 'Axons');
    const permitsE = this.entry(md, S, 'ValidatorPermit');
    this.requireHashers(keysE, ['Identity', 'Identity']);
    this.requireHashers(stakeE, ['Blake2_128Concat', 'Identity']);
    this.requireHashers(axonsE, ['Identity', 'Blake2_128Concat']);
    const [keyEntries, permitsV, axonEntries] = await Promise.all([this.entries(md, hash, keysE, [netuid]), this.get(md, hash, permitsE, [netuid]), this.entries(md, hash, axonsE, [netuid])]);
    const rows = keyEntries.map(([k, v]) => {
      if (!(v instanceof Uint8Array) || v.length !== 32) throw new ChainSchemaError('SubtensorModule.Keys value is not an AccountId32');
      return { uid: k[k.length - 2] | (k[k.length - 1] << 8), pk: v };
    }).sort((a, b) => a.uid - b.uid);
    const stakes = await this.getMany(md, hash, stakeE, rows.map((r) => [r.pk, netuid]));
    const permits = Array.isArray(permitsV) ? permitsV : [];
    const axons = new Map<string, { ip: string; port: number }>();
    for (const [k, v] of axonEntries) {
      const a = v as Obj | null;
      if (!a) continue;
      const ip = ipFromU128(BigInt(a.ip as bigint | number), num(a.ip_type, 'AxonInfo.ip_type'));
      const port = num(a.port, 'AxonInfo.port');
      if (ip && port > 0) axons.set(publicKeyToHotkey(this.lastKeyBytes(axonsE, k, 32)), { ip, port });
    }
    return rows.map((r, i) => {
      const hotkey = publicKeyToHotkey(r.pk);
      const sv = stakes[i];
      const n: Neuron = { uid: r.uid, hotkey, stake: sv === null ? 0n : BigInt(sv as bigint | number), validatorPermit: permits[r.uid] === true };
      const ax = axons.get(hotkey);
      if (ax) n.axon = ax;
      return n;
    });
  }

  /** Every text commitment on `netuid` at a block, by hotkey (the newer of CommitmentOf and RevealedCommitments). */
  async commitments(netuid: number, at?: BlockRef): Promise<{ records: CommitmentRecord[]; skipped: { hotkey: string; reason: string }[] }> {
    const { md, hash } = await this.pinned(at);
    const plainE = this.entry(md, 'Commitments', 'CommitmentOf');
    const revealedE = this.entry(md, 'Commitments', 'RevealedCommitments', true);
    const [plain, revealed] = await Promise.all([this.entries(md, hash, plainE, [netuid]), revealedE ? this.entries(md, hash, revealedE, [netuid]) : Promise.resolve([])]);
    return newestCommitments(
      plain.map(([k, v]) => {
        const reg = v as Obj;
        // the Data fields as @polkadot/api's toJSON gives them ({ Raw12: '0x..' }), which commitmentText reads
        const fields = ((reg.info as Obj).fields as Value[]).map((f) => {
          const [kind, value] = Object.entries(f as Obj)[0] ?? [];
          return { [kind ?? '?']: value instanceof Uint8Array ? bytesToHex(value) : value };
        });
        return { hotkey: publicKeyToHotkey(this.lastKeyBytes(plainE, k, 32)), fields, block: num(reg.block, 'Registration.block') };
      }),
      revealed.flatMap(([k, v]) => {
        const list = v as Value[][];
        const last = list[list.length - 1];
        return last ? [{ hotkey: publicKeyToHotkey(this.lastKeyBytes(revealedE!, k, 32)), bytes: last[0] as Uint8Array, block: num(last[1], 'RevealedCommitments block') }] : [];
      }),
    );
  }

  async minerRoster(netuid: number, at?: BlockRef): Promise<{ entries: RosterEntry[]; skipped: { uid: number; hotkey: string; reason: string }[] }> {
    const hash = await this.blockHash(at);
    const [neurons, { records, skipped }] = await Promise.all([this.metagraph(netuid, hash), this.commitments(netuid, hash)]);
    return joinMinerRoster(neurons, records, skipped);
  }

  async scoreCommitments(netuid: number, runId: number, at?: BlockRef): Promise<Map<string, { hash: string; block: number }>> {
    return scoreCommitmentsOf((await this.commitments(netuid, at)).records, runId);
  }

  /** Each of `hotkeys`' uid on `netuid` (Uids, one multi-read); unregistered ones absent. */
  private async uidsOf(md: RuntimeMetadata, hash: string, netuid: number, hotkeys: readonly string[]): Promise<Map<string, number>> {
    const vals = await this.getMany(md, hash, this.entry(md, 'SubtensorModule', 'Uids'), hotkeys.map((h) => [netuid, hotkeyToPublicKey(h)]));
    const out = new Map<string, number>();
    hotkeys.forEach((h, i) => {
      if (vals[i] !== null) out.set(h, num(vals[i], 'Uids'));
    });
    return out;
  }

  /** The weights each of `hotkeys` last set on `netuid`, as of one block (unregistered hotkeys absent). */
  async weightsOfMany(netuid: number, hotkeys: readonly string[], at?: BlockRef): Promise<Map<string, { uid: number; weight: number }[]>> {
    const { md, hash } = await this.pinned(at);
    const reg = [...(await this.uidsOf(md, hash, netuid, hotkeys))];
    const ws = await this.getMany(md, hash, this.entry(md, 'SubtensorModule', 'Weights'), reg.map(([, uid]) => [netuid, uid]));
    return new Map(reg.map(([h], i) => [h, (ws[i] as Value[][]).map((p) => ({ uid: num(p[0], 'Weights uid'), weight: num(p[1], 'Weights weight') }))]));
  }

  /** Each of `hotkeys`' uid and last weights block (0 when never) on `netuid`, as of one block (unregistered hotkeys absent). */
  async lastWeightsUpdates(netuid: number, hotkeys: readonly string[], at?: BlockRef): Promise<Map<string, { uid: number; block: number }>> {
    const { md, hash } = await this.pinned(at);
    const uids = await this.uidsOf(md, hash, netuid, hotkeys);
    const last = ((await this.get(md, hash, this.entry(md, 'SubtensorModule', 'LastUpdate'), [netuid])) ?? []) as Value[];
    return new Map([...uids].map(([h, uid]) => [h, { uid, block: last[uid] === undefined ? 0 : num(last[uid], 'LastUpdate') }]));
  }
}
