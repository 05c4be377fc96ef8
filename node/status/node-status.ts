// What the running node knows about itself, in one place: chain (connected, best and finalized block),
// peers (connections, admitted validators), the run loop (current run and phase), the last weights.
// Fed by the chain watch, the peer watch and the run loop; read by /healthz, /v1/status (the dashboard's
// status panel) and the gauges on /metrics. It logs the changes an operator wants at info level:
// peer count changes (admitted validators), and at debug the connection count.
import type { Logger } from '../logging/logger.ts';
import type { NodeMetrics } from '../metrics.ts';
import type { RunRecord, WeightsOutcome } from '../validator/store.ts';
import { evaluateHealth, type Health } from './health.ts';
import type { BuildInfo } from '../version.ts';

export interface RunLoopView {
  /** start block of the current epoch, null before the first tick */
  currentEpoch: number | null;
  /** tempo + 1, null until read */
  epochBlocks: number | null;
  /** the run the loop works on now and its phase, null when idle */
  current: { runId: number; phase: string; phaseSince: number | null } | null;
  tickError: string | null;
}

export interface NodeStatusOptions {
  mode: string;
  netuid: number;
  hotkey: string;
  peerId: string;
  /** the chain endpoint; only its scheme, host and port are shown */
  endpoint: string;
  build: BuildInfo;
  minPeers: number;
  maxHeadAgeMs: number;
  metrics: NodeMetrics;
  log: Logger;
  /** the newest run records, newest first */
  recentRuns(limit: number): Promise<RunRecord[]>;
  runLoop(): RunLoopView;
  now?: () => number;
}

export interface LastWeights extends Partial<WeightsOutcome> {
  runId: number;
  /** whether the committed weights were revealed and the reveal confirmed on chain; null when this node's run record does not say */
  revealConfirmed: boolean | null;
  [k: string]: unknown;
}

export interface StatusBody {
  version: string;
  commit: string;
  mode: string;
  netuid: number;
  hotkey: string;
  peerId: string;
  chain: { endpoint: string; connected: boolean; head: number | null; finalized: number | null; headAgeS: number | null };
  peers: { connected: number; admitted: number; required: number };
  run: { runId: number; phase: string; skipped: boolean; since: number | null; reason?: string } | null;
  lastWeights: LastWeights | null;
  health: Health;
  at: number;
}

