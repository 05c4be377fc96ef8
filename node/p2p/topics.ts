// Gossip topics and the glue between gossipsub and message-validator.ts: the per-netuid topic names,
// topic validators and subscriptions, verdict → accept/ignore/reject (plus a strike for invalid
// messages), and exactly-once delivery of accepted reports and consensus messages to the node's
// handlers, whether they came by gossip or by fetch.
import type { PeerId } from '@libp2p/interface';
import type { GossipSub } from '@libp2p/gossipsub';
import type { Admission } from './admission.ts';
import type { ContentStore } from './content-store.ts';
import type { MessageValidator, Verdict } from './message-validator.ts';
import type { Membership } from './membership.ts';
import type { Dialer } from './dialer.ts';
import { safeCall, type DeliveredConsensus, type DeliveredReport } from './mesh-types.ts';
import type { GossipKind } from '../../proto/gossip.ts';

export const GOSSIP_KINDS = ['report', 'consensus', 'binding'] as const;

/**
 * Topic names carry the version of what they carry: version 4 since reports travel compact (envelope
 * v2, proto/reveal-compact.ts; a version-3 node would reject every compact frame as malformed); version 3 since gossipsub frames are unsigned
 * (StrictNoSign: the envelope's node-key signature names the author); version 2 brought reveals (salt +
 * signed report), consensus wire version 2 and v2 bindings (scoped, countersigned). A node of another
 * version subscribes to other topics and never meets this one (a StrictSign peer would reject every
 * unsigned frame, and be rejected: each side's peer score would sink for the other's valid messages).
 */
export function topicFor(netuid: number, kind: GossipKind): string {
  const name = kind === 'report' ? 'reports' : kind === 'consensus' ? 'consensus' : 'bindings';
  return `/conclave/${netuid}/${name}/4`;
}

export interface GossipTopicsComponents {
  netuid: number;
  now: () => number;
  validator: MessageValidator;
  store: ContentStore;
  admission: Admission;
  members: Pick<Membership, 'strike' | 'emit'>;
  dialer: Pick<Dialer, 'onBindingLearned'>;
}

export class GossipTopics {
  private readonly c: GossipTopicsComponents;
  private readonly reportHandlers: Array<(m: DeliveredReport) => void> = [];
  private readonly consensusHandlers: Array<(m: DeliveredConsensus) => void> = [];
  private readonly m = { deliveredReport: 0, deliveredConsensus: 0 };

  constructor(components: GossipTopicsComponents) {
    this.c = components;
  }

  onReport(cb: (m: DeliveredReport) => void): void {
    this.reportHandlers.push(cb);
  }

  onConsensus(cb: (m: DeliveredConsensus) => void): void {
    this.consensusHandlers.push(cb);
  }

  /** Installs a validator on each topic of the netuid and subscribes; `onSubscriptionChange` runs on every change. */
  subscribe(pubsub: GossipSub, onSubscriptionChange: () => void): void {
    for (const kind of GOSSIP_KINDS) {
      const topic = topicFor(this.c.netuid, kind);
      const validate = (source: PeerId, msg: any) => this.validate(kind, source.toString(), msg);
      pubsub.topicValidators.set(topic, validate as any);
      pubsub.subscribe(topic);
    }
    pubsub.addEventListener('subscription-change', () => onSubscriptionChange());
  }

  private validate(kind: GossipKind, source: string, msg: { type: string; data: Uint8Array }): 'accept' | 'ignore' | 'reject' {
    // unsigned frames (StrictNoSign): the envelope's node-key signature names the author
    const v = this.c.validator.check(msg.data, { nowMs: this.c.now(), via: 'gossip', expectKind: kind });
    if (v.action !== 'accept') {
      if (v.proof) this.c.members.emit({ type: 'equivocation', proof: v.proof, detail: v.detail });
      if (!v.strike) return 'ignore';
      // a signature or schema failure: gossipsub's Reject (P4 on the propagation source, scoring.ts)
      // and a strike (ban at strikeLimit). Other refusals are 'ignore': an honest forwarder can relay
      // them (an author whose binding has not reached us yet, a member that just lost its permit).
      this.c.members.strike(source, v.reason, v.detail);
      return 'reject';
    }
    this.deliver(v, this.c.admission.peerOfNodeKey(v.envelope.nodePublicKey) ?? source, 'gossip');
    return 'accept';
  }

  /** Hands an accepted message to the handlers, once per content hash; a binding only feeds the dialer. */
  deliver(v: Extract<Verdict, { action: 'accept' }>, fromPeer: string, via: 'gossip' | 'fetch' | 'direct'): void {
    const env = v.envelope;
    if (env.kind === 'binding') {
      if (v.binding) this.c.dialer.onBindingLearned(v.binding);
      return;
    }
    if (!this.c.validator.markDelivered(v.hash, this.c.now())) return;
    this.c.store.putEnvelope(v.hash, v.bytes, env.runId);
    if (env.kind === 'report' && v.reveal) {
      this.m.deliveredReport++;
      const m: DeliveredReport = { hash: v.hash, reveal: v.reveal, bytes: env.payload, runId: env.runId, fromPeer, via: via === 'direct' ? 'gossip' : via };
      for (const cb of this.reportHandlers) safeCall(() => cb(m));
    } else if (env.kind === 'consensus') {
      this.m.deliveredConsensus++;
      const signerPeer = this.c.admission.peerOfNodeKey(env.nodePublicKey);
      const signerHotkey = signerPeer ? this.c.admission.bindingOf(signerPeer)?.hotkey ?? '' : '';
      const m: DeliveredConsensus = { hash: v.hash, payload: env.payload, runId: env.runId, signerHotkey, signerNodeKey: env.nodePublicKey, fromPeer, via };
      for (const cb of this.consensusHandlers) safeCall(() => cb(m));
    }
  }

  metrics(): { report: number; consensus: number } {
    return { report: this.m.deliveredReport, consensus: this.m.deliveredConsensus };
  }
}
