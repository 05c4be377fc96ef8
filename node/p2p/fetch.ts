// The fetch protocol (/conclave/fetch/1.0.0): content by hash between admitted peers, so that late,
// restarted or partitioned nodes catch up. Serving: admitted peers only, per-peer token bucket,
// `inventory` (content hashes of a run) and `get` (envelopes from the store, or provided blobs).
// Requesting: fetch(hash) from any admitted peer, and a sync of the current and previous run with a
// peer on admission. Fetched envelopes are re-validated (no freshness window); a peer serving bad
// content takes a strike.
import type { Connection, Stream } from '@libp2p/interface';
import type { Libp2p } from 'libp2p';
import { peerIdFromString } from '@libp2p/peer-id';
import type { ContentStore } from './content-store.ts';
import type { Host } from './host.ts';
import type { Membership } from './membership.ts';
import type { MessageValidator } from './message-validator.ts';
import type { GossipTopics } from './topics.ts';
import { PeerRateLimiter } from './rate-limit.ts';
import { requestResponse, serveOnce } from './frames.ts';
import type { MeshMetrics, ResolvedMeshOptions } from './mesh-types.ts';
import {
  decodeFetchRequest, decodeFetchResponse, decodeGossipEnvelope, encodeFetchRequest, encodeFetchResponse,
  MAX_FETCH_HASHES, MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, MAX_INVENTORY,
  type FetchItem, type FetchRequest, type FetchResponse,
} from '../../proto/gossip.ts';

export const FETCH_PROTOCOL = '/conclave/fetch/1.0.0';

export type FetchOptions = Pick<ResolvedMeshOptions, 'netuid' | 'fetchTimeoutMs' | 'fetchBurst' | 'fetchPerSecond'>;

export interface FetchComponents {
  now: () => number;
  host: Host;
  validator: MessageValidator;
  store: ContentStore;
  members: Pick<Membership, 'admitted' | 'isAdmitted' | 'strike'>;
  topics: Pick<GossipTopics, 'deliver'>;
}

/** Peers a run catch-up talks to at once. */
const SYNC_CONCURRENCY = 8;

export class FetchProtocol {
  private readonly opts: FetchOptions;
  private readonly c: FetchComponents;
  private readonly limiter: PeerRateLimiter;
  private readonly m = { served: 0, rateLimited: 0, requests: 0, failures: 0, itemsFetched: 0, servedBytes: 0, fetchedBytes: 0 };
  /** content hash → the end of the sync request fetching it now */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(opts: FetchOptions, components: FetchComponents) {
    this.opts = opts;
    this.c = components;
    this.limiter = new PeerRateLimiter(opts.fetchBurst, opts.fetchPerSecond);
  }

  async mount(node: Libp2p): Promise<void> {
    await node.handle(FETCH_PROTOCOL, (stream, conn) => this.serve(stream, conn), { maxInboundStreams: 8 });
  }

  /**
   * Fetches content by hash from admitted peers: a report/consensus payload (validated like gossip,
   * without the freshness window) or a provided blob (checked against its sha256). Null when no peer has it.
   */
  async fetch(hash: string, timeoutMs = this.opts.fetchTimeoutMs): Promise<Uint8Array | null> {
    const local = this.c.store.get(hash);
    if (local) return local.kind === 'blob' ? local.bytes : decodeGossipEnvelope(local.bytes).payload;
    for (const peer of shuffled([...this.c.members.admitted()])) {
      const res = await this.request(peer, { version: 1, op: 'get', netuid: this.opts.netuid, runId: 0, hashes: [hash] }, timeoutMs);
      const item = res?.items[0];
      if (!item) continue;
      if (item.kind === 'blob') {
        try {
          this.c.store.putBlob(hash, item.bytes); // checks the bytes against the hash
        } catch {
          this.c.members.strike(peer, 'decode', 'served a blob whose sha256 does not match');
          continue;
        }
        return item.bytes;
      }
      const payload = this.acceptFetched(item.bytes, peer, hash, false);
      if (payload) return payload;
    }
    return null;
  }

  /** Catch-up: asks admitted peers for the inventory of the current and previous run and fetches what is missing. */
  async syncRun(): Promise<number> {
    // a few peers at a time: one after the other, 63 peers cost 126 sequential round trips
    const peers = shuffled([...this.c.members.admitted()]);
    let got = 0;
    await Promise.all(Array.from({ length: Math.min(SYNC_CONCURRENCY, peers.length) }, async () => {
      for (let p = peers.shift(); p !== undefined; p = peers.shift()) {
        const n = await this.syncWith(p); // not `got += await …`: that reads `got` before the await and loses the other workers' counts
        got += n;
      }
    }));
    return got;
  }

