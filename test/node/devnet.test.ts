// The devnet end to end: real devchain, real libp2p mesh, 4 real `conclave start` processes, the
// real Docker sandbox and the miners of node/devnet/miners served from loopback. One run, with the
// smallest-stake validator SIGKILLed after it committed its report hash: the three others must
// still certify one decision, the right miners must win and be refused, and `conclave audit`
// against a live validator's API must verify. Also: the dashboard page served by a real API, and
// driven in headless chromium (playwright-core) against a live validator once the run is certified.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import Dockerode from 'dockerode';
import type { Browser } from 'playwright-core';
import { openSameOriginPage } from '../dashboard/chromium.ts';
import { runDevnet, type DevnetSummary } from '../../node/devnet/devnet.ts';
import { SANDBOX_LABEL } from '../../runtime/sandbox.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

/** What the dashboard showed in the browser, and what the same API served (the expectation). */
interface BrowserCheck {
  api: string;
  rowIds: number[];
  rowText: Map<number, string>;
  detailRunId: number | null;
  hash: string;
  series: { name: string | null; n: number }[];
  /** Decodable reports served by GET /v1/runs/:runId/reports: scored entries per report. */
  servedScored: number[];
  servedHashes: string[];
  countedHashes: string[];
  medianPoints: number;
  consoleErrors: string[];
  offOrigin: string[];
  screenshot: string | null;
  error: string | null;
}

/** Headless chromium against one live validator: run history, then the first run's detail. */
async function checkDashboardInBrowser(api: string, runId: number): Promise<BrowserCheck> {
  const out: BrowserCheck = {
    api, rowIds: [], rowText: new Map(), detailRunId: null, hash: '', series: [], servedScored: [], servedHashes: [], countedHashes: [],
    medianPoints: -1, consoleErrors: [], offOrigin: [], screenshot: null, error: null,
  };
  let browser: Browser | undefined;
  try {
    const get = async (path: string) => {
      const r = await fetch(`${api}${path}`, { signal: AbortSignal.timeout(10_000) });
      if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
      return r.json() as Promise<any>;
    };
    const [reportsBody, runBody] = await Promise.all([get(`/v1/runs/${runId}/reports`), get(`/v1/runs/${runId}`)]);
    const decoded = (reportsBody.reports as any[]).filter((x) => x.report);
    out.servedScored = decoded.map((x) => (x.report.entries as any[]).filter((e) => e.status === 'scored').length).sort((a, b) => a - b);
    out.servedHashes = decoded.map((x) => x.reportHash as string);
    out.countedHashes = runBody.decision?.reportHashes ?? [];
    out.medianPoints = ((runBody.decision?.scores ?? []) as { score: number | null }[]).filter((s) => s.score !== null).length;

    const opened = await openSameOriginPage(api, 15_000);
    browser = opened.browser;
    const page = opened.page;
    out.consoleErrors = opened.consoleErrors;
    out.offOrigin = opened.offOrigin;
    await page.goto(`${api}/?refresh=0`);
    await page.waitForSelector('body[data-loaded="true"]');
    out.rowIds = await page.$$eval('#runs tbody tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-run-id'))));
    for (const id of out.rowIds) out.rowText.set(id, await page.$eval(`#runs tbody tr[data-run-id="${id}"]`, (tr) => (tr as HTMLElement).innerText));
    await page.click(`#runs tbody tr[data-run-id="${runId}"] button`);
    await page.waitForSelector(`#run-detail[data-run-id="${runId}"]:not([hidden]):not([aria-busy]) svg[data-chart="run-scores"]`);
    out.detailRunId = Number(await page.getAttribute('#run-detail', 'data-run-id'));
    out.hash = new URL(page.url()).hash;
    out.series = await page.$$eval('svg[data-chart="run-scores"] g.series', (gs) => gs.map((g) => ({ name: g.getAttribute('data-series'), n: Number(g.getAttribute('data-points')) })));
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = new URL('dashboard-devnet.png', ARTIFACTS).pathname;
    await page.screenshot({ path: file, fullPage: true });
    out.screenshot = file;
  } catch (err) {
    out.error = (err as Error).stack ?? String(err);
  } finally {
    await browser?.close().catch(() => undefined);
  }
  return out;
}

