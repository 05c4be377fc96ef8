// node/p2p/frames.ts over real libp2p (TCP + noise + yamux on loopback): each side reads at most its
// own direction's cap, a peer that announces or sends more is cut off before the bytes are buffered,
// and a legitimate frame larger than the library's 4 MiB default buffer still gets through.
import assert from 'node:assert/strict';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { lpStream } from '@libp2p/utils';
import { requestResponse, serveOnce } from '../../node/p2p/frames.ts';
import { MAX_BUNDLE_TOTAL_BYTES, RunBundleServer, fetchRunBundle } from '../../node/p2p/run-bundle.ts';
import { MAX_FETCH_RESPONSE_BYTES } from '../../proto/gossip.ts';

const PROTO = '/conclave-test/frames/1.0.0';

async function node(): Promise<Libp2p> {
  return createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
}

describe('p2p: bounded request/response frames', function () {
  this.timeout(60_000);
  let server: Libp2p;
  let client: Libp2p;
  let seen: number[] = [];
  let respondWith = (req: Uint8Array): Uint8Array => req;
  before(async () => {
    server = await node();
    client = await node();
    await server.handle(PROTO, (stream) => serveOnce(stream, 1024, 6 * 1024 * 1024, 10_000, (req) => { seen.push(req.length); return respondWith(req); }));
  });
  after(async () => {
    await client?.stop();
    await server?.stop();
  });
  const dial = () => client.dialProtocol(server.getMultiaddrs()[0], PROTO);

  it('round-trips within the caps, including a 6 MiB response (over the 4 MiB library default)', async () => {
    respondWith = () => new Uint8Array(6 * 1024 * 1024).fill(7);
    const res = await requestResponse(await dial(), new Uint8Array(100), 1024, 6 * 1024 * 1024, 10_000, 'test');
    assert.equal(res.length, 6 * 1024 * 1024);
    assert.equal(res[12345], 7);
  });

  it('the server refuses a request over its cap without calling the handler', async () => {
    seen = [];
    const stream = await dial();
    const lp = lpStream(stream, { maxDataLength: 1 << 20 });
    await lp.write(new Uint8Array(64 * 1024)); // a raw peer, not requestResponse (which checks its own side)
    await assert.rejects(lp.read({ signal: AbortSignal.timeout(5000) }));
    assert.deepEqual(seen, [], 'the handler never saw the oversized request');
    await assert.rejects(requestResponse(await dial(), new Uint8Array(2048), 1024, 1024, 5000, 'test'), /request of 2048 bytes exceeds 1024/);
  });

  it('a run-bundle client stops a source that pages more than 32 MiB of reports', async () => {
    const bundles = new RunBundleServer(
      { netuid: 1, fetchTimeoutMs: 10_000, bundleBurst: 100, bundlePerSecond: 100, bundleGlobalBurst: 100, bundleGlobalPerSecond: 100, bundlePageBytes: MAX_FETCH_RESPONSE_BYTES },
      { now: () => Date.now(), isDenied: () => false },
    );
    await bundles.mount(server);
    const report = new Uint8Array(300_000).fill(1); // opaque to the client until the audit decodes it
    bundles.setProvider(async () => ({ reports: Array(120).fill(report), certificate: null })); // 36 MB in 3 pages
    const addr = server.getMultiaddrs()[0].toString();
    await assert.rejects(fetchRunBundle(addr, 1, 5, { timeoutMs: 30_000 }), new RegExp(`more than ${MAX_BUNDLE_TOTAL_BYTES} bytes of reports`));
    bundles.setProvider(async () => ({ reports: Array(20).fill(report), certificate: null }));
    assert.equal((await fetchRunBundle(addr, 1, 5, { timeoutMs: 30_000 })).reports.length, 20);
  });

  it('the client refuses a response over its cap', async () => {
    respondWith = () => new Uint8Array(64 * 1024);
    await assert.rejects(requestResponse(await dial(), new Uint8Array(10), 1024, 1024, 5000, 'test'), /too long|length|overflow/i);
  });
});