  async syncWith(peer: string): Promise<number> {
    const { current, previous } = this.c.validator.runs();
    let got = 0;
    for (const run of [current, previous]) {
      if (run === null || !this.c.members.isAdmitted(peer)) continue;
      const inv = await this.request(peer, { version: 1, op: 'inventory', netuid: this.opts.netuid, runId: run, hashes: [] });
      if (!inv) continue;
      // Syncs run side by side (SYNC_CONCURRENCY peers, and one per newly admitted peer: after a partition
      // heals, dozens at once); each asked its peer for everything it lacked, so a reveal came several times
      // over. A sync now fetches what no other sync is fetching, then, once those others are done, what
      // they failed to get.
      for (let pass = 0; pass < 2 && this.c.members.isAdmitted(peer); pass++) {
        const missing = inv.hashes.filter((h) => !this.c.validator.isDelivered(h) && !this.c.store.has(h));
        const elsewhere = missing.filter((h) => this.fetching.has(h)).map((h) => this.fetching.get(h)!);
        got += await this.fetchFrom(peer, run, missing.filter((h) => !this.fetching.has(h)));
        if (elsewhere.length === 0) break;
        await Promise.all(elsewhere);
      }
    }
    return got;
  }

  /** Fetches `hashes` of `run` from `peer`, marked as being fetched (this.fetching) until the requests end. */
  private async fetchFrom(peer: string, run: number, hashes: string[]): Promise<number> {
    if (hashes.length === 0) return 0;
    let release!: () => void;
    const done = new Promise<void>((r) => { release = r; });
    for (const h of hashes) this.fetching.set(h, done);
    let got = 0;
    try {
      for (let i = 0; i < hashes.length; i += MAX_FETCH_HASHES) {
        const chunk = hashes.slice(i, i + MAX_FETCH_HASHES);
        const res = await this.request(peer, { version: 1, op: 'get', netuid: this.opts.netuid, runId: run, hashes: chunk });
        if (!res) break;
        for (const it of res.items) {
          if (it.kind !== 'envelope') continue;
          if (this.acceptFetched(it.bytes, peer, null, true)) got++;
        }
      }
    } finally {
      for (const h of hashes) if (this.fetching.get(h) === done) this.fetching.delete(h);
      release();
    }
    return got;
  }

  metrics(): MeshMetrics['fetch'] {
    return { ...this.m };
  }

  private async serve(stream: Stream, conn: Connection): Promise<void> {
    const peer = conn.remotePeer.toString();
    await serveOnce(stream, MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, this.opts.fetchTimeoutMs, (bytes) => {
      const reply = (status: FetchResponse['status'], message: string, hashes: string[] = [], items: FetchItem[] = []) => {
        const frame = encodeFetchResponse({ version: 1, status, message, hashes, items });
        this.m.servedBytes += frame.length;
        return frame;
      };
      if (!this.c.members.isAdmitted(peer)) return reply('unavailable', 'not admitted: present a binding of a validator hotkey first (hello protocol)');
      if (!this.limiter.take(peer, this.c.now())) {
        this.m.rateLimited++;
        return reply('rate-limited', `more than ${this.opts.fetchPerSecond} requests/s; back off`);
      }
      let req: FetchRequest;
      try {
        req = decodeFetchRequest(bytes);
      } catch (err) {
        return reply('bad-request', (err as Error).message);
      }
      if (req.netuid !== this.opts.netuid) return reply('bad-request', `this node serves netuid ${this.opts.netuid}`);
      this.m.served++;
      if (req.op === 'inventory') return reply('ok', '', this.c.store.inventory(req.runId, MAX_INVENTORY));
      const items: FetchItem[] = [];
      let size = 64;
      for (const h of req.hashes) {
        const it = this.c.store.get(h);
        if (!it) continue;
        if (size + it.bytes.length + 8 > MAX_FETCH_RESPONSE_BYTES) break;
        size += it.bytes.length + 8;
        items.push(it);
      }
      return reply('ok', '', [], items);
    });
  }

  private async request(peer: string, req: FetchRequest, timeoutMs = this.opts.fetchTimeoutMs): Promise<FetchResponse | null> {
    const node = this.c.host.node;
    if (!node) return null;
    this.m.requests++;
    try {
      const stream = await node.dialProtocol(peerIdFromString(peer), FETCH_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
      const frame = await requestResponse(stream, encodeFetchRequest(req), MAX_FETCH_REQUEST_BYTES, MAX_FETCH_RESPONSE_BYTES, timeoutMs, `fetch from ${peer}`);
      this.m.fetchedBytes += frame.length;
      const res = decodeFetchResponse(frame);
      if (res.status !== 'ok') {
        this.m.failures++;
        return null;
      }
      return res;
    } catch {
      this.m.failures++;
      return null;
    }
  }

  /** Validates a fetched envelope; on success stores it and returns its payload. `deliverIt` runs the handlers. */
  private acceptFetched(bytes: Uint8Array, peer: string, expectHash: string | null, deliverIt: boolean): Uint8Array | null {
    const v = this.c.validator.check(bytes, { nowMs: this.c.now(), via: 'fetch' });
    if (v.action !== 'accept') {
      if (v.strike) this.c.members.strike(peer, v.reason, v.detail);
      return null;
    }
    if (expectHash !== null && v.hash !== expectHash) {
      this.c.members.strike(peer, 'decode', `served content ${v.hash} for requested ${expectHash}`);
      return null;
    }
    this.m.itemsFetched++;
    if (deliverIt) this.c.topics.deliver(v, peer, 'fetch');
    else {
      this.c.validator.markDelivered(v.hash, this.c.now());
      this.c.store.putEnvelope(v.hash, v.bytes, v.envelope.runId);
    }
    return v.envelope.payload;
  }
}

function shuffled<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
