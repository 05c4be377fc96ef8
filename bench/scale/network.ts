// Why one file of ~400 lines: block pacing and run driving read the same live view of every node's
// phase; the plan, the workers' protocol and the report are in plan.ts, protocol.ts and report.ts.
// The scale harness's orchestrator: a devchain in this process with every planned validator (unequal
// stake, axon = its p2p port) and miner (commitment = code hash + URL), one wallet file, data dir and
// TOML config per validator, and worker processes (bench/scale/worker.ts) that each run
// `nodesPerWorker` real nodes. It paces blocks (fast while every live node waits for the commit window
// to close, and between runs), drives one run at a time and collects what the nodes log and measure.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DevChain } from '../../node/devchain/devchain.ts';
import type { Genesis, GenesisNeuron } from '../../node/devchain/genesis.ts';
import { devHotkeyFile, freePorts, tomlString } from '../../node/devnet/setup.ts';
import { loadOrCreateNodeKey } from '../../node/keys/node-key.ts';
import { runStart, step, type EpochState } from '../../node/chain/epoch-schedule.ts';
import { cryptoReady, sr25519SignerFromSeed } from '../../proto/signer.ts';
import { makePlan, type Role, type ScalePlan } from './plan.ts';
import type { FromWorker, NodeSpec, ToWorker, WorkerMetrics } from './protocol.ts';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
export const NETUID = 1;

export interface ScaleOptions {
  validators: number;
  miners: number;
  /** Byzantine validators (stake just under 1/3), roles round-robin from `faults`. */
  byzantine?: number;
  faults?: Exclude<Role, 'honest'>[];
  nodesPerWorker: number;
  /** Nodes a worker starts at once. */
  startConcurrency?: number;
  blockMs?: number;
  tempo?: number;
  commitWindow?: number;
  revealWindow?: number;
  viewTimeoutS?: number;
  consensusTimeoutS?: number;
  log?: (line: string) => void;
  /** Keep the data directory after stop (default: removed). */
  keep?: boolean;
}

export interface NodeInfo {
  index: number;
  hotkey: string;
  role: Role;
  stake: bigint;
  port: number;
  peerId: string;
  multiaddr: string;
  configPath: string;
  dataDir: string;
  worker: number;
}

export interface LogEvent {
  index: number;
  at: number;
  msg: string;
  fields: Record<string, any>;
}

class Worker {
  proc: ChildProcess;
  alive = true;
  readonly exited: Promise<void>;
  private waiters: { pred: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void }[] = [];

  readonly id: number;

  stderr = '';

