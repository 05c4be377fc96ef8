// The devchain: a local Substrate-compatible chain that serves subtensor's real metadata over WebSocket
// JSON-RPC, keeps state under real SCALE storage keys, produces blocks on a timer and on demand, and
// verifies and applies the extrinsics Conclave submits. In-process use: `new DevChain(opts).start()`.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { cryptoWaitReady, blake2AsHex, encodeAddress, decodeAddress } from '@polkadot/util-crypto';
import { hexToU8a, u8aConcat, u8aToHex, compactToU8a } from '@polkadot/util';
import { chainMeta, storageKey, encodeValue, decodeValue, constantNumber, type ChainMeta, type EpochModel } from './metadata.ts';
import { VersionedState } from './state.ts';
import { type Genesis, type GenesisNeuron, defaultGenesis, genesisStorage, accountInfo, commitmentFields, resolveNeurons, ipv4ToInt } from './genesis.ts';
import { checkExtrinsic, decodeExtrinsic, RpcError, type CheckedExtrinsic, type ChainView } from './extrinsic.ts';
import { ModuleError, Store, encodeEventRecords, successEvent, failedEvent, otherFailedEvent, INITIALIZATION, type EncodedEvent, type Overlay } from './runtime.ts';
import { blockStep, dispatch, validate, PoolRefusal } from './dispatch.ts';
import { checkPulse, devBeaconConfig, devBeaconSecret, publishDevPulses, storePulse } from './pallets/drand.ts';
import { MAX_RPC_FRAME_BYTES, parseRpcRequest, rpcErrorReply } from './rpc-frame.ts';

export interface DevChainOptions {
  genesis?: Genesis;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Block interval; 0 = blocks only on demand (produceBlock / dev_newBlock). Default 1000. */
  blockMs?: number;
  /** Directory to persist blocks and state in; without it nothing is written. */
  dataDir?: string;
  /** 'stateful' (default): subtensor's epoch schedule since spec 423; 'legacy': the modulo rule of older runtimes. */
  epochModel?: EpochModel;
  log?: (line: string) => void;
}

export interface BlockInfo {
  number: number;
  hash: string;
  parentHash: string;
  stateRoot: string;
  extrinsicsRoot: string;
  extrinsics: string[];
}

interface PersistedBlock extends BlockInfo {
  changes: [string, string | null][];
}

type SubKind = 'newHead' | 'finalizedHead' | 'allHead' | 'runtimeVersion' | 'storage' | 'extrinsic';
interface Sub {
  kind: SubKind;
  ws: WebSocket;
  keys?: string[];
}

const NOTIFY_METHOD: Record<SubKind, string> = {
  newHead: 'chain_newHead',
  finalizedHead: 'chain_finalizedHead',
  allHead: 'chain_allHead',
  runtimeVersion: 'state_runtimeVersion',
  storage: 'state_storage',
  extrinsic: 'author_extrinsicUpdate',
};

export const RPC_METHODS = [
  'author_pendingExtrinsics', 'author_submitAndWatchExtrinsic', 'author_submitExtrinsic', 'author_unwatchExtrinsic',
  'chain_getBlock', 'chain_getBlockHash', 'chain_getFinalisedHead', 'chain_getFinalizedHead', 'chain_getHead', 'chain_getHeader',
  'chain_subscribeAllHeads', 'chain_subscribeFinalisedHeads', 'chain_subscribeFinalizedHeads', 'chain_subscribeNewHead',
  'chain_subscribeNewHeads', 'chain_unsubscribeAllHeads', 'chain_unsubscribeFinalisedHeads', 'chain_unsubscribeFinalizedHeads',
  'chain_unsubscribeNewHead', 'chain_unsubscribeNewHeads', 'subscribe_newHead', 'unsubscribe_newHead',
  'dev_injectPulse', 'dev_newBlock', 'dev_registerNeuron', 'dev_setCommitment', 'dev_setStorage', 'dev_setRawStorage',
  'rpc_methods',
  'state_call', 'state_getKeys', 'state_getKeysPaged', 'state_getMetadata', 'state_getRuntimeVersion', 'state_getStorage',
  'state_getStorageAt', 'state_getStorageHash', 'state_getStorageSize', 'state_queryStorageAt', 'state_subscribeRuntimeVersion',
  'state_subscribeStorage', 'state_unsubscribeRuntimeVersion', 'state_unsubscribeStorage',
  'system_accountNextIndex', 'system_chain', 'system_chainType', 'system_health', 'system_name', 'system_peers',
  'system_properties', 'system_version',
];

