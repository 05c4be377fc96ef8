// Sixteen validators on one IP (one host, a NAT, a devnet): gossip must still reach everyone. With
// gossipsub's default IP-colocation penalty every peer fell below the publish/graylist thresholds past
// 10 peers per address, publish reached nobody and the publisher waited forever. Real libp2p over
// loopback TCP, sixteen Mesh instances in this process (cheaper than sixteen processes).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Mesh, type DeliveredReport } from '../../node/p2p/mesh.ts';
import { STANDALONE_GENESIS } from '../../node/commands/mesh.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { signScoreReport } from '../../proto/score-report.ts';
import { encodeReveal, freshSalt } from '../../proto/reveal.ts';
import { cryptoReady, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { until } from './harness.ts';

const N = 16;
const RUN = 42;

describe('p2p: sixteen validators sharing one IP address', function () {
  this.timeout(120_000);
  const meshes: Mesh[] = [];
  const hotkeys: Sr25519Signer[] = [];
  const got: DeliveredReport[][] = [];

  before(async () => {
    await cryptoReady();
    for (let i = 0; i < N; i++) hotkeys.push(sr25519SignerFromSeed(randomBytes(32)));
    const set = hotkeys.map((h) => ({ hotkey: h.hotkey, stake: 1_000_000_000n }));
    const make = (bootstrap: string[]) => {
      const m = new Mesh({ netuid: 1, genesisHash: STANDALONE_GENESIS, hotkey: hotkeys[meshes.length], nodeKeySeed: randomBytes(32), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, dht: false, heartbeatMs: 200, maintainMs: 500, publishWaitMs: 3000 });
      const inbox: DeliveredReport[] = [];
      m.onReport((r) => inbox.push(r));
      got.push(inbox);
      m.setValidatorSet(set);
      m.setCurrentRun(RUN);
      meshes.push(m);
      return m;
    };
    await make([]).start();
    const boot = meshes[0].multiaddrs().find((a) => a.includes('/ip4/127.0.0.1/'))!;
    for (let i = 1; i < N; i += 5) {
      const batch = Array.from({ length: Math.min(5, N - i) }, () => make([boot]));
      await Promise.all(batch.map((m) => m.start()));
    }
    await until(() => meshes.every((m) => m.metrics().admittedPeers === N - 1), 90_000, 'every member admits the 15 others', 250);
    // admission precedes the peers' subscription messages: wait for those too before publishing
    await until(() => meshes[0].metrics().reportSubscribers === N - 1, 30_000, 'the bootstrap node sees 15 report-topic subscribers', 100);
  });

  after(async () => {
    await Promise.all(meshes.map((m) => m.stop()));
  });

  it('a report published by the bootstrap node reaches all fifteen others over gossip', async () => {
    const signed = signScoreReport({
      version: 1, netuid: 1, runId: RUN, rosterHash: sha256Hex('r'), policyHash: sha256Hex('p'), hardwareClass: 'cpu-test',
      validatorHotkey: hotkeys[0].hotkey, issuedAt: Date.now(),
      entries: [{ uid: 1, minerHotkey: hotkeys[1].hotkey, codeSha256: sha256Hex('c'), score: 5, status: 'scored' }],
    }, hotkeys[0]);
    const out = await meshes[0].publishReport(encodeReveal({ salt: freshSalt(), signed }));
    assert.equal(out.queued, false, 'sent at once: the bootstrap node scores its 15 loopback peers above the publish threshold');
    assert.ok(out.recipients >= N - 1, `sent to ${out.recipients} peers`);
    await until(() => got.slice(1).every((g) => g.some((r) => r.hash === out.hash)), 20_000, 'delivered everywhere');
    for (const g of got.slice(1)) assert.equal(g.find((r) => r.hash === out.hash)!.via, 'gossip');
  });
});
