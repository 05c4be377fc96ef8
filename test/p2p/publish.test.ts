// node/p2p/publish.ts, the outbox, against a pubsub that keeps gossipsub's publish contract
// (@libp2p/gossipsub publish(): the message id goes into the seen-cache before any peer is tried, a
// later publish of the same bytes returns no recipients, a subscriber without an open outbound stream
// is dropped from the recipients). A message is sent only when an admitted member got it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Publisher, RETRY_BASE_MS, RETRY_MAX_MS, type PublisherComponents } from '../../node/p2p/publish.ts';
import { cryptoReady, ed25519SignerFromSeed } from '../../proto/signer.ts';
import { decodeGossipEnvelope, verifyGossipEnvelope, type GossipEnvelope } from '../../proto/gossip.ts';
import { topicFor } from '../../node/p2p/topics.ts';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub';

const NETUID = 7;
const RUN = 40;

/** Gossipsub's publish as far as the outbox can tell: seen-cache first, then the peers with an open stream. */
class GossipsubLike {
  readonly subscribers = new Set<string>();
  readonly streams = new Set<string>();
  readonly seen = new Set<string>();
  readonly delivered = new Map<string, Uint8Array[]>();
  publishes = 0;

  getSubscribers(_topic: string): Array<{ toString(): string }> {
    return [...this.subscribers].map((p) => ({ toString: () => p }));
  }

  readonly topics: string[] = [];

  async publish(topic: string, data: Uint8Array): Promise<{ recipients: Array<{ toString(): string }> }> {
    this.topics.push(topic);
    this.publishes++;
    const id = createHash('sha256').update(data).digest('hex');
    if (this.seen.has(id)) return { recipients: [] }; // ignoreDuplicatePublishError
    this.seen.add(id);
    const to = [...this.subscribers].filter((p) => this.streams.has(p));
    for (const p of to) this.delivered.set(p, [...(this.delivered.get(p) ?? []), data]);
    return { recipients: to.map((p) => ({ toString: () => p })) };
  }
}

const settle = () => new Promise((r) => setImmediate(r));