export class DevChain {
  meta: ChainMeta;
  private readonly opts: DevChainOptions;
  private readonly state = new VersionedState();
  private readonly blocks: BlockInfo[] = [];
  private readonly byHash = new Map<string, number>();
  private pool: CheckedExtrinsic[] = [];
  private pendingWrites = new Map<string, string | null>();
  private readonly subs = new Map<string, Sub>();
  private readonly watchers = new Map<string, string>(); // extrinsic hash -> sub id
  private nextSubId = 1;
  private wss?: WebSocketServer;
  private timer?: NodeJS.Timeout;
  private chainName = 'Conclave Devchain';
  private boundPort = 0;
  /** secret of the devchain's own drand beacon, when the genesis uses it (null: quicknet, pulses injected) */
  private beaconSecret: Uint8Array | null = null;

  constructor(opts: DevChainOptions = {}) {
    this.opts = opts;
    this.meta = chainMeta(opts.epochModel ?? 'stateful');
  }

  /** The chain clock advances one slot (Aura.SlotDuration of the metadata) per block, whatever the wall-clock pace. */
  get slotMs(): number {
    return constantNumber(this.meta, 'aura', 'slotDuration') ?? 12_000;
  }

  get head(): number {
    return this.blocks.length - 1;
  }
  get genesisHash(): string {
    return this.blocks[0].hash;
  }
  get port(): number {
    return this.boundPort;
  }
  get url(): string {
    return `ws://${this.opts.host ?? '127.0.0.1'}:${this.boundPort}`;
  }
  block(n: number): BlockInfo | undefined {
    return this.blocks[n];
  }

