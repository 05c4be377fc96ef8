// A worker process of the scale harness: runs several validator nodes, each the real node as
// `conclave start` assembles it (startNode: its own libp2p host, hotkey and node key, LevelDB store
// and archive, PBFT session, run-loop timers), with the evaluator replaced by the plan's precomputed
// outcomes. The nodes of one worker share one chain connection (SubtensorClient), as validators
// sharing one subtensor endpoint do; each signs and submits its own extrinsics. Driven by the orchestrator over the IPC channel (bench/scale/protocol.ts).
import { appendFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join } from 'node:path';
import { loadConfigFile } from '../../node/config.ts';
import { startNode } from '../../node/commands/start.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { loadHotkey } from '../../node/keys/wallet.ts';
import { loadNodeKey } from '../../node/keys/node-key.ts';
import { createLogger, type NodeLogger } from '../../node/logging/logger.ts';
import { verifyCounts } from '../../proto/signer.ts';
import { makePlan, precomputedEvaluator, type ScalePlan } from './plan.ts';
import { byzantineSwitch, equivocate, flood, withhold, type ByzantineStats } from './byzantine.ts';
import type { FromWorker, NodeMetrics, NodeSpec, ToWorker } from './protocol.ts';

type Started = Awaited<ReturnType<typeof startNode>>;
interface Running { spec: NodeSpec; node: Started; events: Record<string, number> }

const FORWARD = new Set([
  'run opened', 'run phase', 'run certified', 'report published', 'report hash committed on chain', 'resuming run from the store',
  'no certificate before the consensus timeout: quorum miss', 'no certificate by the chain deadline (the block the next run\'s consensus starts at): quorum miss',
  'a different certificate for this run is already archived (first wins)',
  'equivocation archived', 'weights set', 'set_weights failed (run continues)',
]);

const running: Running[] = [];
const stats: ByzantineStats = { secondReports: 0, conflictingVotes: 0, withheld: 0, floodSent: 0 };
let plan: ScalePlan | null = null;
let profiler: Session | null = null;
let dieAt: { runId: number; phase: string } | null = null;
/** One chain connection per worker, shared by its nodes (each signs its own extrinsics). */
let client: Promise<SubtensorClient> | null = null;

function send(m: FromWorker): void {
  process.send?.(m);
}

/** The node's own JSON-lines logger (info and up) into <node dir>/node.log; run events go to the orchestrator. */
function nodeLogger(spec: NodeSpec): NodeLogger {
  const file = join(dirname(spec.dataDir), 'node.log');
  const warned = new Map<string, number>();
  return createLogger({
    level: 'info',
    out: (line) => {
      try {
        appendFileSync(file, line + '\n');
      } catch {
        // the log file is a debugging aid only
      }
      const { t, level, msg, ...fields } = JSON.parse(line) as { t: string; level: string; msg: string } & Record<string, unknown>;
      // the phase is persisted before it is logged: the kill lands right after the node acted on it
      if (dieAt && msg === 'run phase' && fields.runId === dieAt.runId && fields.phase === dieAt.phase) process.kill(process.pid, 'SIGKILL');
      const forward = FORWARD.has(msg) || ((level === 'warn' || level === 'error') && (warned.get(msg) ?? 0) < 3);
      if (!forward) return;
      if (level !== 'info') warned.set(msg, (warned.get(msg) ?? 0) + 1);
      send({ event: 'log', index: spec.index, at: Date.parse(t), msg, fields: { level, ...fields } });
    },
  });
}