/** "wss://entrypoint-finney.opentensor.ai:443" from a URL that may carry a path, query or credentials. */
export function endpointOrigin(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return endpoint.replace(/[?#].*$/, '');
  }
}

/** A run record the node sat out (joined after the commit window); older records say so only in `error`. */
export function isSkippedRun(r: Pick<RunRecord, 'phase' | 'error'> & { skipped?: unknown }): boolean {
  return (r.phase as string) === 'skipped' || r.skipped === true || (r.phase === 'failed' && typeof r.error === 'string' && /^joined at block \d+, after run \d+'s commit window/.test(r.error));
}

/** Reads whether the reveal was confirmed from a weights outcome, whatever spelling the chain code records. */
export function revealConfirmedOf(w: Record<string, unknown>): boolean | null {
  // the chain area records it under weights.commitReveal (node/validator/store.ts CommitRevealOutcome)
  const cr = w.commitReveal;
  if (cr && typeof cr === 'object' && typeof (cr as Record<string, unknown>).revealConfirmed === 'boolean') return (cr as Record<string, unknown>).revealConfirmed as boolean;
  for (const k of ['revealConfirmed', 'revealed', 'revealConfirmedAt', 'revealBlock']) {
    const v = w[k];
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number' && (k === 'revealConfirmedAt' || k === 'revealBlock')) return v > 0;
  }
  const reveal = w.reveal;
  if (reveal && typeof reveal === 'object') {
    const r = reveal as Record<string, unknown>;
    if (typeof r.confirmed === 'boolean') return r.confirmed;
    if (typeof r.block === 'number') return r.block > 0;
  }
  return null;
}

export class NodeStatus {
  private readonly o: NodeStatusOptions;
  private readonly now: () => number;
  private chain = { connected: false, head: null as number | null, finalized: null as number | null, headAdvancedAt: null as number | null, error: null as string | null };
  private peers = { connected: 0, admitted: 0, others: null as number | null };
  private peersLogged = false;

  constructor(o: NodeStatusOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
    const m = o.metrics;
    m.buildInfo.set(1, { version: o.build.version, commit: o.build.commit, node: o.build.node });
    m.nodeInfo.set(1, { mode: o.mode, netuid: String(o.netuid), hotkey: o.hotkey, peer_id: o.peerId });
    m.chainConnected.set(0);
    m.peersAdmitted.set(0);
    m.peersConnected.set(0);
  }

  /** A successful chain read: best and finalized block. */
  chainOk(head: number, finalized: number | null): void {
    const c = this.chain;
    if (c.head === null || head > c.head) c.headAdvancedAt = this.now();
    c.head = c.head === null ? head : Math.max(c.head, head);
    if (finalized !== null) c.finalized = c.finalized === null ? finalized : Math.max(c.finalized, finalized);
    c.connected = true;
    c.error = null;
    this.o.metrics.chainConnected.set(1);
    this.o.metrics.chainHead.set(c.head);
    if (c.finalized !== null) this.o.metrics.chainFinalized.set(c.finalized);
  }

  /** A failed chain read (or a dropped connection). */
  chainFailed(error: string): void {
    this.chain.connected = false;
    this.chain.error = error;
    this.o.metrics.chainConnected.set(0);
  }

  /** Peer counts sampled from the mesh; an admitted-count change is logged at info. */
  recordPeers(connected: number, admitted: number): void {
    const p = this.peers;
    if (admitted !== p.admitted || !this.peersLogged) {
      if (this.peersLogged || admitted > 0) this.o.log.info('peers', { admitted, was: p.admitted, connected, required: this.requiredPeers() });
      this.peersLogged = true;
    } else if (connected !== p.connected) {
      this.o.log.debug('connections', { connected, was: p.connected, admitted });
    }
    p.connected = connected;
    p.admitted = admitted;
    this.o.metrics.peersConnected.set(connected);
    this.o.metrics.peersAdmitted.set(admitted);
  }

  /** Other members of the validator set (from the metagraph): with none, no peer can be required. */
  setOtherValidators(n: number): void {
    this.peers.others = n;
  }

  private requiredPeers(): number {
    return Math.max(0, Math.min(this.o.minPeers, this.peers.others ?? this.o.minPeers));
  }

  async health(): Promise<Health> {
    const loop = this.o.runLoop();
    const [latest] = await this.o.recentRuns(1);
    const h = evaluateHealth({
      now: this.now(),
      chain: this.chain,
      peers: { admitted: this.peers.admitted, connected: this.peers.connected, minPeers: this.o.minPeers, others: this.peers.others },
      run: {
        currentEpoch: loop.currentEpoch,
        epochBlocks: loop.epochBlocks,
        latest: latest ? { runId: latest.runId, phase: latest.phase, updatedAt: latest.updatedAt, skipped: isSkippedRun(latest) } : null,
        tickError: loop.tickError,
      },
      maxHeadAgeMs: this.o.maxHeadAgeMs,
    });
    this.o.metrics.healthy.set(h.ok ? 1 : 0);
    return h;
  }

  async snapshot(): Promise<StatusBody> {
    const runs = await this.o.recentRuns(50);
    const loop = this.o.runLoop();
    const latest = runs[0];
    const withWeights = runs.find((r) => r.weights);
    let run: StatusBody['run'] = null;
    if (loop.current) run = { runId: loop.current.runId, phase: loop.current.phase, skipped: false, since: loop.current.phaseSince };
    else if (latest) {
      const skipped = isSkippedRun(latest);
      run = { runId: latest.runId, phase: skipped ? 'skipped' : latest.phase, skipped, since: latest.updatedAt, ...(skipped && latest.error ? { reason: latest.error } : {}) };
    }
    const c = this.chain;
    return {
      version: this.o.build.version,
      commit: this.o.build.commit,
      mode: this.o.mode,
      netuid: this.o.netuid,
      hotkey: this.o.hotkey,
      peerId: this.o.peerId,
      chain: { endpoint: endpointOrigin(this.o.endpoint), connected: c.connected, head: c.head, finalized: c.finalized, headAgeS: c.headAdvancedAt === null ? null : Math.round((this.now() - c.headAdvancedAt) / 100) / 10 },
      peers: { connected: this.peers.connected, admitted: this.peers.admitted, required: this.requiredPeers() },
      run,
      lastWeights: withWeights ? { ...withWeights.weights!, runId: withWeights.runId, revealConfirmed: revealConfirmedOf(withWeights.weights as unknown as Record<string, unknown>) } : null,
      health: await this.health(),
      at: this.now(),
    };
  }
}
