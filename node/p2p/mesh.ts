// The validator mesh: libp2p 3 (TCP, noise, yamux, identify, ping, kad-dht, gossipsub) plus
// admission by binding record, topic validation, a publish outbox that waits for the mesh, and a
// fetch-by-hash protocol so that late or restarted nodes catch up on the current run.
//
// Thin I/O shell: the decisions live in admission.ts, message-validator.ts, content-store.ts and
// rate-limit.ts (pure, unit-tested); this file wires them to libp2p events.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { gossipsub } from '@libp2p/gossipsub';
import type { GossipSub } from '@libp2p/gossipsub';
import { Admission, type ValidatorInfo } from './admission.ts';
import { MessageValidator, REJECT_REASONS, type RejectReason, type Verdict } from './message-validator.ts';
import { ContentStore } from './content-store.ts';
import { PeerRateLimiter } from './rate-limit.ts';
import { requestResponse, serveOnce } from './frames.ts';
import { sha256, sha256Hex } from '../../proto/codec.ts';
import { decodeBinding, encodeBinding, signBinding, type BindingRecord } from '../../proto/binding.ts';
import { decodeSignedScoreReport, verifySignedScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { ed25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import {
  decodeFetchRequest, decodeFetchResponse, decodeGossipEnvelope, decodeHello, encodeFetchRequest, encodeFetchResponse,
  encodeGossipEnvelope, encodeHello, signGossipEnvelope, MAX_FETCH_HASHES, MAX_FETCH_REQUEST_BYTES,
  MAX_FETCH_RESPONSE_BYTES, MAX_GOSSIP_ENVELOPE_BYTES, MAX_HELLO_BYTES, MAX_HELLO_KNOWN, MAX_INVENTORY,
  RUN_BUNDLE_REQUEST_BYTES, decodeRunBundleRequest, encodeRunBundleResponse, runBundlePage,
  type RunBundleResponse, type FetchItem, type FetchRequest, type FetchResponse, type GossipKind, type HelloFrame,
} from '../../proto/gossip.ts';

export const HELLO_PROTOCOL = '/conclave/hello/1.0.0';
export const FETCH_PROTOCOL = '/conclave/fetch/1.0.0';
export const DHT_PROTOCOL = '/conclave/kad/1.0.0';
/** Read-only, open to any authenticated peer (auditors are outsiders); see proto/gossip.ts "Run bundle". */
export const RUN_BUNDLE_PROTOCOL = '/conclave/run-bundle/1.0.0';

/** What a node serves for a past run: encoded SignedScoreReports and the encoded commit certificate. */
export interface RunBundle {
  reports: Uint8Array[];
  certificate?: Uint8Array | null;
}
/** Registered by the node (from its archive); null/undefined when the run is unknown. */
export type RunBundleProvider = (runId: number) => Promise<RunBundle | null | undefined>;

export function topicFor(netuid: number, kind: GossipKind): string {
  const name = kind === 'report' ? 'reports' : kind === 'consensus' ? 'consensus' : 'bindings';
  return `/conclave/${netuid}/${name}/1`;
}

export interface MeshOptions {
  netuid: number;
  /** The validator's hotkey: signs the binding record. */
  hotkey: Sr25519Signer;
  /** 32-byte ed25519 seed of the node key (libp2p identity, signs envelopes). */
  nodeKeySeed: Uint8Array;
  /** Listen multiaddrs (default /ip4/0.0.0.0/tcp/30333). */
  listen?: string[];
  /** Addresses put into the binding record (default: the actual listen addresses). */
  announce?: string[];
  /** Configured bootstrap multiaddrs (with or without /p2p/<id>). */
  bootstrap?: string[];
  /** Kademlia DHT under /conclave/kad/1.0.0 (default on). */
  dht?: boolean;
  /** gossipsub heartbeat (default 700 ms). */
  heartbeatMs?: number;
  /** Reconnect / binding-refresh loop period (default 5 s). */
  maintainMs?: number;
  /** A connected peer that has not presented a qualifying binding by then is disconnected (default 10 s). */
  admissionGraceMs?: number;
  /** Refused (non-validator) peers are not accepted again for this long, unless the validator set changes (default 60 s). */
  refuseBanMs?: number;
  /** Invalid messages (strikes) within `strikeWindowMs` before a peer is disconnected and banned (default 5). */
  strikeLimit?: number;
  strikeWindowMs?: number;
  /** Ban of a misbehaving peer (default 10 min). */
  banMs?: number;
  /** Gossip freshness window (default 10 min) and tolerated clock skew (default 30 s). */
  freshnessMs?: number;
  clockSkewMs?: number;
  /** publish*() resolves once sent, or after this long with `queued: true` (default 5 s). */
  publishWaitMs?: number;
  /** An unsent message stays queued this long before it is dropped (default 2 min; late peers fetch it). */
  publishRetryMs?: number;
  /** Binding lifetime (default 24 h) and the re-announce period on the bindings topic (default 60 s). */
  bindingTtlMs?: number;
  bindingAnnounceMs?: number;
  /** Fetch protocol: per-request timeout (default 5 s), per-peer rate limit (burst, per second). */
  fetchTimeoutMs?: number;
  fetchBurst?: number;
  fetchPerSecond?: number;
  /** Run-bundle protocol: per-peer rate limit (burst, per second), and across all peers (outsiders can mint peer ids). */
  bundleBurst?: number;
  bundlePerSecond?: number;
  bundleGlobalBurst?: number;
  bundleGlobalPerSecond?: number;
  /** Largest run-bundle response frame (default MAX_FETCH_RESPONSE_BYTES, 16 MiB); bigger bundles are paged. */
  bundlePageBytes?: number;
  /** Stop dialing known validators above this many connections (default 64). */
  maxPeers?: number;
  /** Clock (tests). */
  now?: () => number;
}

export interface DeliveredReport {
  hash: string;
  signed: SignedScoreReport;
  /** Encoded SignedScoreReport. */
  bytes: Uint8Array;
  runId: number;
  /** Peer that authored (gossip) or served (fetch) the message. */
  fromPeer: string;
  via: 'gossip' | 'fetch';
}

export interface DeliveredConsensus {
  hash: string;
  payload: Uint8Array;
  runId: number;
  /** Hotkey bound to the node key that signed the envelope. */
  signerHotkey: string;
  /** The signer's ed25519 node key (hex), as in the envelope the mesh verified. */
  signerNodeKey: string;
  fromPeer: string;
  via: 'gossip' | 'fetch';
}

export type MeshEvent =
  | { type: 'admitted'; peerId: string; hotkey: string }
  | { type: 'refused'; peerId: string; reason: string; by: 'us' | 'them' }
  | { type: 'dropped'; peerId: string; reason: string }
  | { type: 'banned'; peerId: string; reason: string; untilMs: number };

export interface PublishOutcome {
  hash: string;
  /** Peers the message was sent to directly (0 while still queued). */
  recipients: number;
  /** True when no admitted subscriber was reachable within publishWaitMs; it stays queued until publishRetryMs. */
  queued: boolean;
}

export interface MeshPeer {
  peerId: string;
  hotkey?: string;
  stake?: string;
  connected: boolean;
  admitted: boolean;
  gossipScore: number;
}

export interface MeshMetrics {
  peerId: string;
  connections: number;
  admittedPeers: number;
  /** Admitted peers subscribed to this netuid's report topic: who a report published now would reach directly. */
  reportSubscribers: number;
  knownBindings: number;
  accepted: number;
  rejected: Record<RejectReason, number>;
  admissionRefused: Record<string, number>;
  published: number;
  publishQueued: number;
  publishExpired: number;
  delivered: { report: number; consensus: number };
  fetch: { served: number; rateLimited: number; requests: number; failures: number; itemsFetched: number };
  runBundle: { served: number; notFound: number; rateLimited: number; failed: number };
  disconnectsForMisbehaviour: number;
  storeSize: number;
  run: { current: number | null; previous: number | null };
}

interface OutboxItem {
  topic: string;
  data: Uint8Array;
  hash: string;
  waitUntil: number;
  deadline: number;
  resolve?: (o: PublishOutcome) => void;
}

const DEFAULTS = {
  heartbeatMs: 700,
  maintainMs: 5000,
  admissionGraceMs: 10_000,
  refuseBanMs: 60_000,
  strikeLimit: 5,
  strikeWindowMs: 60_000,
  banMs: 10 * 60_000,
  publishWaitMs: 5000,
  publishRetryMs: 2 * 60_000,
  bindingTtlMs: 24 * 3600_000,
  bindingAnnounceMs: 60_000,
  fetchTimeoutMs: 5000,
  fetchBurst: 20,
  fetchPerSecond: 5,
  bundleBurst: 8,
  bundlePerSecond: 1,
  bundleGlobalBurst: 32,
  bundleGlobalPerSecond: 8,
  bundlePageBytes: MAX_FETCH_RESPONSE_BYTES,
  maxPeers: 64,
};

export class Mesh {
  private readonly opts: MeshOptions & typeof DEFAULTS;
  private readonly now: () => number;
  private readonly signer: Ed25519Signer;
  readonly admission = new Admission();
  private readonly validator: MessageValidator;
  private readonly store = new ContentStore();
  private readonly limiter: PeerRateLimiter;
  private readonly bundleLimiter: PeerRateLimiter;
  private readonly bundleGlobalLimiter: PeerRateLimiter;
  private bundleProvider: RunBundleProvider | null = null;
  private bundlesInFlight = 0;
  private node: Libp2p | null = null;
  private pubsub: GossipSub | null = null;
  private ownBinding: BindingRecord | null = null;
  private ownBindingBytes: Uint8Array = new Uint8Array(0);
  private readonly live = new Set<string>();
  private readonly refused = new Map<string, number>();
  private readonly banned = new Map<string, number>();
  private readonly blocked = new Set<string>();
  private readonly strikes = new Map<string, { count: number; since: number }>();
  private readonly dialing = new Set<string>();
  private readonly outbox: OutboxItem[] = [];
  private readonly reportHandlers: Array<(m: DeliveredReport) => void> = [];
  private readonly consensusHandlers: Array<(m: DeliveredConsensus) => void> = [];
  private readonly eventHandlers: Array<(e: MeshEvent) => void> = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private maintainTimer: ReturnType<typeof setInterval> | null = null;
  private outboxTimer: ReturnType<typeof setInterval> | null = null;
  private lastAnnounce = 0;
  private stopped = false;
  private readonly m = {
    published: 0, publishExpired: 0, deliveredReport: 0, deliveredConsensus: 0,
    served: 0, rateLimited: 0, requests: 0, failures: 0, itemsFetched: 0, misbehaviour: 0,
    bundleServed: 0, bundleNotFound: 0, bundleRateLimited: 0, bundleFailed: 0,
    admissionRefused: {} as Record<string, number>,
  };

  constructor(opts: MeshOptions) {
    if (!Number.isInteger(opts.netuid) || opts.netuid < 0 || opts.netuid > 0xffff) throw new Error(`netuid must be an integer 0..65535, got ${opts.netuid}`);
    if (!(opts.nodeKeySeed instanceof Uint8Array) || opts.nodeKeySeed.length !== 32) throw new Error('nodeKeySeed: expected the 32-byte ed25519 seed of the node key (see node/keys/node-key.ts)');
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...defined } as MeshOptions & typeof DEFAULTS;
    this.now = opts.now ?? Date.now;
    this.signer = ed25519SignerFromSeed(opts.nodeKeySeed);
    this.validator = new MessageValidator(this.admission, { netuid: opts.netuid, freshnessMs: opts.freshnessMs, clockSkewMs: opts.clockSkewMs });
    this.limiter = new PeerRateLimiter(this.opts.fetchBurst, this.opts.fetchPerSecond);
    this.bundleLimiter = new PeerRateLimiter(this.opts.bundleBurst, this.opts.bundlePerSecond);
    this.bundleGlobalLimiter = new PeerRateLimiter(this.opts.bundleGlobalBurst, this.opts.bundleGlobalPerSecond);
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.node) throw new Error('mesh already started');
    const privateKey = await generateKeyPairFromSeed('Ed25519', this.opts.nodeKeySeed);
    const topics = (['report', 'consensus', 'binding'] as const).map((k) => topicFor(this.opts.netuid, k));
    const services: Record<string, unknown> = {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        heartbeatInterval: this.opts.heartbeatMs,
        floodPublish: true,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        allowedTopics: topics,
        maxInboundDataLength: MAX_GOSSIP_ENVELOPE_BYTES,
        msgIdFn: (msg) => sha256(msg.data),
        fallbackToFloodsub: false,
        // Membership is decided by admission (stake-bound bindings), not by IP: the default IP-colocation
        // penalty (-5 x (peers on one IP - 10)^2) pushes every peer below the publish and graylist
        // thresholds once more than 10 validators share an address (one host, a NAT, a devnet), and
        // gossip silently stops. Invalid messages still cost score (and strikes, see strike()).
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    };
    // passthroughMapper: keep private/loopback addresses in DHT answers. This DHT is the validators'
    // own (its own protocol id), and validators on one LAN, host or devnet must find each other.
    if (this.opts.dht !== false) services.dht = kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, allowQueryWithZeroPeers: true, peerInfoMapper: passthroughMapper });
    const node = await createLibp2p({
      privateKey,
      addresses: { listen: this.opts.listen ?? ['/ip4/0.0.0.0/tcp/30333'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: (p: PeerId) => this.isDenied(p.toString()),
        denyInboundEncryptedConnection: (p: PeerId) => this.isDenied(p.toString()),
        denyOutboundEncryptedConnection: (p: PeerId) => this.isDenied(p.toString()),
      },
      connectionManager: { maxConnections: this.opts.maxPeers * 2 },
      services: services as any,
    });
    this.node = node as unknown as Libp2p;
    this.pubsub = (node.services as any).pubsub as GossipSub;

    await node.handle(HELLO_PROTOCOL, (stream, conn) => this.serveHello(stream, conn), { maxInboundStreams: 8 });
    await node.handle(FETCH_PROTOCOL, (stream, conn) => this.serveFetch(stream, conn), { maxInboundStreams: 8 });
    await node.handle(RUN_BUNDLE_PROTOCOL, (stream, conn) => this.serveRunBundle(stream, conn), { maxInboundStreams: 2 });
    node.addEventListener('connection:open', (e) => this.onConnectionOpen(e.detail));
    node.addEventListener('peer:disconnect', (e) => this.onPeerDisconnect(e.detail.toString()));
    node.addEventListener('peer:discovery', (e) => this.onDiscovery(e.detail.id.toString()));

    for (const kind of ['report', 'consensus', 'binding'] as const) {
      const topic = topicFor(this.opts.netuid, kind);
      const validate = (source: PeerId, msg: any) => this.validateGossip(kind, source.toString(), msg);
      this.pubsub.topicValidators.set(topic, validate as any);
      this.pubsub.subscribe(topic);
    }
    this.pubsub.addEventListener('subscription-change', () => this.flushOutbox());

    this.signOwnBinding();
    this.maintainTimer = setInterval(() => this.maintain(), this.opts.maintainMs);
    this.maintainTimer.unref?.();
    this.outboxTimer = setInterval(() => this.flushOutbox(), Math.max(100, Math.min(500, this.opts.heartbeatMs)));
    this.outboxTimer.unref?.();
    this.dialBootstrap();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.maintainTimer) clearInterval(this.maintainTimer);
    if (this.outboxTimer) clearInterval(this.outboxTimer);
    for (const t of this.timers) clearTimeout(t);
    for (const item of this.outbox.splice(0)) item.resolve?.({ hash: item.hash, recipients: 0, queued: true });
    const node = this.node;
    this.node = null;
    if (node) await node.stop();
  }

  get peerId(): string {
    if (!this.node) throw new Error('mesh not started: call start() first');
    return this.node.peerId.toString();
  }

  multiaddrs(): string[] {
    return this.node ? this.node.getMultiaddrs().map((a) => a.toString()) : [];
  }

  binding(): BindingRecord | null {
    return this.ownBinding;
  }

  /** hotkey → ed25519 node public key (hex) of every verified binding known here (own included). */
  bindings(): Map<string, string> {
    const out = new Map<string, string>();
    for (const b of this.admission.bindings()) out.set(b.hotkey, b.nodePublicKey);
    if (this.ownBinding) out.set(this.ownBinding.hotkey, this.ownBinding.nodePublicKey);
    return out;
  }

  // ---------------------------------------------------------------- consumer API

  onReport(cb: (m: DeliveredReport) => void): void {
    this.reportHandlers.push(cb);
  }

  onConsensus(cb: (m: DeliveredConsensus) => void): void {
    this.consensusHandlers.push(cb);
  }

  onEvent(cb: (e: MeshEvent) => void): void {
    this.eventHandlers.push(cb);
  }

  /** Replaces the validator set (metagraph rows with permit and enough stake). Peers that lost membership are dropped. */
  setValidatorSet(list: ValidatorInfo[]): void {
    const dropped = this.admission.setValidatorSet(list, this.now());
    this.refused.clear();
    this.admitSelf();
    for (const p of dropped) {
      if (this.node && p === this.node.peerId.toString()) continue;
      this.live.delete(p);
      this.emit({ type: 'dropped', peerId: p, reason: 'its hotkey left the validator set (or its binding expired)' });
      this.hangUp(p);
    }
    if (this.node) this.dialAxons();
  }

  /** The run set by setCurrentRun (null before the first). */
  currentRun(): number | null {
    return this.validator.runs().current;
  }

  /** Peers admitted as validators right now (cheap; metrics() builds a whole snapshot). */
  admittedPeerCount(): number {
    return this.live.size;
  }

  /** Sets the current run; messages of this run and the previous one are accepted. */
  setCurrentRun(runId: number): void {
    this.validator.setCurrentRun(runId);
    const { current, previous } = this.validator.runs();
    this.store.pruneRuns([current, previous]);
  }

  /** Publishes an encoded SignedScoreReport (checked locally first). */
  async publishReport(signedReportBytes: Uint8Array): Promise<PublishOutcome> {
    const signed = decodeSignedScoreReport(signedReportBytes);
    const v = verifySignedScoreReport(signed);
    if (!v.ok) throw new Error(`publishReport: refusing to publish an invalid report: ${v.reason}`);
    if (signed.report.netuid !== this.opts.netuid) throw new Error(`publishReport: report is for netuid ${signed.report.netuid}, this mesh is netuid ${this.opts.netuid}`);
    if (!this.validator.runAccepted(signed.report.runId)) throw new Error(`publishReport: report is for run ${signed.report.runId}, which peers would ignore (current run ${this.validator.runs().current})`);
    return this.publishEnvelope('report', signed.report.runId, signedReportBytes);
  }

  /** Publishes an opaque consensus message (proto/consensus.ts bytes) for `runId` (default: the current run). */
  async publishConsensus(payload: Uint8Array, runId?: number): Promise<PublishOutcome> {
    const run = runId ?? this.validator.runs().current;
    if (run === null) throw new Error('publishConsensus: no current run; call setCurrentRun(runId) first or pass runId');
    if (!this.validator.runAccepted(run)) throw new Error(`publishConsensus: run ${run} is neither the current nor the previous run`);
    return this.publishEnvelope('consensus', run, payload);
  }

  /** Test/diagnostic hook: publishes raw envelope bytes on a topic without local checks. */
  async publishRaw(kind: GossipKind, data: Uint8Array): Promise<number> {
    if (!this.pubsub) throw new Error('mesh not started');
    const r = await this.pubsub.publish(topicFor(this.opts.netuid, kind), data);
    return r.recipients.length;
  }

  /** Signs an envelope with the node key (for publishRaw and tests). */
  envelope(kind: GossipKind, runId: number, payload: Uint8Array, issuedAt = this.now()): Uint8Array {
    return encodeGossipEnvelope(signGossipEnvelope({ version: 1, kind, netuid: this.opts.netuid, runId, issuedAt, payload }, this.signer));
  }

  /** Serves `bytes` under `hash` (= sha256(bytes)) over the fetch protocol. */
  provide(hash: string, bytes: Uint8Array): void {
    this.store.putBlob(hash, bytes);
  }

  /**
   * Fetches content by hash from admitted peers: a report/consensus payload (validated like gossip,
   * without the freshness window) or a provided blob (checked against its sha256). Null when no peer has it.
   */
  async fetch(hash: string, timeoutMs = this.opts.fetchTimeoutMs): Promise<Uint8Array | null> {
    const local = this.store.get(hash);
    if (local) return local.kind === 'blob' ? local.bytes : decodeGossipEnvelope(local.bytes).payload;
    for (const peer of this.shuffled([...this.live])) {
      const res = await this.request(peer, { version: 1, op: 'get', netuid: this.opts.netuid, runId: 0, hashes: [hash] }, timeoutMs);
      const item = res?.items[0];
      if (!item) continue;
      if (item.kind === 'blob') {
        try {
          this.store.putBlob(hash, item.bytes); // checks the bytes against the hash
        } catch {
          this.strike(peer, 'decode', 'served a blob whose sha256 does not match');
          continue;
        }
        return item.bytes;
      }
      const payload = this.acceptFetched(item.bytes, peer, hash, false);
      if (payload) return payload;
    }
    return null;
  }

  /** Catch-up: asks admitted peers for the inventory of the current and previous run and fetches what is missing. */
  async syncRun(): Promise<number> {
    let got = 0;
    for (const peer of [...this.live]) got += await this.syncWith(peer);
    return got;
  }

  /**
   * Serves past runs on the run-bundle protocol (read-only, to any peer, rate-limited): the node
   * registers a callback over its archive. Without a provider every request is answered 'unavailable'.
   */
  setRunBundleProvider(provider: RunBundleProvider | null): void {
    this.bundleProvider = provider;
  }

  /** Partition tooling: denies connections to/from these peers and hangs up on them. */
  block(peerIds: string[]): void {
    for (const p of peerIds) {
      this.blocked.add(p);
      if (this.live.delete(p)) this.emit({ type: 'dropped', peerId: p, reason: 'blocked' });
      this.hangUp(p);
    }
  }

  /** Lifts `block` (all peers when omitted); the maintenance loop reconnects. */
  unblock(peerIds?: string[]): void {
    if (!peerIds) this.blocked.clear();
    else for (const p of peerIds) this.blocked.delete(p);
    this.maintain();
  }

  /**
   * Peer routing over the Kademlia DHT (/conclave/kad/1.0.0): the multiaddrs of `peerId` as learned
   * from other nodes' routing tables. Throws when the DHT is off or nobody knows the peer in time.
   */
  async findPeer(peerId: string, timeoutMs = 10_000): Promise<string[]> {
    if (!this.node) throw new Error('mesh not started');
    if (this.opts.dht === false) throw new Error('findPeer needs the DHT; start the mesh without dht: false');
    const info = await this.node.peerRouting.findPeer(peerIdFromString(peerId), { signal: AbortSignal.timeout(timeoutMs) });
    return info.multiaddrs.map((a) => a.toString());
  }

  async dial(addr: string): Promise<void> {
    if (!this.node) throw new Error('mesh not started');
    await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) });
  }

  peers(): MeshPeer[] {
    const ids = new Set<string>([...this.live, ...this.admission.bindings().map((b) => b.peerId)]);
    if (this.node) for (const p of this.node.getPeers()) ids.add(p.toString());
    const connected = new Set(this.node ? this.node.getPeers().map((p) => p.toString()) : []);
    return [...ids].filter((id) => !this.node || id !== this.node.peerId.toString()).map((id) => {
      const b = this.admission.bindingOf(id);
      return {
        peerId: id,
        hotkey: b?.hotkey,
        stake: b ? this.admission.stakeOf(b.hotkey)?.toString() : undefined,
        connected: connected.has(id),
        admitted: this.live.has(id),
        gossipScore: this.pubsub ? (this.pubsub as unknown as { getScore(id: string): number }).getScore(id) : 0,
      };
    });
  }

  /** Diagnostic: gossipsub's outbound stream per peer (status, write status, buffered bytes); reads gossipsub internals. */
  gossipStreams(): Record<string, unknown>[] {
    const ps = this.pubsub as unknown as { streamsOutbound?: Map<string, { rawStream?: Record<string, unknown> }>; topics?: Map<string, Set<string>> } | null;
    if (!ps || !(ps.streamsOutbound instanceof Map)) return [];
    return [...ps.streamsOutbound].map(([peer, s]) => {
      const r = (s.rawStream ?? {}) as Record<string, unknown>;
      return { peer, live: this.live.has(peer), status: r.status, writeStatus: r.writeStatus, readStatus: r.readStatus, remoteReadStatus: r.remoteReadStatus, remoteWriteStatus: r.remoteWriteStatus, writeBufferLength: r.writeBufferLength, maxWriteBufferLength: r.maxWriteBufferLength, sendWindow: r.sendWindowCapacity };
    });
  }

  metrics(): MeshMetrics {
    return {
      peerId: this.node ? this.node.peerId.toString() : '',
      connections: this.node ? this.node.getConnections().length : 0,
      admittedPeers: this.live.size,
      reportSubscribers: this.pubsub ? this.pubsub.getSubscribers(topicFor(this.opts.netuid, 'report')).filter((p) => this.live.has(p.toString())).length : 0,
      knownBindings: this.admission.bindings().length,
      accepted: this.validator.accepted,
      rejected: { ...this.validator.counters },
      admissionRefused: { ...this.m.admissionRefused },
      published: this.m.published,
      publishQueued: this.outbox.length,
      publishExpired: this.m.publishExpired,
      delivered: { report: this.m.deliveredReport, consensus: this.m.deliveredConsensus },
      fetch: { served: this.m.served, rateLimited: this.m.rateLimited, requests: this.m.requests, failures: this.m.failures, itemsFetched: this.m.itemsFetched },
      runBundle: { served: this.m.bundleServed, notFound: this.m.bundleNotFound, rateLimited: this.m.bundleRateLimited, failed: this.m.bundleFailed },
      disconnectsForMisbehaviour: this.m.misbehaviour,
      storeSize: this.store.size,
      run: this.validator.runs(),
    };
  }

  // ---------------------------------------------------------------- publishing

  private publishEnvelope(kind: GossipKind, runId: number, payload: Uint8Array): Promise<PublishOutcome> {
    if (!this.pubsub) throw new Error('mesh not started: call start() first');
    const data = this.envelope(kind, runId, payload);
    const hash = sha256Hex(payload);
    if (kind !== 'binding') {
      this.store.putEnvelope(hash, data, runId);
      this.validator.markDelivered(hash, this.now());
    }
    const now = this.now();
    return new Promise((resolve) => {
      this.outbox.push({ topic: topicFor(this.opts.netuid, kind), data, hash, waitUntil: now + this.opts.publishWaitMs, deadline: now + this.opts.publishRetryMs, resolve });
      this.flushOutbox();
    });
  }

  private flushing = false;

  /** Sends queued messages to topics that have at least one admitted subscriber. */
  private flushOutbox(): void {
    if (this.flushing || !this.pubsub || this.outbox.length === 0) return;
    this.flushing = true;
    const now = this.now();
    const pubsub = this.pubsub;
    const ready = new Map<string, boolean>();
    const isReady = (topic: string) => {
      let r = ready.get(topic);
      if (r === undefined) {
        r = pubsub.getSubscribers(topic).some((p) => this.live.has(p.toString()));
        ready.set(topic, r);
      }
      return r;
    };
    const pending = this.outbox.splice(0);
    const sends: Promise<void>[] = [];
    // Not sent this round: expire it, or tell a waiting publisher it is queued, and keep it.
    const requeue = (item: OutboxItem) => {
      if (now > item.deadline) {
        this.m.publishExpired++;
        item.resolve?.({ hash: item.hash, recipients: 0, queued: true });
        return;
      }
      if (item.resolve && now >= item.waitUntil) {
        item.resolve({ hash: item.hash, recipients: 0, queued: true });
        item.resolve = undefined;
      }
      this.outbox.push(item);
    };
    try {
      for (const item of pending) {
        if (!isReady(item.topic)) {
          requeue(item);
          continue;
        }
        // gossipsub may know subscribers it holds no outbound stream to: then it sends to nobody
        sends.push(pubsub.publish(item.topic, item.data).then((r) => {
          if (r.recipients.length > 0) {
            this.m.published++;
            item.resolve?.({ hash: item.hash, recipients: r.recipients.length, queued: false });
          } else {
            requeue(item);
          }
        }, () => requeue(item)));
      }
    } finally {
      Promise.allSettled(sends).finally(() => { this.flushing = false; });
    }
  }

  // ---------------------------------------------------------------- gossip validation + delivery

  private validateGossip(kind: GossipKind, source: string, msg: { type: string; from?: PeerId; data: Uint8Array }): 'accept' | 'ignore' | 'reject' {
    const author = msg.type === 'signed' && msg.from ? msg.from.toString() : undefined;
    const v = this.validator.check(msg.data, { nowMs: this.now(), via: 'gossip', author, expectKind: kind });
    if (v.action !== 'accept') {
      if (v.strike) this.strike(source, v.reason, v.detail);
      return v.action;
    }
    this.deliver(v, author ?? source, 'gossip', msg.data);
    return 'accept';
  }

  private deliver(v: Extract<Verdict, { action: 'accept' }>, fromPeer: string, via: 'gossip' | 'fetch', envelopeBytes: Uint8Array): void {
    const env = v.envelope;
    if (env.kind === 'binding') {
      if (v.binding) this.onBindingLearned(v.binding);
      return;
    }
    if (!this.validator.markDelivered(v.hash, this.now())) return;
    this.store.putEnvelope(v.hash, envelopeBytes, env.runId);
    if (env.kind === 'report' && v.report) {
      this.m.deliveredReport++;
      const m: DeliveredReport = { hash: v.hash, signed: v.report, bytes: env.payload, runId: env.runId, fromPeer, via };
      for (const cb of this.reportHandlers) this.safeCall(() => cb(m));
    } else if (env.kind === 'consensus') {
      this.m.deliveredConsensus++;
      const signerPeer = this.admission.peerOfNodeKey(env.nodePublicKey);
      const signerHotkey = signerPeer ? this.admission.bindingOf(signerPeer)?.hotkey ?? '' : '';
      const m: DeliveredConsensus = { hash: v.hash, payload: env.payload, runId: env.runId, signerHotkey, signerNodeKey: env.nodePublicKey, fromPeer, via };
      for (const cb of this.consensusHandlers) this.safeCall(() => cb(m));
    }
  }

  private safeCall(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      process.emitWarning(`conclave mesh: a message handler threw: ${(err as Error).message}`);
    }
  }

  private emit(e: MeshEvent): void {
    for (const cb of this.eventHandlers) this.safeCall(() => cb(e));
  }

  private strike(peer: string, reason: RejectReason | string, detail: string): void {
    const now = this.now();
    let s = this.strikes.get(peer);
    if (!s || now - s.since > this.opts.strikeWindowMs) {
      s = { count: 0, since: now };
      this.strikes.set(peer, s);
    }
    s.count++;
    if (s.count >= this.opts.strikeLimit) {
      this.strikes.delete(peer);
      this.m.misbehaviour++;
      const until = now + this.opts.banMs;
      this.banned.set(peer, until);
      this.live.delete(peer);
      this.emit({ type: 'banned', peerId: peer, reason: `${s.count} invalid messages within ${this.opts.strikeWindowMs} ms (last: ${reason}: ${detail})`, untilMs: until });
      this.hangUp(peer);
    }
  }

  // ---------------------------------------------------------------- admission

  private signOwnBinding(): void {
    const now = this.now();
    const addrs = (this.opts.announce ?? this.multiaddrs().map((a) => a.replace(/\/p2p\/[^/]+$/, ''))).slice(0, 16);
    this.ownBinding = signBinding({ nodePublicKey: this.signer.publicKey, multiaddrs: addrs, issuedAt: now, expiresAt: now + this.opts.bindingTtlMs }, this.opts.hotkey);
    this.ownBindingBytes = encodeBinding(this.ownBinding);
    this.lastAnnounce = 0;
    this.admitSelf();
  }

  /** Our own binding is in the registry too, so that our envelopes fetched back after a restart verify. */
  private admitSelf(): void {
    if (this.ownBinding) this.admission.consider(this.ownBinding, this.now());
  }

  private announceBinding(): void {
    if (!this.pubsub || !this.ownBinding) return;
    this.lastAnnounce = this.now();
    // Bindings are not content-deduplicated: re-announcing refreshes far peers' admission.
    void this.publishEnvelope('binding', 0, this.ownBindingBytes);
  }

  private isDenied(peer: string): boolean {
    if (this.blocked.has(peer)) return true;
    const now = this.now();
    const b = this.banned.get(peer);
    if (b !== undefined) {
      if (b > now) return true;
      this.banned.delete(peer);
    }
    const r = this.refused.get(peer);
    if (r !== undefined) {
      if (r > now) return true;
      this.refused.delete(peer);
    }
    return false;
  }

  private helloFrame(status: 'ok' | 'refused', reason: string): Uint8Array {
    const known = this.admission.bindings()
      .filter((b) => this.live.has(b.peerId))
      .slice(0, MAX_HELLO_KNOWN)
      .map((b) => encodeBinding(b));
    const h: HelloFrame = { version: 1, netuid: this.opts.netuid, status, reason, binding: this.ownBindingBytes, known };
    return encodeHello(h);
  }

  /** Checks the binding a connected peer presented; admits or refuses it. */
  private admitRemote(peer: string, bindingBytes: Uint8Array, netuid: number): { ok: boolean; reason: string } {
    if (netuid !== this.opts.netuid) return this.refuse(peer, 'wrong-netuid', `peer is on netuid ${netuid}, this mesh is netuid ${this.opts.netuid}`);
    if (bindingBytes.length === 0) return this.refuse(peer, 'no-binding', 'peer presented no binding record');
    let record: BindingRecord;
    try {
      record = decodeBinding(bindingBytes);
    } catch (err) {
      return this.refuse(peer, 'bad-binding', (err as Error).message);
    }
    const r = this.admission.consider(record, this.now(), peer);
    if (!r.ok) return this.refuse(peer, r.reason, r.detail);
    if (!this.live.has(peer)) {
      this.live.add(peer);
      this.emit({ type: 'admitted', peerId: peer, hotkey: record.hotkey });
      this.flushOutbox();
      this.later(0, () => { void this.syncWith(peer); });
    }
    return { ok: true, reason: '' };
  }

  private refuse(peer: string, reason: string, detail: string): { ok: false; reason: string } {
    this.m.admissionRefused[reason] = (this.m.admissionRefused[reason] ?? 0) + 1;
    this.refused.set(peer, this.now() + this.opts.refuseBanMs);
    this.live.delete(peer);
    this.emit({ type: 'refused', peerId: peer, reason: `${reason}: ${detail}`, by: 'us' });
    // Let the refusal frame reach the peer before the connection goes.
    this.later(200, () => this.hangUp(peer));
    return { ok: false, reason: `${reason}: ${detail}` };
  }

  private considerKnown(list: Uint8Array[]): void {
    for (const bytes of list) {
      try {
        const rec = decodeBinding(bytes);
        if (this.node && rec.peerId === this.node.peerId.toString()) continue;
        const r = this.admission.consider(rec, this.now());
        if (r.ok) this.onBindingLearned(rec);
      } catch {
        // a bad peer-exchange entry is ignored: the sender vouches for nothing
      }
    }
  }

  private onBindingLearned(rec: BindingRecord): void {
    if (!this.node || rec.peerId === this.node.peerId.toString()) return;
    if (!this.connected(rec.peerId)) this.dialBinding(rec);
  }

  private async serveHello(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, MAX_HELLO_BYTES, MAX_HELLO_BYTES, this.opts.fetchTimeoutMs, (req) => {
      let hello: HelloFrame;
      try {
        hello = decodeHello(req);
      } catch (err) {
        this.refuse(peer, 'bad-hello', (err as Error).message);
        return encodeHello({ version: 1, netuid: this.opts.netuid, status: 'refused', reason: `bad hello: ${(err as Error).message}`, binding: this.ownBindingBytes, known: [] });
      }
      const r = this.admitRemote(peer, hello.binding, hello.netuid);
      if (!r.ok) return encodeHello({ version: 1, netuid: this.opts.netuid, status: 'refused', reason: r.reason, binding: this.ownBindingBytes, known: [] });
      this.considerKnown(hello.known);
      return this.helloFrame('ok', '');
    });
  }

  private readonly helloInFlight = new Set<string>();

  private async sayHello(conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    if (this.helloInFlight.has(peer)) return;
    this.helloInFlight.add(peer);
    try {
      const stream = await conn.newStream(HELLO_PROTOCOL, { signal: AbortSignal.timeout(this.opts.fetchTimeoutMs) });
      const res = decodeHello(await requestResponse(stream, this.helloFrame('ok', ''), MAX_HELLO_BYTES, MAX_HELLO_BYTES, this.opts.fetchTimeoutMs, `hello to ${peer}`));
      if (res.status === 'refused') {
        this.emit({ type: 'refused', peerId: peer, reason: res.reason, by: 'them' });
        return;
      }
      const r = this.admitRemote(peer, res.binding, res.netuid);
      if (r.ok) this.considerKnown(res.known);
    } catch {
      // no hello: the maintenance loop retries, the admission grace timer decides
    } finally {
      this.helloInFlight.delete(peer);
    }
  }

  private onConnectionOpen(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    if (this.isDenied(peer)) {
      this.hangUp(peer);
      return;
    }
    if (conn.direction === 'outbound' && !this.live.has(peer)) void this.sayHello(conn);
    this.later(this.opts.admissionGraceMs, () => {
      if (!this.connected(peer) || this.live.has(peer)) return;
      // Not a refusal (no ban): a slow honest peer may simply not have finished the hello yet.
      this.m.admissionRefused['grace-expired'] = (this.m.admissionRefused['grace-expired'] ?? 0) + 1;
      this.emit({ type: 'dropped', peerId: peer, reason: `no qualifying binding within ${this.opts.admissionGraceMs} ms` });
      this.hangUp(peer);
    });
  }

  private onPeerDisconnect(peer: string): void {
    if (this.live.delete(peer)) this.emit({ type: 'dropped', peerId: peer, reason: 'disconnected' });
  }

  private onDiscovery(peer: string): void {
    if (!this.node || this.live.size >= this.opts.maxPeers || this.isDenied(peer) || this.connected(peer)) return;
    void this.node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(5000) }).catch(() => {});
  }

  // ---------------------------------------------------------------- connectivity

  private connected(peer: string): boolean {
    if (!this.node) return false;
    try {
      return this.node.getConnections(peerIdFromString(peer)).length > 0;
    } catch {
      return false;
    }
  }

  private hangUp(peer: string): void {
    if (!this.node) return;
    let id: PeerId;
    try {
      id = peerIdFromString(peer);
    } catch {
      return;
    }
    void this.node.hangUp(id).catch(() => {});
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  private dialAddrs(key: string, addrs: Multiaddr[]): void {
    if (!this.node || this.dialing.has(key) || addrs.length === 0) return;
    this.dialing.add(key);
    const node = this.node;
    void (async () => {
      for (const a of addrs) {
        try {
          await node.dial(a, { signal: AbortSignal.timeout(5000) });
          return;
        } catch {
          // try the next address
        }
      }
    })().finally(() => this.dialing.delete(key));
  }

  private dialBinding(rec: BindingRecord): void {
    if (this.isDenied(rec.peerId) || this.node?.getConnections().length! >= this.opts.maxPeers) return;
    const addrs: Multiaddr[] = [];
    for (const a of rec.multiaddrs) {
      try {
        const m = multiaddr(a);
        addrs.push(a.includes('/p2p/') ? m : m.encapsulate(`/p2p/${rec.peerId}`));
      } catch {
        // unparsable address in someone's binding: skip it
      }
    }
    this.dialAddrs(rec.peerId, addrs);
  }

  private dialBootstrap(): void {
    for (const a of this.opts.bootstrap ?? []) {
      try {
        const m = multiaddr(a);
        const id = /\/p2p\/([^/]+)/.exec(a)?.[1];
        if (id && (this.connected(id) || this.isDenied(id) || id === this.node?.peerId.toString())) continue;
        this.dialAddrs(a, [m]);
      } catch (err) {
        process.emitWarning(`conclave mesh: bootstrap address ${a} is not a multiaddr (${(err as Error).message}); fix the config`);
      }
    }
    this.dialAxons();
  }

  /** Dials validators' axon records (ip:port from the metagraph) for which no binding is known yet. */
  private dialAxons(): void {
    const bound = new Set(this.admission.bindings().map((b) => b.hotkey));
    for (const v of this.admission.validatorList()) {
      if (!v.axon || bound.has(v.hotkey) || v.hotkey === this.opts.hotkey.hotkey) continue;
      const { ip, port } = v.axon;
      if (!Number.isInteger(port) || port <= 0 || port > 65535 || !ip || ip === '0.0.0.0') continue;
      const proto = ip.includes(':') ? 'ip6' : 'ip4';
      try {
        this.dialAddrs(`axon:${v.hotkey}`, [multiaddr(`/${proto}/${ip}/tcp/${port}`)]);
      } catch {
        // malformed axon ip: skip
      }
    }
  }

  private maintain(): void {
    if (!this.node || this.stopped) return;
    const now = this.now();
    for (const p of this.admission.recheck(now)) {
      if (this.live.delete(p)) this.emit({ type: 'dropped', peerId: p, reason: 'binding expired' });
      this.hangUp(p);
    }
    // A live peer without a connection (a missed peer:disconnect, e.g. a hang-up racing a re-dial) would
    // never be greeted again on reconnect: forget it, the next connection re-admits it.
    for (const p of [...this.live]) {
      if (!this.connected(p)) {
        this.live.delete(p);
        this.emit({ type: 'dropped', peerId: p, reason: 'disconnected' });
      }
    }
    if (this.ownBinding && this.ownBinding.expiresAt - now < this.opts.bindingTtlMs / 2) this.signOwnBinding();
    if (now - this.lastAnnounce >= this.opts.bindingAnnounceMs) this.announceBinding();
    for (const b of this.admission.bindings()) {
      if (b.peerId !== this.node.peerId.toString() && !this.connected(b.peerId)) this.dialBinding(b);
    }
    if (this.live.size === 0) this.dialBootstrap();
    for (const conn of this.node.getConnections()) {
      const peer = conn.remotePeer.toString();
      if (conn.status === 'open' && !this.live.has(peer) && !this.isDenied(peer)) void this.sayHello(conn);
    }
  }

  // ---------------------------------------------------------------- run-bundle protocol

  private async serveRunBundle(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, RUN_BUNDLE_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, this.opts.fetchTimeoutMs * 2, async (bytes) => {
      const reply = (status: RunBundleResponse['status'], message: string) =>
        encodeRunBundleResponse({ version: 1, status, message, total: 0, offset: 0, reports: [], certificate: new Uint8Array(0) });
      const now = this.now();
      if (this.isDenied(peer)) return reply('unavailable', 'this peer is banned or blocked here');
      if (!this.bundleLimiter.take(peer, now)) {
        this.m.bundleRateLimited++;
        return reply('rate-limited', `more than ${this.opts.bundlePerSecond} run-bundle requests/s from this peer; back off and retry`);
      }
      if (!this.bundleGlobalLimiter.take('*', now) || this.bundlesInFlight >= 4) {
        this.m.bundleRateLimited++;
        return reply('rate-limited', 'this node is serving too many run-bundle requests; retry in a few seconds');
      }
      let req;
      try {
        req = decodeRunBundleRequest(bytes);
      } catch (err) {
        return reply('bad-request', (err as Error).message);
      }
      if (req.netuid !== this.opts.netuid) return reply('bad-request', `this node serves netuid ${this.opts.netuid}, not ${req.netuid}`);
      const provider = this.bundleProvider;
      if (!provider) return reply('unavailable', 'this node keeps no run archive (no run-bundle provider registered)');
      this.bundlesInFlight++;
      try {
        const bundle = await provider(req.runId);
        if (!bundle || (bundle.reports.length === 0 && !bundle.certificate?.length)) {
          this.m.bundleNotFound++;
          return reply('not-found', `run ${req.runId} is not in this node's archive`);
        }
        this.m.bundleServed++;
        return encodeRunBundleResponse(runBundlePage(bundle.reports, bundle.certificate ?? null, req.offset, this.opts.bundlePageBytes));
      } catch (err) {
        this.m.bundleFailed++;
        return reply('unavailable', `archive read failed: ${(err as Error).message}`.slice(0, 200));
      } finally {
        this.bundlesInFlight--;
      }
    });
  }

  // ---------------------------------------------------------------- fetch protocol

  private async serveFetch(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, this.opts.fetchTimeoutMs, (bytes) => {
      const reply = (status: FetchResponse['status'], message: string, hashes: string[] = [], items: FetchItem[] = []) =>
        encodeFetchResponse({ version: 1, status, message, hashes, items });
      if (!this.live.has(peer)) return reply('unavailable', 'not admitted: present a binding of a validator hotkey first (hello protocol)');
      if (!this.limiter.take(peer, this.now())) {
        this.m.rateLimited++;
        return reply('rate-limited', `more than ${this.opts.fetchPerSecond} requests/s; back off`);
      }
      let req: FetchRequest;
      try {
        req = decodeFetchRequest(bytes);
      } catch (err) {
        return reply('bad-request', (err as Error).message);
      }
      if (req.netuid !== this.opts.netuid) return reply('bad-request', `this node serves netuid ${this.opts.netuid}`);
      this.m.served++;
      if (req.op === 'inventory') return reply('ok', '', this.store.inventory(req.runId, MAX_INVENTORY));
      const items: FetchItem[] = [];
      let size = 64;
      for (const h of req.hashes) {
        const it = this.store.get(h);
        if (!it) continue;
        if (size + it.bytes.length + 8 > MAX_FETCH_RESPONSE_BYTES) break;
        size += it.bytes.length + 8;
        items.push(it);
      }
      return reply('ok', '', [], items);
    });
  }

  private async request(peer: string, req: FetchRequest, timeoutMs = this.opts.fetchTimeoutMs): Promise<FetchResponse | null> {
    if (!this.node) return null;
    this.m.requests++;
    try {
      const stream = await this.node.dialProtocol(peerIdFromString(peer), FETCH_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
      const res = decodeFetchResponse(await requestResponse(stream, encodeFetchRequest(req), MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, timeoutMs, `fetch from ${peer}`));
      if (res.status !== 'ok') {
        this.m.failures++;
        return null;
      }
      return res;
    } catch {
      this.m.failures++;
      return null;
    }
  }

  /** Validates a fetched envelope; on success stores it and returns its payload. `deliverIt` runs the handlers. */
  private acceptFetched(bytes: Uint8Array, peer: string, expectHash: string | null, deliverIt: boolean): Uint8Array | null {
    const v = this.validator.check(bytes, { nowMs: this.now(), via: 'fetch' });
    if (v.action !== 'accept') {
      if (v.strike) this.strike(peer, v.reason, v.detail);
      return null;
    }
    if (expectHash !== null && v.hash !== expectHash) {
      this.strike(peer, 'decode', `served content ${v.hash} for requested ${expectHash}`);
      return null;
    }
    this.m.itemsFetched++;
    if (deliverIt) this.deliver(v, peer, 'fetch', bytes);
    else {
      this.validator.markDelivered(v.hash, this.now());
      this.store.putEnvelope(v.hash, bytes, v.envelope.runId);
    }
    return v.envelope.payload;
  }

  private async syncWith(peer: string): Promise<number> {
    const { current, previous } = this.validator.runs();
    let got = 0;
    for (const run of [current, previous]) {
      if (run === null || !this.live.has(peer)) continue;
      const inv = await this.request(peer, { version: 1, op: 'inventory', netuid: this.opts.netuid, runId: run, hashes: [] });
      if (!inv) continue;
      const missing = inv.hashes.filter((h) => !this.validator.isDelivered(h) && !this.store.has(h));
      for (let i = 0; i < missing.length; i += MAX_FETCH_HASHES) {
        const chunk = missing.slice(i, i + MAX_FETCH_HASHES);
        const res = await this.request(peer, { version: 1, op: 'get', netuid: this.opts.netuid, runId: run, hashes: chunk });
        if (!res) break;
        for (const it of res.items) {
          if (it.kind !== 'envelope') continue;
          if (this.acceptFetched(it.bytes, peer, null, true)) got++;
        }
      }
    }
    return got;
  }

  private shuffled<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

export { REJECT_REASONS };
export type { ValidatorInfo, RejectReason };
