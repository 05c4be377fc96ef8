// Host and transports: the libp2p 3 node (TCP, noise, yamux, identify, ping, the validators' own
// Kademlia DHT, gossipsub with this mesh's overrides) behind a connection gater, plus the connection
// primitives the other parts share (connected, hangUp, dial, peer routing) and the one-shot timers
// that die with the mesh. Whom to dial is dialer.ts's business; who gets in, membership.ts's.
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { PeerId } from '@libp2p/interface';
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub';
import type { GossipSub } from '@libp2p/gossipsub';
import { GOSSIP_KINDS, topicFor } from './topics.ts';
import type { ResolvedMeshOptions } from './mesh-types.ts';
import { TrafficMeter } from './traffic.ts';
import { colocationTerm, peerScoreParams, SCORE_THRESHOLDS, type Standing } from './scoring.ts';
import { sha256 } from '../../proto/codec.ts';
import { MAX_GOSSIP_ENVELOPE_BYTES } from '../../proto/gossip.ts';

/** The shortest ping timeout (a failed ping is logged by libp2p, it no longer closes the connection: see start()). */
export const PING_TIMEOUT_MIN_MS = 30_000;

export const DHT_PROTOCOL = '/conclave/kad/1.0.0';

export type HostOptions = Pick<ResolvedMeshOptions, 'netuid' | 'nodeKeySeed' | 'listen' | 'dht' | 'heartbeatMs' | 'maxPeers' | 'logger' | 'runIntervalMs'>;

export class Host {
  /** The running libp2p node; null before start() and after stop(). */
  node: Libp2p | null = null;
  pubsub: GossipSub | null = null;
  /** Bytes sent and received over this node's connections. */
  readonly traffic = new TrafficMeter();
  private readonly opts: HostOptions;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(opts: HostOptions) {
    this.opts = opts;
  }