async function startOne(spec: NodeSpec): Promise<void> {
  const t0 = Date.now();
  const cfg = loadConfigFile(spec.configPath, { env: {} });
  client ??= SubtensorClient.connect({ endpoint: cfg.chain.endpoint });
  const node = await startNode(cfg, { evaluator: precomputedEvaluator(plan!, spec.index), log: nodeLogger(spec), client: await client });
  const events: Record<string, number> = {};
  running.push({ spec, node, events });
  node.mesh.onEvent((e) => {
    // why peers come and go (the reason's first words, not its details)
    const reason = 'reason' in e ? String(e.reason).split(/[:(]/)[0].trim().slice(0, 40) : '';
    const key = [e.type, 'by' in e ? e.by : '', reason].filter(Boolean).join(':');
    events[key] = (events[key] ?? 0) + 1;
    if (e.type === 'banned') send({ event: 'log', index: spec.index, at: Date.now(), msg: 'mesh banned a peer', fields: { peerId: e.peerId, reason: e.reason.slice(0, 300) } });
  });
  if (spec.role === 'withhold') withhold(node.mesh, stats);
  if (spec.role === 'equivocate') {
    const hotkey = await loadHotkey({ wallet: cfg.wallet.name, hotkey: cfg.wallet.hotkey, walletPath: cfg.wallet.path });
    const key = await loadNodeKey(cfg.node.dataDir);
    equivocate(node.mesh, hotkey, key.signer, stats);
  }
  const addr = node.mesh.multiaddrs().find((a) => a.includes('/ip4/127.0.0.1/')) ?? node.mesh.multiaddrs()[0];
  send({ event: 'started', index: spec.index, peerId: node.mesh.peerId, multiaddr: addr, ms: Date.now() - t0 });
}

function nodeMetrics(r: Running): NodeMetrics {
  const m = r.node.mesh.metrics();
  const peers = r.node.mesh.peers().filter((p) => p.connected);
  const scoreOf = new Map(peers.map((p) => [p.peerId, p.gossipScore]));
  return {
    index: r.spec.index, peerId: m.peerId, admittedPeers: m.admittedPeers, connections: m.connections,
    bytesSent: m.traffic.bytesSent, bytesReceived: m.traffic.bytesReceived, publishedCompact: m.publishedCompact,
    parts: { published: m.publishedBytes, directSent: m.direct.sentBytes, fetchServed: m.fetch.servedBytes, fetchReceived: m.fetch.fetchedBytes }, rejected: Object.fromEntries(Object.entries(m.rejected).filter(([, v]) => v > 0)),
    accepted: m.accepted, bannedPeers: m.disconnectsForMisbehaviour,
    meshPeers: r.node.mesh.meshPeers('report').map((p) => ({ peerId: p, score: scoreOf.get(p) ?? 0 })),
    scores: peers.map((p) => ({ peerId: p.peerId, score: p.gossipScore })),
    meshEvents: { ...r.events },
  };
}

process.on('message', (raw) => {
  const m = raw as ToWorker;
  void (async () => {
    switch (m.cmd) {
      case 'start': {
        const t0 = Date.now();
        plan = makePlan(m.plan);
        const queue = [...m.nodes];
        const lanes = Array.from({ length: Math.max(1, m.concurrency) }, async () => {
          for (let s = queue.shift(); s; s = queue.shift()) await startOne(s);
        });
        try {
          await Promise.all(lanes);
          send({ event: 'ready', pid: process.pid, ms: Date.now() - t0 });
        } catch (err) {
          send({ event: 'failed', error: (err as Error).stack ?? String(err) });
        }
        return;
      }
      case 'metrics': {
        const cpu = process.cpuUsage();
        const mem = process.memoryUsage();
        send({ event: 'metrics', id: m.id, metrics: { pid: process.pid, nodes: running.map(nodeMetrics), rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, sr25519Verifies: verifyCounts.sr25519, ed25519Verifies: verifyCounts.ed25519, byzantine: { ...stats } } });
        return;
      }
      case 'block':
        running.find((r) => r.spec.index === m.index)?.node.mesh.block(m.peers);
        return;
      case 'die-at':
        dieAt = { runId: m.runId, phase: m.phase };
        return;
      case 'unblock':
        for (const r of running) r.node.mesh.unblock();
        return;
      case 'byzantine':
        byzantineSwitch.active = m.active;
        if (m.active && m.flood) for (const r of running) if (r.spec.role === 'flood') flood(r.node.mesh, m.flood.runId, m.flood.rate, m.flood.durationMs, stats);
        return;
      case 'profile': {
        // a V8 CPU profile of this worker between 'start' and 'stop' (SCALE_CPU_PROF in the orchestrator)
        if (m.action === 'start') {
          profiler ??= new Session();
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.setSamplingInterval', { interval: 2000 });
          await profiler.post('Profiler.start');
        } else if (profiler) {
          const { profile } = await profiler.post('Profiler.stop');
          if (m.file) writeFileSync(m.file, JSON.stringify(profile));
          profiler.disconnect();
        }
        send({ event: 'profiled', id: m.id });
        return;
      }
      case 'stop':
        await Promise.all(running.map((r) => r.node.stop().catch(() => undefined)));
        if (client) await (await client).close().catch(() => undefined);
        send({ event: 'stopped', id: m.id });
        setTimeout(() => process.exit(0), 50).unref();
        return;
    }
  })();
});

// the orchestrator went away: take the nodes down with us
process.on('disconnect', () => process.exit(0));
