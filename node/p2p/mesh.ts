// The validator mesh: libp2p 3 (TCP, noise, yamux, identify, ping, kad-dht, gossipsub) plus
// admission by binding record, topic validation, a publish outbox that waits for the mesh, and a
// fetch-by-hash protocol so that late or restarted nodes catch up on the current run.
//
// This file is the composition: `Mesh` builds the parts, wires them to libp2p events and the
// maintenance loop, and is the public API (callers import everything from here). The parts:
//   host.ts        libp2p node, transports, gossipsub/DHT config, connection gater, hang-up, timers
//   dialer.ts      whom to dial: bootstrap, axons, bindings, DHT discoveries
//   membership.ts  admitted ("live") peers, refusals, strikes and bans, blocks, events
//   hello.ts       hello handshake (binding + peer exchange) and our own binding record
//   topics.ts      gossip topics, topic validation glue, exactly-once delivery to handlers
//   publish.ts     local publish checks, envelope signing, the outbox
//   fetch.ts       fetch-by-hash protocol and run catch-up
//   direct.ts      consensus messages for one member, sent to it alone
//   run-bundle.ts  run-bundle protocol (server here, client for auditors)
// The decisions live in admission.ts, message-validator.ts, content-store.ts and rate-limit.ts
// (pure, unit-tested); mesh-types.ts holds the public types and option defaults.
import { Admission, type ValidatorInfo } from './admission.ts';
import { MessageValidator, REJECT_REASONS, type RejectReason } from './message-validator.ts';
import { ContentStore } from './content-store.ts';
import { Host } from './host.ts';
import { Dialer } from './dialer.ts';
import { Membership } from './membership.ts';
import { Hello } from './hello.ts';
import { GossipTopics, topicFor } from './topics.ts';
import { Publisher } from './publish.ts';
import { FetchProtocol } from './fetch.ts';
import { DirectDelivery } from './direct.ts';
import { RunBundleServer, type RunBundleProvider } from './run-bundle.ts';
import type { Standing } from './scoring.ts';
import {
  DEFAULTS, type DeliveredConsensus, type DeliveredReport, type MeshEvent, type MeshMetrics, type MeshOptions,
  type MeshPeer, type PublishOutcome, type ResolvedMeshOptions,
} from './mesh-types.ts';
import { normaliseGenesisHash, type BindingRecord } from '../../proto/binding.ts';
import { ed25519SignerFromSeed } from '../../proto/signer.ts';
import { CompactRosters, compactRosterOf } from '../../proto/reveal-compact.ts';
import type { RosterEntry } from '../../proto/roster.ts';
import type { GossipKind } from '../../proto/gossip.ts';

export { HELLO_PROTOCOL } from './hello.ts';
export { FETCH_PROTOCOL } from './fetch.ts';
export { DHT_PROTOCOL } from './host.ts';
export { RUN_BUNDLE_PROTOCOL } from './run-bundle.ts';
export type { RunBundle, RunBundleProvider } from './run-bundle.ts';
export { topicFor } from './topics.ts';
export type {
  MeshOptions, DeliveredReport, DeliveredConsensus, MeshEvent, PublishOutcome, MeshPeer, MeshMetrics,
} from './mesh-types.ts';

export class Mesh {
  private readonly opts: ResolvedMeshOptions;
  private readonly now: () => number;
  readonly admission: Admission;
  private readonly validator: MessageValidator;
  private readonly store = new ContentStore();
  private readonly rosters = new CompactRosters();
  private readonly host: Host;
  private readonly members: Membership;
  private readonly dialer: Dialer;
  private readonly publisher: Publisher;
  private readonly topics: GossipTopics;
  private readonly fetcher: FetchProtocol;
  private readonly direct: DirectDelivery;
  private readonly bundles: RunBundleServer;
  private readonly hello: Hello;
  private maintainTimer: ReturnType<typeof setInterval> | null = null;
  private outboxTimer: ReturnType<typeof setInterval> | null = null;