  constructor(id: number, onMessage: (m: FromWorker) => void) {
    this.id = id;
    this.proc = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.proc.stderr!.on('data', (d) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    this.exited = new Promise((res) => this.proc.once('exit', () => { this.alive = false; res(); }));
    this.proc.on('message', (raw) => {
      const m = raw as FromWorker;
      onMessage(m);
      for (const w of [...this.waiters]) if (w.pred(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    });
  }

  send(m: ToWorker): void {
    if (this.alive && this.proc.connected) this.proc.send(m);
  }

  wait(pred: (m: FromWorker) => boolean, timeoutMs: number, what: string): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m: FromWorker) => { clearTimeout(t); resolve(m); } };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`worker ${this.id}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
      void this.exited.then(() => {
        if (!this.waiters.includes(w)) return;
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(t);
        reject(new Error(`worker ${this.id} exited while waiting for ${what}: ${this.stderr.trim().split('\n').slice(-6).join(' | ')}`));
      });
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `pred` holds (checked every `everyMs`), at most `timeoutMs`; returns whether it held. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await sleep(everyMs);
  }
  return pred();
}

export class ScaleNetwork {
  readonly opts: Required<Omit<ScaleOptions, 'log' | 'keep' | 'faults'>> & Pick<ScaleOptions, 'log' | 'keep' | 'faults'>;
  readonly plan: ScalePlan;
  readonly dir: string;
  readonly nodes: NodeInfo[] = [];
  readonly events: LogEvent[] = [];
  chain!: DevChain;
  workers: Worker[] = [];
  private pacer: NodeJS.Timeout | null = null;
  private fastUntil = -1;
  /** when each block was produced (block number → ms) */
  readonly blockTimes = new Map<number, number>();
  private metricsId = 1;
  startupMs = 0;

  /** Networks started and not yet stopped (a signal handler stops them). */
  static readonly running = new Set<ScaleNetwork>();

  private constructor(opts: ScaleOptions) {
    ScaleNetwork.running.add(this);
    this.opts = {
      byzantine: 0, startConcurrency: 2, blockMs: 1000, tempo: 100, commitWindow: 30, revealWindow: 10, viewTimeoutS: 10, consensusTimeoutS: 60,
      ...opts,
    } as ScaleNetwork['opts'];
    this.plan = makePlan({ validators: opts.validators, miners: opts.miners, byzantine: this.opts.byzantine, faults: opts.faults });
    this.dir = mkdtempSync(join(tmpdir(), 'conclave-scale-'));
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** Builds the chain, keys and configs, starts the workers and waits until every node has started. */
  static async start(opts: ScaleOptions): Promise<ScaleNetwork> {
    const net = new ScaleNetwork(opts);
    try {
      await net.setUp();
    } catch (err) {
      await net.stop();
      throw err;
    }
    return net;
  }

  private async setUp(): Promise<void> {
    await cryptoReady();
    const o = this.opts;
    const n = o.validators;
    const ports = await freePorts(n);
    const walletPath = join(this.dir, 'wallets');
    mkdirSync(join(walletPath, 'scale', 'hotkeys'), { recursive: true });
    const neurons: GenesisNeuron[] = [];
    for (const v of this.plan.validators) {
      const hk = await devHotkeyFile(v.uri);
      writeFileSync(join(walletPath, 'scale', 'hotkeys', `v${v.index}`), hk.json, { mode: 0o600 });
      const vdir = join(this.dir, `v${v.index}`);
      const dataDir = join(vdir, 'data');
      const key = await loadOrCreateNodeKey(dataDir);
      this.nodes.push({
        index: v.index, hotkey: hk.hotkey, role: v.role, stake: v.stake, port: ports[v.index], peerId: key.peerId,
        multiaddr: `/ip4/127.0.0.1/tcp/${ports[v.index]}/p2p/${key.peerId}`, configPath: join(vdir, 'validator.toml'), dataDir,
        worker: Math.floor(v.index / o.nodesPerWorker),
      });
      neurons.push({ hotkey: hk.hotkey, stake: v.stake.toString(), validatorPermit: true, axon: { ip: '127.0.0.1', port: ports[v.index] } });
    }
    for (const m of this.plan.miners) {
      const hotkey = sr25519SignerFromSeed(new Uint8Array(Buffer.from(m.codeSha256, 'hex'))).hotkey;
      neurons.push({ hotkey, stake: '0', validatorPermit: false, commitment: `${m.codeSha256}:${m.url}` });
    }
    const genesis: Genesis = {
      chainName: 'Conclave Scale Devchain',
      subnets: [{ netuid: NETUID, tempo: o.tempo, weightsRateLimit: 1, commitRevealEnabled: false, weightsVersionKey: 0, maxAllowedUids: neurons.length, neurons }],
    };
    this.chain = new DevChain({ genesis, port: 0, blockMs: 0 });
    await this.chain.start();
    // past the current epoch's commit window: nodes that start now sit that run out (too late to commit)
    // and the first run they take part in is the one driveRun() starts; no blocks while they start
    this.produce();
    while (this.chain.head < this.currentRunStart() + o.commitWindow) this.produce();
    const bootstrap = this.nodes.slice(0, 2).map((x) => x.multiaddr);
    for (const x of this.nodes) this.writeConfig(x, walletPath, bootstrap.filter((b) => b !== x.multiaddr));
    this.log(`scale: devchain ${this.chain.url}, ${n} validators (${this.plan.validators.filter((v) => v.role !== 'honest').length} Byzantine, ${(this.plan.byzantineShare * 100).toFixed(2)} % of stake), ${this.plan.miners.length} miners; data in ${this.dir}`);
    const t0 = Date.now();
    const groups = Math.ceil(n / o.nodesPerWorker);
    for (let w = 0; w < groups; w++) this.workers.push(this.spawnWorker(w));
    await Promise.all(this.workers.map((w) => this.startWorker(w)));
    this.startupMs = Date.now() - t0;
    // no blocks until the first run is driven (driveRun): the mesh forms on a still chain
    this.log(`scale: ${n} nodes started in ${groups} worker process(es) of ${o.nodesPerWorker} in ${this.startupMs} ms`);
  }

  private writeConfig(x: NodeInfo, walletPath: string, bootstrap: string[]): void {
    const o = this.opts;
    const toml = `# generated by the scale harness (bench/scale) for validator ${x.index} (${x.role})
[chain]
endpoint = ${tomlString(this.chain.url)}
netuid = ${NETUID}

[wallet]
name = "scale"
hotkey = "v${x.index}"
path = ${tomlString(walletPath)}

[node]
data_dir = ${tomlString(x.dataDir)}
mode = "decentralized"
log_level = "info"

[p2p]
listen = "/ip4/127.0.0.1/tcp/${x.port}"
bootstrap = [${bootstrap.map(tomlString).join(', ')}]
announce_axon = false

[sandbox]
hardware_class = "cpu-2core"

[consensus]
burn_rate = 0.5
commit_window_blocks = ${o.commitWindow}
reveal_window_blocks = ${o.revealWindow}
consensus_timeout_s = ${o.consensusTimeoutS}
view_timeout_s = ${o.viewTimeoutS}

[api]
listen = ""

[dev]
fault = ""
`;
    writeFileSync(x.configPath, toml);
  }

  private spawnWorker(id: number): Worker {
    return new Worker(id, (m) => {
      if (m.event === 'log') this.events.push({ index: m.index, at: m.at, msg: m.msg, fields: m.fields });
      else if (m.event === 'started') {
        const x = this.nodes[m.index];
        if (x.peerId !== m.peerId) this.log(`scale: node ${m.index} came up as ${m.peerId}, expected ${x.peerId}`);
      }
    });
  }

  private async startWorker(w: Worker): Promise<void> {
    const specs: NodeSpec[] = this.nodes.filter((x) => x.worker === w.id).map((x) => ({ index: x.index, configPath: x.configPath, dataDir: x.dataDir, role: x.role }));
    w.send({ cmd: 'start', plan: { validators: this.opts.validators, miners: this.opts.miners, byzantine: this.opts.byzantine }, nodes: specs, concurrency: this.opts.startConcurrency });
    const m = await w.wait((e) => e.event === 'ready' || e.event === 'failed', 120_000 + 60_000 * specs.length, 'ready');
    if (m.event === 'failed') throw new Error(`worker ${w.id} failed to start its nodes: ${m.error}`);
  }

  // ------------------------------------------------------------------ blocks

  private produce(): void {
    const b = this.chain.produceBlock();
    this.blockTimes.set(b.number, Date.now());
  }

  private startPacer(): void {
    const pace = () => {
      try {
        this.produce();
      } catch (err) {
        this.log(`scale: block production failed: ${(err as Error).message}`);
      }
      this.pacer = setTimeout(pace, this.chain.head < this.fastUntil ? 60 : this.opts.blockMs);
    };
    this.pacer = setTimeout(pace, this.opts.blockMs);
  }

  /** Produces blocks every 60 ms until (and including) `block`, then at the normal pace again (starts the pacer). */
  fastForwardTo(block: number): void {
    this.fastUntil = block;
    if (this.pacer) clearTimeout(this.pacer);
    this.startPacer();
  }

  get head(): number {
    return this.chain.head;
  }

  /** The subnet's epoch schedule as the chain holds it after the head (subtensor's stateful rule, spec >= 423). */
  schedule(): EpochState {
    const get = (item: string) => Number(this.chain.read('subtensorModule', item, [NETUID]));
    return {
      tempo: get('tempo'), lastEpochBlock: get('lastEpochBlock'), pendingEpochAt: get('pendingEpochAt'),
      subnetEpochIndex: get('subnetEpochIndex'), blocksSinceLastStep: get('blocksSinceLastStep'),
    };
  }

  /** The block the current run started at (the chain's LastEpochBlock: the runId the nodes key it by). */
  currentRunStart(): number {
    return runStart({ model: 'stateful', netuid: NETUID, block: this.chain.head, ...this.schedule() })!;
  }

  /** The next epoch after the head (where the next run begins), stepping the chain's own schedule forward. */
  nextRunStart(): number {
    let st = this.schedule();
    for (let b = this.chain.head + 1; b <= this.chain.head + 2 * st.tempo + 2; b++) {
      st = step(st, b);
      if (st.lastEpochBlock === b) return b;
    }
    throw new Error(`no epoch within ${2 * st.tempo + 2} blocks of block ${this.chain.head}: is the subnet's tempo 0?`);
  }

