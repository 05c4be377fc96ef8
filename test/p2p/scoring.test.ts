// Gossipsub peer scoring of the validator mesh (node/p2p/scoring.ts), checked with gossipsub's own
// scoring engine (PeerScore) and over real libp2p: the parameters validate, IP colocation costs nothing
// to validators admitted by stake (and to peers in their admission grace) but applies to everyone else,
// invalid messages take a peer below 0, the publish and the graylist thresholds in one, two and three
// messages, a mesh peer that delivers nothing on the consensus topic is pruned yet still reachable, and
// a peer sending invalid envelopes is graylisted by real nodes while honest peers keep their standing.
import assert from 'node:assert/strict';
import { PeerScore, createPeerScoreParams, validatePeerScoreParams } from '@libp2p/gossipsub/score';
import { defaultLogger } from '@libp2p/logger';
import { appScore, colocationTerm, peerScoreParams, P3_WEIGHT, SCORE_THRESHOLDS, VALIDATOR_BONUS, type Standing } from '../../node/p2p/scoring.ts';
import { topicFor } from '../../node/p2p/topics.ts';
import type { DeliveredReport, Mesh } from '../../node/p2p/mesh.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { signScoreReport } from '../../proto/score-report.ts';
import { encodeReveal } from '../../proto/reveal.ts';
import type { Sr25519Signer } from '../../proto/signer.ts';
import { startMeshes, until } from './harness.ts';

const TOPICS = { report: topicFor(1, 'report'), consensus: topicFor(1, 'consensus'), binding: topicFor(1, 'binding') };

/** gossipsub's scoring engine with this mesh's parameters; `standing` decides who is a validator. */
function engine(standing: Map<string, Standing>, runIntervalMs = 60_000) {
  let ps: PeerScore | null = null;
  const params = createPeerScoreParams(peerScoreParams({
    topics: TOPICS, runIntervalMs, standing: (p) => standing.get(p) ?? 'other', colocation: (p) => colocationTerm(p, ps!.peerIPs),
  }) as any);
  ps = new PeerScore(params, null, defaultLogger(), { scoreCacheValidityMs: 0 });
  return ps;
}

