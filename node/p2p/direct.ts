// Direct delivery (/conclave/direct/1.0.0): a consensus message meant for one member (a vote to the
// view's collector, an inventory, a report request and its answer) goes over a stream to that member
// instead of to every node on the consensus topic. On gossip each such message reached all n nodes,
// each of which verified and forwarded it: at 64 members, most of a run's messages and CPU went to
// messages that only one node needed (docs/p2p.md, "Scale").
//
// One signed GossipEnvelope per stream, answered with one status byte. The receiver applies the
// gossip rules to it (message-validator.ts with the sender as author: the envelope must be signed by
// the node key bound to the peer that opened the stream, fresh, of this netuid and an accepted run,
// within the consensus rate), strikes the sender for an invalid one, and delivers it exactly once
// like a gossiped message. The sender falls back to the consensus topic when the peer is not
// connected and admitted, or the stream fails or is refused.
import type { Connection, Stream } from '@libp2p/interface';
import type { Libp2p } from 'libp2p';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Host } from './host.ts';
import type { Membership } from './membership.ts';
import type { MessageValidator } from './message-validator.ts';
import type { GossipTopics } from './topics.ts';
import { requestResponse, serveOnce } from './frames.ts';
import { MAX_GOSSIP_ENVELOPE_BYTES } from '../../proto/gossip.ts';

export const DIRECT_PROTOCOL = '/conclave/direct/1.0.0';

/** The receiver's answer: the message was accepted (or already held), or refused (the sender falls back to gossip). */
export const DIRECT_ACCEPTED = 0;
export const DIRECT_REFUSED = 1;

export interface DirectComponents {
  now: () => number;
  host: Host;
  validator: MessageValidator;
  members: Pick<Membership, 'isAdmitted' | 'strike'>;
  topics: Pick<GossipTopics, 'deliver'>;
}

export class DirectDelivery {
  private readonly c: DirectComponents;
  private readonly timeoutMs: number;
  private readonly m = { sent: 0, received: 0, refused: 0, failed: 0, sentBytes: 0, receivedBytes: 0 };

  constructor(timeoutMs: number, components: DirectComponents) {
    this.timeoutMs = timeoutMs;
    this.c = components;
  }

  async mount(node: Libp2p): Promise<void> {
    await node.handle(DIRECT_PROTOCOL, (stream, conn) => this.serve(stream, conn), { maxInboundStreams: 64 });
  }

  /** Sends a signed consensus envelope to `peer`; false when it did not get there (not admitted, no connection, refused, failed). */
  async send(peer: string, envelope: Uint8Array): Promise<boolean> {
    const node = this.c.host.node;
    if (!node || !this.c.members.isAdmitted(peer) || !this.c.host.connected(peer)) return false;
    try {
      const stream = await node.dialProtocol(peerIdFromString(peer), DIRECT_PROTOCOL, { signal: AbortSignal.timeout(this.timeoutMs) });
      const answer = await requestResponse(stream, envelope, MAX_GOSSIP_ENVELOPE_BYTES, 1, this.timeoutMs, `direct send to ${peer}`);
      if (answer[0] !== DIRECT_ACCEPTED) {
        this.m.refused++;
        return false;
      }
      this.m.sent++;
      this.m.sentBytes += envelope.length;
      return true;
    } catch {
      this.m.failed++;
      return false;
    }
  }

  metrics(): { sent: number; received: number; refused: number; failed: number; sentBytes: number; receivedBytes: number } {
    return { ...this.m };
  }

  private async serve(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, MAX_GOSSIP_ENVELOPE_BYTES, 1, this.timeoutMs, (bytes) => {
      if (!this.c.members.isAdmitted(peer)) return Uint8Array.of(DIRECT_REFUSED);
      const v = this.c.validator.check(bytes, { nowMs: this.c.now(), via: 'gossip', author: peer, expectKind: 'consensus' });
      if (v.action !== 'accept') {
        if (v.strike) this.c.members.strike(peer, v.reason, v.detail);
        // a copy of what this node already holds arrived: nothing to fall back for
        return Uint8Array.of(v.reason === 'duplicate' ? DIRECT_ACCEPTED : DIRECT_REFUSED);
      }
      this.m.received++;
      this.m.receivedBytes += bytes.length;
      this.c.topics.deliver(v, peer, 'direct');
      return Uint8Array.of(DIRECT_ACCEPTED);
    });
  }
}
