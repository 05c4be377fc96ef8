// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) against
// the node's real API server fed with real signed reports, consensus decisions, certificates,
// divergence records and equivocation proofs (test/dashboard/fixture.ts).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { openSameOriginPage } from './chromium.ts';
import { startFixture, type Fixture } from './fixture.ts';
import { decodeSignedScoreReport, scoreReportHash, verifySignedScoreReport } from '../../proto/score-report.ts';
import { fromHex } from '../../proto/codec.ts';
import { summarizeWindow, normalizeDivergence, isOutlier } from '../../node/dashboard/static/model.js';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

describe('dashboard in headless chromium (real node API)', function () {
  this.timeout(45_000);
  let fx: Fixture;
  let browser: Browser;
  let page: Page;
  let consoleErrors: string[] = [];
  let offOrigin: string[] = [];

  before(async function () {
    fx = await startFixture();
    const opened = await openSameOriginPage(fx.base);
    ({ browser, page } = opened);
    consoleErrors = opened.consoleErrors;
    offOrigin = opened.offOrigin;
  });

  after(async () => {
    await browser?.close();
    await fx?.close();
  });

  it('loads the run history with one row per run, newest first, certificate and quorum share', async () => {
    await page.goto(`${fx.base}/?refresh=0`);
    await page.waitForSelector('body[data-loaded="true"]');
    const ids = await page.$$eval('#runs tbody tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-run-id'))));
    assert.deepEqual(ids, [...fx.runs.map((r) => r.runId), ...fx.skipped.map((r) => r.runId)].reverse());
    const miss = fx.runs.find((r) => !r.record.decision!.quorumMet)!;
    const missRow = await page.$eval(`#runs tbody tr[data-run-id="${miss.runId}"]`, (tr) => (tr as HTMLElement).innerText);
    assert.match(missRow, /quorum-miss/);
    assert.match(missRow, new RegExp(`${(miss.record.decision!.countedStakeShare * 100).toFixed(1)}%`));
    const okRun = fx.runs.find((r) => r.record.decision!.quorumMet)!;
    const okRow = await page.$eval(`#runs tbody tr[data-run-id="${okRun.runId}"]`, (tr) => (tr as HTMLElement).innerText);
    assert.match(okRow, /certified/);
    assert.match(okRow, new RegExp(`uid ${okRun.record.decision!.winner}`));
    // Incumbent column: a run whose winner differs from the previous winner shows "dethroned".
    const idx = fx.runs.findIndex((r, i) => i > 0 && r.record.decision!.quorumMet && r.record.decision!.winner !== fx.runs[i - 1].record.decision!.winner);
    assert.ok(idx > 0, 'fixture has no dethroning');
    const deRow = await page.$eval(`#runs tbody tr[data-run-id="${fx.runs[idx].runId}"]`, (tr) => (tr as HTMLElement).innerText);
    assert.match(deRow, /dethroned/);
    assert.deepEqual(consoleErrors, []);
  });

  it('draws the divergence charts with one point per record and the gate verdict', async () => {
    const body = await (await fetch(`${fx.base}/v1/consensus/divergence`)).json();
    const div = normalizeDivergence(body);
    assert.equal(div.records.length, fx.divergence.length);
    for (const id of ['top1', 'spearman', 'overlap']) {
      const series = await page.$$eval(`svg[data-chart="${id}"] g.series`, (gs) => gs.map((g) => ({ n: Number(g.getAttribute('data-points')), circles: g.querySelectorAll('circle').length })));
      assert.equal(series.length, 1, `${id}: one series`);
      const expected = id === 'spearman' ? fx.divergence.filter((d) => d.spearman !== null).length : fx.divergence.length;
      assert.equal(series[0].n, expected, `${id}: points`);
      assert.equal(series[0].circles, expected, `${id}: drawn circles`);
      assert.equal(await page.$$eval(`svg[data-chart="${id}"] g.threshold`, (g) => g.length), 1, `${id}: gate line`);
    }
    // The x positions follow run order.
    const xs = await page.$$eval('svg[data-chart="overlap"] circle.point', (cs) => cs.map((c) => Number(c.getAttribute('data-x'))));
    assert.deepEqual(xs, fx.divergence.map((d) => d.runId));
    const own = summarizeWindow(div.records, null);
    const summaryText = await page.$eval('#window-summary', (el) => (el as HTMLElement).innerText);
    assert.match(summaryText, new RegExp(`${fx.divergence.length} run\\(s\\)`));
    assert.match(summaryText, new RegExp(`${(own.top1Agreement! * 100).toFixed(1)}%`));
    assert.match(summaryText, /signed by 5/);
    // Default gate needs 10 runs: the fixture's 7 records do not pass.
    assert.equal(await page.getAttribute('#gate', 'data-pass'), 'false');
    assert.match(await page.innerText('#gate'), /✗ runs in window: 7 ≥ 10/);
  });

  it('opens a run on click: score table, one series per validator plus the median, outlier marked', async () => {
    const run = fx.runs.find((r) => r.inflated)!;
    await page.click(`#runs tbody tr[data-run-id="${run.runId}"] button`);
    await page.waitForSelector(`#run-detail[data-run-id="${run.runId}"]:not([hidden]):not([aria-busy]) svg[data-chart="run-scores"]`);
    assert.equal(new URL(page.url()).hash, `#run/${run.runId}`);
    const series = await page.$$eval('svg[data-chart="run-scores"] g.series', (gs) => gs.map((g) => ({ name: g.getAttribute('data-series'), n: Number(g.getAttribute('data-points')) })));
    assert.equal(series.length, run.reports.length + 1);
    assert.equal(series[series.length - 1].name, 'consensus median');
    const scoredPerValidator = run.reports.map((s) => s.report.entries.filter((e) => e.status === 'scored').length).sort();
    assert.deepEqual(series.slice(0, -1).map((s) => s.n).sort(), scoredPerValidator);
    assert.equal(series[series.length - 1].n, run.record.decision!.scores.filter((s) => s.score !== null).length);
    // The inflated score is drawn as an outlier at its uid, and its table cell is flagged.
    const outlierUids = await page.$$eval('svg[data-chart="run-scores"] circle.outlier', (cs) => cs.map((c) => Number(c.getAttribute('data-uid'))));
    assert.ok(outlierUids.includes(run.inflated!.uid), `outliers at ${outlierUids}`);
    const med = run.record.decision!.scores.find((s) => s.uid === run.inflated!.uid)!.score!;
    const inflatedScore = run.reports.find((s) => s.report.validatorHotkey === run.inflated!.hotkey)!.report.entries.find((e) => e.uid === run.inflated!.uid)!.score;
    assert.ok(isOutlier(inflatedScore, med));
    const rows = await page.$$eval('#score-table tbody tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-uid'))));
    assert.deepEqual(rows, run.record.roster.map((e) => e.uid));
    const flagged = await page.$eval(`#score-table tbody tr[data-uid="${run.inflated!.uid}"]`, (tr) => Array.from(tr.querySelectorAll('td.outlier'), (td) => td.textContent));
    assert.deepEqual(flagged, [(inflatedScore / 1e6).toFixed(4)]);
    const medianCell = await page.$eval(`#score-table tbody tr[data-uid="${run.inflated!.uid}"] td.median`, (td) => td.textContent);
    assert.equal(medianCell, (med / 1e6).toFixed(4));
    // the per-validator record of commitment, reveal and abstention (issue #15), one row per member
    await page.waitForSelector('#participation-table tbody tr[data-hotkey]');
    const part = await page.$$eval('#participation-table tbody tr[data-hotkey]', (trs) => trs.map((tr) => ({ hotkey: tr.getAttribute('data-hotkey'), cells: Array.from(tr.querySelectorAll('td'), (td) => (td.textContent ?? '').trim()) })));
    assert.deepEqual(part.map((p) => p.hotkey), run.record.participation!.map((p) => p.hotkey));
    for (const [k, p] of part.entries()) {
      const want = run.record.participation![k];
      assert.equal(p.cells[3], `block ${want.committedAt}`);
      assert.equal(p.cells[4], 'on-time');
      assert.equal(p.cells[5], want.counted ? 'yes' : 'no');
      // abstentions by reason, as the validator's own report has them (validator 1 could not fetch miner 0)
      const entries = run.reports.find((x) => x.report.validatorHotkey === p.hotkey)!.report.entries;
      const abstained = entries.filter((e) => e.status === 'fetch-failed');
      assert.equal(p.cells[7], abstained.length ? `fetch-failed ×${abstained.length}` : '—', JSON.stringify(p.cells));
      assert.equal(p.cells[8], String(entries.length - abstained.length));
    }
    assert.ok(part.some((p) => p.cells[7] === 'fetch-failed ×1'), 'the abstention is shown');
  });

  it('lists equivocation proofs with a download link that serves the proof', async () => {
    const links = await page.$$eval('#equivocations tbody a', (as) => as.map((a) => (a as HTMLAnchorElement).href));
    assert.equal(links.length, fx.equivocations.length);
    const eq = fx.equivocations[0];
    assert.match(links[0], new RegExp(`^${fx.base}/v1/equivocations/${eq.runId}-[0-9a-f]{64}$`));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#equivocations tbody a')]);
    const proof = JSON.parse(readFileSync(await download.path(), 'utf8'));
    // The downloaded proof re-verifies offline: two different reports, same run and validator, both validly signed.
    assert.equal(proof.runId, eq.runId);
    assert.equal(proof.validatorHotkey, eq.hotkey);
    const a = decodeSignedScoreReport(fromHex(proof.first.signedHex));
    const b = decodeSignedScoreReport(fromHex(proof.second.signedHex));
    assert.deepEqual(verifySignedScoreReport(a), { ok: true });
    assert.deepEqual(verifySignedScoreReport(b), { ok: true });
    assert.equal(a.report.validatorHotkey, eq.hotkey);
    assert.equal(b.report.runId, a.report.runId);
    assert.notEqual(scoreReportHash(a.report), scoreReportHash(b.report));
    assert.equal((await fetch(`${fx.base}/v1/equivocations/not-an-id`)).status, 400);
    assert.equal((await fetch(`${fx.base}/v1/equivocations/${eq.runId}-${'0'.repeat(64)}`)).status, 404);
  });

  it('shows runs the node sat out as skipped, not failed (also those an older node recorded as failed)', async () => {
    await page.goto(`${fx.base}/?refresh=0`);
    await page.waitForSelector('body[data-loaded="true"]');
    for (const s of fx.skipped) {
      const row = `#runs tbody tr[data-run-id="${s.runId}"]`;
      assert.equal(await page.getAttribute(row, 'data-status'), 'skipped', `run ${s.runId} (legacy record: ${s.legacy})`);
      const text = await page.$eval(row, (tr) => (tr as HTMLElement).innerText);
      assert.match(text, /skipped/);
      assert.doesNotMatch(text, /failed/);
      assert.match(await page.$eval(`${row} td:nth-child(3)`, (td) => td.getAttribute('title') ?? ''), /joined at block/);
      assert.equal(await page.$eval(`${row} td:nth-child(7)`, (td) => (td as HTMLElement).innerText), "—", "no incumbent for a skipped run");
    }
  });

  it('node status panel: mode, chain head, peers, current run and phase, last weights and whether the reveal was confirmed', async () => {
    const w = fx.runs[fx.runs.length - 1];
    fx.setStatus({
      version: '0.1.0', mode: 'shadow', chain: { connected: true, head: 123_456, finalized: 123_450, headAgeS: 2 },
      peers: { connected: 5, admitted: 3, required: 1 }, run: { runId: 123_120, phase: 'evaluating', skipped: false },
      lastWeights: { ...w.record.weights, runId: w.runId, block: 123_100, revealConfirmed: true }, health: { ok: true, reasons: [] },
    });
    await page.goto(`${fx.base}/?refresh=0`);
    await page.waitForSelector('body[data-loaded="true"]');
    const panel = await page.innerText('#node-status');
    assert.equal(await page.getAttribute('#node-status', 'data-mode'), 'shadow');
    assert.match(panel, /mode\s+shadow/);
    assert.match(panel, /chain head\s+#123456 \(finalized #123450\)/);
    assert.match(panel, /peers\s+3 admitted \(1 required\) · 5 connections/);
    assert.match(panel, /current run\s+123120 · evaluating/);
    assert.match(panel, new RegExp(`last weights\\s+set \\(owner\\) · run ${w.runId} · block #123100`));
    assert.match(panel, /reveal confirmed\s+confirmed/);
    assert.match(panel, /health\s+healthy/);
    assert.match(await page.innerText('#gate .verdict'), /stay in shadow mode/);

    // decentralized, a degraded node, weights without a reveal field (older chain code): "—", and the gate text changes
    fx.setStatus({
      mode: 'decentralized', chain: { connected: false, head: 123_456, finalized: null }, peers: { connected: 0, admitted: 0, required: 1 },
      run: { runId: 123_120, phase: 'skipped', skipped: true }, lastWeights: { result: 'failed', source: 'certified', runId: w.runId },
      health: { ok: false, reasons: ['peers: 0 admitted validator peer(s), 1 required', 'chain: not connected'] },
    });
    await page.goto(`${fx.base}/?refresh=0`);
    await page.waitForSelector('body[data-loaded="true"]');
    const p2 = await page.innerText('#node-status');
    assert.match(p2, /reveal confirmed\s+—/);
    assert.match(p2, /current run\s+123120 · skipped/);
    assert.match(p2, /health\s+degraded/);
    assert.deepEqual(await page.$$eval('#health-reasons li', (lis) => lis.map((li) => li.textContent)), ['peers: 0 admitted validator peer(s), 1 required', 'chain: not connected']);
    const verdict = await page.innerText('#gate .verdict');
    assert.match(verdict, /already runs in decentralized mode/);
    assert.doesNotMatch(verdict, /stay in shadow mode/);

    fx.setStatus({ mode: 'owner', lastWeights: { result: 'set', source: 'owner', runId: w.runId, revealConfirmed: false } });
    await page.goto(`${fx.base}/?refresh=0&minRuns=5&minTop1=0.8&minRho=0.5&minOverlap=0.5`);
    await page.waitForSelector('body[data-loaded="true"]');
    assert.match(await page.innerText('#gate .verdict'), /owner mode.*Run it in shadow mode.*would pass/);
    assert.match(await page.innerText('#node-status'), /reveal confirmed\s+not confirmed/);
    fx.setStatus({ mode: 'shadow', health: { ok: true, reasons: [] } });
    assert.deepEqual(consoleErrors, []);
  });

  it('takes gate thresholds from the URL and saves a screenshot', async () => {
    await page.goto(`${fx.base}/dashboard/?refresh=0&minRuns=5&minTop1=0.8&minRho=0.5&minOverlap=0.5#run/${fx.runs[5].runId}`);
    await page.waitForSelector('body[data-loaded="true"]');
    await page.waitForSelector('#run-detail:not([hidden]) svg[data-chart="run-scores"]');
    assert.equal(await page.getAttribute('#gate', 'data-pass'), 'true');
    assert.match(await page.innerText('#gate'), /thresholds from: url/);
    await page.goto(`${fx.base}/dashboard/?refresh=0&minRuns=5&minTop1=0.99`);
    await page.waitForSelector('body[data-loaded="true"]');
    assert.equal(await page.getAttribute('#gate', 'data-pass'), 'false');
    await page.goto(`${fx.base}/?refresh=0&minRuns=5&minTop1=0.8&minRho=0.5&minOverlap=0.5#run/${fx.runs[5].runId}`);
    await page.waitForSelector('#run-detail:not([hidden]):not([aria-busy]) svg[data-chart="run-scores"]');
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = new URL('dashboard.png', ARTIFACTS);
    await page.screenshot({ path: file.pathname, fullPage: true });
    assert.ok(existsSync(file));
    assert.deepEqual(offOrigin, [], 'the page requested another origin');
    assert.deepEqual(consoleErrors, []);
  });
});