  // ------------------------------------------------------------------ nodes

  liveNodes(): NodeInfo[] {
    return this.nodes.filter((x) => this.workers[x.worker].alive);
  }

  /** The last phase `index` logged for `runId`. */
  phaseOf(index: number, runId: number): string | undefined {
    for (let k = this.events.length - 1; k >= 0; k--) {
      const e = this.events[k];
      if (e.index === index && e.msg === 'run phase' && e.fields.runId === runId) return e.fields.phase;
    }
    return undefined;
  }

  eventsOf(msg: string, runId?: number): LogEvent[] {
    return this.events.filter((e) => e.msg === msg && (runId === undefined || e.fields.runId === runId));
  }

  async metrics(): Promise<WorkerMetrics[]> {
    const live = this.workers.filter((w) => w.alive);
    return Promise.all(live.map(async (w) => {
      const id = this.metricsId++;
      w.send({ cmd: 'metrics', id });
      const m = await w.wait((e) => e.event === 'metrics' && e.id === id, 300_000, 'metrics');
      return (m as Extract<FromWorker, { event: 'metrics' }>).metrics;
    }));
  }

  /** Starts or stops a V8 CPU profile in every live worker; 'stop' writes `<dir>/worker-<id>-<tag>.cpuprofile`. */
  async profile(action: 'start' | 'stop', dir: string, tag: string): Promise<void> {
    await Promise.all(this.workers.filter((w) => w.alive).map(async (w) => {
      const id = this.metricsId++;
      w.send({ cmd: 'profile', id, action, file: join(dir, `worker-${w.id}-${tag}.cpuprofile`) });
      await w.wait((e) => e.event === 'profiled' && e.id === id, 60_000, 'profile');
    }));
  }

