// The dashboard's pure view-model (node/dashboard/static/model.js), run in Node.
import assert from 'node:assert/strict';
import {
  median,
  normalizeRun,
  normalizeRuns,
  scoreMatrix,
  normalizeDivergence,
  windowSummary,
  parseGate,
  evaluateGate,
  divergenceSeries,
  normalizeEquivocations,
  isOutlier,
  DEFAULT_GATE,
} from '../../node/dashboard/static/model.js';

describe('dashboard model', () => {
  it('median handles odd, even, empty and skips nulls', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), null);
    assert.equal(median([null, 5, undefined]), 5);
  });

  it('reads the node run record: winner, quorum share, certificate, incumbent held via weights source', () => {
    const row = normalizeRun({
      runId: 720,
      mode: 'shadow',
      phase: 'done',
      decision: { quorumMet: true, winner: 3, countedStakeShare: 0.8, scores: [{ uid: 3, hotkey: '5Fwinner', score: 500000 }] },
      certificateHash: 'ab'.repeat(32),
      weights: { result: 'held', source: 'incumbent' },
    });
    assert.equal(row.winnerUid, 3);
    assert.equal(row.winnerHotkey, '5Fwinner');
    assert.equal(row.quorumShare, 0.8);
    assert.equal(row.certStatus, 'certified');
    assert.equal(row.incumbent, 'held');
    assert.equal(row.decision, 'certified winner');
    assert.equal(row.reveal, null, 'no commit-reveal');
  });

  it('reads the reveal of a timelocked weights commit (commit-reveal subnets): confirmed, failed, pending', () => {
    const cr = (revealConfirmed: boolean | null, extra = {}) => normalizeRun({ runId: 9, phase: 'done', weights: { result: 'set', source: 'certified', commitReveal: { commitBlock: 100, revealConfirmed, ...extra } } });
    const ok = cr(true, { revealed: true, revealBlock: 160 });
    assert.equal(ok.reveal, 'confirmed');
    assert.equal(ok.revealBlock, 160);
    assert.equal(ok.weights, 'set (certified), committed: reveal confirmed');
    assert.equal(cr(false).reveal, 'failed');
    assert.equal(cr(null).reveal, 'pending');
  });

  it('derives dethroned / held from incumbentUid and marks a quorum miss', () => {
    assert.equal(normalizeRun({ runId: 1, decision: { winner: 2, incumbentUid: 5, quorumMet: true } }).incumbent, 'dethroned');
    assert.equal(normalizeRun({ runId: 1, decision: { winner: 5, incumbentUid: 5, quorumMet: true } }).incumbent, 'held');
    const miss = normalizeRun({ runId: 2, phase: 'quorum-miss', decision: { quorumMet: false, winner: null, countedStakeShare: 0.4 } });
    assert.equal(miss.certStatus, 'quorum-miss');
    assert.equal(miss.decision, 'quorum missed');
  });

  it('sorts runs newest first and counts rows without a runId', () => {
    const { runs, dropped } = normalizeRuns({ runs: [{ runId: 1 }, { nope: true }, { runId: 3 }] });
    assert.deepEqual(runs.map((r) => r.runId), [3, 1]);
    assert.equal(dropped, 1);
    assert.throws(() => normalizeRuns({ other: [] }), /expected \{"runs"/);
  });

  it('builds the score matrix against the consensus median and flags outliers', () => {
    const rep = (hk: string, scores: number[]) => ({
      report: { validatorHotkey: hk, entries: scores.map((s, uid) => ({ uid, minerHotkey: `m${uid}`, score: s, status: s < 0 ? 'timeout' : 'scored' })) },
    });
    const mx = scoreMatrix({ reports: [rep('B', [400000, 300000]), rep('A', [410000, 900000]), rep('C', [405000, -1])] }, {
      decision: { scores: [{ uid: 0, score: 405000 }, { uid: 1, score: 300000 }] },
    });
    assert.deepEqual(mx.uids, [0, 1]);
    assert.deepEqual(mx.validators.map((v) => v.hotkey), ['A', 'B', 'C']);
    assert.equal(mx.medianSource, 'consensus');
    assert.equal(mx.validators[2].scores.get(1)!.score, null);
    assert.equal(mx.validators[2].scores.get(1)!.status, 'timeout');
    assert.deepEqual(mx.outliers.map((o) => [o.validator, o.uid]), [['A', 1]]);
    const fallback = scoreMatrix({ reports: [rep('A', [100000]), rep('B', [300000])] }, {});
    assert.equal(fallback.medianSource, 'page');
    assert.equal(fallback.consensus.get(0), 200000);
  });

  it('outlier tolerance is max(absolute, relative)', () => {
    assert.equal(isOutlier(420000, 400000), false);
    assert.equal(isOutlier(445000, 400000), true);
    assert.equal(isOutlier(25000, 0), true);
  });

  it('unwraps the signed divergence document and recomputes a window summary', () => {
    const records = [1, 2, 3, 4].map((i) => ({ runId: i * 10, top1Agree: i !== 2, spearman: i / 4, topKOverlap: 1 - i / 10 }));
    const div = normalizeDivergence({ domain: 'd', signer: '5X', signature: 'aa', body: { records: [...records].reverse(), window: 3 } });
    assert.equal(div.signed, true);
    assert.equal(div.signer, '5X');
    assert.deepEqual(div.records.map((r) => r.runId), [10, 20, 30, 40]);
    const s = windowSummary(div);
    assert.equal(s.source, 'page');
    assert.equal(s.runs, 3);
    assert.equal(s.fromRunId, 20);
    assert.ok(Math.abs(s.top1Agreement! - 2 / 3) < 1e-12);
    assert.ok(Math.abs(s.meanSpearman! - 0.75) < 1e-12);
    const series = divergenceSeries(div.records, 2);
    assert.deepEqual(series.top1[0].points.map((p) => p.y), [1, 0.5, 0.5, 1]);
    assert.equal(series.spearman[0].points.length, 4);
  });

  it('gate: URL overrides API overrides defaults; bad values are reported; every check must hold', () => {
    const g = parseGate('?minTop1=0.95&minRuns=abc&minRho=-2', { minRuns: 3, minOverlap: 0.5 });
    assert.equal(g.gate.minTop1, 0.95);
    assert.equal(g.sources.minTop1, 'url');
    assert.equal(g.gate.minRuns, 3);
    assert.equal(g.sources.minRuns, 'api');
    assert.equal(g.gate.minRho, DEFAULT_GATE.minRho);
    assert.equal(g.errors.length, 2);
    const ok = { runs: 3, fromRunId: 1, toRunId: 3, top1Agreement: 1, meanSpearman: 0.9, meanTopKOverlap: 0.6 };
    assert.equal(evaluateGate(ok, g.gate).pass, true);
    const v = evaluateGate({ ...ok, meanSpearman: null }, g.gate);
    assert.equal(v.pass, false);
    assert.deepEqual(v.checks.filter((c) => !c.pass).map((c) => c.name), ['mean Spearman ρ']);
  });

  it('equivocation rows keep only ids safe to put in a URL', () => {
    const rows = normalizeEquivocations({ equivocations: [{ id: 'abc123', runId: 5, validatorHotkey: '5V' }, { id: '../../x' }, { runId: 1 }] });
    assert.deepEqual(rows.map((r) => r.id), ['abc123']);
  });
});