describe('npm run devnet (integration: devchain + mesh + 4 validator processes + Docker sandbox)', function () {
  // Evaluations in the sandbox dominate: 4 validators × (reference + 3 sandboxed miners) on a shared 2-core box.
  this.timeout(20 * 60_000);
  let summary: DevnetSummary;
  let dashboard: { status: number; type: string | null; body: string } | undefined;
  let readyApis: string[] = [];
  let inBrowser: BrowserCheck | undefined;

  before(async function () {
    try {
      await new Dockerode().ping();
    } catch {
      this.skip(); // no Docker engine: the devnet refuses (tested below without Docker being needed)
    }
    summary = await runDevnet({
      runs: 1,
      // ~100 s of evaluation here; 700 one-second blocks leave room for a machine several times slower
      // (once every live validator has committed, the remaining blocks are fast-forwarded)
      commitWindow: 700,
      kill: { index: 3, phase: 'committed' },
      timeoutMs: 18 * 60_000,
      log: () => undefined,
      onReady: ({ apis }) => {
        readyApis = apis;
        void fetch(`${apis[0]}/`, { signal: AbortSignal.timeout(10_000) })
          .then(async (r) => { dashboard = { status: r.status, type: r.headers.get('content-type'), body: await r.text() }; })
          .catch(() => undefined);
      },
      // the validators are still up here: drive the dashboard of the first live one in chromium
      onRunsDone: async ({ apis, runIds }) => {
        if (apis.length && runIds.length) inBrowser = await checkDashboardInBrowser(apis[0], runIds[0]);
      },
    });
  });

  it('the three live validators certify one and the same decision (one of four was killed mid-run)', () => {
    assert.equal(summary.runs.length, 1, `problems: ${summary.problems.join('; ')}`);
    const run = summary.runs[0];
    assert.equal(summary.validators.find((v) => v.index === 3)?.killed, true);
    assert.equal(run.certifiedBy.length, 3, `not certified by: ${run.notCertified.join(', ')}`);
    assert.equal(run.sameCertificate, true);
    assert.ok(run.countedStakeShare !== null && run.countedStakeShare > 2 / 3 && run.countedStakeShare < 1, `counted stake ${run.countedStakeShare}`);
  });

  it('commit-reveal is on, as on real subnets: every live validator committed its weights timelocked and the chain revealed them (revealConfirmed)', () => {
    const run = summary.runs[0];
    const live = summary.validators.filter((v) => v.alive && !v.killed).map((v) => v.index).sort();
    assert.deepEqual(run.weightsByValidator.map((w) => w.index).sort(), live);
    for (const w of run.weightsByValidator) {
      assert.equal(w.result, 'set', `v${w.index}: ${w.reason}`);
      assert.equal(w.committed, true, `v${w.index} committed`);
      assert.equal(w.revealed, true, `v${w.index} revealed: ${w.reason}`);
      assert.equal(w.revealConfirmed, true, `v${w.index} revealConfirmed: ${w.reason}`);
      assert.ok(w.revealBlock! > w.commitBlock!, 'revealed in a later epoch');
    }
  });

  it('the faster honest miner wins; copies, cheats and the redirecting URL are refused', () => {
    const run = summary.runs[0];
    const by = new Map(run.miners.map((m) => [m.miner, m]));
    assert.equal(run.winnerMiner, 'faster');
    assert.equal(by.get('honest')?.status, 'scored');
    assert.equal(by.get('faster')?.status, 'scored');
    assert.ok((by.get('faster')!.consensusScore ?? 0) > (by.get('honest')!.consensusScore ?? 0));
    assert.equal(by.get('renamed-copy')?.status, 'duplicate');
    assert.equal(by.get('redirect')?.status, 'fetch-failed');
    assert.match(by.get('timer-cheat')!.status, /^rejected-/);
    assert.equal(by.get('skip-backward')?.status, 'rejected-runtime');
    for (const m of ['renamed-copy', 'redirect', 'timer-cheat', 'skip-backward']) assert.equal(by.get(m)?.consensusScore ?? 0, 0, m);
  });

  it('conclave audit against a live validator verifies the run', () => {
    assert.ok(summary.audit, 'no audit ran');
    assert.equal(summary.audit!.ok, true, `failed checks: ${summary.audit!.failed.join(', ')}`);
    assert.equal(summary.audit!.exitCode, 0);
    assert.ok(summary.audit!.checks >= 10);
    assert.equal(summary.ok, true, summary.problems.join('; '));
  });

  it('conclave audit fetching the run from a live validator over libp2p (--source MULTIADDR) verifies too', () => {
    assert.ok(summary.auditP2p, 'no multiaddr audit ran');
    assert.match(summary.auditP2p!.source, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
    assert.equal(summary.auditP2p!.ok, true, `failed checks: ${summary.auditP2p!.failed.join(', ')}`);
    assert.equal(summary.auditP2p!.exitCode, 0);
  });

  it("a real validator's API serves the dashboard page at /", () => {
    assert.equal(readyApis.length, 4);
    assert.ok(dashboard, 'GET / did not answer');
    assert.equal(dashboard!.status, 200);
    assert.match(dashboard!.type ?? '', /text\/html/);
    assert.match(dashboard!.body, /<html/i);
  });

  it('in headless chromium, a live validator\'s dashboard lists the run with its certified winner, without console errors', () => {
    assert.ok(inBrowser, 'the onRunsDone hook did not run');
    assert.equal(inBrowser!.error, null);
    assert.ok(summary.validators.some((v) => v.api === inBrowser!.api && v.alive && !v.killed), 'the page was not served by a live validator');
    // with commit-reveal the weights are revealed in the next epoch, so the next run has opened by then
    const ids = summary.runs.map((r) => r.runId);
    assert.deepEqual(inBrowser!.rowIds.filter((id) => ids.includes(id)), [...ids].reverse());
    assert.ok(inBrowser!.rowIds.every((id) => ids.includes(id) || id > Math.max(...ids)), `only later runs besides the devnet's: ${inBrowser!.rowIds}`);
    for (const run of summary.runs) {
      const text = inBrowser!.rowText.get(run.runId) ?? '';
      assert.match(text, /certified/);
      assert.ok(run.winner !== null, 'the run has no winner');
      assert.match(text, new RegExp(`uid ${run.winner}\\b`));
    }
    assert.deepEqual(inBrowser!.consoleErrors, []);
    assert.deepEqual(inBrowser!.offOrigin, [], 'the page requested another origin');
  });

  it('clicking the run opens its detail: one score series per counted report plus the median, one point per scored miner', () => {
    assert.equal(inBrowser?.error, null);
    const b = inBrowser!;
    const runId = summary.runs[0].runId;
    assert.equal(b.detailRunId, runId);
    assert.equal(b.hash, `#run/${runId}`);
    // the certificate counted >= 3 reports (3 live validators; the killed one's only if it got out in time)
    assert.ok(b.countedHashes.length >= 3 && b.countedHashes.length <= 4, `counted ${b.countedHashes.length}`);
    assert.deepEqual([...b.servedHashes].sort(), [...b.countedHashes].sort(), 'served reports differ from the counted ones');
    assert.equal(b.series.length, b.countedHashes.length + 1);
    assert.equal(b.series[b.series.length - 1].name, 'consensus median');
    assert.deepEqual(b.series.slice(0, -1).map((s) => s.n).sort((x, y) => x - y), b.servedScored);
    // miners every counted report scored (honest and faster at least) appear in every validator's series
    const unanimous = summary.runs[0].miners.filter((m) => m.statuses.scored === b.countedHashes.length);
    assert.ok(unanimous.length >= 2, `unanimously scored: ${unanimous.map((m) => m.miner)}`);
    assert.ok(b.servedScored.every((n) => n >= unanimous.length), `scored per report ${b.servedScored}`);
    assert.equal(b.series[b.series.length - 1].n, b.medianPoints);
    assert.ok(b.medianPoints >= 2, 'honest and faster have consensus scores');
    assert.ok(b.screenshot && existsSync(b.screenshot), 'no screenshot saved');
  });

  it('leaves no sandbox container of the devnet behind', async () => {
    const list = await new Dockerode().listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } });
    assert.equal(list.filter((c) => (c.Mounts ?? []).some((m) => String(m.Source).startsWith(summary.dir))).length, 0);
  });
});
