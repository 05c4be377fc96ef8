// One run of the scale network, driven from the outside like a chain would: blocks to the run's
// start, the commit window closed as soon as every live node has committed, the reveal window at the
// normal block pace, then wait until every live node is done. Returns what each node logged about
// the run and the workers' counters before and after it.
import { NETUID, until, type LogEvent, type ScaleNetwork } from './network.ts';
import type { NodeMetrics, WorkerMetrics } from './protocol.ts';

const ORDER = ['roster', 'evaluating', 'committing', 'committed', 'publishing', 'consensus', 'certified', 'quorum-miss', 'done', 'failed'];

export interface RunHooks {
  /** Once the block that opens the reveal window (commit window end) is produced. */
  onRevealOpen?(runId: number): void | Promise<void>;
  /** Once every live node has committed (before the commit window is closed). */
  onCommitted?(runId: number): void | Promise<void>;
  /** Polled while waiting for the run to finish. */
  poll?(runId: number): void | Promise<void>;
  /** After every live node is done, before the results are collected (wait for more here). */
  settle?(runId: number, done: (index: number) => boolean): void | Promise<void>;
}

export interface Certification {
  index: number;
  at: number;
  decision: string;
  certificate: string;
  winner: number | null;
  /** reports the certificate counts */
  counted: number;
  /** as the node measured it: from its consensus start */
  latencyMs: number;
}

export interface RunResult {
  runId: number;
  commitEnd: number;
  revealEnd: number;
  /** when the block that opens the reveal window was produced (ms) */
  revealOpenAt: number;
  /** first certification per node */
  certified: Map<number, Certification>;
  /** nodes that certified more than one decision for this run (must be none) */
  twoDecisions: number[];
  /** archive conflicts logged (a second, different certificate) */
  archiveConflicts: number[];
  quorumMiss: number[];
  /** live nodes that never finished the run */
  unfinished: number[];
  before: WorkerMetrics[];
  after: WorkerMetrics[];
  wallMs: number;
}

export async function driveRun(net: ScaleNetwork, opts: { hooks?: RunHooks; timeoutMs?: number } = {}): Promise<RunResult> {
  const hooks = opts.hooks ?? {};
  const o = net.opts;
  const t0 = Date.now();
  // the run already open when its commit window has room left (a run that started while the previous
  // one was still being measured): skipping ahead to the next epoch would fast-forward the chain
  // through that run's deadlines while the nodes still work on it (two runs at once, one trampled)
  const open = net.currentRunStart();
  const runId = net.head < open + o.commitWindow - 5 ? open : net.nextRunStart();
  const commitEnd = runId + o.commitWindow;
  const revealEnd = commitEnd + o.revealWindow;
  const reached = (idx: number, phase: string) => ORDER.indexOf(net.phaseOf(idx, runId) ?? '') >= ORDER.indexOf(phase);
  const before = await net.metrics();
  const prof = process.env.SCALE_CPU_PROF;
  if (prof) await net.profile('start', prof, `run${runId}`);
  net.fastForwardTo(runId);
  await until(() => net.head >= runId, 60_000);
  // every live node commits (or the window nearly closes), then the rest of the window goes fast
  await until(() => net.liveNodes().every((x) => reached(x.index, 'committed')) || net.head >= commitEnd - 2, (o.commitWindow + 5) * o.blockMs * 3, 100);
  await hooks.onCommitted?.(runId);
  net.fastForwardTo(commitEnd - 1);
  await until(() => net.head >= commitEnd, (o.commitWindow + 5) * o.blockMs * 3, 20);
  const revealOpenAt = net.blockTimes.get(commitEnd) ?? Date.now();
  await hooks.onRevealOpen?.(runId);
  const deadline = opts.timeoutMs ?? runWaitMs(o);
  await until(async () => {
    await hooks.poll?.(runId);
    return net.liveNodes().every((x) => reached(x.index, 'done'));
  }, deadline, 200);
  await hooks.settle?.(runId, (i) => reached(i, 'done'));
  const after = await net.metrics();
  if (prof) await net.profile('stop', prof, `run${runId}`);

  const certified = new Map<number, Certification>();
  const decisionsBy = new Map<number, Set<string>>();
  for (const e of net.eventsOf('run certified', runId)) {
    const f = e.fields;
    if (!certified.has(e.index)) certified.set(e.index, { index: e.index, at: e.at, decision: f.decision, certificate: f.certificate, winner: f.winner ?? null, counted: f.counted, latencyMs: f.latencyMs });
    const s = decisionsBy.get(e.index) ?? new Set();
    s.add(f.decision);
    decisionsBy.set(e.index, s);
  }
  const idx = (list: LogEvent[]) => [...new Set(list.map((e) => e.index))].sort((a, b) => a - b);
  return {
    runId, commitEnd, revealEnd, revealOpenAt, certified,
    twoDecisions: [...decisionsBy].filter(([, s]) => s.size > 1).map(([i]) => i),
    archiveConflicts: idx(net.eventsOf('a different certificate for this run is already archived (first wins)', runId)),
    quorumMiss: idx(net.events.filter((e) => e.msg.endsWith(': quorum miss') && e.fields.runId === runId)),
    unfinished: net.liveNodes().filter((x) => !reached(x.index, 'done')).map((x) => x.index),
    before, after, wallMs: Date.now() - t0,
  };
}

