// Operator metrics: /metrics passes `promtool check metrics` (Prometheus's own linter, Debian package
// `prometheus`) with every series the node exports populated; build info carries version and commit;
// process metrics are real; the Grafana dashboard (deploy/grafana) uses only metrics that exist and
// covers the ones operators need; `conclave --version` names the build.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeMetrics, Registry } from '../../node/metrics.ts';
import { registerProcessMetrics } from '../../node/status/process-metrics.ts';
import { NodeStatus } from '../../node/status/node-status.ts';
import { createLogger } from '../../node/logging/logger.ts';
import { buildInfo, gitCommit, PROJECT_ROOT, versionLine } from '../../node/version.ts';
import { main } from '../../node/cli.ts';

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/conclave-dashboard.json', import.meta.url));

/** A registry with every metric of a running node, each series populated as the node would. */
function populated(): { reg: Registry; stop: () => void } {
  const m = nodeMetrics();
  const stop = registerProcessMetrics(m.registry);
  const status = new NodeStatus({
    mode: 'shadow', netuid: 1, hotkey: '5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX', peerId: '12D3KooWTest', endpoint: 'ws://127.0.0.1:9944',
    build: buildInfo(), minPeers: 1, maxHeadAgeMs: 120_000, metrics: m, log: createLogger({ level: 'error', out: () => {} }),
    recentRuns: async () => [], runLoop: () => ({ currentEpoch: null, epochBlocks: null, current: null, tickError: null }),
  });
  status.chainOk(100, 98);
  status.recordPeers(4, 3);
  m.runsTotal.inc({ outcome: 'certified' });
  m.runsTotal.inc({ outcome: 'skipped' });
  m.currentRun.set(7200);
  m.runPhase.set(1, { phase: 'evaluating' });
  m.runPhaseSeconds.observe(12.5, { phase: 'roster' });
  m.runPhaseSeconds.observe(640, { phase: 'evaluating' });
  m.evaluationsTotal.inc({ status: 'scored' });
  m.evaluationsQueued.set(3);
  m.evaluationCacheHits.inc();
  m.evaluationSeconds.observe(42);
  m.gossipRejections.inc({ reason: 'bad-signature' });
  m.reportsReceived.inc({ verdict: 'counted' });
  m.consensusLatency.observe(2.5);
  m.chainErrors.inc({ op: 'commit' });
  m.commitsTotal.inc({ result: 'committed' });
  m.commitsTotal.inc({ result: 'failed' });
  m.weightsSet.inc({ result: 'set' });
  m.weightsSet.inc({ result: 'failed' });
  m.apiRequests.inc({ route: '/v1/runs', code: '200' });
  m.divergenceTop1.set(0.9);
  m.healthy.set(1);
  return { reg: m.registry, stop };
}

/** Every metric name a scrape can contain (histograms add _bucket, _sum, _count). */
function exportedNames(reg: Registry): Set<string> {
  const out = new Set<string>();
  for (const { name, type } of reg.names()) {
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
  }
  return out;
}

describe('operator metrics, build info and the Grafana dashboard', function () {
  this.timeout(30_000);

  it('/metrics passes promtool check metrics with every series populated', async () => {
    const { reg, stop } = populated();
    await new Promise((r) => setTimeout(r, 100)); // let the event-loop monitor sample
    const text = reg.render();
    stop();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.ok(!r.error, `promtool is needed (Debian package prometheus): ${r.error?.message}`);
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    assert.equal((r.stdout + r.stderr).trim(), '', 'no lint warnings');
    for (const name of ['conclave_build_info', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_p99_seconds',
      'conclave_chain_head_block', 'conclave_chain_finalized_block', 'conclave_peers_connected', 'conclave_peers_admitted', 'conclave_run_phase_duration_seconds_bucket',
      'conclave_evaluations_queued', 'conclave_commits_total', 'conclave_weights_set_total']) {
      assert.match(text, new RegExp(`^${name}(\\{| )`, 'm'), name);
    }
  });

  it('build info: package version and the checkout\'s commit; process metrics are this process\'s', () => {
    const b = buildInfo();
    assert.equal(b.version, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    const git = spawnSync('git', ['-C', PROJECT_ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
    if (git.status === 0) assert.equal(gitCommit(PROJECT_ROOT), git.stdout.trim(), 'read from .git without running git');
    assert.equal(buildInfo({ CONCLAVE_BUILD_COMMIT: 'ABCDEF1234' }).commit, 'abcdef1234');
    assert.match(versionLine(b), /^conclave \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown), node v\d+/);

    const { reg, stop } = populated();
    const text = reg.render();
    stop();
    const value = (n: string) => Number(new RegExp(`^${n} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(value('process_resident_memory_bytes') > 10e6);
    assert.ok(value('process_open_fds') > 2);
    assert.ok(value('process_max_fds') >= value('process_open_fds'));
    assert.ok(value('process_cpu_seconds_total') > 0);
    assert.ok(Math.abs(value('process_start_time_seconds') - (Date.now() - performance.now()) / 1000) < 5);
  });

  it('`conclave --version` prints the version and commit', async () => {
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((c: string) => { out += c; return true; }) as typeof process.stdout.write;
    try {
      assert.equal(await main(['--version']), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(out.trim(), versionLine());
    assert.match(execFileSync(fileURLToPath(new URL('../../bin/conclave', import.meta.url)), ['-V'], { encoding: 'utf8' }), /^conclave \d/);
  });

  it('the Grafana dashboard queries only metrics the node exports, and covers the operator set', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const { reg, stop } = populated();
    stop();
    const names = exportedNames(reg);
    const exprs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if ((k === 'expr' || k === 'definition') && typeof x === 'string') exprs.push(x);
          else if (k === 'query' && typeof x === 'string' && /label_values|\(/.test(x)) exprs.push(x);
          else walk(x);
        }
      }
    };
    walk(dash);
    assert.ok(exprs.length >= 30, `${exprs.length} queries`);
    const used = new Set<string>();
    for (const e of exprs) {
      const stripped = e.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}');
      const metrics = stripped.match(/\b(conclave|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
      assert.ok(metrics.length > 0, `query names none of the node's metrics: ${e}`);
      for (const m of metrics) {
        assert.ok(names.has(m), `the dashboard queries ${m}, which the node does not export (in: ${e})`);
        used.add(m.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    for (const need of ['conclave_build_info', 'conclave_healthy', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_p99_seconds',
      'conclave_chain_head_block', 'conclave_chain_finalized_block', 'conclave_peers_connected', 'conclave_peers_admitted', 'conclave_run_phase_duration_seconds',
      'conclave_evaluations_queued', 'conclave_commits_total', 'conclave_weights_set_total', 'conclave_runs_total', 'conclave_current_run', 'conclave_run_phase']) {
      assert.ok(used.has(need), `the dashboard shows no panel for ${need}`);
    }
    // importable: unique panel ids, a datasource input, every panel on the 24-column grid
    const ids = dash.panels.map((p: { id: number }) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(dash.__inputs[0].pluginId, 'prometheus');
    for (const p of dash.panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.title}`);
  });
});
