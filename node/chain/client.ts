// Subtensor chain client over @polkadot/api: connects by name or URL, reconnects with exponential
// backoff, pins every read to a block hash, reads the metagraph / hyperparameters / commitments / weights /
// epoch schedule, and submits set_commitment, set_weights (or timelocked commits where the subnet has
// commit-reveal: ./commit-reveal.ts) and serve_axon, returning the block or a typed error (never throws for
// a chain-side failure, so a run loop can log and carry on).
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/promise/types';
import { encodeAddress } from '@polkadot/util-crypto';
import { SUBTENSOR_SIGNED_EXTENSIONS, checkSignedExtensions, UnknownSignedExtensionError } from './extensions.ts';
import { poolError } from './errors.ts';
import { submitSigned } from './submit.ts';
import { readMetagraph } from './metagraph.ts';
import { normaliseWeights, ipToU128, ipFromU128 } from './encoding.ts';
import type { EpochSchedule } from './epoch-schedule.ts';
import type { DrandBeacon } from './timelock/drand.ts';
import { commitWeights, confirmReveal, findWeightsCommit, type CommitOptions } from './commit-reveal.ts';
import { resolveEndpoint } from './endpoints.ts';
import { commitmentText, formatScoreCommitment, parseMinerCommitment, parseScoreCommitment, rawCommitmentFields } from './commitments.ts';
import type { BlockRef, ChainWriteError, ChainWriteResult, CommitmentRecord, Hyperparams, Neuron, RevealStatus, RosterEntry, Sr25519Signer, WeightsCommit } from './types.ts';

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
  /** Called once when the connection is lost (an outage starts) and once when it is back (with its length). */
  onOutage?: (e: { state: 'down'; endpoint: string } | { state: 'up'; endpoint: string; downMs: number }) => void;
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

const PALLET_NAMES: Record<string, string> = { subtensorModule: 'SubtensorModule', commitments: 'Commitments', system: 'System', drand: 'Drand', timestamp: 'Timestamp' };