/**
 * How long after its reveal opens the driver waits for a run: until every node has either certified or
 * given up, which happens at the latest by the run's chain deadline (the next run's reveal deadline, tempo
 * + reveal window blocks on; node/validator/consensus-deadline.ts) or by the nodes' consensus timeout, and
 * 30 s more for the last log lines.
 */
export function runWaitMs(o: Pick<ScaleNetwork['opts'], 'tempo' | 'revealWindow' | 'blockMs' | 'consensusTimeoutS'>): number {
  return Math.max(o.consensusTimeoutS * 1000, (o.tempo + o.revealWindow) * o.blockMs) + 30_000;
}

export function pct(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** Per-node figures of a run: traffic, CPU and verifications (worker totals shared out over its nodes), RSS. */
export function perNode(r: RunResult, nodesPerWorker: number) {
  const beforeBy = new Map(r.before.map((w) => [w.pid, w]));
  const traffic: { index: number; sent: number; received: number; compact: number; unknownRoster: number; parts: NodeMetrics['parts'] }[] = [];
  const cpuMs: number[] = [];
  const verifies: { sr: number; ed: number }[] = [];
  const rss: number[] = [];
  for (const w of r.after) {
    const b = beforeBy.get(w.pid);
    const n = w.nodes.length || nodesPerWorker;
    rss.push(w.rssBytes / n);
    if (!b) continue; // restarted during the run: no baseline
    const nb = new Map(b.nodes.map((x) => [x.index, x]));
    for (const x of w.nodes) {
      const y = nb.get(x.index);
      if (y) {
        traffic.push({
          index: x.index, sent: x.bytesSent - y.bytesSent, received: x.bytesReceived - y.bytesReceived, compact: x.publishedCompact - y.publishedCompact,
          unknownRoster: (x.rejected['unknown-roster'] ?? 0) - (y.rejected['unknown-roster'] ?? 0),
          parts: {
            published: x.parts.published - y.parts.published, directSent: x.parts.directSent - y.parts.directSent,
            fetchServed: x.parts.fetchServed - y.parts.fetchServed, fetchReceived: x.parts.fetchReceived - y.parts.fetchReceived,
          },
        });
      }
    }
    const cpu = (w.cpuUserUs + w.cpuSystemUs - b.cpuUserUs - b.cpuSystemUs) / 1000 / n;
    for (let k = 0; k < n; k++) {
      cpuMs.push(cpu);
      verifies.push({ sr: (w.sr25519Verifies - b.sr25519Verifies) / n, ed: (w.ed25519Verifies - b.ed25519Verifies) / n });
    }
  }
  return { traffic, cpuMs, verifies, rss };
}

export { NETUID };
