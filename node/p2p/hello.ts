// The hello protocol (/conclave/hello/2.0.0) and this node's own binding record. On every outbound
// connection (and, from the maintenance loop, on any open connection not admitted yet) the node sends
// its binding (hotkey-signed, node-key-countersigned, scoped to the chain and netuid); the listener
// checks it (Membership.admitRemote) and answers with its own plus the bindings of validators it
// admitted (peer exchange). A relayed binding goes through the same registry rules
// (consensus/bindings.ts): it never displaces another hotkey's binding of the same node key. The own
// binding is re-signed at half its lifetime and re-announced on the bindings topic every bindingAnnounceMs.
import type { Connection, Stream } from '@libp2p/interface';
import type { Libp2p } from 'libp2p';
import type { Admission } from './admission.ts';
import type { Dialer } from './dialer.ts';
import type { Host } from './host.ts';
import type { Membership } from './membership.ts';
import type { Publisher } from './publish.ts';
import { requestResponse, serveOnce } from './frames.ts';
import type { ResolvedMeshOptions } from './mesh-types.ts';
import { decodeBinding, encodeBinding, signBinding, type BindingRecord } from '../../proto/binding.ts';
import type { Ed25519Signer } from '../../proto/signer.ts';
import { decodeHello, encodeHello, MAX_HELLO_BYTES, MAX_HELLO_KNOWN, type HelloFrame } from '../../proto/gossip.ts';

/** Version 2: bindings v2 (scoped, countersigned); a v1 peer's hello is refused as undecodable. */
export const HELLO_PROTOCOL = '/conclave/hello/2.0.0';

export type HelloOptions = Pick<ResolvedMeshOptions, 'netuid' | 'genesisHash' | 'hotkey' | 'announce' | 'bindingTtlMs' | 'bindingAnnounceMs' | 'fetchTimeoutMs'>;

export interface HelloComponents {
  now: () => number;
  /** The node key: the binding binds it to the hotkey. */
  signer: Ed25519Signer;
  host: Host;
  admission: Admission;
  members: Membership;
  dialer: Pick<Dialer, 'onBindingLearned'>;
  publisher: Pick<Publisher, 'publishEnvelope'>;
}

export class Hello {
  private readonly opts: HelloOptions;
  private readonly c: HelloComponents;
  private ownBinding: BindingRecord | null = null;
  private ownBindingBytes: Uint8Array = new Uint8Array(0);
  private lastAnnounce = 0;
  private readonly inFlight = new Set<string>();

  constructor(opts: HelloOptions, components: HelloComponents) {
    this.opts = opts;
    this.c = components;
  }

  async mount(node: Libp2p): Promise<void> {
    await node.handle(HELLO_PROTOCOL, (stream, conn) => this.serve(stream, conn), { maxInboundStreams: 8 });
  }

  binding(): BindingRecord | null {
    return this.ownBinding;
  }

  signOwnBinding(): void {
    const now = this.c.now();
    const addrs = (this.opts.announce ?? this.c.host.multiaddrs().map((a) => a.replace(/\/p2p\/[^/]+$/, ''))).slice(0, 16);
    this.ownBinding = signBinding({ genesisHash: this.opts.genesisHash, netuid: this.opts.netuid, node: this.c.signer, multiaddrs: addrs, issuedAt: now, expiresAt: now + this.opts.bindingTtlMs }, this.opts.hotkey);
    this.ownBindingBytes = encodeBinding(this.ownBinding);
    this.lastAnnounce = 0;
    this.admitSelf();
  }

  /** Our own binding is in the registry too, so that our envelopes fetched back after a restart verify. */
  admitSelf(): void {
    if (this.ownBinding) this.c.admission.consider(this.ownBinding, this.c.now());
  }

  /** Maintenance: re-signs the own binding past half its lifetime, re-announces it when due. */
  refresh(now: number): void {
    if (this.ownBinding && this.ownBinding.expiresAt - now < this.opts.bindingTtlMs / 2) this.signOwnBinding();
    if (now - this.lastAnnounce >= this.opts.bindingAnnounceMs) this.announceBinding();
  }