export class SubtensorClient {
  readonly endpoint: string;
  readonly api: ApiPromise;
  private readonly provider: WsProvider;
  private readonly opts: Required<Omit<ChainClientOptions, 'log' | 'onOutage'>> & { log: (l: string) => void; onOutage: NonNullable<ChainClientOptions['onOutage']> };
  /** when the connection was lost (null: connected) */
  private downSince: number | null = null;
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
      onOutage: options.onOutage ?? (() => {}),
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
    try {
      const { empty } = checkSignedExtensions(api.registry, api.runtimeMetadata, endpoint);
      if (empty.length) opts.log(`chain: transaction extensions without payload: ${empty.join(', ')}`);
    } catch (err) {
      gaveUp = true;
      await api.disconnect().catch(() => {});
      throw err as UnknownSignedExtensionError;
    }
    client = new SubtensorClient(endpoint, provider, api, opts);
    provider.on('connected', () => {
      if (client!.attempt > 0) opts.log(`chain: reconnected to ${endpoint}`);
      client!.attempt = 0;
      if (client!.downSince !== null) {
        const downMs = Date.now() - client!.downSince;
        client!.downSince = null;
        opts.onOutage({ state: 'up', endpoint, downMs });
      }
    });
    return client;
  }

  private onDisconnected(): void {
    if (this.closed || this.reconnectTimer) return;
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.opts.onOutage({ state: 'down', endpoint: this.endpoint });
    }
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

  /** Raw JSON-RPC call without waiting for a reconnect (node/chain modules: paged storage reads). */
  send<T = unknown>(method: string, params: unknown[]): Promise<T> {
    return this.provider.send(method, params) as Promise<T>;
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
  async read<T>(fn: () => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await fn();
    } catch (err) {
      if (this.api.isConnected) throw err;
      await this.ready();
      return fn();
    }
  }

  /** The storage item `pallet.item` (polkadot-js camelCase) at `apiAt`; ChainSchemaError when missing unless optional. */
  storage(apiAt: Dyn, pallet: string, item: string, optional = false): Dyn {
    const q = apiAt.query?.[pallet]?.[item];
    if (!q && !optional) {
      throw new ChainSchemaError(`the chain at ${this.endpoint} has no storage ${PALLET_NAMES[pallet] ?? pallet}.${item[0].toUpperCase()}${item.slice(1)} in its metadata; Conclave needs it (is this a subtensor node of a supported version?)`);
    }
    return q;
  }

  txFn(pallet: string, call: string): Dyn {
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

  /** The API decorated for the block `at` (its own metadata), and that block's hash. */
  async at(at: BlockRef): Promise<{ apiAt: Dyn; hash: string }> {
    const hash = await this.blockHash(at);
    return { apiAt: await this.read(() => this.api.at(hash)), hash };
  }

  async hyperparams(netuid: number, at?: BlockRef): Promise<Hyperparams> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const exists = await this.storage(apiAt, 'subtensorModule', 'networksAdded')(netuid);
      if (!exists.isTrue) throw new Error(`subnet ${netuid} does not exist on ${this.endpoint}`);
      const items = ['tempo', 'weightsSetRateLimit', 'commitRevealWeightsEnabled', 'weightsVersionKey', 'subnetworkN', 'maxAllowedUids',
        'minAllowedWeights', 'maxWeightsLimit', 'immunityPeriod', 'maxAllowedValidators', 'kappa'];
      const qs = items.map((i) => this.storage(apiAt, 'subtensorModule', i));
      // read by name where present: newer runtimes replace ActivityCutoff by ActivityCutoffFactorMilli
      const optional = ['revealPeriodEpochs', 'activityCutoffFactorMilli', 'activityCutoff'].map((i) => this.storage(apiAt, 'subtensorModule', i, true));
      if (!optional[1] && !optional[2]) this.storage(apiAt, 'subtensorModule', 'activityCutoffFactorMilli');
      const vals: Dyn[] = await Promise.all([...qs.map((q) => q(netuid)), ...optional.map((q) => (q ? q(netuid) : Promise.resolve(null)))]);
      const n = (i: number) => Number(vals[i].toString());
      const opt = (i: number) => (vals[i] === null ? null : n(i));
      const tempo = n(0);
      const factor = opt(12);
      const activityCutoff = factor !== null ? Math.max(1, Math.floor((factor * tempo) / 1000)) : n(13);
      return {
        netuid, tempo, weightsRateLimit: n(1), commitRevealEnabled: vals[2].isTrue, weightsVersionKey: BigInt(vals[3].toString()),
        subnetworkN: n(4), maxAllowedUids: n(5), minAllowedWeights: n(6), maxWeightsLimit: n(7), immunityPeriod: n(8),
        maxAllowedValidators: n(9), kappa: n(10), revealPeriodEpochs: opt(11), activityCutoff, activityCutoffFactorMilli: factor,
      };
    });
  }

  /**
   * The subnet's epoch schedule at one block: stateful (LastEpochBlock, PendingEpochAt, SubnetEpochIndex,
   * BlocksSinceLastStep, Tempo; spec >= 423) where the runtime has those items, else the legacy modulo rule.
   */
  async epochSchedule(netuid: number, at?: BlockRef): Promise<EpochSchedule> {
    const { apiAt, hash } = await this.at(at);
    return this.read(async () => {
      const last = this.storage(apiAt, 'subtensorModule', 'lastEpochBlock', true);
      const [block, tempo] = await Promise.all([this.blockNumber(hash), this.storage(apiAt, 'subtensorModule', 'tempo')(netuid)]);
      if (!last) return { model: 'legacy', netuid, block, tempo: Number(tempo.toString()) };
      const get = (item: string) => this.storage(apiAt, 'subtensorModule', item)(netuid);
      const [l, p, i, b] = await Promise.all([last(netuid), get('pendingEpochAt'), get('subnetEpochIndex'), get('blocksSinceLastStep')]);
      return { model: 'stateful', netuid, block, tempo: Number(tempo.toString()), lastEpochBlock: Number(l.toString()), pendingEpochAt: Number(p.toString()), subnetEpochIndex: Number(i.toString()), blocksSinceLastStep: Number(b.toString()) };
    });
  }

  /** The drand beacon the chain decrypts with (Drand.BeaconConfig) and the newest pulse it holds (Drand.LastStoredRound). */
  async drandBeacon(at?: BlockRef): Promise<DrandBeacon & { lastStoredRound: number }> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const [cfg, last] = await Promise.all([this.storage(apiAt, 'drand', 'beaconConfig')(), this.storage(apiAt, 'drand', 'lastStoredRound')()]);
      const publicKey = cfg.publicKey.toU8a(true) as Uint8Array;
      if (publicKey.length !== 96) throw new ChainSchemaError(`Drand.BeaconConfig.public_key is ${publicKey.length} bytes; a BLS12-381 G2 key is 96`);
      return { publicKey, period: Number(cfg.period.toString()), genesisTime: Number(cfg.genesisTime.toString()), lastStoredRound: Number(last.toString()) };
    });
  }

  /** The chain's clock at a block (Timestamp.Now, ms); the local clock if the runtime has no Timestamp pallet. */
  async chainTimeMs(at?: BlockRef): Promise<number> {
    const { apiAt } = await this.at(at);
    const q = this.storage(apiAt, 'timestamp', 'now', true);
    if (!q) return Date.now();
    const v = Number(((await this.read(() => q())) as Dyn).toString());
    return v > 0 ? v : Date.now();
  }

  /** Target block time from the runtime's constants (Aura.SlotDuration, Babe.ExpectedBlockTime, 2 × Timestamp.MinimumPeriod), else 12 s. */
  blockTimeMs(): number {
    const c = this.api.consts as Dyn;
    const v = c.aura?.slotDuration ?? c.babe?.expectedBlockTime ?? (c.timestamp?.minimumPeriod ? { toString: () => String(2 * Number(c.timestamp.minimumPeriod.toString())) } : null);
    const ms = v ? Number(v.toString()) : 0;
    return ms > 0 ? ms : 12_000;
  }

  /**
   * The metagraph of `netuid` at a block: uid -> hotkey (Keys), stake (TotalHotkeyAlpha, rao of alpha),
   * validator permits, axons. See ./metagraph.ts.
   */
  metagraph(netuid: number, at?: BlockRef): Promise<Neuron[]> {
    return readMetagraph(this, netuid, at);
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
   * Whether `hotkey` can set weights on `netuid`: registered, holds a validator permit, and — where the
   * subnet has commit-reveal — the runtime has a timelocked commit call and a drand pallet to reveal it.
   */
  async canSetWeights(netuid: number, hotkey: string): Promise<{ ok: true; uid: number; commitReveal: boolean } | { ok: false; reason: string }> {
    const hp = await this.hyperparams(netuid);
    if (hp.commitRevealEnabled) {
      const tx = this.api.tx as Dyn;
      const q = this.api.query as Dyn;
      if (!tx.subtensorModule?.commitTimelockedWeights && !tx.subtensorModule?.commitCrv3Weights) {
        return { ok: false, reason: `subnet ${netuid} has CommitRevealWeightsEnabled but the runtime at ${this.endpoint} has neither commit_timelocked_weights nor commit_crv3_weights: this client cannot commit weights there` };
      }
      if (!q.drand?.beaconConfig) return { ok: false, reason: `subnet ${netuid} has CommitRevealWeightsEnabled but the runtime has no Drand pallet to reveal timelocked commits` };
    }
    const neurons = await this.metagraph(netuid);
    const me = neurons.find((n) => n.hotkey === hotkey);
    if (!me) return { ok: false, reason: `hotkey ${hotkey} is not registered on subnet ${netuid}; register it (btcli subnet register --netuid ${netuid})` };
    if (!me.validatorPermit) return { ok: false, reason: `hotkey ${hotkey} (uid ${me.uid}) has no validator permit on subnet ${netuid}; it needs enough stake to be among the top validators` };
    return { ok: true, uid: me.uid, commitReveal: hp.commitRevealEnabled };
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
      if (hp.commitRevealEnabled) return fail('commit-reveal', `SubtensorModule.CommitRevealEnabled: subnet ${netuid} requires commit-reveal weights; plain set_weights would be refused (use commitWeights / submitWeights)`);
      const mine = await this.lastWeightsUpdate(netuid, signer.hotkey);
      if (!mine) return fail('not-registered', `hotkey ${signer.hotkey} is not registered on subnet ${netuid}`);
      const { uid, block: lastBlock } = mine;
      const best = await this.bestBlock();
      const next = lastBlock + hp.weightsRateLimit;
      if (lastBlock !== 0 && best.number + 1 < next) {
        return fail('rate-limited', `SettingWeightsTooFast (checked before sending): weights for uid ${uid} were set at block ${lastBlock}; the subnet allows one set_weights per ${hp.weightsRateLimit} blocks, next at block ${next} (now ${best.number})`);
      }
      const vk = versionKey ?? hp.weightsVersionKey;
      return this.submit(signer, () => this.txFn('subtensorModule', 'setWeights')(netuid, norm.uids, norm.weights, vk));
    } catch (err) {
      return fail(err instanceof ChainUnavailableError ? 'disconnected' : 'rejected', (err as Error).message);
    }
  }

  /**
   * Timelocked weight commit (commit-reveal v4: commit_timelocked_weights with the hotkey payload; on
   * runtimes that only have commit_crv3_weights, that call with the legacy payload). The reveal round is
   * derived from the chain's epoch schedule and clock unless `opts.revealRound` is given. See ./commit-reveal.ts.
   */
  commitWeights(signer: Sr25519Signer, netuid: number, uids: number[], weights: number[], opts: CommitOptions = {}): Promise<ChainWriteResult & { commit?: WeightsCommit }> {
    return commitWeights(this, signer, netuid, uids, weights, opts);
  }

  /** set_weights on a plain subnet, a timelocked commit on a commit-reveal subnet (read at the best block). */
  async submitWeights(signer: Sr25519Signer, netuid: number, uids: number[], weights: number[]): Promise<ChainWriteResult & { commit?: WeightsCommit }> {
    let cr: boolean;
    try {
      cr = (await this.hyperparams(netuid)).commitRevealEnabled;
    } catch (err) {
      return fail(err instanceof ChainUnavailableError ? 'disconnected' : 'rejected', (err as Error).message);
    }
    return cr ? this.commitWeights(signer, netuid, uids, weights) : this.setWeights(signer, netuid, uids, weights);
  }

  /** Whether the chain revealed `commit` (events + storage; a failed reveal is silent on chain). See ./commit-reveal.ts. */
  confirmReveal(commit: WeightsCommit): Promise<RevealStatus> {
    return confirmReveal(this, commit);
  }

  /** `hotkey`'s timelocked commit included at `block` (read back from the commit queue), or null. */
  findWeightsCommit(netuid: number, hotkey: string, block: number, uids: number[], weights: number[]): Promise<WeightsCommit | null> {
    return findWeightsCommit(this, netuid, hotkey, block, uids, weights);
  }

  /** serve_axon: announce `ip:port` (IPv4 or IPv6) for the signer's hotkey on `netuid`. */
  async serveAxon(signer: Sr25519Signer, netuid: number, axon: { ip: string; port: number; protocol?: number; version?: number }): Promise<ChainWriteResult> {
    const ip = ipToU128(axon.ip);
    if (!ip) return fail('invalid-input', `"${axon.ip}" is not an IPv4 or IPv6 address`);
    if (!Number.isInteger(axon.port) || axon.port < 1 || axon.port > 65535) return fail('invalid-input', `port ${axon.port} is not in 1..65535`);
    return this.submit(signer, () => this.txFn('subtensorModule', 'serveAxon')(netuid, axon.version ?? 1, ip.value, axon.port, ip.type, axon.protocol ?? 4, 0, 0));
  }

  /** The axon `hotkey` serves on `netuid` (ip, port, block it was served at), or null. */
  async axonOf(netuid: number, hotkey: string, at?: BlockRef): Promise<{ ip: string; port: number; block: number } | null> {
    const { apiAt } = await this.at(at);
    return this.read(async () => {
      const v = await this.storage(apiAt, 'subtensorModule', 'axons')(netuid, hotkey);
      if (v.isNone) return null;
      const a = v.unwrap();
      const ip = ipFromU128(BigInt(a.ip.toString()), Number(a.ipType.toString()));
      return ip ? { ip, port: Number(a.port.toString()), block: Number(a.block.toString()) } : null;
    });
  }

  /** Signs with `signer`, submits, waits for inclusion; maps every failure to a ChainWriteError. See ./submit.ts. */
  async submit(signer: Sr25519Signer, build: () => SubmittableExtrinsic): Promise<ChainWriteResult> {
    try {
      await this.ready();
      return await submitSigned(this.api, this.endpoint, this.opts.inclusionTimeoutMs, signer, build());
    } catch (err) {
      if (err instanceof ChainUnavailableError) return fail('disconnected', (err as Error).message);
      return { ok: false, error: poolError((err as Error).message) };
    }
  }
}

export { normaliseWeights, ipToU128, ipFromU128 } from './encoding.ts';
export { polkadotSigner } from './submit.ts';

function fail(kind: ChainWriteError['kind'], message: string): ChainWriteResult {
  return { ok: false, error: { kind, message } };
}

/** Reconnect delay: 250 ms doubling per failed attempt, capped. */
function backoffMs(attempt: number, maxMs: number): number {
  return Math.min(250 * 2 ** attempt, maxMs);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}