  constructor(opts: MeshOptions) {
    if (!Number.isInteger(opts.netuid) || opts.netuid < 0 || opts.netuid > 0xffff) throw new Error(`netuid must be an integer 0..65535, got ${opts.netuid}`);
    if (!(opts.nodeKeySeed instanceof Uint8Array) || opts.nodeKeySeed.length !== 32) throw new Error('nodeKeySeed: expected the 32-byte ed25519 seed of the node key (see node/keys/node-key.ts)');
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...defined } as ResolvedMeshOptions;
    const now = this.now = opts.now ?? Date.now;
    const signer = ed25519SignerFromSeed(opts.nodeKeySeed);
    let genesisHash: string;
    try {
      genesisHash = normaliseGenesisHash(String(opts.genesisHash ?? ''));
    } catch {
      throw new Error(`genesisHash: expected the chain's 32-byte genesis hash (hex, 0x optional), got ${JSON.stringify(opts.genesisHash)}: bindings are scoped to one chain`);
    }
    this.admission = new Admission({ genesisHash, netuid: opts.netuid });
    this.opts.genesisHash = genesisHash;
    const { admission, store } = this;
    const validator = this.validator = new MessageValidator(admission, { netuid: opts.netuid, freshnessMs: opts.freshnessMs, clockSkewMs: opts.clockSkewMs, maxReportsPerAuthorRun: this.opts.maxReportsPerAuthorRun, rosters: (h) => this.rosters.get(h) });
    const host = this.host = new Host(this.opts);
    const members = this.members = new Membership(this.opts, {
      now, host, admission,
      // A newly admitted peer: queued messages may go now, and we catch up on what it has.
      onAdmitted: (peer) => {
        this.publisher.flush(true);
        host.later(0, () => { void this.fetcher.syncWith(peer); });
      },
    });
    const dialer = this.dialer = new Dialer(this.opts, { host, admission, members, now });
    const publisher = this.publisher = new Publisher(this.opts, { now, signer, host, validator, store, members, rosters: (h) => this.rosters.get(h) });
    const topics = this.topics = new GossipTopics({ netuid: this.opts.netuid, now, validator, store, admission, members, dialer });
    this.fetcher = new FetchProtocol(this.opts, { now, host, validator, store, members, topics });
    this.direct = new DirectDelivery(this.opts.fetchTimeoutMs, { now, host, validator, members, topics });
    this.bundles = new RunBundleServer(this.opts, { now, isDenied: (peer) => members.isDenied(peer) });
    this.hello = new Hello(this.opts, { now, signer, host, admission, members, dialer, publisher });
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.host.node) throw new Error('mesh already started');
    const node = await this.host.start((peer) => this.members.isDenied(peer), (peer) => this.standing(peer));
    await this.hello.mount(node);
    await this.fetcher.mount(node);
    await this.direct.mount(node);
    await this.bundles.mount(node);
    node.addEventListener('connection:open', (e) => this.hello.onConnectionOpen(e.detail));
    node.addEventListener('peer:disconnect', (e) => this.members.onPeerDisconnect(e.detail.toString()));
    node.addEventListener('peer:discovery', (e) => this.dialer.onDiscovery(e.detail.id.toString()));
    this.topics.subscribe(this.host.pubsub!, () => this.publisher.flush(true));

    this.hello.signOwnBinding();
    this.maintainTimer = setInterval(() => this.maintain(), this.opts.maintainMs);
    this.maintainTimer.unref?.();
    this.outboxTimer = setInterval(() => this.publisher.flush(), Math.max(100, Math.min(500, this.opts.heartbeatMs)));
    this.outboxTimer.unref?.();
    this.dialer.dialBootstrap();
  }

  /** For peer scoring: admitted by stake, connected and within its admission grace, or neither. */
  private standing(peer: string): Standing {
    if (this.members.isAdmitted(peer)) return 'validator';
    if (!this.members.isDenied(peer) && this.host.connected(peer)) return 'pending';
    return 'other';
  }

  async stop(): Promise<void> {
    this.host.halt();
    if (this.maintainTimer) clearInterval(this.maintainTimer);
    if (this.outboxTimer) clearInterval(this.outboxTimer);
    this.publisher.drain();
    await this.host.stop();
  }

  get peerId(): string {
    if (!this.host.node) throw new Error('mesh not started: call start() first');
    return this.host.node.peerId.toString();
  }

  multiaddrs(): string[] {
    return this.host.multiaddrs();
  }

  binding(): BindingRecord | null {
    return this.hello.binding();
  }

  /** hotkey → ed25519 node public key (hex) of every verified binding known here (own included). */
  bindings(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [hotkey, b] of this.bindingRecords()) out.set(hotkey, b.nodePublicKey);
    return out;
  }

  /** hotkey → the verified binding record itself (own included): what attributes a certificate's votes. */
  bindingRecords(): Map<string, BindingRecord> {
    const out = new Map<string, BindingRecord>();
    for (const b of this.admission.bindings()) out.set(b.hotkey, b);
    const own = this.hello.binding();
    if (own) out.set(own.hotkey, own);
    return out;
  }

  // ---------------------------------------------------------------- consumer API

  onReport(cb: (m: DeliveredReport) => void): void {
    this.topics.onReport(cb);
  }

  onConsensus(cb: (m: DeliveredConsensus) => void): void {
    this.topics.onConsensus(cb);
  }

  onEvent(cb: (e: MeshEvent) => void): void {
    this.members.onEvent(cb);
  }

  /** Replaces the validator set (metagraph rows with permit and enough stake). Peers that lost membership are dropped. */
  setValidatorSet(list: ValidatorInfo[]): void {
    const dropped = this.admission.setValidatorSet(list, this.now());
    this.members.clearRefusals();
    this.hello.admitSelf();
    this.members.dropLeft(dropped);
    if (this.host.node) this.dialer.dialAxons();
  }

  /** The run set by setCurrentRun (null before the first). */
  currentRun(): number | null {
    return this.validator.runs().current;
  }

  /** Peers admitted as validators right now (cheap; metrics() builds a whole snapshot). */
  admittedPeerCount(): number {
    return this.members.admitted().size;
  }

  /** Sets the current run; messages of this run and the previous one are accepted. */
  setCurrentRun(runId: number): void {
    this.validator.setCurrentRun(runId);
    const { current, previous } = this.validator.runs();
    this.store.pruneRuns([current, previous]);
  }

  /**
   * A run's roster, as this node read it: reports that name it travel compact both ways (the miners'
   * keys and code hashes left out, proto/reveal-compact.ts). Call it before publishing or receiving
   * the run's reports; a compact report naming a roster not given here is ignored and fetched by hash.
   */
  knowRoster(entries: readonly RosterEntry[]): void {
    this.rosters.add(compactRosterOf(entries));
  }

  /** True when `knowRoster` was given the roster with this hash (hex). */
  knowsRoster(rosterHash: string): boolean {
    return this.rosters.has(rosterHash);
  }

  /** Publishes an encoded Reveal (salt + signed score report; checked locally first). Only once the commit window closed: the reveal opens the on-chain commitment. */
  async publishReport(revealBytes: Uint8Array): Promise<PublishOutcome> {
    return this.publisher.publishReport(revealBytes);
  }

  /** Publishes an opaque consensus message (proto/consensus.ts bytes) for `runId` (default: the current run). */
  async publishConsensus(payload: Uint8Array, runId?: number): Promise<PublishOutcome> {
    return this.publisher.publishConsensus(payload, runId);
  }

  /**
   * A consensus message for the member whose node key is `nodeKey` (hex): straight to it over the
   * direct protocol (direct.ts) when it is connected and admitted, else on the consensus topic.
   */
  async sendConsensusTo(nodeKey: string, payload: Uint8Array, runId?: number): Promise<PublishOutcome | { direct: true }> {
    const peer = this.admission.peerOfNodeKey(nodeKey);
    return this.publisher.sendConsensus(payload, runId, async (envelope) => (peer ? this.direct.send(peer, envelope) : false));
  }

  /** Test/diagnostic hook: sends raw envelope bytes to `peer` over the direct protocol without local checks. */
  async sendDirectRaw(peer: string, envelope: Uint8Array): Promise<boolean> {
    return this.direct.send(peer, envelope);
  }

  /** Test/diagnostic hook: publishes raw envelope bytes on a topic without local checks. */
  async publishRaw(kind: GossipKind, data: Uint8Array): Promise<number> {
    return this.publisher.publishRaw(kind, data);
  }

  /** Signs an envelope with the node key (for publishRaw and tests). */
  envelope(kind: GossipKind, runId: number, payload: Uint8Array, issuedAt = this.now()): Uint8Array {
    return this.publisher.envelope(kind, runId, payload, issuedAt);
  }

  /** True when this node has published or received content `hash` (sha256 of a gossip payload). */
  holds(hash: string): boolean {
    return this.store.has(hash) || this.validator.isDelivered(hash);
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
    return this.fetcher.fetch(hash, timeoutMs);
  }

  /** Catch-up: asks admitted peers for the inventory of the current and previous run and fetches what is missing. */
  async syncRun(): Promise<number> {
    return this.fetcher.syncRun();
  }

  /**
   * Serves past runs on the run-bundle protocol (read-only, to any peer, rate-limited): the node
   * registers a callback over its archive. Without a provider every request is answered 'unavailable'.
   */
  setRunBundleProvider(provider: RunBundleProvider | null): void {
    this.bundles.setProvider(provider);
  }

  /** Partition tooling: denies connections to/from these peers and hangs up on them. */
  block(peerIds: string[]): void {
    this.members.block(peerIds);
  }

  /** Lifts `block` (all peers when omitted); the maintenance loop reconnects. */
  unblock(peerIds?: string[]): void {
    this.members.unblock(peerIds);
    this.dialer.backoff.clear();
    this.maintain();
  }

  /**
   * Peer routing over the Kademlia DHT (/conclave/kad/1.0.0): the multiaddrs of `peerId` as learned
   * from other nodes' routing tables. Throws when the DHT is off or nobody knows the peer in time.
   */
  async findPeer(peerId: string, timeoutMs = 10_000): Promise<string[]> {
    return this.host.findPeer(peerId, timeoutMs);
  }

  async dial(addr: string): Promise<void> {
    await this.host.dial(addr);
  }

  peers(): MeshPeer[] {
    const node = this.host.node;
    const pubsub = this.host.pubsub;
    const live = this.members.admitted();
    const ids = new Set<string>([...live, ...this.admission.bindings().map((b) => b.peerId)]);
    if (node) for (const p of node.getPeers()) ids.add(p.toString());
    const connected = new Set(node ? node.getPeers().map((p) => p.toString()) : []);
    return [...ids].filter((id) => !node || id !== node.peerId.toString()).map((id) => {
      const b = this.admission.bindingOf(id);
      return {
        peerId: id,
        hotkey: b?.hotkey,
        stake: b ? this.admission.stakeOf(b.hotkey)?.toString() : undefined,
        connected: connected.has(id),
        admitted: live.has(id),
        gossipScore: pubsub ? (pubsub as unknown as { getScore(id: string): number }).getScore(id) : 0,
      };
    });
  }

  /** Peers in this node's gossipsub mesh for a topic (diagnostic: whom full messages are forwarded to). */
  meshPeers(kind: GossipKind): string[] {
    const pubsub = this.host.pubsub;
    return pubsub ? (pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(topicFor(this.opts.netuid, kind)) : [];
  }

  /** Diagnostic: gossipsub's outbound stream per peer (status, write status, buffered bytes); reads gossipsub internals. */
  gossipStreams(): Record<string, unknown>[] {
    const ps = this.host.pubsub as unknown as { streamsOutbound?: Map<string, { rawStream?: Record<string, unknown> }>; topics?: Map<string, Set<string>> } | null;
    if (!ps || !(ps.streamsOutbound instanceof Map)) return [];
    return [...ps.streamsOutbound].map(([peer, s]) => {
      const r = (s.rawStream ?? {}) as Record<string, unknown>;
      return { peer, live: this.members.isAdmitted(peer), status: r.status, writeStatus: r.writeStatus, readStatus: r.readStatus, remoteReadStatus: r.remoteReadStatus, remoteWriteStatus: r.remoteWriteStatus, writeBufferLength: r.writeBufferLength, maxWriteBufferLength: r.maxWriteBufferLength, sendWindow: r.sendWindowCapacity };
    });
  }

  metrics(): MeshMetrics {
    const node = this.host.node;
    const pubsub = this.host.pubsub;
    const live = this.members.admitted();
    const published = this.publisher.metrics();
    const membership = this.members.metrics();
    return {
      peerId: node ? node.peerId.toString() : '',
      connections: node ? node.getConnections().length : 0,
      admittedPeers: live.size,
      reportSubscribers: pubsub ? pubsub.getSubscribers(topicFor(this.opts.netuid, 'report')).filter((p) => live.has(p.toString())).length : 0,
      knownBindings: this.admission.bindings().length,
      accepted: this.validator.accepted,
      rejected: { ...this.validator.counters },
      admissionRefused: membership.admissionRefused,
      published: published.published,
      publishQueued: published.publishQueued,
      publishExpired: published.publishExpired,
      publishRetried: published.publishRetried,
      publishedCompact: published.publishedCompact,
      publishedBytes: published.publishedBytes,
      delivered: this.topics.metrics(),
      fetch: this.fetcher.metrics(),
      direct: this.direct.metrics(),
      runBundle: this.bundles.metrics(),
      disconnectsForMisbehaviour: membership.disconnectsForMisbehaviour,
      storeSize: this.store.size,
      run: this.validator.runs(),
      traffic: this.host.traffic.totals(),
    };
  }

  // ---------------------------------------------------------------- maintenance loop

  private maintain(): void {
    const node = this.host.node;
    if (!node || this.host.isStopped) return;
    const now = this.now();
    this.members.recheck(now);
    this.hello.refresh(now);
    this.dialer.redial();
    this.hello.greetUnadmitted(node);
  }
}

export { REJECT_REASONS };
export type { ValidatorInfo, RejectReason };
