// /healthz semantics (node/status/health.ts) and the status the node serves (node/status/node-status.ts):
// healthy only with the chain followed, enough admitted peers (unless configured alone) and a recent run;
// every reason for "degraded" in the body; peer count changes logged at info.
import assert from 'node:assert/strict';
import { evaluateHealth, type HealthInput } from '../../node/status/health.ts';
import { endpointOrigin, isSkippedRun, NodeStatus, revealConfirmedOf } from '../../node/status/node-status.ts';
import { nodeMetrics } from '../../node/metrics.ts';
import { createLogger } from '../../node/logging/logger.ts';
import type { RunRecord } from '../../node/validator/store.ts';

const NOW = 1_000_000_000;
const healthy = (): HealthInput => ({
  now: NOW,
  chain: { connected: true, head: 1000, finalized: 998, headAdvancedAt: NOW - 5000, error: null },
  peers: { admitted: 2, connected: 3, minPeers: 1, others: 3 },
  run: { currentEpoch: 721, epochBlocks: 361, latest: { runId: 721, phase: 'evaluating', updatedAt: NOW - 1000, skipped: false }, tickError: null },
  maxHeadAgeMs: 120_000,
});

describe('node/status: /healthz semantics', () => {
  it('healthy: chain followed, an admitted peer, a run this epoch', () => {
    const h = evaluateHealth(healthy());
    assert.equal(h.ok, true);
    assert.equal(h.status, 'ok');
    assert.deepEqual(h.reasons, []);
    assert.equal(h.checks.chain.headAgeS, 5);
  });

  it('degraded for each missing condition, with every reason in the body', () => {
    const x = healthy();
    x.chain = { ...x.chain, connected: false, error: 'cannot connect to ws://127.0.0.1:9944' };
    x.peers.admitted = 0;
    x.run.latest = { runId: 0, phase: 'done', updatedAt: 1, skipped: false };
    const h = evaluateHealth(x);
    assert.equal(h.ok, false);
    assert.equal(h.status, 'degraded');
    assert.equal(h.reasons.length, 3);
    assert.match(h.reasons[0], /^chain: not connected \(cannot connect to ws:\/\/127\.0\.0\.1:9944\)/);
    assert.match(h.reasons[1], /^peers: 0 admitted validator peer\(s\), 1 required .*health\.min_peers = 0/);
    assert.match(h.reasons[2], /^run: the latest run is 0, more than one epoch behind the current epoch 721/);
    assert.deepEqual([h.checks.chain.ok, h.checks.peers.ok, h.checks.run.ok], [false, false, false]);
  });

  it('a stalled chain (head not advancing), no run yet and a failing run loop are degraded too', () => {
    const x = healthy();
    x.chain.headAdvancedAt = NOW - 300_000;
    assert.match(evaluateHealth(x).reasons.join(), /best block 1000 has not advanced for 300 s \(limit 120 s\)/);
    const y = healthy();
    y.run.latest = null;
    assert.match(evaluateHealth(y).reasons.join(), /no run yet/);
    const z = healthy();
    z.run.tickError = 'chain: timeout';
    assert.equal(evaluateHealth(z).ok, false);
    assert.match(evaluateHealth(z).reasons.join(), /run loop: chain: timeout/);
  });

  it('configured alone (min_peers 0) or alone in the validator set: no peer required; the previous epoch\'s run and a skipped run count', () => {
    const alone = healthy();
    alone.peers = { admitted: 0, connected: 0, minPeers: 0, others: 5 };
    assert.equal(evaluateHealth(alone).ok, true);
    const onlyValidator = healthy();
    onlyValidator.peers = { admitted: 0, connected: 0, minPeers: 1, others: 0 };
    assert.equal(evaluateHealth(onlyValidator).ok, true);
    assert.equal(evaluateHealth(onlyValidator).checks.peers.required, 0);
    const prev = healthy();
    prev.run.latest = { runId: 360, phase: 'skipped', updatedAt: 1, skipped: true };
    assert.equal(evaluateHealth(prev).ok, true);
    assert.equal(evaluateHealth(prev).checks.run.phase, 'skipped');
  });

  it('NodeStatus: feeds gauges, logs admitted-peer changes at info, serves the status panel body', async () => {
    const metrics = nodeMetrics();
    const lines: any[] = [];
    const log = createLogger({ level: 'debug', out: (l) => lines.push(JSON.parse(l)) });
    let now = NOW;
    const runs: RunRecord[] = [
      { runId: 721, netuid: 1, mode: 'shadow', phase: 'skipped', startedAt: 1, updatedAt: 2, rosterHash: '', policyHash: '', hardwareClass: 'x', roster: [], rosterSkipped: [], verdicts: [], error: "joined at block 900, after run 721's commit window (ends 871); waiting for the next run" },
      { runId: 360, netuid: 1, mode: 'shadow', phase: 'done', startedAt: 1, updatedAt: 2, rosterHash: '', policyHash: '', hardwareClass: 'x', roster: [], rosterSkipped: [], verdicts: [], weights: { result: 'set', source: 'owner', uids: [0], weights: [1], block: 400, at: 3 } },
    ];
    const s = new NodeStatus({
      mode: 'shadow', netuid: 1, hotkey: '5Hot', peerId: '12D3', endpoint: 'wss://user:pw@entrypoint.example:443/ws?apikey=SECRET', build: { version: '9.9.9', commit: 'abc1234', node: 'v24', platform: 'linux-x64' },
      minPeers: 1, maxHeadAgeMs: 120_000, metrics, log, now: () => now,
      recentRuns: async (n) => runs.slice(0, n),
      runLoop: () => ({ currentEpoch: 721, epochBlocks: 361, current: null, tickError: null }),
    });
    s.chainOk(1000, 990);
    s.setOtherValidators(2);
    s.recordPeers(1, 0);
    s.recordPeers(2, 1);
    s.recordPeers(3, 1);
    s.recordPeers(3, 2);
    const peerLines = lines.filter((l) => l.msg === 'peers');
    assert.deepEqual(peerLines.map((l) => [l.level, l.admitted, l.was]), [['info', 1, 0], ['info', 2, 1]]);
    assert.ok(lines.some((l) => l.level === 'debug' && l.msg === 'connections' && l.connected === 3));
    const text = metrics.registry.render();
    assert.match(text, /conclave_chain_head_block 1000\n/);
    assert.match(text, /conclave_chain_finalized_block 990\n/);
    assert.match(text, /conclave_chain_connected 1\n/);
    assert.match(text, /conclave_peers_admitted 2\n/);
    assert.match(text, /conclave_peers_connected 3\n/);
    assert.match(text, /conclave_build_info\{commit="abc1234",node="v24",version="9\.9\.9"\} 1\n/);
    now += 1000;
    const body = await s.snapshot();
    assert.equal(body.chain.endpoint, 'wss://entrypoint.example', 'no credentials, path or query of the endpoint');
    assert.deepEqual(body.run, { runId: 721, phase: 'skipped', skipped: true, since: 2, reason: runs[0].error });
    assert.equal(body.lastWeights!.runId, 360);
    assert.equal(body.lastWeights!.revealConfirmed, null, 'not recorded by this node: null, the dashboard shows —');
    assert.equal(body.health.ok, true);
    assert.match(metrics.registry.render(), /conclave_healthy 1\n/);
    s.chainFailed('socket closed');
    assert.equal((await s.health()).ok, false);
    assert.match(metrics.registry.render(), /conclave_healthy 0\n/);
    assert.match(metrics.registry.render(), /conclave_chain_connected 0\n/);
  });

  it('reads skip records old and new, reveal confirmation under its spellings, and endpoint origins', () => {
    assert.equal(isSkippedRun({ phase: 'skipped' }), true);
    assert.equal(isSkippedRun({ phase: 'failed', error: "joined at block 5, after run 1's commit window (ends 4); waiting for the next run" }), true);
    assert.equal(isSkippedRun({ phase: 'failed', error: 'chain down' }), false);
    assert.equal(revealConfirmedOf({ revealConfirmed: true }), true);
    assert.equal(revealConfirmedOf({ result: 'set', commitReveal: { commitBlock: 5, revealConfirmed: false } }), false, 'what the run loop records (weights.commitReveal)');
    assert.equal(revealConfirmedOf({ result: 'set', commitReveal: { commitBlock: 5, revealConfirmed: null } }), null, 'pending');
    assert.equal(revealConfirmedOf({ reveal: { confirmed: false } }), false);
    assert.equal(revealConfirmedOf({ revealBlock: 12 }), true);
    assert.equal(revealConfirmedOf({ result: 'set' }), null);
    assert.equal(endpointOrigin('ws://127.0.0.1:9944'), 'ws://127.0.0.1:9944');
  });
});
