// A small Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms
// with labels. No dependency; bounded label cardinality so a hostile peer cannot grow memory
// by inventing label values (overflow goes to label value "other").

type Labels = Record<string, string>;

const MAX_SERIES_PER_METRIC = 200;

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function fmt(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isFinite(v) ? String(v) : 'NaN';
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  abstract readonly type: string;
  constructor(name: string, help: string) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
    this.name = name;
    this.help = help;
  }
  abstract lines(): string[];
  protected boundKey(map: Map<string, unknown>, labels: Labels): string {
    const key = labelKey(labels);
    if (map.has(key) || map.size < MAX_SERIES_PER_METRIC) return key;
    const capped: Labels = {};
    for (const k of Object.keys(labels)) capped[k] = 'other';
    return labelKey(capped);
  }
}

export class Counter extends Metric {
  readonly type = 'counter';
  private values = new Map<string, number>();
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name}: increment must be >= 0`);
    const k = this.boundKey(this.values, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  /** Sets the series to a total counted elsewhere (the kernel's CPU seconds); never moves it backwards. */
  setTotal(total: number, labels: Labels = {}): void {
    const have = this.get(labels);
    if (total > have) this.inc(labels, total - have);
  }
  /** Brings the series up to totals counted elsewhere (e.g. the mesh's own counters), label by label. */
  catchUp(label: string, totals: Record<string, number>): void {
    for (const [value, n] of Object.entries(totals)) {
      const have = this.get({ [label]: value });
      if (n > have) this.inc({ [label]: value }, n - have);
    }
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  private values = new Map<string, number>();
  set(v: number, labels: Labels = {}): void {
    this.values.set(this.boundKey(this.values, labels), v);
  }
  get(labels: Labels = {}): number | undefined {
    return this.values.get(labelKey(labels));
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
  }
}

export class Histogram extends Metric {
  readonly type = 'histogram';
  private readonly buckets: number[];
  private series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, buckets: number[]) {
    super(name, help);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  get bucketBounds(): readonly number[] {
    return this.buckets;
  }
  observe(v: number, labels: Labels = {}): void {
    const k = this.boundKey(this.series, labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) s.counts[i]++;
    s.sum += v;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const pre = k ? `${k},` : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${pre}le="${fmt(b)}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private metrics = new Map<string, Metric>();
  private collectors: (() => void)[] = [];
  private register<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }
  /** Runs `fn` before every render: for values kept elsewhere and copied in when scraped. */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }
  /** Names of the registered metrics (a histogram's series add _bucket, _sum and _count). */
  names(): { name: string; type: string }[] {
    return [...this.metrics.values()].map((m) => ({ name: m.name, type: m.type }));
  }
  /** Prometheus text exposition. */
  render(): string {
    for (const fn of this.collectors) {
      try { fn(); } catch { /* a failing source leaves its series as they were; the scrape still answers */ }
    }
    let out = '';
    for (const m of this.metrics.values()) {
      out += `# HELP ${m.name} ${m.help.replace(/\n/g, ' ')}\n# TYPE ${m.name} ${m.type}\n`;
      for (const l of m.lines()) out += l + '\n';
    }
    return out;
  }
}

/** Buckets (seconds) for how long a run stays in one phase: seconds (roster) to an epoch (evaluating, 72 min on finney). */
export const PHASE_BUCKETS = [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** The node's metric set (names are part of the operator-facing API; see docs/operations.md). */
export function nodeMetrics(reg = new Registry()) {
  return {
    registry: reg,
    buildInfo: reg.gauge('conclave_build_info', 'Build of this node: 1, with version, git commit and Node.js version as labels.'),
    nodeInfo: reg.gauge('conclave_node_info', 'This node: 1, with mode, netuid, hotkey and p2p peer id as labels.'),
    runsTotal: reg.counter('conclave_runs_total', 'Runs finished, by outcome (certified, quorum-miss, skipped).'),
    currentRun: reg.gauge('conclave_current_run', 'runId (epoch start block) of the run in progress.'),
    runPhase: reg.gauge('conclave_run_phase', 'Phase of the current run (1 = active) by phase name.'),
    runPhaseSeconds: reg.histogram('conclave_run_phase_duration_seconds', 'Time a run spent in one phase, by phase (observed when the phase ends).', PHASE_BUCKETS),
    evaluationsTotal: reg.counter('conclave_evaluations_total', 'Evaluations finished, by ScoreStatus.'),
    evaluationsQueued: reg.gauge('conclave_evaluations_queued', 'Evaluation queue depth: evaluations waiting or running.'),
    evaluationCacheHits: reg.counter('conclave_evaluation_cache_hits_total', 'Evaluations answered from the (codeSha256, policyHash) cache.'),
    evaluationSeconds: reg.histogram('conclave_evaluation_seconds', 'Wall time of one evaluation.', [1, 5, 15, 30, 60, 120, 300, 600, 1800]),
    gossipRejections: reg.counter('conclave_gossip_rejections_total', 'Gossip messages rejected, by reason.'),
    reportsReceived: reg.counter('conclave_reports_received_total', 'Peer reports received, by verdict (counted, no-commitment, hash-mismatch, bad-signature, not-member, wrong-run).'),
    consensusLatency: reg.histogram('conclave_consensus_latency_seconds', 'From consensus start to certificate.', [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600]),
    chainErrors: reg.counter('conclave_chain_errors_total', 'Chain reads/writes that failed, by operation.'),
    chainConnected: reg.gauge('conclave_chain_connected', '1 while the chain endpoint answers, 0 during an outage.'),
    chainHead: reg.gauge('conclave_chain_head_block', 'Best block number seen on the chain.'),
    chainFinalized: reg.gauge('conclave_chain_finalized_block', 'Finalized block number seen on the chain.'),
    peersConnected: reg.gauge('conclave_peers_connected', 'libp2p connections open (any peer).'),
    peersAdmitted: reg.gauge('conclave_peers_admitted', 'Peers admitted to the validator mesh (a verified, stake-bound hotkey binding).'),
    commitsTotal: reg.counter('conclave_commits_total', 'Report-hash commitments sent on chain, by result (committed, failed).'),
    weightsSet: reg.counter('conclave_weights_set_total', 'Weights outcomes, by result (set, held, failed; on commit-reveal subnets committed, then revealed or reveal-failed).'),
    apiRequests: reg.counter('conclave_api_requests_total', 'HTTP API requests, by route and status code.'),
    divergenceTop1: reg.gauge('conclave_divergence_top1_agreement', 'Shadow mode: share of recent runs where the consensus winner equals the owner pick.'),
    healthy: reg.gauge('conclave_healthy', '1 when /healthz reports healthy (chain, admitted peers, a recent run), else 0.'),
  };
}

export type NodeMetrics = ReturnType<typeof nodeMetrics>;
