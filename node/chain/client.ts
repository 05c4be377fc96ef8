// Subtensor chain client over @polkadot/api: connects by name or URL, reconnects with exponential
// backoff, pins every read to a block hash, reads the metagraph / hyperparameters / commitments / weights /
// epoch schedule, and submits set_commitment, set_weights (or timelocked commits where the subnet has
// commit-reveal: ./commit-reveal.ts) and serve_axon, returning the block or a typed error (never throws for
// a chain-side failure, so a run loop can log and carry on). Beside it: connection.ts (first connect),
// subnet-reads.ts, commitment-reads.ts, metagraph.ts (reads), set-weights.ts, commit-reveal.ts,
// submit.ts (writes); the class keeps the connection state and the public API.
import type { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/promise/types';
import { backoffMs, openChain, type DropHandler } from './connection.ts';
import { ChainSchemaError, ChainUnavailableError, poolError, writeFailure as fail } from './errors.ts';
import { submitSigned } from './submit.ts';
import { readMetagraph } from './metagraph.ts';
import { ipToU128 } from './encoding.ts';
import type { EpochSchedule } from './epoch-schedule.ts';
import { readAxonOf, readDrandBeacon, readEpochSchedule, readHyperparams, readLastWeightsUpdate, readLastWeightsUpdates, readSubnetOwnerHotkey, readWeightsOf, readWeightsOfMany } from './subnet-reads.ts';
import { readCommitments, readMinerRoster, readScoreCommitments } from './commitment-reads.ts';
import { readCanSetWeights, submitSetWeights } from './set-weights.ts';
import type { DrandBeacon } from './timelock/drand.ts';
import { commitWeights, confirmReveal, findWeightsCommit, type CommitOptions } from './commit-reveal.ts';
import { resolveEndpoint } from './endpoints.ts';
import { formatScoreCommitment, rawCommitmentFields } from './commitments.ts';
import type { BlockRef, ChainWriteResult, CommitmentRecord, Hyperparams, Neuron, RevealStatus, RosterEntry, Sr25519Signer, WeightsCommit } from './types.ts';

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

const PALLET_NAMES: Record<string, string> = { subtensorModule: 'SubtensorModule', commitments: 'Commitments', system: 'System', drand: 'Drand', timestamp: 'Timestamp' };

export { ChainSchemaError, ChainUnavailableError } from './errors.ts';

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
    const drops: DropHandler = {};
    const { provider, api } = await openChain(endpoint, opts, drops);
    const client = new SubtensorClient(endpoint, provider, api, opts);
    drops.onDrop = () => client.onDisconnected();
    provider.on('connected', () => {
      if (client.attempt > 0) opts.log(`chain: reconnected to ${endpoint}`);
      client.attempt = 0;
      if (client.downSince !== null) {
        const downMs = Date.now() - client.downSince;
        client.downSince = null;
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

  /** The subnet's hyperparameters at a block. See ./subnet-reads.ts. */
  hyperparams(netuid: number, at?: BlockRef): Promise<Hyperparams> {
    return readHyperparams(this, netuid, at);
  }

  /**
   * The subnet's epoch schedule at one block: stateful (LastEpochBlock, PendingEpochAt, SubnetEpochIndex,
   * BlocksSinceLastStep, Tempo; spec >= 423) where the runtime has those items, else the legacy modulo rule.
   */
  epochSchedule(netuid: number, at?: BlockRef): Promise<EpochSchedule> {
    return readEpochSchedule(this, netuid, at);
  }

  /** The drand beacon the chain decrypts with (Drand.BeaconConfig) and the newest pulse it holds (Drand.LastStoredRound). */
  drandBeacon(at?: BlockRef): Promise<DrandBeacon & { lastStoredRound: number }> {
    return readDrandBeacon(this, at);
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
  commitments(netuid: number, at?: BlockRef): Promise<{ records: CommitmentRecord[]; skipped: { hotkey: string; reason: string }[] }> {
    return readCommitments(this, netuid, at);
  }

  /** Miners' `<sha256>:<url>` commitments joined with the metagraph; malformed or unregistered ones skipped with a reason. */
  minerRoster(netuid: number, at?: BlockRef): Promise<{ entries: RosterEntry[]; skipped: { uid: number; hotkey: string; reason: string }[] }> {
    return readMinerRoster(this, netuid, at);
  }

  /** Validators' `conclave/v2:<runId>:<sha256(salt || report)>` commitments for `runId` in effect at a block (hotkey -> commitment + block). */
  scoreCommitments(netuid: number, runId: number, at?: BlockRef): Promise<Map<string, { hash: string; block: number }>> {
    return readScoreCommitments(this, netuid, runId, at);
  }

  /** The weights `hotkey` last set on `netuid` (u16 values), or null when it is not registered there. */
  weightsOf(netuid: number, hotkey: string, at?: BlockRef): Promise<{ uid: number; weight: number }[] | null> {
    return readWeightsOf(this, netuid, hotkey, at);
  }

  /** The weights each of `hotkeys` set on `netuid`, as of one block, in two multi-reads (unregistered hotkeys absent). */
  weightsOfMany(netuid: number, hotkeys: readonly string[], at?: BlockRef): Promise<Map<string, { uid: number; weight: number }[]>> {
    return readWeightsOfMany(this, netuid, hotkeys, at);
  }

  /** Each of `hotkeys`' uid and last weights block (0 when never) on `netuid`, as of one block (unregistered hotkeys absent). */
  lastWeightsUpdates(netuid: number, hotkeys: readonly string[], at?: BlockRef): Promise<Map<string, { uid: number; block: number }>> {
    return readLastWeightsUpdates(this, netuid, hotkeys, at);
  }

  /** `hotkey`'s uid on `netuid` and the block it last set weights at (0 when never), or null when not registered. */
  lastWeightsUpdate(netuid: number, hotkey: string, at?: BlockRef): Promise<{ uid: number; block: number } | null> {
    return readLastWeightsUpdate(this, netuid, hotkey, at);
  }

  /** The subnet owner's hotkey (SubnetOwnerHotkey), or null when unset or the chain has no such item. */
  subnetOwnerHotkey(netuid: number, at?: BlockRef): Promise<string | null> {
    return readSubnetOwnerHotkey(this, netuid, at);
  }

  /** Whether `hotkey` can set weights on `netuid` (registered, permit, commit-reveal support). See ./set-weights.ts. */
  canSetWeights(netuid: number, hotkey: string): Promise<{ ok: true; uid: number; commitReveal: boolean } | { ok: false; reason: string }> {
    return readCanSetWeights(this, netuid, hotkey);
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

  /** Commits `conclave/v2:<runId>:<commitment>` (commitment = sha256(salt || report)) for the signer's hotkey. */
  async commitScoreHash(signer: Sr25519Signer, netuid: number, runId: number, sha256Hex: string): Promise<ChainWriteResult> {
    let text: string;
    try {
      text = formatScoreCommitment(runId, sha256Hex);
    } catch (err) {
      return fail('invalid-input', (err as Error).message);
    }
    return this.setCommitment(signer, netuid, text);
  }

  /** set_weights, refused locally (nothing sent) on a commit-reveal subnet or before the rate limit passed. See ./set-weights.ts. */
  setWeights(signer: Sr25519Signer, netuid: number, uids: number[], weights: number[], versionKey?: bigint): Promise<ChainWriteResult> {
    return submitSetWeights(this, signer, netuid, uids, weights, versionKey);
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
  axonOf(netuid: number, hotkey: string, at?: BlockRef): Promise<{ ip: string; port: number; block: number } | null> {
    return readAxonOf(this, netuid, hotkey, at);
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