  /** Builds (or reloads from --data) the chain, opens the WebSocket server, starts the block timer. */
  async start(): Promise<void> {
    await cryptoWaitReady();
    if (this.blocks.length === 0) await this.initChain();
    const host = this.opts.host ?? '127.0.0.1';
    const wss = new WebSocketServer({ host, port: this.opts.port ?? 0, maxPayload: MAX_RPC_FRAME_BYTES });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', (e) => reject(new Error(`devchain cannot listen on ${host}:${this.opts.port}: ${e.message} (is the port in use? pick another with --port)`)));
    });
    this.wss = wss;
    this.boundPort = (wss.address() as AddressInfo).port;
    wss.on('connection', (ws) => this.onConnection(ws));
    const ms = this.opts.blockMs ?? 1000;
    if (ms > 0) {
      this.timer = setInterval(() => {
        try {
          this.produceBlock();
        } catch (err) {
          this.log(`devchain: block production failed: ${(err as Error).stack ?? err}`);
        }
      }, ms);
    }
    this.log(`devchain listening on ${this.url}, genesis ${this.genesisHash}, head #${this.head}, block time ${ms || 'on demand'}${ms ? ' ms' : ''}`);
  }

  /** Stops the timer and closes every connection (clients see a disconnect). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const wss = this.wss;
    this.wss = undefined;
    if (!wss) return;
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    this.subs.clear();
    this.watchers.clear();
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private async initChain(): Promise<void> {
    const file = this.opts.dataDir ? join(this.opts.dataDir, 'chain.jsonl') : undefined;
    if (file && existsSync(file)) {
      this.replay(file);
      return;
    }
    const genesis = this.opts.genesis ?? (await defaultGenesis());
    if (genesis.chainName) this.chainName = genesis.chainName;
    const kv = genesisStorage(this.meta, genesis);
    kv.set(storageKey(this.meta, 'system', 'number'), encodeValue(this.meta, 'system', 'number', 0));
    const t0 = genesis.genesisTimeMs ?? Math.floor(Date.now() / 1000) * 1000;
    kv.set(storageKey(this.meta, 'timestamp', 'now'), encodeValue(this.meta, 'timestamp', 'now', t0));
    if ((genesis.drand?.beacon ?? 'dev') === 'dev') {
      this.beaconSecret = devBeaconSecret(genesis.drand?.seed);
      kv.set(storageKey(this.meta, 'drand', 'beaconConfig'), encodeValue(this.meta, 'drand', 'beaconConfig', devBeaconConfig(this.beaconSecret, Math.floor(t0 / 1000))));
    }
    if (this.opts.dataDir) mkdirSync(this.opts.dataDir, { recursive: true });
    this.commitBlock(0, [...kv.entries()], [], { model: this.meta.model, beaconSeed: this.beaconSecret ? (genesis.drand?.seed ?? null) : undefined });
  }

  private replay(file: string): void {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    for (const [i, line] of lines.entries()) {
      let b: PersistedBlock & { chainName?: string; model?: EpochModel; beaconSeed?: string | null };
      try {
        b = JSON.parse(line);
      } catch {
        if (i === lines.length - 1) break; // torn last write: drop it
        throw new Error(`${file}: line ${i + 1} is not valid JSON; the data dir is corrupt (move it away to start fresh)`);
      }
      if (b.number !== this.blocks.length) throw new Error(`${file}: block ${b.number} out of order at line ${i + 1}`);
      if (b.chainName) this.chainName = b.chainName;
      if (b.number === 0) {
        if (b.model && b.model !== this.meta.model) this.meta = chainMeta(b.model);
        if (b.beaconSeed !== undefined) this.beaconSecret = devBeaconSecret(b.beaconSeed ?? undefined);
      }
      for (const [k, v] of b.changes) this.state.set(k, v, b.number);
      const info: BlockInfo = { number: b.number, hash: b.hash, parentHash: b.parentHash, stateRoot: b.stateRoot, extrinsicsRoot: b.extrinsicsRoot, extrinsics: b.extrinsics };
      if (this.headerOf(info).hash.toHex() !== b.hash) throw new Error(`${file}: block ${b.number} hash does not match its header; the data dir is corrupt`);
      this.blocks.push(info);
      this.byHash.set(info.hash, info.number);
    }
    if (this.blocks.length === 0) throw new Error(`${file} holds no blocks; delete it to start from genesis`);
    this.log(`devchain: reloaded ${this.blocks.length} blocks from ${file}`);
  }

  private headerOf(b: { number: number; parentHash: string; stateRoot: string; extrinsicsRoot: string }) {
    return this.meta.registry.createType('Header', { parentHash: b.parentHash, number: b.number, stateRoot: b.stateRoot, extrinsicsRoot: b.extrinsicsRoot, digest: { logs: [] } });
  }

  private headerJson(b: BlockInfo) {
    return { parentHash: b.parentHash, number: '0x' + b.number.toString(16), stateRoot: b.stateRoot, extrinsicsRoot: b.extrinsicsRoot, digest: { logs: [] } };
  }

  private commitBlock(n: number, changes: [string, string | null][], extrinsics: string[], genesisInfo?: Record<string, unknown>): BlockInfo {
    changes.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [k, v] of changes) this.state.set(k, v, n);
    const parent = this.blocks[n - 1];
    const parentHash = parent ? parent.hash : u8aToHex(new Uint8Array(32));
    // Not a trie root: a running blake2-256 over the parent root and this block's sorted changes.
    const stateRoot = blake2AsHex(u8aConcat(hexToU8a(parent ? parent.stateRoot : '0x'), ...changes.map(([k, v]) => u8aConcat(hexToU8a(k), hexToU8a(v ?? '0x')))), 256);
    const extrinsicsRoot = blake2AsHex(u8aConcat(compactToU8a(extrinsics.length), ...extrinsics.map((e) => hexToU8a(e))), 256);
    const hash = this.headerOf({ number: n, parentHash, stateRoot, extrinsicsRoot }).hash.toHex();
    const info: BlockInfo = { number: n, hash, parentHash, stateRoot, extrinsicsRoot, extrinsics };
    this.blocks.push(info);
    this.byHash.set(hash, n);
    if (this.opts.dataDir) {
      const rec: PersistedBlock & { chainName?: string } = { ...info, changes, ...(n === 0 ? { chainName: this.chainName, ...genesisInfo } : {}) };
      appendFileSync(join(this.opts.dataDir, 'chain.jsonl'), JSON.stringify(rec) + '\n');
    }
    return info;
  }

  private view(): ChainView {
    return {
      head: this.head,
      genesisHash: this.genesisHash,
      hashOf: (n) => this.blocks[n]?.hash,
      accountNonce: (who) => this.accountNonce(who, this.head),
      nextNonce: (who) => this.accountNonce(who, this.head) + this.pool.filter((t) => t.who === who).length,
      accountExists: (who) => this.accountExists(who, this.head),
    };
  }

  accountExists(who: string, at: number): boolean {
    const raw = this.state.get(storageKey(this.meta, 'system', 'account', who), at);
    if (raw === null) return false;
    const acc = decodeValue(this.meta, 'system', 'account', raw).toJSON() as { providers?: number; sufficients?: number };
    return Number(acc.providers ?? 0) > 0 || Number(acc.sufficients ?? 0) > 0;
  }

  accountNonce(who: string, at: number): number {
    const raw = this.state.get(storageKey(this.meta, 'system', 'account', who), at);
    return raw === null ? 0 : (decodeValue(this.meta, 'system', 'account', raw) as unknown as { nonce: { toNumber(): number } }).nonce.toNumber();
  }

  /** Validates and queues an extrinsic; throws RpcError the way a node's pool refuses it. */
  submit(hex: string): CheckedExtrinsic {
    const checked = checkExtrinsic(this.meta, this.view(), hex);
    if (this.pool.some((t) => t.hash === checked.hash)) throw new RpcError(1013, 'Transaction Already Imported', 'The transaction is already in the pool.');
    try {
      validate(this.meta, this.overlayAt(new Map()), checked.who, this.head + 1, checked.call);
    } catch (err) {
      if (err instanceof PoolRefusal) {
        throw err.code === null ? new RpcError(1002, 'Verification Error: Runtime error: Could not decode', err.message) : new RpcError(1010, 'Invalid Transaction', `Custom error: ${err.code}`);
      }
      throw err;
    }
    this.pool.push(checked);
    return checked;
  }

  /** An overlay of `writes` over the state at the head, with prefix scans over both. */
  private overlayAt(writes: Map<string, string | null>): Overlay {
    return {
      get: (k) => (writes.has(k) ? writes.get(k)! : this.state.get(k, this.head)),
      set: (k, v) => void writes.set(k, v),
      keys: (prefix) => {
        const set = new Set(this.state.keys(prefix, this.head));
        for (const [k, v] of writes) {
          if (!k.startsWith(prefix)) continue;
          if (v === null) set.delete(k);
          else set.add(k);
        }
        return [...set].sort();
      },
    };
  }

  /**
   * Produces the next block now: pending admin writes, the chain clock, subtensor's block step (reveals of
   * timelocked commits, epoch schedule), every pooled extrinsic, then the dev beacon's pulses (on a real
   * chain they arrive as unsigned extrinsics, so the reveal pass sees them from the next block on).
   */
  produceBlock(): BlockInfo {
    const n = this.head + 1;
    const overlay = new Map<string, string | null>(this.pendingWrites);
    this.pendingWrites = new Map();
    const ov = this.overlayAt(overlay);
    const store = new Store(this.meta, ov);
    const nowMs = Number(store.readDefault('timestamp', 'now').toString()) + this.slotMs;
    store.write('timestamp', 'now', [], nowMs);
    const records: { extrinsic: number; event: EncodedEvent }[] = [];
    const step = blockStep(this.meta, ov, n, (l) => this.log(l));
    for (const e of step.events) records.push({ extrinsic: INITIALIZATION, event: e });
    const included: CheckedExtrinsic[] = [];
    const dropped: CheckedExtrinsic[] = [];
    for (const tx of this.pool) {
      const accKey = storageKey(this.meta, 'system', 'account', tx.who);
      const accRaw = ov.get(accKey);
      const acc = accRaw === null ? accountInfo(0, 0n) : (decodeValue(this.meta, 'system', 'account', accRaw).toJSON() as unknown as ReturnType<typeof accountInfo>);
      if (n > tx.deathBlock || Number(acc.nonce) !== tx.nonce) {
        dropped.push(tx);
        continue;
      }
      const idx = included.length;
      included.push(tx);
      overlay.set(accKey, encodeValue(this.meta, 'system', 'account', { ...acc, nonce: Number(acc.nonce) + 1 }));
      const sub = new Map<string, string | null>();
      const subOv: Overlay = {
        get: (k) => (sub.has(k) ? sub.get(k)! : ov.get(k)),
        set: (k, v) => void sub.set(k, v),
        keys: (prefix) => {
          const set = new Set(ov.keys(prefix));
          for (const [k, v] of sub) if (k.startsWith(prefix)) (v === null ? set.delete(k) : set.add(k));
          return [...set].sort();
        },
      };
      try {
        const events = dispatch(this.meta, subOv, tx.who, n, tx.call);
        for (const [k, v] of sub) overlay.set(k, v);
        for (const e of events) records.push({ extrinsic: idx, event: e });
        records.push({ extrinsic: idx, event: successEvent(this.meta) });
      } catch (err) {
        if (err instanceof ModuleError) records.push({ extrinsic: idx, event: failedEvent(this.meta, err) });
        else {
          this.log(`devchain: ${tx.call.section}.${tx.call.method} from ${tx.who} failed unexpectedly: ${(err as Error).message}`);
          records.push({ extrinsic: idx, event: otherFailedEvent(this.meta) });
        }
      }
    }
    this.pool = [];
    if (this.beaconSecret) publishDevPulses(store, this.beaconSecret, nowMs);
    overlay.set(storageKey(this.meta, 'system', 'number'), encodeValue(this.meta, 'system', 'number', n));
    const evKey = storageKey(this.meta, 'system', 'events');
    overlay.set(evKey, records.length ? encodeEventRecords(records) : null);
    const changed = [...overlay.entries()].filter(([k, v]) => this.state.get(k, this.head) !== v);
    const info = this.commitBlock(n, changed, included.map((t) => t.hex));
    this.notifyBlock(info, included, dropped, new Set(changed.map(([k]) => k)));
    return info;
  }

  /**
   * Stores drand pulse `round` in the next block (Drand.Pulses, LastStoredRound), after checking the
   * signature against the chain's beacon (Drand.BeaconConfig) as the pallet does. Throws when it does not verify.
   */
  injectPulse(round: number, signatureHex: string): void {
    if (!/^(0x)?([0-9a-fA-F]{2})+$/.test(signatureHex)) throw new Error('pulse signature must be hex');
    const sig = hexToU8a(signatureHex.startsWith('0x') ? signatureHex : '0x' + signatureHex);
    const store = new Store(this.meta, this.overlayAt(this.pendingWrites));
    const problem = checkPulse(store, round, sig);
    if (problem) throw new Error(`drand pulse refused: ${problem}`);
    storePulse(store, round, sig);
  }

  // ---- admin API (tests, devnet): changes land in the next block ----

  setRawStorage(key: string, value: string | null): void {
    if (!/^0x([0-9a-f]{2})*$/.test(key) || (value !== null && !/^0x([0-9a-fA-F]{2})*$/.test(value))) throw new Error('setRawStorage wants 0x-hex key and value (or null)');
    this.pendingWrites.set(key, value === null ? null : value.toLowerCase());
  }

  /** `pallet`/`item` in polkadot-js camelCase, value as JSON accepted by @polkadot/types (null deletes). */
  setStorage(pallet: string, item: string, args: unknown[], value: unknown): void {
    const key = storageKey(this.meta, pallet, item, ...args);
    this.pendingWrites.set(key, value === null ? null : encodeValue(this.meta, pallet, item, value));
  }

  /** Sets `hotkey`'s commitment text on `netuid` as if it had called set_commitment in the next block. */
  setCommitment(netuid: number, hotkey: string, text: string): void {
    const who = encodeAddress(decodeAddress(hotkey), 42);
    this.setStorage('commitments', 'commitmentOf', [netuid, who], { deposit: 0, block: this.head + 1, info: { fields: commitmentFields(text) } });
    this.setStorage('commitments', 'lastCommitment', [netuid, who], this.head + 1);
  }

  /**
   * Registers a neuron on `netuid` in the next block (as burned_register would): next uid, Keys/Uids/Owner,
   * stake, permit, axon, commitment, per-uid vectors extended. Returns the new uid.
   */
  registerNeuron(netuid: number, n: GenesisNeuron): number {
    const read = (pallet: string, item: string, ...args: unknown[]) => {
      const k = storageKey(this.meta, pallet, item, ...args);
      const v = this.pendingWrites.has(k) ? this.pendingWrites.get(k)! : this.state.get(k, this.head);
      return v === null ? null : decodeValue(this.meta, pallet, item, v);
    };
    if (!read('subtensorModule', 'networksAdded', netuid)?.toJSON()) throw new Error(`subnet ${netuid} does not exist on the devchain`);
    const uid = Number(read('subtensorModule', 'subnetworkN', netuid)?.toString() ?? 0);
    const [x] = resolveNeurons({ netuid, neurons: [n] });
    if (read('subtensorModule', 'uids', netuid, x.hotkey) !== null) throw new Error(`hotkey ${x.hotkey} is already registered on subnet ${netuid}`);
    const block = this.head + 1;
    this.setStorage('subtensorModule', 'subnetworkN', [netuid], uid + 1);
    this.setStorage('subtensorModule', 'keys', [netuid, uid], x.hotkey);
    this.setStorage('subtensorModule', 'uids', [netuid, x.hotkey], uid);
    this.setStorage('subtensorModule', 'owner', [x.hotkey], x.coldkey);
    this.setStorage('subtensorModule', 'blockAtRegistration', [netuid, uid], block);
    const extend = (item: string, value: unknown) => {
      const cur = (read('subtensorModule', item, netuid)?.toJSON() ?? []) as unknown[];
      while (cur.length < uid) cur.push(typeof value === 'boolean' ? false : 0);
      cur[uid] = value;
      this.setStorage('subtensorModule', item, [netuid], cur);
    };
    extend('validatorPermit', x.validatorPermit);
    extend('active', true);
    extend('lastUpdate', 0);
    for (const item of ['rank', 'trust', 'consensus', 'incentive', 'dividends', 'emission']) extend(item, 0);
    if (x.stake > 0n) {
      this.setStorage('subtensorModule', 'totalHotkeyAlpha', [x.hotkey, netuid], x.stake);
      this.setStorage('subtensorModule', 'alpha', [x.hotkey, x.coldkey, netuid], { bits: x.stake << 64n });
    }
    if (x.axon) this.setStorage('subtensorModule', 'axons', [netuid, x.hotkey], { block, version: 1, ip: ipv4ToInt(x.axon.ip), port: x.axon.port, ipType: 4, protocol: 4, placeholder1: 0, placeholder2: 0 });
    if (x.commitment !== undefined) this.setCommitment(netuid, x.hotkey, x.commitment);
    if (read('system', 'account', x.hotkey) === null) this.setStorage('system', 'account', [x.hotkey], accountInfo(0, 1_000_000_000_000_000n));
    return uid;
  }

  /** `pallet.item(...args)` at block `at` (default head) as JSON (the metadata default when unset). */
  read(pallet: string, item: string, args: unknown[] = [], at = this.head): unknown {
    const raw = this.state.get(storageKey(this.meta, pallet, item, ...args), at);
    const entry = (this.meta.decorated.query as Record<string, Record<string, { meta: { fallback: { toHex(): string } } }>>)[pallet][item];
    return decodeValue(this.meta, pallet, item, raw ?? entry.meta.fallback.toHex()).toJSON();
  }

  /** Storage read at block `at` (default head), raw hex or null. */
  getStorage(key: string, at = this.head): string | null {
    return this.state.get(key, at);
  }

  // ---- JSON-RPC ----

  private onConnection(ws: WebSocket): void {
    ws.on('message', (data) => {
      const req = parseRpcRequest(data.toString());
      if ('error' in req) {
        ws.send(rpcErrorReply(req.id, req.error));
        return;
      }
      const id = req.id;
      try {
        const { result, after } = this.call(ws, req.method, req.params);
        ws.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
        after?.();
      } catch (err) {
        ws.send(rpcErrorReply(id, err));
      }
    });
    ws.on('close', () => {
      for (const [id, s] of this.subs) if (s.ws === ws) this.subs.delete(id);
    });
    ws.on('error', () => ws.terminate());
  }

  private at(hash: unknown): number {
    if (hash === undefined || hash === null) return this.head;
    const n = typeof hash === 'string' ? this.byHash.get(hash.toLowerCase()) : undefined;
    if (n === undefined) throw new RpcError(4003, `Client error: UnknownBlock: Header was not found in the local DB: ${String(hash)}`);
    return n;
  }

  private subscribe(ws: WebSocket, kind: SubKind, keys?: string[]): string {
    const id = `dev-sub-${this.nextSubId++}`;
    this.subs.set(id, { kind, ws, keys });
    return id;
  }

  private notify(subId: string, result: unknown): void {
    const s = this.subs.get(subId);
    if (!s || s.ws.readyState !== s.ws.OPEN) return;
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', method: NOTIFY_METHOD[s.kind], params: { subscription: subId, result } }));
  }

  private storageChanges(keys: string[], at: number): [string, string | null][] {
    return keys.map((k) => [k, this.state.get(k.toLowerCase(), at)]);
  }

  private notifyBlock(info: BlockInfo, included: CheckedExtrinsic[], dropped: CheckedExtrinsic[], changed: Set<string>): void {
    const header = this.headerJson(info);
    for (const [id, s] of this.subs) {
      if (s.kind === 'newHead' || s.kind === 'finalizedHead' || s.kind === 'allHead') this.notify(id, header);
      else if (s.kind === 'storage') {
        const keys = (s.keys ?? []).filter((k) => changed.has(k.toLowerCase()));
        if (keys.length) this.notify(id, { block: info.hash, changes: this.storageChanges(keys, info.number) });
      }
    }
    for (const tx of included) {
      const sub = this.watchers.get(tx.hash);
      if (!sub) continue;
      this.notify(sub, { inBlock: info.hash });
      this.notify(sub, { finalized: info.hash });
      this.watchers.delete(tx.hash);
      this.subs.delete(sub);
    }
    for (const tx of dropped) {
      const sub = this.watchers.get(tx.hash);
      if (!sub) continue;
      this.notify(sub, 'invalid');
      this.watchers.delete(tx.hash);
      this.subs.delete(sub);
    }
  }

  private stateCall(method: string, data: string, at: number): string {
    // as a real node: the default metadata is V14; V15 and V16 on request
    if (method === 'Metadata_metadata_versions') return u8aToHex(this.meta.registry.createType('Vec<u32>', [...this.meta.served.keys()].sort()).toU8a());
    if (method === 'Metadata_metadata_at_version') {
      const bytes = this.meta.served.get(this.meta.registry.createType('u32', hexToU8a(data)).toNumber());
      return bytes ? u8aToHex(u8aConcat(Uint8Array.of(1), compactToU8a(bytes.length), bytes)) : '0x00';
    }
    if (method === 'Metadata_metadata') {
      const v14 = this.meta.served.get(14)!;
      return u8aToHex(u8aConcat(compactToU8a(v14.length), v14));
    }
    if (method === 'Core_version') return u8aToHex(this.meta.registry.createType('RuntimeVersion', this.meta.runtimeVersion).toU8a());
    if (method === 'AccountNonceApi_account_nonce') {
      const who = encodeAddress(hexToU8a(data).subarray(0, 32), 42);
      return u8aToHex(this.meta.registry.createType('u32', this.accountNonce(who, at)).toU8a());
    }
    throw new RpcError(4003, `Client error: Execution failed: Other: Exported method ${method} is not found (the devchain implements Metadata_*, Core_version, AccountNonceApi_account_nonce)`);
  }

  private call(ws: WebSocket, method: string, p: unknown[]): { result: unknown; after?: () => void } {
    const str = (v: unknown, what: string): string => {
      if (typeof v !== 'string') throw new RpcError(-32602, `Invalid params: ${what} must be a string`);
      return v;
    };
    switch (method) {
      case 'rpc_methods': return { result: { version: 1, methods: RPC_METHODS } };
      case 'system_chain': return { result: this.chainName };
      case 'system_name': return { result: 'conclave-devchain' };
      case 'system_version': return { result: '0.1.0' };
      case 'system_chainType': return { result: 'Development' };
      case 'system_properties': return { result: { ss58Format: 42, tokenDecimals: 9, tokenSymbol: 'TAO' } };
      case 'system_health': return { result: { peers: 0, isSyncing: false, shouldHavePeers: false } };
      case 'system_peers': return { result: [] };
      case 'system_accountNextIndex': {
        const who = encodeAddress(decodeAddress(str(p[0], 'account')), 42);
        return { result: this.view().nextNonce(who) };
      }
      case 'chain_getBlockHash': {
        const n = p[0] === undefined || p[0] === null ? this.head : Number(p[0]);
        return { result: this.blocks[n]?.hash ?? null };
      }
      case 'chain_getHead':
      case 'chain_getFinalizedHead':
      case 'chain_getFinalisedHead': return { result: this.blocks[this.head].hash };
      case 'chain_getHeader': {
        if (p[0] !== undefined && p[0] !== null && !this.byHash.has(String(p[0]).toLowerCase())) return { result: null };
        return { result: this.headerJson(this.blocks[this.at(p[0])]) };
      }
      case 'chain_getBlock': {
        if (p[0] !== undefined && p[0] !== null && !this.byHash.has(String(p[0]).toLowerCase())) return { result: null };
        const b = this.blocks[this.at(p[0])];
        return { result: { block: { header: this.headerJson(b), extrinsics: b.extrinsics }, justifications: null } };
      }
      case 'chain_subscribeNewHeads':
      case 'chain_subscribeNewHead':
      case 'subscribe_newHead':
      case 'chain_subscribeFinalizedHeads':
      case 'chain_subscribeFinalisedHeads':
      case 'chain_subscribeAllHeads': {
        const kind: SubKind = /new/i.test(method) ? 'newHead' : method.includes('All') ? 'allHead' : 'finalizedHead';
        const id = this.subscribe(ws, kind);
        return { result: id, after: () => this.notify(id, this.headerJson(this.blocks[this.head])) };
      }
      case 'state_subscribeRuntimeVersion': {
        const id = this.subscribe(ws, 'runtimeVersion');
        return { result: id, after: () => this.notify(id, this.meta.runtimeVersion) };
      }
      case 'state_subscribeStorage': {
        const keys = (Array.isArray(p[0]) ? p[0] : []).map((k) => str(k, 'key'));
        const id = this.subscribe(ws, 'storage', keys);
        return { result: id, after: () => this.notify(id, { block: this.blocks[this.head].hash, changes: this.storageChanges(keys, this.head) }) };
      }
      case 'chain_unsubscribeNewHeads':
      case 'chain_unsubscribeNewHead':
      case 'unsubscribe_newHead':
      case 'chain_unsubscribeFinalizedHeads':
      case 'chain_unsubscribeFinalisedHeads':
      case 'chain_unsubscribeAllHeads':
      case 'state_unsubscribeRuntimeVersion':
      case 'state_unsubscribeStorage':
      case 'author_unwatchExtrinsic':
        return { result: this.subs.delete(str(p[0], 'subscription id')) };
      case 'state_getMetadata': this.at(p[0]); return { result: u8aToHex(this.meta.served.get(14)!) };
      case 'state_getRuntimeVersion': this.at(p[0]); return { result: this.meta.runtimeVersion };
      case 'state_call': return { result: this.stateCall(str(p[0], 'method'), str(p[1] ?? '0x', 'data'), this.at(p[2])) };
      case 'state_getStorage':
      case 'state_getStorageAt': return { result: this.state.get(str(p[0], 'key').toLowerCase(), this.at(p[1])) };
      case 'state_getStorageHash': {
        const v = this.state.get(str(p[0], 'key').toLowerCase(), this.at(p[1]));
        return { result: v === null ? null : blake2AsHex(hexToU8a(v), 256) };
      }
      case 'state_getStorageSize': {
        const v = this.state.get(str(p[0], 'key').toLowerCase(), this.at(p[1]));
        return { result: v === null ? null : hexToU8a(v).length };
      }
      case 'state_getKeys': return { result: this.state.keys(str(p[0], 'prefix').toLowerCase(), this.at(p[1])) };
      case 'state_getKeysPaged': {
        const count = Number(p[1]);
        if (!Number.isInteger(count) || count < 0 || count > 1000) throw new RpcError(-32602, 'Invalid params: count must be an integer in 0..=1000');
        const start = p[2] === undefined || p[2] === null ? undefined : str(p[2], 'startKey').toLowerCase();
        return { result: this.state.keys(str(p[0] ?? '0x', 'prefix').toLowerCase(), this.at(p[3]), count, start) };
      }
      case 'state_queryStorageAt': {
        const keys = (Array.isArray(p[0]) ? p[0] : []).map((k) => str(k, 'key'));
        const n = this.at(p[1]);
        return { result: [{ block: this.blocks[n].hash, changes: this.storageChanges(keys, n) }] };
      }
      case 'author_submitExtrinsic': return { result: this.submit(str(p[0], 'extrinsic')).hash };
      case 'author_submitAndWatchExtrinsic': {
        const tx = this.submit(str(p[0], 'extrinsic'));
        const id = this.subscribe(ws, 'extrinsic');
        this.watchers.set(tx.hash, id);
        return { result: id, after: () => this.notify(id, 'ready') };
      }
      case 'author_pendingExtrinsics': return { result: this.pool.map((t) => t.hex) };
      case 'dev_newBlock': {
        const b = this.produceBlock();
        return { result: { number: b.number, hash: b.hash } };
      }
      case 'dev_setCommitment': {
        this.setCommitment(Number(p[0]), str(p[1], 'hotkey'), str(p[2], 'text'));
        return { result: true };
      }
      case 'dev_registerNeuron': {
        try {
          return { result: this.registerNeuron(Number(p[0]), (p[1] ?? {}) as GenesisNeuron) };
        } catch (err) {
          throw new RpcError(-32602, `Invalid params: ${(err as Error).message}`);
        }
      }
      case 'dev_setStorage': {
        const o = (p[0] ?? {}) as { pallet?: string; item?: string; args?: unknown[]; value?: unknown };
        if (!o.pallet || !o.item) throw new RpcError(-32602, 'Invalid params: dev_setStorage wants {pallet, item, args, value}');
        try {
          this.setStorage(o.pallet, o.item, o.args ?? [], o.value ?? null);
        } catch (err) {
          throw new RpcError(-32602, `Invalid params: ${(err as Error).message}`);
        }
        return { result: true };
      }
      case 'dev_injectPulse': {
        try {
          this.injectPulse(Number(p[0]), str(p[1], 'signature'));
        } catch (err) {
          throw new RpcError(-32602, `Invalid params: ${(err as Error).message}`);
        }
        return { result: true };
      }
      case 'dev_setRawStorage': {
        for (const pair of (Array.isArray(p[0]) ? p[0] : []) as [string, string | null][]) this.setRawStorage(str(pair[0], 'key').toLowerCase(), pair[1]);
        return { result: true };
      }
      default:
        throw new RpcError(-32601, `Method not found: ${method}`);
    }
  }
}

export { decodeExtrinsic };
