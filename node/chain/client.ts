// Subtensor chain client over @polkadot/api: connects by name or URL, reconnects with exponential
// backoff, pins every read to a block hash, reads the metagraph / hyperparameters / commitments / weights,
// and submits set_commitment, set_weights and serve_axon returning the block or a typed error (never throws
// for a chain-side failure, so a run loop can log and carry on).
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { Signer, SignerResult } from '@polkadot/api/types';
import type { SignerPayloadJSON } from '@polkadot/types/types';
import type { SubmittableExtrinsic } from '@polkadot/api/promise/types';
import { hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { blake2AsU8a, encodeAddress, decodeAddress } from '@polkadot/util-crypto';
import { SUBTENSOR_SIGNED_EXTENSIONS } from './extensions.ts';
import { resolveEndpoint } from './endpoints.ts';
import { commitmentText, formatScoreCommitment, parseMinerCommitment, parseScoreCommitment, rawCommitmentFields } from './commitments.ts';
import type { BlockRef, ChainWriteError, ChainWriteResult, CommitmentRecord, Hyperparams, Neuron, RosterEntry, Sr25519Signer } from './types.ts';

export interface ChainClientOptions {
  /** finney | test | local | ws(s):// URL */
  endpoint: string;
  /** Give up connecting (first time and after each drop) after this long. Default 30 s. */
  connectTimeoutMs?: number;
  /** Per-request timeout. Default 30 s. */
  requestTimeoutMs?: number;
  /** Wait for inclusion of a write at most this long. Default 60 s (5 finney blocks). */
  inclusionTimeoutMs?: number;
  /** Backoff between reconnect attempts: 250 ms doubling up to this. Default 8 s. */
  maxBackoffMs?: number;
  log?: (line: string) => void;
}

/** The connected chain's metadata lacks something Conclave reads or writes. */
export class ChainSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainSchemaError';
  }
}

export class ChainUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChainUnavailableError';
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

const PAGE = 1000;

/** Refuses a storage map whose key hashers differ from what the direct key decoding assumes. */
function requireHashers(q: Dyn, want: string[], name: string): void {
  const t = q.creator.meta.type;
  const got: string[] = t.isMap ? t.asMap.hashers.map((h: Dyn) => h.toString()) : [];
  if (got.join(',') !== want.join(',')) throw new ChainSchemaError(`${name} uses key hashers [${got.join(', ')}], expected [${want.join(', ')}]; this subtensor version is not supported yet`);
}

function anyHex(x: string | Uint8Array): string {
  return typeof x === 'string' ? x.toLowerCase() : u8aToHex(x);
}