  /** Every node admits every other live node. */
  async meshFormed(): Promise<boolean> {
    const live = this.liveNodes().length;
    const ms = await this.metrics();
    return ms.every((w) => w.nodes.every((x) => x.admittedPeers >= live - 1));
  }

  /**
   * Runs `fn` with every live worker stopped (SIGSTOP), then continues them (SIGCONT) whatever `fn`
   * did: for measuring a process as it runs on a machine of its own (an auditor's), not beside the
   * 64 validators sharing these 2 cores. The devchain lives in this process and keeps answering.
   */
  async whilePaused<T>(fn: () => Promise<T>): Promise<T> {
    const live = this.workers.filter((w) => w.alive);
    for (const w of live) w.proc.kill('SIGSTOP');
    try {
      return await fn();
    } finally {
      for (const w of live) w.proc.kill('SIGCONT');
    }
  }

  /** SIGKILLs worker `id` (all its nodes die at once, no shutdown). */
  kill(id: number): void {
    this.workers[id].proc.kill('SIGKILL');
  }

  /** SIGKILLs worker `id` the moment one of its nodes enters `phase` of `runId` (see worker.ts 'die-at'). */
  killAt(id: number, runId: number, phase: string): void {
    this.workers[id].send({ cmd: 'die-at', runId, phase });
  }

  /** Starts worker `id` again on the same data dirs (node keys, stores and archives survive). */
  async restart(id: number): Promise<void> {
    await this.workers[id].exited;
    this.workers[id] = this.spawnWorker(id);
    await this.startWorker(this.workers[id]);
    if (this.byzantineActive) this.workers[id].send({ cmd: 'byzantine', active: true });
  }

  /** Cuts the network in two: nodes in `side` and the others deny each other (connection gater). */
  partition(side: Set<number>): void {
    for (const x of this.liveNodes()) {
      const others = this.nodes.filter((y) => side.has(y.index) !== side.has(x.index)).map((y) => y.peerId);
      this.workers[x.worker].send({ cmd: 'block', index: x.index, peers: others });
    }
  }

  heal(): void {
    for (const w of this.workers) w.send({ cmd: 'unblock' });
  }

  /** Switches the planned Byzantine roles on (flooders start flooding `flood.runId`) or off. */
  byzantine(active: boolean, flood?: { runId: number; rate: number; durationMs: number }): void {
    this.byzantineActive = active;
    this.floodPlan = flood;
    for (const w of this.workers) w.send({ cmd: 'byzantine', active, flood });
  }

  byzantineActive = false;
  private floodPlan: { runId: number; rate: number; durationMs: number } | undefined;

  async stop(): Promise<void> {
    ScaleNetwork.running.delete(this);
    if (this.pacer) clearTimeout(this.pacer);
    this.pacer = null;
    await Promise.all(this.workers.filter((w) => w.alive).map(async (w) => {
      const id = this.metricsId++;
      w.send({ cmd: 'stop', id });
      await Promise.race([w.exited, sleep(20_000)]);
      if (w.alive) w.proc.kill('SIGKILL');
    }));
    await this.chain?.stop().catch(() => undefined);
    if (!this.opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
