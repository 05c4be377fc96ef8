// The scale harness scaled down for `npm test`: 10 validators of unequal stake in 2 worker processes
// of 5 real nodes (startNode: libp2p over loopback TCP, devchain commitments, PBFT over the wire,
// LevelDB store and archive), 32 miners, evaluation replaced by precomputed outcomes. Three of the
// validators (just under 1/3 of stake) are planned Byzantine — one equivocates, one withholds, one
// floods — and act so only in the last run. The 64-validator figures come from `npm run bench -- scale`.
import assert from 'node:assert/strict';
import { ScaleNetwork, until } from '../../bench/scale/network.ts';
import { auditRun } from '../../bench/scale/report.ts';
import { byzantineRun, honestRun, restartRun } from '../../bench/scale/scenarios.ts';

describe('scale: 10 validators over real libp2p, 2 processes x 5 nodes', function () {
  this.timeout(15 * 60_000);
  let net: ScaleNetwork | null = null;
  let firstRun = 0;
  const show = (what: string, o: unknown) => process.stdout.write(`      ${what}: ${JSON.stringify(o)}\n`);

  before(async () => {
    net = await ScaleNetwork.start({ validators: 10, miners: 32, byzantine: 3, nodesPerWorker: 5, viewTimeoutS: 10, consensusTimeoutS: 180 });
    assert.ok(await until(() => net!.meshFormed(), 300_000, 1000), 'every node admits the 9 others');
  });

  after(async () => {
    await net?.stop();
  });

  it('an honest run: every validator certifies the same decision, counting all 10 reports', async () => {
    const { r, figures } = await honestRun(net!);
    firstRun = r.runId;
    show('honest run', { agreement: figures.agreement, latency_from_reveal_open: figures.latency_from_reveal_open, resources: figures.resources });
    assert.equal(figures.agreement.honest_certified, 10);
    assert.equal(figures.agreement.honest_decisions, 1);
    assert.equal(figures.agreement.nodes_certifying_two, 0);
    assert.deepEqual(figures.agreement.counted, [10]);
    assert.ok(figures.resources.traffic_mib_mean! > 0, 'traffic is metered');
    // every validator held the run's roster when it revealed: each reveal went compact, and none was refused for its roster
    assert.ok(figures.resources.reports_sent_compact >= 10, `every reveal sent compact (${figures.resources.reports_sent_compact})`);
    assert.equal(figures.resources.reports_ignored_unknown_roster, 0);
    // every committed reveal arrives early in the window: consensus starts then, not at the window's end
    const windowMs = net!.opts.revealWindow * net!.opts.blockMs;
    assert.ok(figures.latency_from_reveal_open.max_ms! < windowMs, `every node certified before the ${windowMs} ms reveal window closed (max ${figures.latency_from_reveal_open.max_ms} ms)`);
  });

  it('conclave audit verifies that run from a validator multiaddr and the devchain', async () => {
    const a = await auditRun(net!, firstRun);
    show('audit', { exit: a.exit, ok: a.ok, checks: a.checks, cpu_ms: a.cpu_ms, failed: a.failed, error: a.error });
    assert.equal(a.exit, 0, `audit failed: ${a.failed.join(', ')} ${a.error ?? ''}`);
    assert.equal(a.ok, true);
    // the same run from the node's archive directory, read while the node runs
    const b = await auditRun(net!, firstRun, undefined, 'archive');
    show('audit from the archive', { exit: b.exit, ok: b.ok, checks: b.checks, cpu_ms: b.cpu_ms, failed: b.failed, error: b.error });
    assert.equal(b.exit, 0, `audit failed: ${b.failed.join(', ')} ${b.error ?? ''}`);
    assert.equal(b.checks, a.checks, 'the same checks as from the mesh port');
    // the compiled CLI (what bin/conclave runs once built), with the validators paused as on an auditor's own machine
    const c = await auditRun(net!, firstRun, undefined, 'archive', { cli: 'compiled', validatorsPaused: true });
    show('audit from the archive, compiled CLI, validators paused', { exit: c.exit, ok: c.ok, checks: c.checks, cpu_ms: c.cpu_ms, failed: c.failed, error: c.error });
    assert.equal(c.exit, 0, `audit failed: ${c.failed.join(', ')} ${c.error ?? ''}`);
    assert.equal(c.checks, a.checks);
    assert.equal(c.cli, 'compiled');
  });

  it('the 5 largest validators SIGKILLed once consensus starts resume from their stores: one decision, none certifies two', async () => {
    const { figures } = await restartRun(net!, 0);
    show('restart', { restart: figures.restart, agreement: figures.agreement, latency_of_restarted_from_restart: figures.latency_of_restarted_from_restart });
    assert.equal(figures.restart.killed_nodes, 5);
    assert.ok(figures.restart.killed_stake_pct > 100 / 3, 'without them the others hold no quorum: certifying needs the restarted nodes');
    assert.equal(figures.agreement.honest_certified, 10);
    assert.equal(figures.agreement.honest_decisions, 1);
    assert.equal(figures.agreement.nodes_certifying_two, 0);
    assert.equal(figures.agreement.archive_conflicts, 0);
  });

  it('3 Byzantine validators (< 1/3 stake) equivocate, withhold and flood: the 7 honest certify one decision without them', async () => {
    const { figures } = await byzantineRun(net!, 100, 15_000);
    show('byzantine', { byzantine: figures.byzantine, agreement: figures.agreement });
    const b = figures.byzantine;
    assert.equal(b.equivocate + b.withhold + b.flood, 3);
    assert.ok(b.stake_pct < 100 / 3);
    assert.ok(b.secondReports > 0 && b.floodSent > 0 && b.withheld > 0, 'every Byzantine behaviour happened');
    assert.equal(figures.agreement.honest_certified, 7);
    assert.equal(figures.agreement.honest_decisions, 1);
    assert.equal(figures.agreement.nodes_certifying_two, 0);
    // neither the equivocator (two reports) nor the withholder (no reveal) is counted
    for (const c of figures.agreement.counted) assert.ok(c <= 8, `certificate counts ${c} reports`);
    // the flooder is banned by every honest node; no honest peer is banned, none is left in a mesh with it
    assert.equal(b.honest_nodes_that_banned.flood, 7);
    assert.equal(b.honest_nodes_that_banned.honest ?? 0, 0);
    assert.equal(b.honest_mesh_peers_that_are_flooders, 0);
    assert.ok(b.score_given_to_honest_min! >= 0, 'honest peers keep a non-negative gossip score');
  });
});