  private announceBinding(): void {
    if (!this.c.host.pubsub || !this.ownBinding) return;
    this.lastAnnounce = this.c.now();
    // Bindings are not content-deduplicated: re-announcing refreshes far peers' admission.
    void this.c.publisher.publishEnvelope('binding', 0, this.ownBindingBytes);
  }

  /** libp2p connection:open: hang up on denied peers, greet outbound ones, start the admission grace timer. */
  onConnectionOpen(conn: Connection): void {
    const peer = conn.remotePeer.toString();
    if (this.c.members.isDenied(peer)) {
      this.c.host.hangUp(peer);
      return;
    }
    if (conn.direction === 'outbound' && !this.c.members.isAdmitted(peer)) void this.sayHello(conn);
    this.c.members.watchGrace(peer);
  }

  /** Maintenance: greets every open connection whose peer is neither admitted nor denied. */
  greetUnadmitted(node: Libp2p): void {
    for (const conn of node.getConnections()) {
      const peer = conn.remotePeer.toString();
      if (conn.status === 'open' && !this.c.members.isAdmitted(peer) && !this.c.members.isDenied(peer)) void this.sayHello(conn);
    }
  }

  private frame(status: 'ok' | 'refused', reason: string): Uint8Array {
    const known = this.c.admission.bindings()
      .filter((b) => this.c.members.isAdmitted(b.peerId))
      .slice(0, MAX_HELLO_KNOWN)
      .map((b) => encodeBinding(b));
    const h: HelloFrame = { version: 1, netuid: this.opts.netuid, status, reason, binding: this.ownBindingBytes, known };
    return encodeHello(h);
  }

  private considerKnown(list: Uint8Array[], fromPeer: string): void {
    for (const bytes of list) {
      try {
        const rec = decodeBinding(bytes);
        if (this.c.host.isSelf(rec.peerId)) continue;
        const r = this.c.admission.consider(rec, this.c.now());
        if (r.ok) this.c.dialer.onBindingLearned(rec);
        else if (r.proof) this.c.members.emit({ type: 'equivocation', proof: r.proof, detail: r.detail });
        else if (r.reason !== 'superseded' && r.reason !== 'not-validator') {
          this.c.members.emit({ type: 'binding-refused', fromPeer, hotkey: rec.hotkey, nodeKey: rec.nodePublicKey, reason: `${r.reason}: ${r.detail}` });
        }
      } catch {
        // a bad peer-exchange entry is ignored: the sender vouches for nothing
      }
    }
  }

  private async serve(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, MAX_HELLO_BYTES, MAX_HELLO_BYTES, this.opts.fetchTimeoutMs, (req) => {
      let hello: HelloFrame;
      try {
        hello = decodeHello(req);
      } catch (err) {
        this.c.members.refuse(peer, 'bad-hello', (err as Error).message);
        return encodeHello({ version: 1, netuid: this.opts.netuid, status: 'refused', reason: `bad hello: ${(err as Error).message}`, binding: this.ownBindingBytes, known: [] });
      }
      const r = this.c.members.admitRemote(peer, hello.binding, hello.netuid);
      if (!r.ok) return encodeHello({ version: 1, netuid: this.opts.netuid, status: 'refused', reason: r.reason, binding: this.ownBindingBytes, known: [] });
      this.considerKnown(hello.known, peer);
      return this.frame('ok', '');
    });
  }

  private async sayHello(conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    if (this.inFlight.has(peer)) return;
    this.inFlight.add(peer);
    try {
      const stream = await conn.newStream(HELLO_PROTOCOL, { signal: AbortSignal.timeout(this.opts.fetchTimeoutMs) });
      const res = decodeHello(await requestResponse(stream, this.frame('ok', ''), MAX_HELLO_BYTES, MAX_HELLO_BYTES, this.opts.fetchTimeoutMs, `hello to ${peer}`));
      if (res.status === 'refused') {
        this.c.members.emit({ type: 'refused', peerId: peer, reason: res.reason, by: 'them' });
        return;
      }
      const r = this.c.members.admitRemote(peer, res.binding, res.netuid);
      if (r.ok) this.considerKnown(res.known, peer);
    } catch {
      // no hello: the maintenance loop retries, the admission grace timer decides
    } finally {
      this.inFlight.delete(peer);
    }
  }
}