  /**
   * Creates the libp2p node; `isDenied` is the connection gater (banned, refused or blocked peers),
   * `standing` tells peer scoring who is an admitted validator (scoring.ts).
   */
  async start(isDenied: (peer: string) => boolean, standing: (peer: string) => Standing): Promise<Libp2p> {
    const privateKey = await generateKeyPairFromSeed('Ed25519', this.opts.nodeKeySeed);
    const topics = GOSSIP_KINDS.map((k) => topicFor(this.opts.netuid, k));
    const services: Record<string, unknown> = {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        heartbeatInterval: this.opts.heartbeatMs,
        floodPublish: true,
        // Every payload is already a GossipEnvelope signed by the author's node key (checked once, after
        // de-duplication, message-validator.ts). Gossipsub's own signature (StrictSign) signed the same
        // author again and was verified on every received copy before de-duplication: at 64 validators
        // that was the largest single CPU cost of a run (docs/p2p.md, "Scale").
        globalSignaturePolicy: StrictNoSign,
        // Every publisher sends its own messages straight to every subscriber (floodPublish over a
        // full mesh of validators), so mesh forwarding is redundancy for peers the publisher cannot
        // reach; each mesh peer forwards each message once, and these messages are reports of
        // ~20 KB: a smaller mesh than gossipsub's default (D 6, Dhi 12) bounds the copies a node
        // receives (docs/p2p.md, "Traffic"; D 4 → 3 after the 64-validator bench, "Scale").
        D: 3,
        Dlo: 2,
        Dhi: 4,
        Dscore: 1,
        Dout: 1,
        Dlazy: 4,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        allowedTopics: topics,
        maxInboundDataLength: MAX_GOSSIP_ENVELOPE_BYTES,
        msgIdFn: (msg) => sha256(msg.data),
        fallbackToFloodsub: false,
        // peer scoring: see scoring.ts (P4 for invalid messages, P3 on the consensus topic, IP colocation
        // cancelled for validators admitted by stake and on for everyone else)
        scoreParams: peerScoreParams({
          topics: { report: topicFor(this.opts.netuid, 'report'), consensus: topicFor(this.opts.netuid, 'consensus'), binding: topicFor(this.opts.netuid, 'binding') },
          runIntervalMs: this.opts.runIntervalMs,
          standing,
          colocation: (peer) => {
            const score = (this.pubsub as unknown as { score?: { peerIPs?: Map<string, Set<string>> } } | null)?.score;
            return score?.peerIPs ? colocationTerm(peer, score.peerIPs) : 0;
          },
        }) as any,
        scoreThresholds: SCORE_THRESHOLDS,
        doPX: false,
      }),
    };
    // passthroughMapper: keep private/loopback addresses in DHT answers. This DHT is the validators'
    // own (its own protocol id), and validators on one LAN, host or devnet must find each other.
    if (this.opts.dht !== false) services.dht = kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, allowQueryWithZeroPeers: true, peerInfoMapper: passthroughMapper });
    const node = await createLibp2p({
      privateKey,
      ...(this.opts.logger ? { logger: this.opts.logger } : {}),
      addresses: { listen: this.opts.listen ?? ['/ip4/0.0.0.0/tcp/30333'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: (p: PeerId) => isDenied(p.toString()),
        denyInboundEncryptedConnection: (p: PeerId, conn: unknown) => {
          this.traffic.track(conn);
          return isDenied(p.toString());
        },
        denyOutboundEncryptedConnection: (p: PeerId, conn: unknown) => {
          this.traffic.track(conn);
          return isDenied(p.toString());
        },
      },
      // libp2p's inbound limits are per host address: 5 new connections a second and 10 pending
      // upgrades. Validators behind one address (a host, a NAT, a devnet) reconnecting at once were
      // refused at the socket, and their dials backed off. Room for two connections per peer (two
      // validators that dial each other at once hold both until one closes) and a third for the DHT.
      connectionManager: {
        maxConnections: this.opts.maxPeers * 3,
        inboundConnectionThreshold: Math.max(5, Math.ceil(this.opts.maxPeers / 4)),
        maxIncomingPendingConnections: Math.max(10, Math.ceil(this.opts.maxPeers / 2)),
      },
      // libp2p pings every connection every 10 s by default: with 63 validators, six ping streams a
      // second per node, each writing the latency into the peer store (the largest idle cost of a
      // 64-validator mesh); a ping a minute is plenty. A failed ping does not close the connection: on
      // a loaded 64-validator mesh (a node's pings all start together, each a new stream) failed pings
      // closed hundreds of live connections while the mesh formed — with libp2p's 5 s timeout all of them
      // at once, with 30 s still 200-1300 — and without the abort 12 closed (bench/scale, docs/p2p.md). A peer that dies closes its sockets (the kernel does
      // for a killed process); one that vanishes is found when writes to it fail, and gossipsub's P3
      // prunes a mesh peer that delivers nothing.
      connectionMonitor: { pingInterval: 60_000, abortConnectionOnPingFailure: false, pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS, maxTimeout: 2 * PING_TIMEOUT_MIN_MS } },
      services: services as any,
    });
    this.node = node as unknown as Libp2p;
    this.pubsub = (node.services as any).pubsub as GossipSub;
    return this.node;
  }

  /** First half of stopping: no timer fires any more (also those scheduled later). */
  halt(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  /** Second half of stopping: the node goes. */
  async stop(): Promise<void> {
    const node = this.node;
    this.node = null;
    if (node) await node.stop();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Runs `fn` after `ms` unless the mesh stops first. */
  later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref?.();
    this.timers.add(t);
  }

  /** True when the node runs and `peer` is its own peer id. */
  isSelf(peer: string): boolean {
    return this.node !== null && peer === this.node.peerId.toString();
  }

  multiaddrs(): string[] {
    return this.node ? this.node.getMultiaddrs().map((a) => a.toString()) : [];
  }

  connected(peer: string): boolean {
    if (!this.node) return false;
    try {
      return this.node.getConnections(peerIdFromString(peer)).length > 0;
    } catch {
      return false;
    }
  }

  hangUp(peer: string): void {
    if (!this.node) return;
    let id: PeerId;
    try {
      id = peerIdFromString(peer);
    } catch {
      return;
    }
    void this.node.hangUp(id).catch(() => {});
  }

  async dial(addr: string): Promise<void> {
    if (!this.node) throw new Error('mesh not started');
    await this.node.dial(multiaddr(addr), { signal: AbortSignal.timeout(5000) });
  }

  async findPeer(peerId: string, timeoutMs: number): Promise<string[]> {
    if (!this.node) throw new Error('mesh not started');
    if (this.opts.dht === false) throw new Error('findPeer needs the DHT; start the mesh without dht: false');
    const info = await this.node.peerRouting.findPeer(peerIdFromString(peerId), { signal: AbortSignal.timeout(timeoutMs) });
    return info.multiaddrs.map((a) => a.toString());
  }
}
