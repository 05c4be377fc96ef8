// The devchain: a local Substrate-compatible chain that serves subtensor's real metadata over WebSocket
// JSON-RPC, keeps state under real SCALE storage keys, produces blocks on a timer and on demand, and
// verifies and applies the extrinsics Conclave submits. In-process use: `new DevChain(opts).start()`.
// Beside it: blocks.ts (headers, hashes, the --data log), block-builder.ts (one block's transition),
// rpc-methods.ts (the JSON-RPC methods), subscriptions.ts (subscriptions and notifications).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { cryptoWaitReady, encodeAddress, decodeAddress } from '@polkadot/util-crypto';
import { hexToU8a } from '@polkadot/util';
import { chainMeta, storageKey, encodeValue, decodeValue, constantNumber, type ChainMeta, type EpochModel } from './metadata.ts';
import { VersionedState } from './state.ts';
import { type Genesis, type GenesisNeuron, defaultGenesis, genesisStorage, accountInfo, commitmentFields, resolveNeurons, ipv4ToInt } from './genesis.ts';
import { checkExtrinsic, decodeExtrinsic, RpcError, type CheckedExtrinsic, type ChainView } from './extrinsic.ts';
import { Store, type Overlay } from './runtime.ts';
import { validate, PoolRefusal } from './dispatch.ts';
import { checkPulse, devBeaconConfig, devBeaconSecret, storePulse } from './pallets/drand.ts';
import { MAX_RPC_FRAME_BYTES, parseRpcRequest, rpcErrorReply } from './rpc-frame.ts';
import { CHAIN_LOG, appendBlock, headerJson, headerOf, readChainLog, sealBlock, type BlockInfo, type PersistedBlock } from './blocks.ts';
import { buildBlock, layered } from './block-builder.ts';
import { rpcCall, type RpcHost } from './rpc-methods.ts';
import { Subscriptions, storageChanges } from './subscriptions.ts';

export type { BlockInfo } from './blocks.ts';
export { RPC_METHODS } from './rpc-methods.ts';

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

export class DevChain {
  meta: ChainMeta;
  private readonly opts: DevChainOptions;
  private readonly state = new VersionedState();
  private readonly blocks: BlockInfo[] = [];
  private readonly byHash = new Map<string, number>();
  private pool: CheckedExtrinsic[] = [];
  private pendingWrites = new Map<string, string | null>();
  private readonly subs = new Subscriptions();
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
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private async initChain(): Promise<void> {
    const file = this.opts.dataDir ? join(this.opts.dataDir, CHAIN_LOG) : undefined;
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
    for (const { line, block: b } of readChainLog(file)) {
      if (b.number !== this.blocks.length) throw new Error(`${file}: block ${b.number} out of order at line ${line}`);
      if (b.chainName) this.chainName = b.chainName;
      if (b.number === 0) {
        if (b.model && b.model !== this.meta.model) this.meta = chainMeta(b.model);
        if (b.beaconSeed !== undefined) this.beaconSecret = devBeaconSecret(b.beaconSeed ?? undefined);
      }
      for (const [k, v] of b.changes) this.state.set(k, v, b.number);
      const info: BlockInfo = { number: b.number, hash: b.hash, parentHash: b.parentHash, stateRoot: b.stateRoot, extrinsicsRoot: b.extrinsicsRoot, extrinsics: b.extrinsics };
      if (headerOf(this.meta, info).hash.toHex() !== b.hash) throw new Error(`${file}: block ${b.number} hash does not match its header; the data dir is corrupt`);
      this.blocks.push(info);
      this.byHash.set(info.hash, info.number);
    }
    if (this.blocks.length === 0) throw new Error(`${file} holds no blocks; delete it to start from genesis`);
    this.log(`devchain: reloaded ${this.blocks.length} blocks from ${file}`);
  }

  private commitBlock(n: number, changes: [string, string | null][], extrinsics: string[], genesisInfo?: Record<string, unknown>): BlockInfo {
    changes.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [k, v] of changes) this.state.set(k, v, n);
    const info = sealBlock(this.meta, this.blocks[n - 1], n, changes, extrinsics);
    this.blocks.push(info);
    this.byHash.set(info.hash, n);
    if (this.opts.dataDir) {
      const rec: PersistedBlock = { ...info, changes, ...(n === 0 ? { chainName: this.chainName, ...genesisInfo } : {}) };
      appendBlock(this.opts.dataDir, rec);
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
    return layered({ get: (k) => this.state.get(k, this.head), keys: (prefix) => this.state.keys(prefix, this.head) }, writes);
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
    const { included, dropped } = buildBlock({
      meta: this.meta, n, overlay, ov: this.overlayAt(overlay), pool: this.pool, poolSpent: () => void (this.pool = []),
      slotMs: this.slotMs, beaconSecret: this.beaconSecret, log: (l) => this.log(l),
    });
    const changed = [...overlay.entries()].filter(([k, v]) => this.state.get(k, this.head) !== v);
    const info = this.commitBlock(n, changed, included.map((t) => t.hex));
    this.subs.notifyBlock(info, headerJson(info), included, dropped, new Set(changed.map(([k]) => k)), (keys, at) => storageChanges((k, b) => this.state.get(k, b), keys, at));
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
        const { result, after } = rpcCall(this.rpcHost, ws, req.method, req.params);
        ws.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
        after?.();
      } catch (err) {
        ws.send(rpcErrorReply(id, err));
      }
    });
    ws.on('close', () => this.subs.dropSocket(ws));
    ws.on('error', () => ws.terminate());
  }

  private at(hash: unknown): number {
    if (hash === undefined || hash === null) return this.head;
    const n = typeof hash === 'string' ? this.byHash.get(hash.toLowerCase()) : undefined;
    if (n === undefined) throw new RpcError(4003, `Client error: UnknownBlock: Header was not found in the local DB: ${String(hash)}`);
    return n;
  }

  private readonly rpcHost: RpcHost = {
    chain: this,
    chainName: () => this.chainName,
    hasHash: (hash) => this.byHash.has(hash),
    at: (hash) => this.at(hash),
    keys: (prefix, at, count, startKey) => this.state.keys(prefix, at, count, startKey),
    changes: (keys, at) => storageChanges((k, b) => this.state.get(k, b), keys, at),
    nextNonce: (who) => this.view().nextNonce(who),
    pending: () => this.pool.map((t) => t.hex),
    subs: this.subs,
  };
}

export { decodeExtrinsic };