describe('dashboard model: history', () => {
  it('derives incumbent held/dethroned from the previous winner when the node does not label it', async () => {
    const { deriveIncumbents, shortId } = await import('../../node/dashboard/static/model.js');
    const rows = normalizeRuns({ runs: [{ runId: 4, winner: 2 }, { runId: 3, winner: 1 }, { runId: 2, winner: 1 }, { runId: 1, winner: 5 }] }).runs;
    const d = deriveIncumbents(rows);
    assert.deepEqual(d.map((r) => [r.runId, r.incumbent, r.incumbentUid]), [[4, 'dethroned', 1], [3, 'held', 1], [2, 'dethroned', 5], [1, 'unknown', null]]);
    assert.ok(d[0].incumbentDerived);
    assert.equal(shortId('abcdef0123456789', 4, 0), 'abcd…');
  });
});

describe('dashboard model: node status, skipped runs, gate headline by mode', () => {
  it('reads /v1/status; missing fields stay null ("—"); reveal confirmation under its spellings', async () => {
    const { normalizeStatus } = await import('../../node/dashboard/static/model.js');
    const s = normalizeStatus({
      mode: 'shadow', version: '0.1.0', chain: { connected: true, head: 10, finalized: 8, headAgeS: 1 }, peers: { connected: 4, admitted: 3, required: 1 },
      run: { runId: 7, phase: 'evaluating' }, lastWeights: { runId: 6, result: 'set', source: 'owner', block: 9, reveal: { confirmed: true } }, health: { ok: false, reasons: ['peers: x', 3] },
    });
    assert.deepEqual(s.chain, { connected: true, head: 10, finalized: 8, headAgeS: 1 });
    assert.deepEqual(s.run, { runId: 7, phase: 'evaluating', skipped: false });
    assert.deepEqual(s.lastWeights, { runId: 6, result: 'set', source: 'owner', block: 9, revealConfirmed: true });
    assert.deepEqual(s.health, { ok: false, reasons: ['peers: x'] });
    const empty = normalizeStatus({});
    assert.equal(empty.mode, null);
    assert.equal(empty.lastWeights, null);
    assert.equal(normalizeStatus({ lastWeights: { result: 'set' } }).lastWeights!.revealConfirmed, null);
    assert.equal(normalizeStatus({ lastWeights: { revealConfirmed: false } }).lastWeights!.revealConfirmed, false);
    assert.equal(normalizeStatus({ run: { runId: 1, phase: 'failed', error: "joined at block 9, after run 1's commit window (ends 5); waiting for the next run" } }).run.phase, 'skipped');
  });

  it('a skipped run is "skipped", never failed, and has no incumbent', async () => {
    const { normalizeRun: nr, isSkipped } = await import('../../node/dashboard/static/model.js');
    for (const raw of [{ runId: 5, phase: 'skipped', skipped: true, incumbentUid: null }, { runId: 5, phase: 'failed', error: "joined at block 200, after run 5's commit window (ends 155); waiting for the next run" }]) {
      const r = nr(raw);
      assert.equal(r.certStatus, 'skipped');
      assert.match(r.decision, /^skipped/);
      assert.equal(r.incumbent, 'unknown');
      assert.ok(isSkipped(raw));
    }
    assert.equal(nr({ runId: 5, phase: 'failed', error: 'chain down' }).certStatus, 'failed');
  });

  it('the gate headline follows the node mode and says when the window is too short', async () => {
    const { gateText } = await import('../../node/dashboard/static/model.js');
    const short = evaluateGate({ runs: 3, fromRunId: 1, toRunId: 3, top1Agreement: 1, meanSpearman: 1, meanTopKOverlap: 1 }, DEFAULT_GATE);
    const diverging = evaluateGate({ runs: 20, fromRunId: 1, toRunId: 20, top1Agreement: 0.5, meanSpearman: 0.2, meanTopKOverlap: 0.4 }, DEFAULT_GATE);
    const passing = evaluateGate({ runs: 20, fromRunId: 1, toRunId: 20, top1Agreement: 1, meanSpearman: 1, meanTopKOverlap: 1 }, DEFAULT_GATE);
    assert.match(gateText('shadow', passing), /^Gate passed: .*shadow to decentralized/);
    assert.equal(gateText('shadow', short), 'Gate not passed: stay in shadow mode (3 of 10 runs in the window).');
    assert.equal(gateText('shadow', diverging), 'Gate not passed: stay in shadow mode.');
    assert.match(gateText('decentralized', passing), /already runs in decentralized mode.*passes/);
    assert.match(gateText('decentralized', short), /already runs in decentralized mode.*too few runs.*\(3 of 10/);
    assert.match(gateText('decentralized', diverging), /already runs in decentralized mode.*diverges/);
    assert.match(gateText('owner', passing), /owner mode.*shadow mode.*would pass/);
    assert.doesNotMatch(gateText('owner', short), /would pass/);
    for (const v of [short, diverging, passing]) assert.doesNotMatch(gateText('decentralized', v), /stay in shadow/);
  });
});
