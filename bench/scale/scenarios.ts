// The scale scenarios, each one run of a ScaleNetwork with its faults and its figures:
//   honest     every validator honest (latency, traffic, CPU, signature checks, memory)
//   partition  cut in two halves (neither holds 2/3 of stake) before the reveal, healed later
//   restart    one worker's nodes (the largest stakes) SIGKILLed once consensus starts, restarted
//   byzantine  on a network planned with Byzantine roles: equivocate, withhold, flood
import { agreement, latency, load, resources } from './report.ts';
import { driveRun, runWaitMs, type RunResult } from './run.ts';
import { until, type ScaleNetwork } from './network.ts';

/** Nodes that behaved honestly in a run: all of them unless the Byzantine roles were switched on. */
const honestIn = (net: ScaleNetwork, byzantine: boolean) => (i: number) => !byzantine || net.nodes[i].role === 'honest';

function common(net: ScaleNetwork, r: RunResult, byzantine = false) {
  const honest = honestIn(net, byzantine);
  const revealEndAt = net.blockTimes.get(r.revealEnd) ?? null;
  return {
    validators: net.nodes.length, miners: net.plan.miners.length, nodes_per_process: net.opts.nodesPerWorker, processes: net.workers.length,
    block_ms: net.opts.blockMs, reveal_window_blocks: net.opts.revealWindow, run_id: r.runId,
    agreement: agreement(net, r, honest),
    latency_from_reveal_open: latency(r, r.revealOpenAt, honest),
    latency_from_reveal_end: revealEndAt === null ? null : latency(r, revealEndAt, honest),
    latency_node_measured_ms: { p50: pctOf([...r.certified.values()].filter((c) => honest(c.index)).map((c) => c.latencyMs), 50), p99: pctOf([...r.certified.values()].filter((c) => honest(c.index)).map((c) => c.latencyMs), 99) },
    phases_from_reveal_open_ms: phaseTimeline(net, r, honest),
    resources: resources(net, r),
    run_wall_ms: r.wallMs, unfinished: r.unfinished, load_avg: load(),
  };
}

/** When the honest nodes entered each phase after the reveal opened (p50 / max over nodes), and certified. */
function phaseTimeline(net: ScaleNetwork, r: RunResult, honest: (i: number) => boolean) {
  const at = (pred: (e: { msg: string; fields: Record<string, any> }) => boolean) => {
    const first = new Map<number, number>();
    for (const e of net.events) if (honest(e.index) && e.fields.runId === r.runId && pred(e) && !first.has(e.index)) first.set(e.index, e.at - r.revealOpenAt);
    const xs = [...first.values()];
    return { p50: pctOf(xs, 50), max: xs.length ? Math.max(...xs) : null };
  };
  return {
    publishing: at((e) => e.msg === 'run phase' && e.fields.phase === 'publishing'),
    reveal_window_end: (net.blockTimes.get(r.revealEnd) ?? r.revealOpenAt) - r.revealOpenAt,
    consensus: at((e) => e.msg === 'run phase' && e.fields.phase === 'consensus'),
    certified: at((e) => e.msg === 'run certified'),
  };
}

