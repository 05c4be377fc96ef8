// The publish path: local checks on what this node publishes (a report must verify and belong to this
// netuid and an accepted run), envelope signing with the node key, and the outbox. A message waits in
// the outbox until its topic has an admitted subscriber (re-tried on every subscription change and on
// a timer); publish*() resolves when sent or after publishWaitMs with `queued: true`, and the message
// stays queued until publishRetryMs. Sent envelopes are also stored so late peers can fetch them.
//
// "Sent" means gossipsub handed it to at least one admitted member. A publish that reached nobody
// (a subscriber whose outbound stream is not open yet) or only peers that are not members (one being
// hung up on, one whose hello is in flight) is tried again, with the envelope signed anew: gossipsub
// records a message id in its seen-cache on the first publish whatever the recipients, and answers
// every later publish of the same bytes with no recipients. Receivers de-duplicate by content hash,
// so a re-signed envelope of a payload they already hold costs them nothing. Such retries back off
// (RETRY_BASE_MS doubling up to RETRY_MAX_MS: each one may reach non-members again) except when the
// admitted members or the topic's subscribers change (`flush(true)`), which is when a retry can succeed.
import type { ContentStore } from './content-store.ts';
import type { Host } from './host.ts';
import type { Membership } from './membership.ts';
import type { MessageValidator } from './message-validator.ts';
import { topicFor } from './topics.ts';
import type { PublishOutcome, ResolvedMeshOptions } from './mesh-types.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { verifySignedScoreReport } from '../../proto/score-report.ts';
import { decodeReveal } from '../../proto/reveal.ts';
import type { Ed25519Signer } from '../../proto/signer.ts';
import { encodeCompactGossipEnvelope, encodeGossipEnvelope, signGossipEnvelope, type GossipEnvelope, type GossipKind } from '../../proto/gossip.ts';
import { revealRosterHash, type RosterLookup } from '../../proto/reveal-compact.ts';

export type PublisherOptions = Pick<ResolvedMeshOptions, 'netuid' | 'publishWaitMs' | 'publishRetryMs'>;

export interface PublisherComponents {
  now: () => number;
  /** The node key: signs every envelope. */
  signer: Ed25519Signer;
  host: Host;
  validator: MessageValidator;
  store: ContentStore;
  members: Pick<Membership, 'isAdmitted'>;
  /** Rosters this node holds: a report whose roster is here goes out compact (proto/reveal-compact.ts). None: every report goes as signed. */
  rosters?: RosterLookup;
}

interface OutboxItem {
  topic: string;
  kind: GossipKind;
  runId: number;
  payload: Uint8Array;
  /** What goes on the topic: the signed envelope, or for a report whose roster is held its compact form (v2). */
  wire: Uint8Array;
  issuedAt: number;
  /** Publishes that reached no admitted member (gossipsub has seen `data`: the next try signs anew), and the earliest time to try again without a membership change. */
  misses: number;
  retryAt: number;
  hash: string;
  waitUntil: number;
  deadline: number;
  resolve?: (o: PublishOutcome) => void;
}

interface SignedOwn {
  envelope: GossipEnvelope;
  /** The envelope's v1 encoding: what is stored and served. */
  data: Uint8Array;
  hash: string;
  issuedAt: number;
}

/** Backoff of a message whose publish reached no admitted member: 250 ms, doubling, at most 4 s apart. */
export const RETRY_BASE_MS = 250;
export const RETRY_MAX_MS = 4_000;

export class Publisher {
  private readonly opts: PublisherOptions;
  private readonly c: PublisherComponents;
  private readonly outbox: OutboxItem[] = [];
  private flushing = false;
  private changedWhileFlushing = false;
  private readonly m = { published: 0, publishExpired: 0, publishRetried: 0, publishedCompact: 0, publishedBytes: 0 };

  constructor(opts: PublisherOptions, components: PublisherComponents) {
    this.opts = opts;
    this.c = components;
  }