function u64le(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = Math.min(8, b.length) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

const PALLET_NAMES: Record<string, string> = { subtensorModule: 'SubtensorModule', commitments: 'Commitments', system: 'System' };

export class SubtensorClient {
  readonly endpoint: string;
  readonly api: ApiPromise;
  private readonly provider: WsProvider;
  private readonly opts: Required<Omit<ChainClientOptions, 'log'>> & { log: (l: string) => void };
  private closed = false;
  private attempt = 0;
  private reconnectTimer?: NodeJS.Timeout;

  private constructor(endpoint: string, provider: WsProvider, api: ApiPromise, opts: SubtensorClient['opts']) {
    this.endpoint = endpoint;
    this.provider = provider;
    this.api = api;
    this.opts = opts;
  }

  /** Connects (retrying with backoff until connectTimeoutMs) and loads the chain's metadata. */
  static async connect(options: ChainClientOptions): Promise<SubtensorClient> {
    const endpoint = resolveEndpoint(options.endpoint);
    const opts = {
      endpoint,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      inclusionTimeoutMs: options.inclusionTimeoutMs ?? 60_000,
      maxBackoffMs: options.maxBackoffMs ?? 8_000,
      log: options.log ?? (() => {}),
    };
    const provider = new WsProvider(endpoint, false, undefined, opts.requestTimeoutMs);
    let client: SubtensorClient | undefined;
    let attempt = 0;
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const retry = () => {
      if (client) return client.onDisconnected();
      if (gaveUp) return;
      const delay = backoffMs(attempt++, opts.maxBackoffMs);
      timer = setTimeout(() => provider.connect().catch(() => {}), delay);
    };
    provider.on('disconnected', retry);
    provider.on('error', () => {}); // reported via 'disconnected'; keeps the emitter from throwing
    await provider.connect();
    try {
      await withTimeout(provider.isReady, opts.connectTimeoutMs, `cannot connect to ${endpoint} within ${opts.connectTimeoutMs} ms (is the node running and reachable?)`);
    } catch (err) {
      gaveUp = true;
      clearTimeout(timer);
      await provider.disconnect().catch(() => {});
      throw new ChainUnavailableError((err as Error).message);
    }
    const api = new ApiPromise({ provider, signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS, noInitWarn: true });
    api.on('error', () => {});
    try {
      await withTimeout(api.isReadyOrError, opts.connectTimeoutMs, `connected to ${endpoint} but the chain metadata did not load within ${opts.connectTimeoutMs} ms`);
    } catch (err) {
      gaveUp = true;
      await api.disconnect().catch(() => {});
      throw new ChainUnavailableError((err as Error).message);
    }
    client = new SubtensorClient(endpoint, provider, api, opts);
    provider.on('connected', () => {
      if (client!.attempt > 0) opts.log(`chain: reconnected to ${endpoint}`);
      client!.attempt = 0;
    });
    return client;
  }

  private onDisconnected(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = backoffMs(this.attempt++, this.opts.maxBackoffMs);
    this.opts.log(`chain: disconnected from ${this.endpoint}; retrying in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) this.provider.connect().catch(() => this.onDisconnected());
    }, delay);
  }

  /**
   * Calls `cb` with every new best block (number + hash); survives reconnects (polkadot-js resubscribes).
   * Returns the unsubscribe function.
   */
  async onNewBlock(cb: (block: { number: number; hash: string }) => void): Promise<() => void> {
    await this.ready();
    return this.api.rpc.chain.subscribeNewHeads((h) => cb({ number: h.number.toNumber(), hash: h.hash.toHex() }));
  }

  /** Raw JSON-RPC call (e.g. the devchain's dev_* admin methods). */
  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    await this.ready();
    return (await this.provider.send(method, params)) as T;
  }

  get isConnected(): boolean {
    return this.api.isConnected;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.api.disconnect().catch(() => {});
  }

  /** Resolves once the API is connected (waits through a reconnect, up to connectTimeoutMs). */
  private async ready(): Promise<void> {
    if (this.closed) throw new ChainUnavailableError('chain client is closed');
    if (this.api.isConnected) return;
    // (polkadot-js emits 'ready' only once per ApiPromise, so poll the connection state)
    const end = Date.now() + this.opts.connectTimeoutMs;
    while (!this.api.isConnected) {
      if (this.closed) throw new ChainUnavailableError('chain client is closed');
      if (Date.now() >= end) throw new ChainUnavailableError(`chain ${this.endpoint} unreachable for ${this.opts.connectTimeoutMs} ms (still retrying in the background)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs a read; on a connection drop mid-read, waits for the reconnect and tries once more. */
  private async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await fn();
    } catch (err) {
      if (this.api.isConnected) throw err;
      await this.ready();
      return fn();
    }
  }

  private storage(apiAt: Dyn, pallet: string, item: string, optional = false): Dyn {
    const q = apiAt.query?.[pallet]?.[item];
    if (!q && !optional) {
      throw new ChainSchemaError(`the chain at ${this.endpoint} has no storage ${PALLET_NAMES[pallet] ?? pallet}.${item[0].toUpperCase()}${item.slice(1)} in its metadata; Conclave needs it (is this a subtensor node of a supported version?)`);
    }
    return q;
  }

  private txFn(pallet: string, call: string): Dyn {
    const t = (this.api.tx as Dyn)[pallet]?.[call];
    if (!t) throw new ChainSchemaError(`the chain at ${this.endpoint} has no call ${PALLET_NAMES[pallet] ?? pallet}.${call} in its metadata`);
    return t;
  }

  /** Block hash for a BlockRef (number -> chain_getBlockHash; undefined -> best block). */
  async blockHash(at?: BlockRef): Promise<string> {
    return this.read(async () => {
      if (typeof at === 'string') return at;
      // (getBlockHash(undefined) would encode as block 0, so the best block comes from its header)
      if (at === undefined) return (await this.api.rpc.chain.getHeader()).hash.toHex();
      const h = await this.api.rpc.chain.getBlockHash(at);
      if (h.isEmpty) throw new Error(`block #${at} does not exist yet on ${this.endpoint}`);
      return h.toHex();
    });
  }

  async bestBlock(): Promise<{ number: number; hash: string }> {
    return this.read(async () => {
      const h = await this.api.rpc.chain.getHeader();
      return { number: h.number.toNumber(), hash: h.hash.toHex() };
    });
  }

  async blockNumber(hash: string): Promise<number> {
    return this.read(async () => (await this.api.rpc.chain.getHeader(hash)).number.toNumber());
  }

  private async at(at: BlockRef): Promise<{ apiAt: Dyn; hash: string }> {
    const hash = await this.blockHash(at);
    return { apiAt: await this.read(() => this.api.at(hash)), hash };
  }

  async hyperparams(netuid: number, at?: BlockRef): Promise<Hyperparams> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const exists = await this.storage(apiAt, 'subtensorModule', 'networksAdded')(netuid);
      if (!exists.isTrue) throw new Error(`subnet ${netuid} does not exist on ${this.endpoint}`);
      const items = ['tempo', 'weightsSetRateLimit', 'commitRevealWeightsEnabled', 'weightsVersionKey', 'subnetworkN', 'maxAllowedUids',
        'minAllowedWeights', 'maxWeightsLimit', 'immunityPeriod', 'maxAllowedValidators', 'activityCutoff', 'kappa'];
      const qs = items.map((i) => this.storage(apiAt, 'subtensorModule', i));
      const reveal = this.storage(apiAt, 'subtensorModule', 'revealPeriodEpochs', true);
      const vals: Dyn[] = await Promise.all([...qs.map((q) => q(netuid)), reveal ? reveal(netuid) : Promise.resolve(null)]);
      const n = (i: number) => Number(vals[i].toString());
      return {
        netuid, tempo: n(0), weightsRateLimit: n(1), commitRevealEnabled: vals[2].isTrue, weightsVersionKey: BigInt(vals[3].toString()),
        subnetworkN: n(4), maxAllowedUids: n(5), minAllowedWeights: n(6), maxWeightsLimit: n(7), immunityPeriod: n(8),
        maxAllowedValidators: n(9), activityCutoff: n(10), kappa: n(11), revealPeriodEpochs: vals[12] === null ? null : n(12),
      };
    });
  }

  /**
   * The metagraph of `netuid` at a block: uid -> hotkey (Keys), stake (TotalHotkeyAlpha, rao of alpha),
   * validator permits, axons. Paged key scans + batched state_queryStorageAt (1,000 keys per call), decoded
   * directly from SCALE: a handful of RPCs in total, never one per neuron.
   */
  async metagraph(netuid: number, at?: BlockRef): Promise<Neuron[]> {
    const { apiAt, hash } = await this.at(at);
    return this.read(async () => {
      const keysQ = this.storage(apiAt, 'subtensorModule', 'keys');
      const stakeQ = this.storage(apiAt, 'subtensorModule', 'totalHotkeyAlpha');
      const axonsQ = this.storage(apiAt, 'subtensorModule', 'axons');
      const permitsQ = this.storage(apiAt, 'subtensorModule', 'validatorPermit');
      requireHashers(keysQ, ['Identity', 'Identity'], 'SubtensorModule.Keys');
      requireHashers(stakeQ, ['Blake2_128Concat', 'Identity'], 'SubtensorModule.TotalHotkeyAlpha');
      requireHashers(axonsQ, ['Identity', 'Blake2_128Concat'], 'SubtensorModule.Axons');
      const [keyEntries, permitsRaw, axonEntries] = await Promise.all([
        this.rawEntries(anyHex(keysQ.keyPrefix(netuid)), hash),
        this.provider.send('state_getStorage', [permitsQ.key(netuid), hash]) as Promise<string | null>,
        this.rawEntries(anyHex(axonsQ.keyPrefix(netuid)), hash),
      ]);
      const rows: { uid: number; hotkey: string; pk: Uint8Array }[] = [];
      for (const [k, v] of keyEntries) {
        if (v === null) continue;
        const kb = hexToU8a(k);
        const vb = hexToU8a(v);
        if (vb.length !== 32) throw new Error(`SubtensorModule.Keys value of ${vb.length} bytes; expected an AccountId32`);
        rows.push({ uid: kb[kb.length - 2] | (kb[kb.length - 1] << 8), hotkey: encodeAddress(vb, 42), pk: vb });
      }
      rows.sort((a, b) => a.uid - b.uid);
      const prefix = anyHex(stakeQ.keyPrefix()).slice(2);
      const netLe = u8aToHex(Uint8Array.of(netuid & 255, netuid >> 8)).slice(2);
      const stakeKeys = rows.map((r) => `0x${prefix}${u8aToHex(blake2AsU8a(r.pk, 128)).slice(2)}${u8aToHex(r.pk).slice(2)}${netLe}`);
      const stakeVals = await this.rawValues(stakeKeys, hash);
      const permits: boolean[] = permitsRaw ? (this.api.registry.createType('Vec<bool>', hexToU8a(permitsRaw)).toJSON() as boolean[]) : [];
      const axons = new Map<string, { ip: string; port: number }>();
      const axonType = this.api.registry.createLookupType(axonsQ.creator.meta.type.asMap.value);
      for (const [k, v] of axonEntries) {
        if (v === null) continue;
        const a = this.api.registry.createType(axonType, hexToU8a(v)) as Dyn;
        const ip = ipFromU128(BigInt(a.ip.toString()), Number(a.ipType.toString()));
        const port = Number(a.port.toString());
        if (ip && port > 0) axons.set(encodeAddress(hexToU8a(k).slice(-32), 42), { ip, port });
      }
      return rows.map((r, i) => {
        const sv = stakeVals[i];
        const n: Neuron = { uid: r.uid, hotkey: r.hotkey, stake: sv ? u64le(hexToU8a(sv)) : 0n, validatorPermit: permits[r.uid] === true };
        const ax = axons.get(r.hotkey);
        if (ax) n.axon = ax;
        return n;
      });
    });
  }

  /** All (key, value) under a storage prefix at a block: state_getKeysPaged pages + state_queryStorageAt batches. */
  private async rawEntries(prefix: string, hash: string): Promise<[string, string | null][]> {
    const keys: string[] = [];
    let start: string | null = null;
    for (let page = 0; page < 10_000; page++) {
      const got = (await this.provider.send('state_getKeysPaged', [prefix, PAGE, start, hash])) as string[];
      keys.push(...got);
      if (got.length < PAGE) break;
      start = got[got.length - 1];
    }
    const vals = await this.rawValues(keys, hash);
    return keys.map((k, i) => [k, vals[i]]);
  }

  /** Values of `keys` at a block, in order (null = absent), PAGE keys per state_queryStorageAt. */
  private async rawValues(keys: string[], hash: string): Promise<(string | null)[]> {
    const batches: Promise<{ changes: [string, string | null][] }[]>[] = [];
    for (let i = 0; i < keys.length; i += PAGE) batches.push(this.provider.send('state_queryStorageAt', [keys.slice(i, i + PAGE), hash]) as never);
    const map = new Map<string, string | null>();
    for (const res of await Promise.all(batches)) for (const set of res) for (const [k, v] of set.changes) map.set(k.toLowerCase(), v);
    return keys.map((k) => map.get(k.toLowerCase()) ?? null);
  }

  /** Every text commitment on `netuid` at a block, by hotkey (the newer of CommitmentOf and RevealedCommitments). */
  async commitments(netuid: number, at?: BlockRef): Promise<{ records: CommitmentRecord[]; skipped: { hotkey: string; reason: string }[] }> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const plainQ = this.storage(apiAt, 'commitments', 'commitmentOf');
      const revealedQ = this.storage(apiAt, 'commitments', 'revealedCommitments', true);
      const [plain, revealed] = await Promise.all([plainQ.entries(netuid), revealedQ ? revealedQ.entries(netuid) : Promise.resolve([])]);
      const best = new Map<string, CommitmentRecord>();
      const skipped: { hotkey: string; reason: string }[] = [];
      for (const [k, v] of plain as [Dyn, Dyn][]) {
        const hotkey = encodeAddress(k.args[1].toU8a(), 42);
        const reg = v.isSome ? v.unwrap() : v;
        const t = commitmentText(reg.info.fields.toJSON());
        if (!t.ok) {
          skipped.push({ hotkey, reason: t.reason });
          continue;
        }
        best.set(hotkey, { hotkey, text: t.text, block: Number(reg.block.toString()), source: 'CommitmentOf' });
      }
      for (const [k, v] of revealed as [Dyn, Dyn][]) {
        const hotkey = encodeAddress(k.args[1].toU8a(), 42);
        const list = (v.isSome ? v.unwrap() : v) as Dyn[];
        const last = list[list.length - 1];
        if (!last) continue;
        const block = Number(last[1].toString());
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(last[0].toU8a(true));
        } catch {
          skipped.push({ hotkey, reason: 'revealed commitment is not valid UTF-8' });
          continue;
        }
        const prev = best.get(hotkey);
        if (!prev || block >= prev.block) best.set(hotkey, { hotkey, text, block, source: 'RevealedCommitments' });
      }
      return { records: [...best.values()], skipped };
    });
  }

  /** Miners' `<sha256>:<url>` commitments joined with the metagraph; malformed or unregistered ones skipped with a reason. */
  async minerRoster(netuid: number, at?: BlockRef): Promise<{ entries: RosterEntry[]; skipped: { uid: number; hotkey: string; reason: string }[] }> {
    const hash = await this.blockHash(at);
    const [neurons, { records, skipped: bad }] = await Promise.all([this.metagraph(netuid, hash), this.commitments(netuid, hash)]);
    const uidOf = new Map(neurons.map((n) => [n.hotkey, n]));
    const entries: RosterEntry[] = [];
    const skipped: { uid: number; hotkey: string; reason: string }[] = [];
    for (const b of bad) {
      const n = uidOf.get(b.hotkey);
      if (n) skipped.push({ uid: n.uid, hotkey: b.hotkey, reason: b.reason });
    }
    for (const r of records) {
      const n = uidOf.get(r.hotkey);
      if (!n) continue; // deregistered hotkey: stale commitment
      if (r.text.startsWith('conclave/')) continue; // a validator's score commitment, not a submission
      const p = parseMinerCommitment(r.text);
      if (!p.ok) skipped.push({ uid: n.uid, hotkey: r.hotkey, reason: p.reason });
      else entries.push({ uid: n.uid, minerHotkey: r.hotkey, codeSha256: p.sha256, url: p.url, commitBlock: r.block });
    }
    entries.sort((a, b) => a.uid - b.uid);
    skipped.sort((a, b) => a.uid - b.uid);
    return { entries, skipped };
  }

  /** Validators' `conclave/v1:<runId>:<hash>` commitments for `runId` in effect at a block (hotkey -> hash + block). */
  async scoreCommitments(netuid: number, runId: number, at?: BlockRef): Promise<Map<string, { hash: string; block: number }>> {
    const { records } = await this.commitments(netuid, at);
    const out = new Map<string, { hash: string; block: number }>();
    for (const r of records) {
      const p = parseScoreCommitment(r.text);
      if (p.ok && p.runId === runId) out.set(r.hotkey, { hash: p.sha256, block: r.block });
    }
    return out;
  }

  /** The weights `hotkey` last set on `netuid` (u16 values), or null when it is not registered there. */
  async weightsOf(netuid: number, hotkey: string, at?: BlockRef): Promise<{ uid: number; weight: number }[] | null> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const uid = await this.storage(apiAt, 'subtensorModule', 'uids')(netuid, hotkey);
      if (uid.isNone) return null;
      const w = await this.storage(apiAt, 'subtensorModule', 'weights')(netuid, uid.unwrap());
      return (w as Dyn[]).map((pair) => ({ uid: Number(pair[0].toString()), weight: Number(pair[1].toString()) }));
    });
  }

  /**
   * `hotkey`'s uid on `netuid` and the block it last set weights at (SubtensorModule.LastUpdate; 0 when
   * never), or null when it is not registered there.
   */
  async lastWeightsUpdate(netuid: number, hotkey: string, at?: BlockRef): Promise<{ uid: number; block: number } | null> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const uidOpt = await this.storage(apiAt, 'subtensorModule', 'uids')(netuid, hotkey);
      if (uidOpt.isNone) return null;
      const uid = Number(uidOpt.unwrap().toString());
      const last = await this.storage(apiAt, 'subtensorModule', 'lastUpdate')(netuid);
      return { uid, block: Number(((last.toJSON() ?? []) as (number | string)[])[uid] ?? 0) };
    });
  }

  /** The subnet owner's hotkey (SubnetOwnerHotkey), or null when unset or the chain has no such item. */
  async subnetOwnerHotkey(netuid: number, at?: BlockRef): Promise<string | null> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const q = this.storage(apiAt, 'subtensorModule', 'subnetOwnerHotkey', true);
      if (!q) return null;
      const v = await q(netuid);
      const bytes = (v.isSome ? v.unwrap() : v).toU8a() as Uint8Array;
      return bytes.every((b) => b === 0) ? null : encodeAddress(bytes, 42);
    });
  }

  /**
   * Whether `hotkey` can set weights on `netuid` with plain set_weights: registered, holds a validator permit,
   * and the subnet does not require commit-reveal. Decentralized mode refuses to start when this is not ok.
   */
  async canSetWeights(netuid: number, hotkey: string): Promise<{ ok: true; uid: number } | { ok: false; reason: string }> {
    const hp = await this.hyperparams(netuid);
    if (hp.commitRevealEnabled) {
      return { ok: false, reason: `subnet ${netuid} has CommitRevealWeightsEnabled: plain set_weights is refused on chain and Conclave does not implement commit_timelocked_weights (drand timelock encryption) yet. Run in shadow mode, or ask the subnet owner to disable commit-reveal (sudo_set_commit_reveal_weights_enabled).` };
    }
    const neurons = await this.metagraph(netuid);
    const me = neurons.find((n) => n.hotkey === hotkey);
    if (!me) return { ok: false, reason: `hotkey ${hotkey} is not registered on subnet ${netuid}; register it (btcli subnet register --netuid ${netuid})` };
    if (!me.validatorPermit) return { ok: false, reason: `hotkey ${hotkey} (uid ${me.uid}) has no validator permit on subnet ${netuid}; it needs enough stake to be among the top validators` };
    return { ok: true, uid: me.uid };
  }

  // ---- writes ----

  /** Commitments.set_commitment with one Raw field (text <= 128 bytes). */
  async setCommitment(signer: Sr25519Signer, netuid: number, text: string): Promise<ChainWriteResult> {
    let fields;
    try {
      fields = rawCommitmentFields(text);
    } catch (err) {
      return fail('invalid-input', (err as Error).message);
    }
    return this.submit(signer, () => this.txFn('commitments', 'setCommitment')(netuid, { fields }));
  }

  /** Commits `conclave/v1:<runId>:<sha256 hex>` for the signer's hotkey. */
  async commitScoreHash(signer: Sr25519Signer, netuid: number, runId: number, sha256Hex: string): Promise<ChainWriteResult> {
    let text: string;
    try {
      text = formatScoreCommitment(runId, sha256Hex);
    } catch (err) {
      return fail('invalid-input', (err as Error).message);
    }
    return this.setCommitment(signer, netuid, text);
  }

  /**
   * set_weights: `weights` are non-negative numbers, max-upscaled to u16 (largest = 65535); zero weights are
   * dropped. Refused locally (nothing sent) when commit-reveal is on or the rate limit has not passed.
   */
  async setWeights(signer: Sr25519Signer, netuid: number, uids: number[], weights: number[], versionKey?: bigint): Promise<ChainWriteResult> {
    const norm = normaliseWeights(uids, weights);
    if (!norm.ok) return fail('invalid-input', norm.reason);
    try {
      const hp = await this.hyperparams(netuid);
      if (hp.commitRevealEnabled) return fail('commit-reveal', `subnet ${netuid} requires commit-reveal weights; plain set_weights would be refused (CommitRevealEnabled)`);
      const mine = await this.lastWeightsUpdate(netuid, signer.hotkey);
      if (!mine) return fail('not-registered', `hotkey ${signer.hotkey} is not registered on subnet ${netuid}`);
      const { uid, block: lastBlock } = mine;
      const best = await this.bestBlock();
      const next = lastBlock + hp.weightsRateLimit;
      if (lastBlock !== 0 && best.number + 1 < next) {
        return fail('rate-limited', `weights for uid ${uid} were set at block ${lastBlock}; the subnet allows one set_weights per ${hp.weightsRateLimit} blocks, next at block ${next} (now ${best.number})`);
      }
      const vk = versionKey ?? hp.weightsVersionKey;
      return this.submit(signer, () => this.txFn('subtensorModule', 'setWeights')(netuid, norm.uids, norm.weights, vk));
    } catch (err) {
      return fail(err instanceof ChainUnavailableError ? 'disconnected' : 'rejected', (err as Error).message);
    }
  }

  /** serve_axon: announce `ip:port` (IPv4 or IPv6) for the signer's hotkey on `netuid`. */
  async serveAxon(signer: Sr25519Signer, netuid: number, axon: { ip: string; port: number; protocol?: number; version?: number }): Promise<ChainWriteResult> {
    const ip = ipToU128(axon.ip);
    if (!ip) return fail('invalid-input', `"${axon.ip}" is not an IPv4 or IPv6 address`);
    if (!Number.isInteger(axon.port) || axon.port < 1 || axon.port > 65535) return fail('invalid-input', `port ${axon.port} is not in 1..65535`);
    return this.submit(signer, () => this.txFn('subtensorModule', 'serveAxon')(netuid, axon.version ?? 1, ip.value, axon.port, ip.type, axon.protocol ?? 4, 0, 0));
  }

  /** Signs with `signer`, submits, waits for inclusion; maps every failure to a ChainWriteError. */
  async submit(signer: Sr25519Signer, build: () => SubmittableExtrinsic): Promise<ChainWriteResult> {
    try {
      await this.ready();
      const tx = build();
      const polkaSigner = polkadotSigner(this.api, signer);
      return await new Promise<ChainWriteResult>((resolve) => {
        let unsub: (() => void) | undefined;
        let settled = false;
        const done = (r: ChainWriteResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.api.off('disconnected', onDrop);
          unsub?.();
          resolve(r);
        };
        const onDrop = () => done(fail('disconnected', `connection to ${this.endpoint} dropped before the extrinsic was included; it may still land — check before resubmitting`));
        const timer = setTimeout(() => done(fail('timeout', `not included within ${this.opts.inclusionTimeoutMs} ms`)), this.opts.inclusionTimeoutMs);
        this.api.on('disconnected', onDrop);
        tx.signAndSend(signer.hotkey, { signer: polkaSigner, nonce: -1 }, (res) => {
          const st = res.status;
          if (st.isInvalid || st.isDropped || st.isUsurped) return done(fail('rejected', `extrinsic ${st.type.toLowerCase()} by the transaction pool`));
          if (!st.isInBlock && !st.isFinalized) return;
          const blockHash = (st.isInBlock ? st.asInBlock : st.asFinalized).toHex();
          if (res.dispatchError) {
            const e = res.dispatchError;
            if (e.isModule) {
              const m = this.api.registry.findMetaError(e.asModule);
              const kind = m.name === 'SettingWeightsTooFast' ? 'rate-limited' : m.name === 'CommitRevealEnabled' ? 'commit-reveal'
                : /NotRegistered|NoValidatorPermit|AccountNotAllowedCommit/.test(m.name) ? 'not-registered' : 'dispatch';
              return done({ ok: false, error: { kind, message: `${m.section}.${m.name}: ${m.docs.join(' ').trim() || 'dispatch failed'}`, module: { section: m.section, name: m.name } } });
            }
            return done(fail('dispatch', `dispatch failed: ${e.toString()}`));
          }
          this.api.rpc.chain.getHeader(blockHash).then(
            (h) => done({ ok: true, block: h.number.toNumber(), blockHash }),
            (err: Error) => done(fail('disconnected', `included in ${blockHash} but its header could not be read: ${err.message}`)),
          );
        }).then((u) => {
          unsub = u;
          if (settled) u();
        }, (err: Error) => done(fail(this.api.isConnected ? 'rejected' : 'disconnected', err.message)));
      });
    } catch (err) {
      return fail(err instanceof ChainUnavailableError ? 'disconnected' : err instanceof ChainSchemaError ? 'rejected' : 'rejected', (err as Error).message);
    }
  }
}

