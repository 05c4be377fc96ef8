// The fetch protocol's run catch-up (node/p2p/fetch.ts syncRun / syncWith): syncs running side by side
// each fetch a missing item once between them, and an item a failed request left behind is still
// fetched from another peer. The protocol's requests are replaced by a model of peers that all hold the
// same inventory; the validator, store and delivery are the fetcher's real contract, modelled.
import assert from 'node:assert/strict';
import { FetchProtocol, type FetchComponents } from '../../node/p2p/fetch.ts';
import type { FetchRequest, FetchResponse } from '../../proto/gossip.ts';

const RUN = 360;

interface Model {
  fetcher: FetchProtocol;
  /** every hash requested with op 'get', in request order, with the peer asked */
  gets: { peer: string; hash: string }[];
  delivered: Set<string>;
}

/** A fetcher over `peers` that each hold `hashes` for RUN; `fails(peer, hashes)` makes a get answer nothing. */
function model(peers: string[], hashes: string[], fails: (peer: string, hashes: string[]) => boolean = () => false): Model {
  const delivered = new Set<string>();
  const gets: { peer: string; hash: string }[] = [];
  const c = {
    now: () => 0,
    host: {},
    validator: {
      runs: () => ({ current: RUN, previous: null }),
      isDelivered: (h: string) => delivered.has(h),
      check: (bytes: Uint8Array) => {
        const hash = Buffer.from(bytes).toString();
        return { action: 'accept', hash, bytes, envelope: { runId: RUN, payload: bytes } };
      },
      markDelivered: (h: string) => { delivered.add(h); },
    },
    store: { has: () => false, get: () => undefined, putEnvelope: () => {} },
    members: { admitted: () => new Set(peers), isAdmitted: (p: string) => peers.includes(p), strike: () => { throw new Error('no peer here serves bad content'); } },
    topics: { deliver: (v: { hash: string }) => { delivered.add(v.hash); } },
  } as unknown as FetchComponents;
  const fetcher = new FetchProtocol({ netuid: 1, fetchTimeoutMs: 1000, fetchBurst: 100, fetchPerSecond: 100 }, c);
  // the wire: each peer answers after a few ms, as a loaded peer would
  (fetcher as unknown as { request: (peer: string, req: FetchRequest) => Promise<FetchResponse | null> }).request = async (peer, req) => {
    await new Promise((r) => setTimeout(r, 2 + (peer.charCodeAt(peer.length - 1) % 5)));
    if (req.op === 'inventory') return { version: 1, status: 'ok', hashes: [...hashes], items: [] } as unknown as FetchResponse;
    for (const h of req.hashes) gets.push({ peer, hash: h });
    if (fails(peer, req.hashes)) return null;
    return { version: 1, status: 'ok', hashes: [], items: req.hashes.map((h) => ({ kind: 'envelope', bytes: Buffer.from(h) })) } as unknown as FetchResponse;
  };
  return { fetcher, gets, delivered };
}

const peersN = (n: number) => Array.from({ length: n }, (_, i) => `peer-${i}`);
const hashesN = (n: number) => Array.from({ length: n }, (_, i) => `h${String(i).padStart(3, '0')}`);

describe('p2p: run catch-up fetches each missing item once', function () {
  this.timeout(20_000);

  it('eight syncs side by side ask for each of 40 missing items once between them', async () => {
    const m = model(peersN(12), hashesN(40));
    const got = await m.fetcher.syncRun();
    assert.equal(got, 40);
    assert.equal(m.delivered.size, 40);
    const asked = m.gets.map((g) => g.hash);
    assert.equal(asked.length, 40, `each item requested once, not ${asked.length} times`);
    assert.equal(new Set(asked).size, 40);
  });

  it('syncs started one per newly admitted peer (a healed partition) share the work the same way', async () => {
    const peers = peersN(32);
    const m = model(peers, hashesN(64));
    const got = (await Promise.all(peers.map((p) => m.fetcher.syncWith(p)))).reduce((a, b) => a + b, 0);
    assert.equal(got, 64);
    assert.equal(m.gets.length, 64);
  });

  it('an item whose request failed is fetched from another peer in the same catch-up', async () => {
    let failed = 0;
    // the first request for anything fails (a peer that drops the stream); every later one succeeds
    const m = model(peersN(8), hashesN(20), () => failed++ === 0);
    const got = await m.fetcher.syncRun();
    assert.equal(m.delivered.size, 20, 'every item delivered despite the failed request');
    assert.equal(got, 20);
    const firstPeer = m.gets[0].peer;
    const retried = m.gets.filter((g) => g.peer !== firstPeer);
    assert.ok(retried.length >= 1, 'the failed items were asked of another peer');
    assert.ok(m.gets.length <= 40, `at most one retry per item (${m.gets.length} requests)`);
  });
});
