// A full subnet over real libp2p: `npm run bench -- scale`. 64 validators of unequal stake (distinct
// hotkeys), 256 miners in the roster, each validator the real node (startNode: gossip, commitment check
// against the devchain, PBFT over the wire, certificate, LevelDB archive) with a precomputed
// EvaluatorPort stand-in instead of the sandbox. Prints one JSON line per measurement:
//   scale.processes   RSS of a one-node process: do 64 real processes fit this machine?
//   scale.formation   start-up and mesh formation of the whole network
//   scale.run         honest runs: latency from the reveal opening to the certificates, traffic, CPU, ...
//   scale.audit       `conclave audit` of a 64-validator run (process CPU)
//   scale.partition   a partition into two halves that heals
//   scale.restart     the 8 largest-stake validators SIGKILLed once consensus starts, restarted
//   scale.byzantine   21 Byzantine validators (just under 1/3 of stake): equivocate, withhold, flood
// SCALE_NETWORKS picks how the runs share networks: `per-scenario` (the default) starts a fresh network
// for the honest runs and audit and one for each fault scenario, so each fault is measured on its own
// and not on the CPU left over by the runs before it (2 cores for 64 nodes: a later run of one network
// overlaps the next run's evaluation); `one` runs them all on one network, its Byzantine roles switched
// on for the last run only.
// Environment: SCALE_VALIDATORS (64), SCALE_MINERS (256), SCALE_PER_WORKER (8), SCALE_SCENARIOS
// (comma list of honest,audit,partition,restart,byzantine; default all), SCALE_NETWORKS (per-scenario | one), SCALE_BLOCK_MS (1000), SCALE_TEMPO
// (360 blocks, subtensor's default tempo, of SCALE_BLOCK_MS instead of 12 s: a run must certify by its chain
// deadline, the next run's reveal deadline, tempo + reveal window blocks after its reveal opens), SCALE_COMMIT_WINDOW (120 blocks:
// 64 nodes evaluating and committing on 2 shared cores take about a minute; the driver fast-forwards
// the rest of the window once every node has committed), SCALE_CONSENSUS_TIMEOUT_S (240: the nodes' consensus
// timeout; the driver waits for a run until the later of it and the run's chain deadline, + 30 s: run.ts runWaitMs),
// SCALE_CPU_PROF=DIR (V8 CPU profile of every worker during each run), SCALE_KEEP=1 (keep the data dirs
// and node logs).
import { freemem, totalmem } from 'node:os';
import { ScaleNetwork, until, type ScaleOptions } from './scale/network.ts';
import { auditModuleCosts, auditModuleLoad, auditRun, auditVerifyCpu, load } from './scale/report.ts';
import { byzantineRun, honestRun, partitionRun, restartRun } from './scale/scenarios.ts';

const V = Number(process.env.SCALE_VALIDATORS ?? 64);
const M = Number(process.env.SCALE_MINERS ?? 256);
const PER = Number(process.env.SCALE_PER_WORKER ?? 8);
const BLOCK_MS = Number(process.env.SCALE_BLOCK_MS ?? 1000);
const TEMPO = Number(process.env.SCALE_TEMPO ?? 360);
const COMMIT_WINDOW = Number(process.env.SCALE_COMMIT_WINDOW ?? 120);
const ALL = ['honest', 'audit', 'partition', 'restart', 'byzantine'];
const want = new Set((process.env.SCALE_SCENARIOS ?? ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
const unknown = [...want].filter((s) => !ALL.includes(s));
if (unknown.length) throw new Error(`SCALE_SCENARIOS: unknown scenario(s) ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
const NETWORKS = process.env.SCALE_NETWORKS ?? 'per-scenario';
if (NETWORKS !== 'per-scenario' && NETWORKS !== 'one') throw new Error(`SCALE_NETWORKS must be per-scenario or one, got ${NETWORKS}`);
const t0 = Date.now();
const log = (l: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${l}\n`);
const out = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const MiB = 1024 * 1024;
const CONSENSUS_TIMEOUT_S = Number(process.env.SCALE_CONSENSUS_TIMEOUT_S ?? 240);
const base = { validators: V, miners: M, blockMs: BLOCK_MS, tempo: TEMPO, commitWindow: COMMIT_WINDOW, log, viewTimeoutS: 30, consensusTimeoutS: CONSENSUS_TIMEOUT_S, keep: process.env.SCALE_KEEP === '1' };

// a bench stopped from outside (timeout, Ctrl-C) still takes its workers down and removes its data
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`scale: ${sig}: stopping the network`);
    void Promise.all([...ScaleNetwork.running].map((n) => n.stop())).finally(() => process.exit(130));
  });
}

async function withNetwork<T>(opts: Partial<ScaleOptions>, fn: (net: ScaleNetwork) => Promise<T>): Promise<T | null> {
  let net: ScaleNetwork | null = null;
  try {
    net = await ScaleNetwork.start({ ...base, nodesPerWorker: PER, ...opts });
    return await fn(net);
  } catch (err) {
    out({ bench: 'scale.error', error: (err as Error).message.slice(0, 2000), load_avg: load() });
    process.exitCode = 1;
    return null;
  } finally {
    await net?.stop();
  }
}

