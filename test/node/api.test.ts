import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { cryptoReady, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { signScoreReport, scoreReportHash, type ScoreReport } from '../../proto/score-report.ts';
import { decodeReveal, encodeReveal, freshSalt } from '../../proto/reveal.ts';
import { toHex } from '../../proto/codec.ts';
import { ValidatorStore, type RunRecord } from '../../node/validator/store.ts';
import { nodeMetrics } from '../../node/metrics.ts';
import { buildApi } from '../../node/api/routes.ts';
import { DIVERGENCE_DOMAIN, verifyDocument } from '../../node/api/signed-summary.ts';
import type { ApiServer } from '../../node/api/server.ts';
import { divergenceGate, parseConfig } from '../../node/config.ts';
import { parseGate } from '../../node/dashboard/static/model.js';

const seed = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
const hex32 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('node/api (real LevelDB, real HTTP, real sr25519)', () => {
  let dir: string;
  let store: ValidatorStore;
  let api: ApiServer;
  let base: string;
  let signer: Sr25519Signer;
  let miner: Sr25519Signer;
  const metrics = nodeMetrics();

  before(async () => {
    await cryptoReady();
    signer = sr25519SignerFromSeed(seed('validator-a'));
    miner = sr25519SignerFromSeed(seed('miner-1'));
    dir = mkdtempSync(join(tmpdir(), 'conclave-api-'));
    store = await ValidatorStore.open(join(dir, 'state'));
    api = buildApi(
      { store, signer, netuid: 1, metrics, health: async () => ({ ok: true, run: 100 }) },
      { rateLimitPerMinute: 40, maxResponseBytes: 200_000, cors: '' },
    );
    const a = await api.listen('127.0.0.1', 0);
    base = `http://127.0.0.1:${a.port}`;
  });

  after(async () => {
    await api?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const report = (runId: number, score: number): ScoreReport => ({
    version: 1, netuid: 1, runId, rosterHash: hex32('roster'), policyHash: hex32('policy'), hardwareClass: 'cpu',
    validatorHotkey: signer.hotkey, issuedAt: 1_700_000_000_000,
    entries: [{ uid: 3, minerHotkey: miner.hotkey, codeSha256: hex32('code'), score, status: 'scored' }],
  });

  it('serves runs, a run, its reports (signed bytes + JSON) and this validator\'s own report', async () => {
    for (const runId of [100, 200, 300]) {
      const rec: RunRecord = {
        runId, netuid: 1, mode: 'shadow', phase: 'done', startedAt: 1, updatedAt: 1, rosterHash: hex32('roster'), policyHash: hex32('policy'),
        hardwareClass: 'cpu', roster: [], rosterSkipped: [], verdicts: [{ hotkey: signer.hotkey, verdict: 'counted' }],
        decision: { quorumMet: true, outcome: 'winner', reportHashes: [], scores: [{ uid: 3, hotkey: miner.hotkey, score: runId }], winner: 3, weights: [{ uid: 3, weight: 0.05 }], countedStakeShare: 0.75, incumbentUid: runId === 100 ? null : 4 },
        divergence: { runId, consensusWinner: 3, ownerPick: runId === 200 ? 4 : 3, top1Agree: runId !== 200, spearman: 0.5, topKOverlap: 1, at: 5 },
      };
      await store.putRun(rec);
      const signed = signScoreReport(report(runId, runId * 10), signer);
      await store.putReportBytes(runId, signer.hotkey, toHex(encodeReveal({ salt: freshSalt(), signed })));
    }
    const list = await (await fetch(`${base}/v1/runs?limit=2`)).json();
    assert.deepEqual(list.runs.map((r: { runId: number }) => r.runId), [300, 200]);
    assert.equal(list.next, 200);
    // the dashboard's fields
    assert.equal(list.runs[0].countedStakeShare, 0.75);
    assert.equal(list.runs[0].winnerHotkey, miner.hotkey);
    assert.equal(list.runs[0].incumbentUid, 4);
    assert.equal(list.runs[0].incumbent, 'dethroned');
    const page2 = await (await fetch(`${base}/v1/runs?limit=2&before=200`)).json();
    assert.equal(page2.runs[0].incumbent, 'none');
    assert.deepEqual(page2.runs.map((r: { runId: number }) => r.runId), [100]);

    const run = await (await fetch(`${base}/v1/runs/200`)).json();
    assert.equal(run.decision.winner, 3);
    const reps = await (await fetch(`${base}/v1/runs/200/reports`)).json();
    assert.equal(reps.reports.length, 1);
    assert.equal(reps.reports[0].report.entries[0].score, 2000);
    assert.equal(reps.reports[0].reportHash, scoreReportHash(report(200, 2000)));
    assert.equal(decodeReveal(Buffer.from(reps.reports[0].revealHex, 'hex')).signed.report.runId, 200, 'the reveal (with its salt) is served');
    const mine = await (await fetch(`${base}/v1/consensus/scores/300`)).json();
    assert.equal(mine.report.runId, 300);
    assert.equal((await fetch(`${base}/v1/consensus/scores/999`)).status, 404);
    assert.equal((await fetch(`${base}/v1/runs/999`)).status, 404);
    assert.equal((await fetch(`${base}/v1/runs/abc`)).status, 400);
    assert.equal((await fetch(`${base}/v1/runs?limit=1000`)).status, 400);
  });

  it('serves the divergence summary signed by the validator hotkey, bound to the records', async () => {
    const d = await (await fetch(`${base}/v1/consensus/divergence`)).json();
    assert.deepEqual(verifyDocument(d.summary, DIVERGENCE_DOMAIN), { ok: true });
    assert.equal(d.summary.signer, signer.hotkey);
    assert.equal(d.summary.body.runs, 3);
    assert.ok(Math.abs(d.summary.body.top1Agreement - 2 / 3) < 1e-9);
    assert.equal(d.records.length, 3);
    const tampered = { ...d.summary, body: { ...d.summary.body, top1Agreement: 1 } };
    assert.equal(verifyDocument(tampered, DIVERGENCE_DOMAIN).ok, false);
  });

  it('serves the configured divergence gate and window ([shadow] keys) next to the summary, as the dashboard reads it', async () => {
    const cfg = parseConfig('[shadow]\ngate_min_top1 = 0.95\ngate_min_rho = 0.7\ngate_min_overlap = 0.6\ngate_min_runs = 2\nwindow = 2\n', { env: { CONCLAVE_GATE_MIN_RHO: '0.75' } });
    const gated = buildApi({ store, signer, netuid: 1, metrics: nodeMetrics(), health: async () => ({ ok: true }), gate: divergenceGate(cfg), divergenceWindow: cfg.shadow.window }, { rateLimitPerMinute: 40, maxResponseBytes: 200_000, cors: '' });
    const a = await gated.listen('127.0.0.1', 0);
    try {
      const d = await (await fetch(`http://127.0.0.1:${a.port}/v1/consensus/divergence`)).json();
      assert.deepEqual(d.gate, { minTop1: 0.95, minRho: 0.75, minOverlap: 0.6, minRuns: 2 }, 'file values, env override for minRho');
      assert.equal(d.summary.body.window, 2, 'shadow.window is the default window');
      assert.equal(d.summary.body.runs, 2);
      assert.deepEqual(d.records.map((r: { runId: number }) => r.runId), [300, 200]);
      assert.deepEqual(verifyDocument(d.summary, DIVERGENCE_DOMAIN), { ok: true });
      const wide = await (await fetch(`http://127.0.0.1:${a.port}/v1/consensus/divergence?window=10`)).json();
      assert.equal(wide.summary.body.runs, 3, '?window overrides the configured default');
      // the dashboard takes the served gate over its defaults (URL parameters still override it)
      const { gate, sources } = parseGate('?minRuns=5', d.gate);
      assert.deepEqual(gate, { minTop1: 0.95, minRho: 0.75, minOverlap: 0.6, minRuns: 5 });
      assert.deepEqual(sources, { minTop1: 'api', minRho: 'api', minOverlap: 'api', minRuns: 'url' });
    } finally {
      await gated.close();
    }
    // the defaults (no [shadow] section) are the dashboard's defaults
    assert.deepEqual(divergenceGate(parseConfig('', { env: {} })), { minTop1: 0.9, minRho: 0.8, minOverlap: 0.8, minRuns: 10 });
  });

  it('refuses a gate that could never pass or is out of range', () => {
    assert.throws(() => parseConfig('[shadow]\ngate_min_runs = 60\nwindow = 50\n', { env: {} }), /shadow\.gate_min_runs: 60 is more than shadow\.window/);
    assert.throws(() => parseConfig('[shadow]\ngate_min_top1 = 1.5\n', { env: {} }), /shadow\.gate_min_top1: must be between 0 and 1/);
    assert.throws(() => parseConfig('', { env: { CONCLAVE_GATE_MIN_RHO: '-2' } }), /shadow\.gate_min_rho \(from CONCLAVE_GATE_MIN_RHO\): must be between -1 and 1/);
  });

  it('serves evaluations, health and Prometheus metrics; refuses writes; sends no CORS header', async () => {
    const code = hex32('code');
    await store.putEvaluation({ codeSha256: code, policyHash: hex32('policy'), status: 'scored', score: 421300, detail: { mfu: 0.4213 }, evaluatedAt: 1, wallMs: 10 });
    const ev = await (await fetch(`${base}/v1/evaluations/${code}`)).json();
    assert.equal(ev.evaluations[0].score, 421300);
    assert.equal((await fetch(`${base}/v1/evaluations/XYZ`)).status, 400);
    const h = await fetch(`${base}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('access-control-allow-origin'), null);
    metrics.evaluationsTotal.inc({ status: 'scored' });
    metrics.gossipRejections.inc({ reason: 'bad-signature' }, 2);
    metrics.consensusLatency.observe(1.5);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /conclave_evaluations_total\{status="scored"\} 1/);
    assert.match(text, /conclave_gossip_rejections_total\{reason="bad-signature"\} 2/);
    assert.match(text, /conclave_consensus_latency_seconds_bucket\{le="2"\} 1/);
    assert.match(text, /conclave_api_requests_total\{code="200",route="\/v1\/evaluations\/:codeSha256"\} 1/);
    assert.equal((await fetch(`${base}/v1/runs`, { method: 'POST', body: 'x' })).status, 405);
  });

  it('serves the dashboard page at / next to the API (dashboardHandler wired)', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /<html/i);
    assert.equal((await fetch(`${base}/dashboard/no-such-asset.js`)).status, 404);
  });

  it('serves nothing that tells this validator\'s scores before the run\'s reveal window opens', async () => {
    const code = hex32('sealed-code');
    const rec: RunRecord = {
      runId: 400, netuid: 1, mode: 'decentralized', phase: 'committed', startedAt: 1, updatedAt: 1, rosterHash: hex32('roster'), policyHash: hex32('policy'),
      hardwareClass: 'cpu', roster: [{ uid: 3, minerHotkey: miner.hotkey, codeSha256: code, url: 'http://127.0.0.1:1/x.py', commitBlock: 1 }], rosterSkipped: [], verdicts: [],
      myReportHash: hex32('brute-forceable'), myCommitment: hex32('on chain anyway'),
    };
    await store.putRun(rec);
    await store.putReportBytes(400, signer.hotkey, toHex(encodeReveal({ salt: freshSalt(), signed: signScoreReport(report(400, 4242), signer) })));
    await store.putEvaluation({ codeSha256: code, policyHash: hex32('policy'), status: 'scored', score: 4242, detail: {}, evaluatedAt: 1, wallMs: 1 });
    const run = await (await fetch(`${base}/v1/runs/400`)).json();
    assert.equal(run.sealed, true);
    assert.equal(run.myReportHash, undefined, 'the report hash is withheld (it could be brute-forced)');
    assert.equal(run.myCommitment, hex32('on chain anyway'));
    const reps = await (await fetch(`${base}/v1/runs/400/reports`)).json();
    assert.deepEqual([reps.sealed, reps.reports.length], [true, 0]);
    const mine = await fetch(`${base}/v1/consensus/scores/400`);
    assert.equal(mine.status, 425);
    assert.match((await mine.json()).error ?? '', /sealed until its reveal window opens/);
    const ev = await fetch(`${base}/v1/evaluations/${code}`);
    assert.equal(ev.status, 425, 'the evaluation of a sealed run\'s submission waits too');
    assert.equal((await (await fetch(`${base}/v1/runs/400/participation`)).json()).sealed, true);
    // the reveal window opens: everything is served
    await store.putRun({ ...rec, phase: 'publishing' });
    assert.equal((await (await fetch(`${base}/v1/runs/400/reports`)).json()).reports.length, 1);
    assert.equal((await fetch(`${base}/v1/consensus/scores/400`)).status, 200);
    assert.equal((await fetch(`${base}/v1/evaluations/${code}`)).status, 200);
    assert.equal((await (await fetch(`${base}/v1/runs/400`)).json()).myReportHash, hex32('brute-forceable'));
  });

  it('rate-limits each client', async () => {
    let limited = 0;
    for (let i = 0; i < 60; i++) {
      const r = await fetch(`${base}/healthz`);
      await r.arrayBuffer();
      if (r.status === 429) {
        limited++;
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
      }
    }
    assert.ok(limited > 0, 'no request was rate limited');
  });
});