describe('publish outbox (node/p2p/publish.ts)', function () {
  this.timeout(10_000);
  let pubsub: GossipsubLike;
  let admitted: Set<string>;
  let clock: number;
  let publisher: Publisher;
  const stored = new Map<string, Uint8Array>();
  let signerKey = '';

  beforeEach(async () => {
    await cryptoReady();
    pubsub = new GossipsubLike();
    admitted = new Set();
    clock = 1_800_000_000_000;
    stored.clear();
    const signer = ed25519SignerFromSeed(randomBytes(32));
    signerKey = Buffer.from(signer.publicKey).toString('hex');
    const components = {
      now: () => clock,
      signer,
      host: { pubsub },
      validator: { markDelivered: () => true, runAccepted: () => true, runs: () => ({ current: RUN, previous: null }) },
      store: { putEnvelope: (hash: string, bytes: Uint8Array) => { stored.set(hash, bytes); } },
      members: { isAdmitted: (p: string) => admitted.has(p) },
    } as unknown as PublisherComponents;
    publisher = new Publisher({ netuid: NETUID, publishWaitMs: 3_000, publishRetryMs: 60_000 }, components);
  });

  function envelopes(peer: string): GossipEnvelope[] {
    return (pubsub.delivered.get(peer) ?? []).map((b) => decodeGossipEnvelope(b));
  }

  it('a publish that reached an admitted member goes once, as signed and stored', async () => {
    pubsub.subscribers.add('A');
    pubsub.streams.add('A');
    admitted.add('A');
    const payload = randomBytes(200);
    const out = await publisher.publishEnvelope('report', RUN, payload);
    assert.deepEqual({ recipients: out.recipients, queued: out.queued }, { recipients: 1, queued: false });
    assert.equal(pubsub.publishes, 1);
    assert.deepEqual(pubsub.delivered.get('A'), [stored.get(out.hash)]);
    publisher.flush();
    await settle();
    assert.equal(pubsub.publishes, 1, 'nothing is published again');
  });

  it('a publish that reached nobody (no outbound stream yet) is signed anew and reaches the member once its stream opens', async () => {
    pubsub.subscribers.add('A');
    admitted.add('A');
    const payload = randomBytes(200);
    const pending = publisher.publishEnvelope('report', RUN, payload);
    await settle();
    assert.equal(pubsub.publishes, 1, 'tried once: gossipsub now holds these bytes in its seen-cache');
    assert.equal(envelopes('A').length, 0);
    pubsub.streams.add('A'); // gossipsub opens its stream: no subscription or membership event
    clock += RETRY_BASE_MS - 1;
    publisher.flush();
    await settle();
    assert.equal(pubsub.publishes, 1, 'backing off after the miss');
    clock += 1;
    publisher.flush();
    const out = await pending;
    assert.deepEqual({ recipients: out.recipients, queued: out.queued }, { recipients: 1, queued: false });
    const got = envelopes('A');
    assert.equal(got.length, 1);
    const first = decodeGossipEnvelope(stored.get(out.hash)!);
    assert.deepEqual(Buffer.from(got[0].payload), payload, 'same payload');
    assert.ok(verifyGossipEnvelope(got[0]), 'the new envelope verifies');
    assert.equal(got[0].nodePublicKey, first.nodePublicKey);
    assert.equal(got[0].nodePublicKey, signerKey);
    assert.ok(got[0].issuedAt > first.issuedAt, 'signed anew with a later issuedAt');
    assert.deepEqual({ kind: got[0].kind, netuid: got[0].netuid, runId: got[0].runId }, { kind: 'report', netuid: NETUID, runId: RUN });
  });

  it('signs anew even within one millisecond: every retry is bytes gossipsub has not seen', async () => {
    pubsub.subscribers.add('A');
    admitted.add('A');
    const pending = publisher.publishEnvelope('consensus', RUN, randomBytes(64));
    for (let i = 0; i < 3; i++) {
      await settle();
      publisher.flush(true); // membership changed: no backoff
    }
    await settle();
    const tries = pubsub.publishes;
    assert.ok(tries >= 3, `retried (${tries} publishes)`);
    assert.equal(pubsub.seen.size, tries, 'no retry repeated bytes already published');
    pubsub.streams.add('A');
    publisher.flush(true);
    assert.equal((await pending).queued, false);
    assert.ok(pubsub.topics.every((t) => t === topicFor(NETUID, 'consensus')), 'on the consensus topic');
    assert.equal(envelopes('A')[0].kind, 'consensus');
  });

  it('a publish that reached only peers that are not admitted members (one being hung up on) is not sent', async () => {
    pubsub.subscribers.add('A').add('GONE');
    pubsub.streams.add('GONE');
    admitted.add('A'); // A is a member; GONE was just blocked: still in gossipsub, no longer admitted
    const pending = publisher.publishEnvelope('report', RUN, randomBytes(100));
    await settle();
    assert.equal(envelopes('GONE').length, 1);
    assert.equal(envelopes('A').length, 0);
    pubsub.subscribers.delete('GONE');
    pubsub.streams.add('A');
    publisher.flush(true); // GONE unsubscribed: a subscription change
    const out = await pending;
    assert.equal(out.queued, false);
    assert.equal(envelopes('A').length, 1, 'the member got it');
    assert.equal(publisher.metrics().publishRetried, 1);
  });

  it('backs off while no publish reaches a member, and tries at once when the members or subscribers change', async () => {
    pubsub.subscribers.add('A').add('PENDING');
    pubsub.streams.add('PENDING'); // a peer whose hello is in flight gets every try
    admitted.add('A');
    const pending = publisher.publishEnvelope('report', RUN, randomBytes(100));
    const start = clock;
    while (clock - start < 30_000) {
      await settle();
      clock += 100;
      publisher.flush();
    }
    await settle();
    const tries = pubsub.publishes;
    // 250, 500, 1000, 2000 ms, then every 4 s: 5 + ~7 tries in 30 s, where a try per timer tick was 300
    assert.ok(tries >= 5 && tries <= 5 + Math.ceil(30_000 / RETRY_MAX_MS), `${tries} publishes in 30 s`);
    assert.equal(envelopes('PENDING').length, tries);
    publisher.flush(true);
    await settle();
    assert.equal(pubsub.publishes, tries + 1, 'a membership change is tried at once');
    assert.equal((await pending).queued, true, 'its publisher was told it is queued after publishWaitMs');
    pubsub.streams.add('A');
    clock += 1;
    publisher.flush(true);
    await settle();
    assert.equal(envelopes('A').length, 1);
    assert.equal(publisher.metrics().published, 1);
  });

  it('a change during a flush is not lost: the flush after it runs without backoff', async () => {
    pubsub.subscribers.add('A');
    admitted.add('A');
    const pending = publisher.publishEnvelope('report', RUN, randomBytes(100));
    // the first flush is in flight (its publish has not settled) when the stream opens and a member is admitted
    pubsub.streams.add('A');
    publisher.flush(true);
    assert.equal((await pending).queued, false);
    assert.equal(pubsub.publishes, 2, 'the missed first try, then the try the change asked for');
  });

  it('tells the publisher it is queued after publishWaitMs and keeps trying until publishRetryMs', async () => {
    pubsub.subscribers.add('A');
    admitted.add('A');
    const pending = publisher.publishEnvelope('report', RUN, randomBytes(100));
    await settle();
    clock += 3_001;
    publisher.flush();
    const out = await pending;
    assert.deepEqual({ recipients: out.recipients, queued: out.queued }, { recipients: 0, queued: true });
    assert.equal(publisher.metrics().publishQueued, 1);
    await settle();
    pubsub.streams.add('A');
    clock += 1_000;
    publisher.flush();
    await settle();
    assert.equal(envelopes('A').length, 1, 'delivered after the caller was told it is queued');
    assert.equal(publisher.metrics().publishQueued, 0);
    assert.equal(publisher.metrics().published, 1);
  });

  it('expires a message no admitted member could get within publishRetryMs', async () => {
    pubsub.subscribers.add('A');
    admitted.add('A');
    void publisher.publishEnvelope('report', RUN, randomBytes(100));
    await settle();
    clock += 60_001;
    publisher.flush();
    await settle();
    assert.deepEqual(publisher.metrics(), { published: 0, publishQueued: 0, publishExpired: 1, publishRetried: 1, publishedCompact: 0, publishedBytes: 0 });
  });
});