function pctOf(xs: number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export async function honestRun(net: ScaleNetwork) {
  const r = await driveRun(net);
  return { r, figures: common(net, r) };
}

/** Even and odd indices on two sides (each about half the stake) from commit-window end until `healAfterMs` after the reveal opens. */
export async function partitionRun(net: ScaleNetwork, healAfterMs: number) {
  const side = new Set(net.nodes.filter((x) => x.index % 2 === 0).map((x) => x.index));
  let healedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const r = await driveRun(net, {
    hooks: {
      onCommitted: () => net.partition(side),
      onRevealOpen: () => {
        timer = setTimeout(() => {
          net.heal();
          healedAt = Date.now();
        }, healAfterMs);
      },
    },
  });
  clearTimeout(timer);
  const sideStake = net.nodes.filter((x) => side.has(x.index)).reduce((a, x) => a + x.stake, 0n);
  const share = Number((sideStake * 10_000n) / net.plan.totalStake) / 100;
  const certifiedBeforeHeal = [...r.certified.values()].filter((c) => healedAt === 0 || c.at < healedAt).length;
  return {
    r,
    figures: {
      ...common(net, r),
      partition: { side_a_nodes: side.size, side_a_stake_pct: share, side_b_stake_pct: Math.round((100 - share) * 100) / 100, heal_after_reveal_open_ms: healAfterMs, certified_before_heal: certifiedBeforeHeal },
      latency_from_heal: healedAt ? latency(r, healedAt, honestIn(net, false)) : null,
    },
  };
}

/**
 * SIGKILLs worker `worker` (all its nodes at once) mid-consensus: the worker kills itself the moment
 * the first of its nodes enters consensus (its session open, its state persisted, its first messages
 * out), or the orchestrator kills it 60 s after the reveal opened if none did; restarted at once.
 */
export async function restartRun(net: ScaleNetwork, worker: number) {
  const victims = net.nodes.filter((x) => x.worker === worker).map((x) => x.index);
  let killedAt = 0;
  let restartedAt = 0;
  let restart: Promise<void> | null = null;
  const r = await driveRun(net, {
    hooks: {
      onCommitted: (runId) => net.killAt(worker, runId, 'consensus'),
      onRevealOpen: async () => {
        if (!(await until(() => !net.workers[worker].alive, 60_000, 5))) net.kill(worker);
        killedAt = Date.now();
        restart = net.restart(worker).then(() => { restartedAt = Date.now(); });
      },
      settle: async (_runId, done) => {
        await restart;
        await until(() => victims.every(done), runWaitMs(net.opts), 200);
      },
    },
  });
  const stake = net.nodes.filter((x) => victims.includes(x.index)).reduce((a, x) => a + x.stake, 0n);
  // the phase each victim had persisted when it died, as it says when it resumes (the node whose entry
  // into consensus triggered the kill never got to report it before dying)
  const resumedIn = (i: number) => net.events.find((e) => e.index === i && e.msg === 'resuming run from the store' && e.fields.runId === r.runId)?.fields.phase;
  const phasesAtKill = victims.map((i) => resumedIn(i) ?? net.events.filter((e) => e.index === i && e.msg === 'run phase' && e.fields.runId === r.runId && e.at <= killedAt).at(-1)?.fields.phase ?? 'none');
  return {
    r,
    figures: {
      ...common(net, r),
      restart: {
        killed_nodes: victims.length, killed_stake_pct: Number((stake * 10_000n) / net.plan.totalStake) / 100, phases_at_kill: phasesAtKill,
        restart_ms: restartedAt ? restartedAt - killedAt : null,
        restarted_certified: victims.filter((i) => r.certified.has(i)).length,
        resumed_from_store: net.events.filter((e) => victims.includes(e.index) && e.msg === 'resuming run from the store' && e.fields.runId === r.runId).length,
      },
      latency_from_kill: killedAt ? latency(r, killedAt, honestIn(net, false)) : null,
      // a victim that certified just before the kill logs its certificate again when it resumes: the
      // restarted figure counts only certificates logged after the restart
      latency_of_restarted_from_restart: restartedAt ? restartedLatency(net, r.runId, victims, restartedAt) : null,
    },
  };
}

/**
 * One run with the planned Byzantine roles switched on: equivocators and withholders from the start
 * of the run, flooders from the reveal on. Switched off again afterwards.
 */
export async function byzantineRun(net: ScaleNetwork, floodRate: number, floodMs: number) {
  net.byzantine(true);
  let r: RunResult;
  try {
    r = await driveRun(net, { hooks: { onRevealOpen: (runId) => net.byzantine(true, { runId, rate: floodRate, durationMs: floodMs }) } });
  } finally {
    net.byzantine(false);
  }
  const role = new Map(net.nodes.map((x) => [x.peerId, x.role]));
  const honestMetrics = r.after.flatMap((w) => w.nodes).filter((n) => net.nodes[n.index].role === 'honest');
  const meshPeers = honestMetrics.flatMap((n) => n.meshPeers);
  const scoresOf = (which: string) => honestMetrics.flatMap((n) => n.scores.filter((s) => role.get(s.peerId) === which).map((s) => s.score));
  const floodersConnected = honestMetrics.map((n) => n.scores.filter((s) => role.get(s.peerId) === 'flood').length);
  const rejected = honestMetrics.map((n) => (n.rejected['bad-signature'] ?? 0) + (n.rejected.decode ?? 0));
  const byz = r.after.reduce((a, w) => ({ secondReports: a.secondReports + w.byzantine.secondReports, conflictingVotes: a.conflictingVotes + w.byzantine.conflictingVotes, withheld: a.withheld + w.byzantine.withheld, floodSent: a.floodSent + w.byzantine.floodSent }), { secondReports: 0, conflictingVotes: 0, withheld: 0, floodSent: 0 });
  const counts = { equivocate: 0, withhold: 0, flood: 0 };
  for (const x of net.nodes) if (x.role !== 'honest') counts[x.role]++;
  const min = (xs: number[]) => (xs.length ? Math.round(Math.min(...xs) * 10) / 10 : null);
  const max = (xs: number[]) => (xs.length ? Math.round(Math.max(...xs) * 10) / 10 : null);
  return {
    r,
    figures: {
      ...common(net, r, true),
      byzantine: {
        ...counts, stake_pct: Math.round(net.plan.byzantineShare * 10_000) / 100, ...byz,
        flood_rate_per_node: floodRate, flood_ms: floodMs,
        honest_nodes_still_connected_to_a_flooder: floodersConnected.filter((c) => c > 0).length,
        invalid_messages_rejected_per_honest_node_mean: Math.round(rejected.reduce((a, b) => a + b, 0) / Math.max(1, rejected.length)),
        // honest nodes that banned a peer (strikeLimit invalid messages), by the role of the banned peer
        honest_nodes_that_banned: bansByRole(net, r.runId),
        honest_mesh_peers: meshPeers.length, honest_mesh_peers_that_are_flooders: meshPeers.filter((p) => role.get(p.peerId) === 'flood').length,
        honest_mesh_peers_that_are_honest: meshPeers.filter((p) => role.get(p.peerId) === 'honest').length,
        score_given_to_honest_min: min(scoresOf('honest')), score_given_to_flooders_max: max(scoresOf('flood')),
        score_given_to_withholders_min: min(scoresOf('withhold')), score_given_to_equivocators_min: min(scoresOf('equivocate')),
      },
    },
  };
}

function restartedLatency(net: ScaleNetwork, runId: number, victims: number[], restartedAt: number) {
  const first = new Map<number, number>();
  for (const e of net.eventsOf('run certified', runId)) {
    if (victims.includes(e.index) && e.at >= restartedAt && !first.has(e.index)) first.set(e.index, e.at - restartedAt);
  }
  const xs = [...first.values()];
  return { samples: xs.length, p50_ms: pctOf(xs, 50), p99_ms: pctOf(xs, 99), max_ms: xs.length ? Math.max(...xs) : null };
}

/** Honest nodes that banned at least one peer of each role (a ban that expires and is placed again counts once). */
function bansByRole(net: ScaleNetwork, _runId: number): Record<string, number> {
  const role = new Map(net.nodes.map((x) => [x.peerId, x.role]));
  const by = new Map<string, Set<number>>();
  for (const e of net.events) {
    if (e.msg !== 'mesh banned a peer' || net.nodes[e.index].role !== 'honest') continue;
    const k = role.get(e.fields.peerId) ?? 'outsider';
    by.set(k, (by.get(k) ?? new Set()).add(e.index));
  }
  return Object.fromEntries([...by].map(([k, s]) => [k, s.size]));
}