  /** Publishes an encoded Reveal (salt + signed score report; checked locally first). */
  async publishReport(revealBytes: Uint8Array): Promise<PublishOutcome> {
    const signed = decodeReveal(revealBytes).signed;
    const v = verifySignedScoreReport(signed);
    if (!v.ok) throw new Error(`publishReport: refusing to publish an invalid report: ${v.reason}`);
    if (signed.report.netuid !== this.opts.netuid) throw new Error(`publishReport: report is for netuid ${signed.report.netuid}, this mesh is netuid ${this.opts.netuid}`);
    if (!this.c.validator.runAccepted(signed.report.runId)) throw new Error(`publishReport: report is for run ${signed.report.runId}, which peers would ignore (current run ${this.c.validator.runs().current})`);
    return this.publishEnvelope('report', signed.report.runId, revealBytes);
  }

  /** Publishes an opaque consensus message (proto/consensus.ts bytes) for `runId` (default: the current run). */
  async publishConsensus(payload: Uint8Array, runId?: number): Promise<PublishOutcome> {
    return this.publishEnvelope('consensus', this.consensusRun(runId, 'publishConsensus'), payload);
  }

  /** The run a consensus message is for (`runId`, else the current run); refused when peers would ignore it. */
  private consensusRun(runId: number | undefined, caller: string): number {
    const run = runId ?? this.c.validator.runs().current;
    if (run === null) throw new Error(`${caller}: no current run; call setCurrentRun(runId) first or pass runId`);
    if (!this.c.validator.runAccepted(run)) throw new Error(`${caller}: run ${run} is neither the current nor the previous run`);
    return run;
  }

  /** Test/diagnostic hook: publishes raw envelope bytes on a topic without local checks. */
  async publishRaw(kind: GossipKind, data: Uint8Array): Promise<number> {
    const pubsub = this.c.host.pubsub;
    if (!pubsub) throw new Error('mesh not started');
    const r = await pubsub.publish(topicFor(this.opts.netuid, kind), data);
    return r.recipients.length;
  }

  /** Signs an envelope with the node key (for publishRaw and tests). */
  envelope(kind: GossipKind, runId: number, payload: Uint8Array, issuedAt = this.c.now()): Uint8Array {
    return encodeGossipEnvelope(this.sign(kind, runId, payload, issuedAt));
  }

  private sign(kind: GossipKind, runId: number, payload: Uint8Array, issuedAt: number): GossipEnvelope {
    return signGossipEnvelope({ version: 1, kind, netuid: this.opts.netuid, runId, issuedAt, payload }, this.c.signer);
  }

  /**
   * A consensus message for one member: over the direct protocol when `send` gets it there, else on the
   * consensus topic like any other. Either way it is stored (fetchable) and marked as this node's own.
   */
  async sendConsensus(payload: Uint8Array, runId: number | undefined, send: (envelope: Uint8Array) => Promise<boolean>): Promise<PublishOutcome | { direct: true }> {
    const run = this.consensusRun(runId, 'sendConsensus');
    const own = this.signOwn('consensus', run, payload);
    if (await send(own.data)) return { direct: true };
    // the same signed envelope goes on the topic: it is already stored and marked
    this.requirePubsub();
    return this.enqueue('consensus', run, payload, own);
  }

  publishEnvelope(kind: GossipKind, runId: number, payload: Uint8Array): Promise<PublishOutcome> {
    this.requirePubsub();
    return this.enqueue(kind, runId, payload, this.signOwn(kind, runId, payload));
  }

  private requirePubsub(): void {
    if (!this.c.host.pubsub) throw new Error('mesh not started: call start() first');
  }

  /** Signs this node's envelope; a report or consensus message is stored (fetchable) and marked delivered (its own). */
  private signOwn(kind: GossipKind, runId: number, payload: Uint8Array): SignedOwn {
    const issuedAt = this.c.now();
    const envelope = this.sign(kind, runId, payload, issuedAt);
    const data = encodeGossipEnvelope(envelope);
    const hash = sha256Hex(payload);
    if (kind !== 'binding') {
      this.c.store.putEnvelope(hash, data, runId);
      this.c.validator.markDelivered(hash, this.c.now());
    }
    return { envelope, data, hash, issuedAt };
  }

  /** Queues a signed envelope for its topic; resolves once sent, or queued past `publishWaitMs`. */
  private enqueue(kind: GossipKind, runId: number, payload: Uint8Array, own: SignedOwn): Promise<PublishOutcome> {
    const now = this.c.now();
    return new Promise((resolve) => {
      this.outbox.push({
        topic: topicFor(this.opts.netuid, kind), kind, runId, payload, wire: this.wireForm(own.envelope, own.data), issuedAt: own.issuedAt, misses: 0, retryAt: 0, hash: own.hash,
        waitUntil: now + this.opts.publishWaitMs, deadline: now + this.opts.publishRetryMs, resolve,
      });
      this.flush();
    });
  }