describe('gossipsub publish contract that the outbox relies on (real @libp2p/gossipsub)', function () {
  this.timeout(30_000);
  it('a publish that reached nobody still enters the seen-cache: the same bytes again reach nobody, new bytes do', async () => {
    const options = { heartbeatInterval: 200, allowPublishToZeroTopicPeers: true, ignoreDuplicatePublishError: true, globalSignaturePolicy: StrictNoSign, msgIdFn: (m: { data: Uint8Array }) => new Uint8Array(createHash('sha256').update(m.data).digest()) };
    const make = () => createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub(options as any) },
    });
    const [a, b] = await Promise.all([make(), make()]);
    try {
      const pa = a.services.pubsub as unknown as GossipSub;
      const pb = b.services.pubsub as unknown as GossipSub;
      const topic = topicFor(NETUID, 'report');
      pa.subscribe(topic);
      pb.subscribe(topic);
      const first = randomBytes(50);
      assert.equal((await pa.publish(topic, first)).recipients.length, 0, 'no peer yet');
      await a.dial(b.getMultiaddrs()[0]);
      const deadline = Date.now() + 20_000;
      while (!pa.getSubscribers(topic).some((p) => p.equals(b.peerId))) {
        if (Date.now() > deadline) throw new Error('b never subscribed at a');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300)); // let a's outbound stream to b open
      assert.equal((await pa.publish(topic, first)).recipients.length, 0, 'the same bytes are a duplicate: sent to nobody');
      assert.equal((await pa.publish(topic, randomBytes(50))).recipients.length, 1, 'new bytes reach b');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
