// Peer routing through the Kademlia DHT (/conclave/kad/1.0.0): A knows only B; C (a validator in B's
// set but not in A's, so neither peer exchange nor binding gossip makes A dial it) is found by A through
// B's routing table, and the address A gets back reaches C. Real libp2p over loopback TCP, in process.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Mesh } from '../../node/p2p/mesh.ts';
import { STANDALONE_GENESIS } from '../../node/commands/mesh.ts';
import { cryptoReady, sr25519SignerFromSeed } from '../../proto/signer.ts';
import { until } from './harness.ts';

describe('p2p: DHT peer routing', function () {
  this.timeout(60_000);
  const meshes: Mesh[] = [];

  after(async () => {
    await Promise.all(meshes.map((m) => m.stop()));
  });

  it('a node that knows one peer finds a third through the DHT', async () => {
    await cryptoReady();
    const [a, b, c] = [0, 1, 2].map(() => sr25519SignerFromSeed(randomBytes(32)));
    const v = (...ks: typeof a[]) => ks.map((k) => ({ hotkey: k.hotkey, stake: 1_000_000_000n }));
    const make = (hotkey: typeof a, set: ReturnType<typeof v>, bootstrap: string[]) => {
      const m = new Mesh({ netuid: 1, genesisHash: STANDALONE_GENESIS, hotkey, nodeKeySeed: randomBytes(32), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, heartbeatMs: 200, maintainMs: 500 });
      m.setValidatorSet(set);
      meshes.push(m);
      return m;
    };
    const B = make(b, v(a, b, c), []);
    await B.start();
    const bAddr = B.multiaddrs().find((x) => x.includes('/ip4/127.0.0.1/'))!;
    const C = make(c, v(b, c), [bAddr]);
    const A = make(a, v(a, b), [bAddr]);
    await Promise.all([C.start(), A.start()]);
    await until(() => B.metrics().admittedPeers === 2 && A.metrics().admittedPeers === 1 && C.metrics().admittedPeers === 1, 20_000, 'B admits A and C');
    // (A's DHT self-query may already have touched C; A never admits it: C is not in A's validator set)
    assert.ok(!A.peers().some((p) => p.peerId === C.peerId && p.admitted), 'A does not admit C');

    let found: string[] = [];
    await until(async () => {
      found = await A.findPeer(C.peerId, 3000).catch(() => []);
      return found.length > 0;
    }, 20_000, 'A finds C through the DHT', 500);
    const cPort = /\/tcp\/(\d+)/.exec(C.multiaddrs()[0])![1];
    assert.ok(found.some((x) => x.includes(`/tcp/${cPort}`)), `found ${found.join(', ')}; C listens on ${C.multiaddrs().join(', ')}`);
    // the address is real: A can dial C with it (A then refuses C: it is not in A's validator set)
    await A.dial(`${found.find((x) => x.includes('/ip4/127.0.0.1/'))!}/p2p/${C.peerId}`);
  });
});