  /** The bytes to publish now: the envelope as signed, or signed anew (a later issuedAt) after a miss, since gossipsub has seen those. */
  private bytesToPublish(item: OutboxItem, now: number): Uint8Array {
    if (item.misses > 0) {
      item.issuedAt = Math.max(now, item.issuedAt + 1);
      const envelope = this.sign(item.kind, item.runId, item.payload, item.issuedAt);
      item.wire = this.wireForm(envelope, encodeGossipEnvelope(envelope));
    }
    return item.wire;
  }

  /**
   * A report goes on the topic compacted against its roster when this node holds that roster (every
   * validator of the run read it before evaluating); a receiver without it ignores the frame and
   * fetches the canonical envelope by hash. Anything else goes as signed.
   */
  private wireForm(envelope: GossipEnvelope, signed: Uint8Array): Uint8Array {
    if (envelope.kind !== 'report' || !this.c.rosters) return signed;
    let wire: Uint8Array;
    try {
      const roster = this.c.rosters(revealRosterHash(envelope.payload));
      if (!roster) return signed;
      wire = encodeCompactGossipEnvelope(envelope, roster);
    } catch {
      return signed; // not a well-formed reveal (publishEnvelope takes any payload): peers judge it as signed
    }
    this.m.publishedCompact++;
    return wire;
  }

  /**
   * Sends queued messages to topics that have at least one admitted subscriber. `changed`: the admitted
   * members or a topic's subscribers changed, so messages backing off after a miss are tried now.
   */
  flush(changed = false): void {
    const pubsub = this.c.host.pubsub;
    if (this.flushing) {
      this.changedWhileFlushing ||= changed;
      return;
    }
    if (!pubsub || this.outbox.length === 0) return;
    this.flushing = true;
    const now = this.c.now();
    const ready = new Map<string, boolean>();
    const isReady = (topic: string) => {
      let r = ready.get(topic);
      if (r === undefined) {
        r = pubsub.getSubscribers(topic).some((p) => this.c.members.isAdmitted(p.toString()));
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
    const missed = (item: OutboxItem) => {
      this.m.publishRetried++;
      item.misses++;
      item.retryAt = now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(10, item.misses - 1));
      requeue(item);
    };
    try {
      for (const item of pending) {
        if (now > item.deadline || (!changed && now < item.retryAt) || !isReady(item.topic)) {
          requeue(item);
          continue;
        }
        // gossipsub may know subscribers it holds no outbound stream to (then it sends to nobody), and
        // may still send to peers being hung up on: only an admitted recipient makes it sent
        const bytes = this.bytesToPublish(item, now);
        sends.push(pubsub.publish(item.topic, bytes).then((r) => {
          this.m.publishedBytes += bytes.length * r.recipients.length;
          if (r.recipients.some((p) => this.c.members.isAdmitted(p.toString()))) {
            this.m.published++;
            item.resolve?.({ hash: item.hash, recipients: r.recipients.length, queued: false });
          } else {
            missed(item);
          }
        }, () => missed(item)));
      }
    } finally {
      Promise.allSettled(sends).finally(() => {
        this.flushing = false;
        if (this.changedWhileFlushing) {
          this.changedWhileFlushing = false;
          this.flush(true);
        }
      });
    }
  }

  /** On stop: every waiting publisher learns its message is still queued. */
  drain(): void {
    for (const item of this.outbox.splice(0)) item.resolve?.({ hash: item.hash, recipients: 0, queued: true });
  }

  /** publishRetried: publishes that reached no admitted member, so the message stayed queued; publishedCompact: reports encoded compact (each signing counts). */
  metrics(): { published: number; publishQueued: number; publishExpired: number; publishRetried: number; publishedCompact: number; publishedBytes: number } {
    const { published, publishExpired, publishRetried, publishedCompact, publishedBytes } = this.m;
    return { published, publishQueued: this.outbox.length, publishExpired, publishRetried, publishedCompact, publishedBytes };
  }
}