describe('p2p: gossipsub peer scoring', function () {
  this.timeout(120_000);

  it('the parameters pass gossipsub\'s own validation for short and long run intervals', () => {
    for (const run of [10_000, 60_000, 361 * 12_000]) {
      assert.doesNotThrow(() => validatePeerScoreParams(createPeerScoreParams(peerScoreParams({ topics: TOPICS, runIntervalMs: run, standing: () => 'other', colocation: () => 0 }) as any)));
    }
  });

  it('64 peers on one address: validators and pending peers keep their score, a non-validator there is graylisted', () => {
    const standing = new Map<string, Standing>();
    const ps = engine(standing);
    for (let i = 0; i < 64; i++) {
      const id = `peer${i}`;
      standing.set(id, i < 62 ? 'validator' : i === 62 ? 'pending' : 'other');
      ps.addPeer(id);
      ps.addIP(id, '127.0.0.1');
    }
    assert.equal(ps.score('peer0'), VALIDATOR_BONUS, 'a validator: the bonus, no colocation penalty');
    assert.equal(ps.score('peer62'), 0, 'a peer in its admission grace: neutral');
    assert.ok(ps.score('peer63') < SCORE_THRESHOLDS.graylistThreshold, `a non-validator on a crowded address: ${ps.score('peer63')}`);
    assert.equal(appScore('other', -100), 0);
    assert.equal(colocationTerm('x', new Map([['1.2.3.4', new Set(['x', ...Array.from({ length: 11 }, (_, i) => `y${i}`)])]])), -5 * 4);
  });

  it('invalid messages: one takes a validator below 0, two below the publish threshold, three below the graylist', () => {
    const standing = new Map<string, Standing>([['v', 'validator']]);
    const ps = engine(standing);
    ps.addPeer('v');
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      ps.rejectInvalidMessage('v', TOPICS.report);
      seen.push(ps.score('v'));
    }
    assert.ok(seen[0] < 0 && seen[0] > SCORE_THRESHOLDS.publishThreshold, `one: ${seen[0]}`);
    assert.ok(seen[1] < SCORE_THRESHOLDS.publishThreshold && seen[1] > SCORE_THRESHOLDS.graylistThreshold, `two: ${seen[1]}`);
    assert.ok(seen[2] < SCORE_THRESHOLDS.graylistThreshold, `three: ${seen[2]}`);
  });

  it('P3: a validator in the consensus mesh that delivered nothing goes just below 0 (pruned, still gossiped to and published to)', () => {
    const standing = new Map<string, Standing>([['quiet', 'validator'], ['busy', 'validator']]);
    const ps = engine(standing);
    for (const id of ['quiet', 'busy']) {
      ps.addPeer(id);
      ps.graft(id, TOPICS.consensus);
      const t = ps.peerStats.get(id)!.topics[TOPICS.consensus];
      t.meshMessageDeliveriesActive = true; // as after the activation window
      if (id === 'busy') t.meshMessageDeliveries = 3;
    }
    const quiet = ps.score('quiet');
    assert.equal(quiet, VALIDATOR_BONUS + P3_WEIGHT);
    assert.ok(quiet < 0 && quiet > SCORE_THRESHOLDS.gossipThreshold, `quiet: ${quiet}`);
    assert.ok(ps.score('busy') >= VALIDATOR_BONUS);
  });

  describe('over real libp2p: a validator sending invalid envelopes', () => {
    const meshes: Mesh[] = [];
    let hotkeys: Sr25519Signer[] = [];
    const got: DeliveredReport[][] = [];

    before(async () => {
      ({ hotkeys } = await startMeshes(meshes, 4, 7, (m) => {
        const inbox: DeliveredReport[] = [];
        m.onReport((r) => inbox.push(r));
        got.push(inbox);
      }));
    });

    after(async () => {
      await Promise.all(meshes.map((m) => m.stop()));
    });

    const report = (i: number, tag: string) => encodeReveal({ salt: sha256Hex(`salt-${tag}`), signed: signScoreReport({
      version: 1, netuid: 1, runId: 7, rosterHash: sha256Hex('r'), policyHash: sha256Hex('p'), hardwareClass: 'cpu-test', validatorHotkey: hotkeys[i].hotkey, issuedAt: Date.now(),
      entries: [{ uid: 1, minerHotkey: hotkeys[(i + 1) % 4].hotkey, codeSha256: sha256Hex(tag), score: 5, status: 'scored' }],
    }, hotkeys[i]) });

    it('is graylisted by the others (its later valid report is dropped unread) while honest peers stay at or above 0', async () => {
      const bad = meshes[3];
      const badId = bad.peerId;
      for (let k = 0; k < 4; k++) {
        const env = bad.envelope('report', 7, report(3, `junk-${k}`));
        env[env.length - 1] ^= 0xff; // the ed25519 signature no longer verifies
        await bad.publishRaw('report', env);
      }
      await until(() => meshes.slice(0, 3).every((m) => (m.peers().find((p) => p.peerId === badId)?.gossipScore ?? 0) < SCORE_THRESHOLDS.graylistThreshold), 20_000, 'graylisted everywhere', 100);
      for (const m of meshes.slice(0, 3)) {
        assert.ok(m.metrics().rejected['bad-signature'] >= 1);
        for (const p of m.peers().filter((x) => x.peerId !== badId && x.connected)) assert.ok(p.gossipScore >= 0, `honest peer ${p.peerId} scored ${p.gossipScore}`);
      }
      // gossipsub accepts a peer that scored >= 0 for up to 1 s / 128 RPCs without re-scoring it
      // (its acceptFrom whitelist), and caches scores for a heartbeat: the graylist bites after that
      await new Promise((r) => setTimeout(r, 1500));
      const fromBad = await bad.publishReport(report(3, 'valid-after'));
      const fromHonest = await meshes[1].publishReport(report(1, 'valid-honest'));
      await until(() => got[0].some((r) => r.hash === fromHonest.hash) && got[2].some((r) => r.hash === fromHonest.hash), 20_000, 'honest report delivered');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(got[0].some((r) => r.hash === fromBad.hash), false, 'the graylisted peer\'s report was not read');
      assert.equal(got[2].some((r) => r.hash === fromBad.hash), false);
    });
  });
});