async function formation(net: ScaleNetwork): Promise<void> {
  const t = Date.now();
  let lastLog = 0;
  const formed = await until(async () => {
    if (await net.meshFormed()) return true;
    if (Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      const ms = await net.metrics();
      const adm = ms.flatMap((w) => w.nodes.map((n) => n.admittedPeers));
      const events: Record<string, number> = {};
      for (const w of ms) for (const n of w.nodes) for (const [k, v] of Object.entries(n.meshEvents)) events[k] = (events[k] ?? 0) + v;
      log(`scale: forming: admitted min ${Math.min(...adm)} mean ${(adm.reduce((a, b) => a + b, 0) / adm.length).toFixed(1)}; events ${JSON.stringify(events)}`);
    }
    return false;
  }, 600_000, 3000);
  const ms = await net.metrics();
  const events: Record<string, number> = {};
  for (const w of ms) for (const n of w.nodes) for (const [k, v] of Object.entries(n.meshEvents)) events[k] = (events[k] ?? 0) + v;
  out({
    bench: 'scale.formation', validators: V, byzantine: net.plan.validators.filter((v) => v.role !== 'honest').length, nodes_per_process: PER, processes: net.workers.length,
    startup_ms: net.startupMs, formation_ms_after_startup: Date.now() - t, formed,
    rss_mib_per_node: Math.round((ms.reduce((a, w) => a + w.rssBytes, 0) / V / MiB) * 10) / 10,
    admitted_min: Math.min(...ms.flatMap((w) => w.nodes.map((n) => n.admittedPeers))), mesh_events: events, load_avg: load(),
  });
}

// 1. Does a real process per validator fit? One node per process, RSS after joining a small mesh.
if (want.has('honest')) {
  await withNetwork({ validators: 2, nodesPerWorker: 1 }, async (net) => {
    await until(() => net.meshFormed(), 120_000, 1000);
    const ms = await net.metrics();
    const rss = Math.max(...ms.map((w) => w.rssBytes)) / MiB;
    out({
      bench: 'scale.processes', miners: M, rss_mib_one_node_process: Math.round(rss), memory_total_mib: Math.round(totalmem() / MiB), memory_free_mib: Math.round(freemem() / MiB),
      rss_mib_for_64_processes: Math.round(rss * 64), fits_64_processes_in_free_memory: rss * 64 < freemem() / MiB, nodes_per_process_used: PER, load_avg: load(),
    });
  });
}

// 2. Networks of V validators with floor((V-1)/3) Byzantine roles planned (stake just under 1/3),
// dormant (honest) until the byzantine scenario switches them on: honest runs and audit, partition,
// restart, then the Byzantine run; on one network each (SCALE_NETWORKS=per-scenario) or all on one.
const groups = NETWORKS === 'one'
  ? [ALL.filter((s) => want.has(s))]
  : [['honest', 'audit'], ['partition'], ['restart'], ['byzantine']].map((g) => g.filter((s) => want.has(s))).filter((g) => g.length > 0);
for (const group of groups) await scenarios(new Set(group));

async function scenarios(want: Set<string>): Promise<void> {
  await withNetwork({ byzantine: Math.floor((V - 1) / 3) }, async (net) => {
    await formation(net);
    let firstRun: number | null = null;
    for (const label of ['first', 'second']) {
      if (!want.has('honest') && (label === 'second' || !want.has('audit'))) break;
      const { r, figures } = await honestRun(net);
      firstRun ??= r.runId;
      out({ bench: 'scale.run', run: label, ...figures });
    }
    if (want.has('audit') && firstRun !== null) {
      const source = net.nodes.find((x) => x.role === 'honest')!;
      const proc = await auditRun(net, firstRun, source);
      const moduleLoad = await auditModuleLoad();
      out({
        bench: 'scale.audit', run_id: firstRun, validators: V, miners: M, ...proc, module_load_cpu_ms: moduleLoad,
        audit_work_cpu_ms: proc.cpu_ms !== null && moduleLoad !== null ? proc.cpu_ms - moduleLoad : null,
        module_costs_cpu_ms: await auditModuleCosts(net.chain.url),
        ...(await auditVerifyCpu(net, firstRun, source)), load_avg: load(),
      });
      // the same audit with the evidence read from the node's archive instead of its mesh port (no libp2p)
      out({ bench: 'scale.audit', run_id: firstRun, validators: V, miners: M, ...(await auditRun(net, firstRun, source, 'archive')), load_avg: load() });
      // what bin/conclave runs once built (`npm run build`, also run by npm ci): the compiled CLI, from
      // each source, beside the running validators and then with them paused, as on an auditor's own machine
      for (const via of ['multiaddr', 'archive'] as const) {
        out({ bench: 'scale.audit', run_id: firstRun, validators: V, miners: M, ...(await auditRun(net, firstRun, source, via, { cli: 'compiled' })), load_avg: load() });
      }
      out({ bench: 'scale.audit', run_id: firstRun, validators: V, miners: M, ...(await auditRun(net, firstRun, source, 'archive', { cli: 'compiled', validatorsPaused: true })) });
    }
    if (want.has('partition')) {
      const { figures } = await partitionRun(net, (net.opts.revealWindow * BLOCK_MS) + 5_000);
      out({ bench: 'scale.partition', ...figures });
    }
    if (want.has('restart')) {
      const { figures } = await restartRun(net, 0);
      out({ bench: 'scale.restart', ...figures });
    }
    if (want.has('byzantine')) {
      const { figures } = await byzantineRun(net, 200, 20_000);
      out({ bench: 'scale.byzantine', ...figures });
    }
  });
}
