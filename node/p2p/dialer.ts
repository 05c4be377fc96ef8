// Dialing policy: whom the node connects to, and when. Configured bootstrap multiaddrs, validators'
// axon records from the metagraph (ip:port, the axon port is the p2p port), the multiaddrs inside
// known bindings (re-dialed by the maintenance loop, so a partitioned mesh re-forms) and DHT
// discoveries. One dial attempt in flight per target; denied peers and self are skipped.
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Admission } from './admission.ts';
import type { Host } from './host.ts';
import type { Membership } from './membership.ts';
import type { ResolvedMeshOptions } from './mesh-types.ts';
import type { BindingRecord } from '../../proto/binding.ts';
import { DialBackoff } from './dial-backoff.ts';

/** Dials in flight at once per node: a node that lost its connections reconnects in waves, not all at once. */
export const MAX_DIALS_IN_FLIGHT = 16;
/** A dial (TCP, noise, yamux) that has not completed by then is given up; a loaded peer may take seconds to accept. */
export const DIAL_TIMEOUT_MS = 10_000;

export type DialerOptions = Pick<ResolvedMeshOptions, 'bootstrap' | 'maxPeers' | 'hotkey'>;

export interface DialerComponents {
  host: Host;
  admission: Admission;
  members: Pick<Membership, 'isDenied' | 'admitted'>;
  now?: () => number;
}

export class Dialer {
  private readonly opts: DialerOptions;
  private readonly c: DialerComponents;
  private readonly dialing = new Set<string>();
  /** per-target wait after failed dials (dial-backoff.ts) */
  readonly backoff = new DialBackoff();
  private readonly now: () => number;

  constructor(opts: DialerOptions, components: DialerComponents) {
    this.opts = opts;
    this.c = components;
    this.now = components.now ?? Date.now;
  }

  /** A verified binding arrived (gossip or peer exchange): connect to its peer unless already connected. */
  onBindingLearned(rec: BindingRecord): void {
    if (!this.c.host.node || this.c.host.isSelf(rec.peerId)) return;
    const connected = this.connectedPeers();
    if (!connected.has(rec.peerId)) this.dialBinding(rec, connected.size);
  }

  /** libp2p peer:discovery (DHT): dial while below maxPeers admitted peers. */
  onDiscovery(peer: string): void {
    const node = this.c.host.node;
    if (!node || this.c.members.admitted().size >= this.opts.maxPeers || this.c.members.isDenied(peer) || this.c.host.connected(peer)) return;
    void node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch(() => {});
  }

  /**
   * Maintenance: re-dials every known validator without a connection, the axons of permitted validators
   * whose binding is not known yet (a validator that served its axon after we last looked), and the
   * bootstrap list when nobody is admitted.
   */
  redial(): void {
    // one look at the connections per pass: libp2p's getPeers()/connected(id) parse peer ids on every
    // call, and calling them per candidate took a fifth of a 64-validator mesh's CPU while it formed
    const connected = this.connectedPeers();
    for (const b of this.c.admission.bindings()) {
      if (!this.c.host.isSelf(b.peerId) && !connected.has(b.peerId)) this.dialBinding(b, connected.size);
    }
    if (this.c.members.admitted().size === 0) this.dialBootstrap();
    else this.dialAxons(connected.size);
  }

  /**
   * The distinct peers connected now (not connections: two validators that dial each other at once hold
   * two connections until one closes, and counting those kept a 64-validator mesh short of its last peers).
   */
  private connectedPeers(): Set<string> {
    return new Set((this.c.host.node?.getConnections() ?? []).map((c) => c.remotePeer.toString()));
  }

  private dialAddrs(key: string, addrs: Multiaddr[]): void {
    const node = this.c.host.node;
    if (!node || this.dialing.has(key) || addrs.length === 0) return;
    if (this.dialing.size >= MAX_DIALS_IN_FLIGHT || !this.backoff.may(key, this.now())) return;
    this.dialing.add(key);
    void (async () => {
      for (const a of addrs) {
        try {
          await node.dial(a, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
          this.backoff.succeeded(key);
          return;
        } catch {
          // try the next address
        }
      }
      this.backoff.failed(key, this.now());
    })().finally(() => this.dialing.delete(key));
  }

  private dialBinding(rec: BindingRecord, peers: number): void {
    if (this.c.members.isDenied(rec.peerId) || peers >= this.opts.maxPeers) return;
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

  dialBootstrap(): void {
    for (const a of this.opts.bootstrap ?? []) {
      try {
        const m = multiaddr(a);
        const id = /\/p2p\/([^/]+)/.exec(a)?.[1];
        if (id && (this.c.host.connected(id) || this.c.members.isDenied(id) || this.c.host.isSelf(id))) continue;
        this.dialAddrs(a, [m]);
      } catch (err) {
        process.emitWarning(`conclave mesh: bootstrap address ${a} is not a multiaddr (${(err as Error).message}); fix the config`);
      }
    }
    this.dialAxons();
  }

  /**
   * Dials validators' axon records (ip:port from the metagraph; the axon port is the p2p port) for which no
   * binding is known yet, up to maxPeers connections. The dial carries no peer id: noise authenticates
   * whoever answers and the hello handshake admits it only with a valid binding for a permitted hotkey.
   */
  dialAxons(peers = this.connectedPeers().size): void {
    if (peers >= this.opts.maxPeers) return;
    const bound = new Set(this.c.admission.bindings().map((b) => b.hotkey));
    for (const v of this.c.admission.validatorList()) {
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
}
