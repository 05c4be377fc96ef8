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

export type DialerOptions = Pick<ResolvedMeshOptions, 'bootstrap' | 'maxPeers' | 'hotkey'>;

export interface DialerComponents {
  host: Host;
  admission: Admission;
  members: Pick<Membership, 'isDenied' | 'admitted'>;
}

export class Dialer {
  private readonly opts: DialerOptions;
  private readonly c: DialerComponents;
  private readonly dialing = new Set<string>();

  constructor(opts: DialerOptions, components: DialerComponents) {
    this.opts = opts;
    this.c = components;
  }

  /** A verified binding arrived (gossip or peer exchange): connect to its peer unless already connected. */
  onBindingLearned(rec: BindingRecord): void {
    if (!this.c.host.node || this.c.host.isSelf(rec.peerId)) return;
    if (!this.c.host.connected(rec.peerId)) this.dialBinding(rec);
  }

  /** libp2p peer:discovery (DHT): dial while below maxPeers admitted peers. */
  onDiscovery(peer: string): void {
    const node = this.c.host.node;
    if (!node || this.c.members.admitted().size >= this.opts.maxPeers || this.c.members.isDenied(peer) || this.c.host.connected(peer)) return;
    void node.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(5000) }).catch(() => {});
  }

  /**
   * Maintenance: re-dials every known validator without a connection, the axons of permitted validators
   * whose binding is not known yet (a validator that served its axon after we last looked), and the
   * bootstrap list when nobody is admitted.
   */
  redial(): void {
    for (const b of this.c.admission.bindings()) {
      if (!this.c.host.isSelf(b.peerId) && !this.c.host.connected(b.peerId)) this.dialBinding(b);
    }
    if (this.c.members.admitted().size === 0) this.dialBootstrap();
    else this.dialAxons();
  }

  private dialAddrs(key: string, addrs: Multiaddr[]): void {
    const node = this.c.host.node;
    if (!node || this.dialing.has(key) || addrs.length === 0) return;
    this.dialing.add(key);
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
    if (this.c.members.isDenied(rec.peerId) || this.c.host.node?.getConnections().length! >= this.opts.maxPeers) return;
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
  dialAxons(): void {
    const bound = new Set(this.c.admission.bindings().map((b) => b.hotkey));
    for (const v of this.c.admission.validatorList()) {
      if ((this.c.host.node?.getConnections().length ?? 0) >= this.opts.maxPeers) return;
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