function fail(kind: ChainWriteError['kind'], message: string): ChainWriteResult {
  return { ok: false, error: { kind, message } };
}

/** Adapts an Sr25519Signer (wallet hotkey) to @polkadot/api's Signer: signs the exact extrinsic payload. */
export function polkadotSigner(api: ApiPromise, signer: Sr25519Signer): Signer {
  let id = 0;
  return {
    signPayload: async (payload: SignerPayloadJSON): Promise<SignerResult> => {
      if (encodeAddress(decodeAddress(payload.address), 42) !== signer.hotkey) throw new Error(`signer ${signer.hotkey} asked to sign for ${payload.address}`);
      const p = api.registry.createType('ExtrinsicPayload', payload, { version: payload.version });
      let msg = p.toU8a({ method: true });
      if (msg.length > 256) msg = blake2AsU8a(msg, 256);
      const sig = signer.sign(msg);
      return { id: ++id, signature: u8aToHex(u8aConcat(Uint8Array.of(1), sig)) }; // MultiSignature::Sr25519
    },
  };
}

/** Validates and max-upscales weights to u16; drops zeros. */
export function normaliseWeights(uids: number[], weights: number[]): { ok: true; uids: number[]; weights: number[] } | { ok: false; reason: string } {
  if (uids.length !== weights.length) return { ok: false, reason: `${uids.length} uids but ${weights.length} weights` };
  if (new Set(uids).size !== uids.length) return { ok: false, reason: 'a uid appears twice' };
  if (uids.some((u) => !Number.isInteger(u) || u < 0 || u > 65535)) return { ok: false, reason: 'uids must be integers in 0..65535' };
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) return { ok: false, reason: 'weights must be finite and >= 0' };
  const max = Math.max(0, ...weights);
  if (max === 0) return { ok: false, reason: 'all weights are zero' };
  const pairs = uids.map((u, i) => [u, Math.round((weights[i] / max) * 65535)] as const).filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
  return { ok: true, uids: pairs.map((p) => p[0]), weights: pairs.map((p) => p[1]) };
}

export function ipToU128(ip: string): { value: bigint; type: 4 | 6 } | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return null;
    return { value: parts.reduce((a, p) => a * 256n + BigInt(p), 0n), type: 4 };
  }
  if (!ip.includes(':')) return null;
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array(Math.max(0, fill)).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return { value: groups.reduce((a, g) => a * 65536n + BigInt(parseInt(g, 16)), 0n), type: 6 };
}

export function ipFromU128(v: bigint, type: number): string | null {
  if (type === 4) {
    if (v > 0xffffffffn) return null;
    return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 255n).toString()).join('.');
  }
  if (type === 6) {
    const g: string[] = [];
    for (let i = 7; i >= 0; i--) g.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
    return g.join(':');
  }
  return null;
}

/** Reconnect delay: 250 ms doubling per failed attempt, capped. */
function backoffMs(attempt: number, maxMs: number): number {
  return Math.min(250 * 2 ** attempt, maxMs);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}
