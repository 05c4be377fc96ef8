// The devnet end to end: real devchain, real libp2p mesh, 4 real `conclave start` processes, the
// real Docker sandbox and the miners of node/devnet-miners served from loopback. One run, with the
// smallest-stake validator SIGKILLed after it committed its report hash: the three others must
// still certify one decision, the right miners must win and be refused, and `conclave audit`
// against a live validator's API must verify. Also: the dashboard page served by a real API.
import assert from 'node:assert/strict';
import Dockerode from 'dockerode';
import { runDevnet, type DevnetSummary } from '../../node/devnet.ts';
import { SANDBOX_LABEL } from '../../runtime/sandbox.ts';

describe('npm run devnet (integration: devchain + mesh + 4 validator processes + Docker sandbox)', function () {
  // Evaluations in the sandbox dominate: 4 validators × (reference + 3 sandboxed miners) on a shared 2-core box.
  this.timeout(20 * 60_000);
  let summary: DevnetSummary;
  let dashboard: { status: number; type: string | null; body: string } | undefined;
  let readyApis: string[] = [];

  before(async function () {
    try {
      await new Dockerode().ping();
    } catch {
      this.skip(); // no Docker engine: the devnet refuses (tested below without Docker being needed)
    }
    summary = await runDevnet({
      runs: 1,
      kill: { index: 3, phase: 'committed' },
      timeoutMs: 18 * 60_000,
      log: () => undefined,
      onReady: ({ apis }) => {
        readyApis = apis;
        void fetch(`${apis[0]}/`, { signal: AbortSignal.timeout(10_000) })
          .then(async (r) => { dashboard = { status: r.status, type: r.headers.get('content-type'), body: await r.text() }; })
          .catch(() => undefined);
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

  it('leaves no sandbox container of the devnet behind', async () => {
    const list = await new Dockerode().listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } });
    assert.equal(list.filter((c) => (c.Mounts ?? []).some((m) => String(m.Source).startsWith(summary.dir))).length, 0);
  });
});
