// The validator's run loop: one run per epoch of the subnet — keyed by the chain's own epoch
// schedule (the block the epoch fired at: LastEpochBlock since spec 423, the modulo rule before) —
// advanced by an idempotent phase machine on every tick (new block or timer). Each step persists what
// it did before the next one starts, and every externally visible action (chain commit, gossip vote,
// set_weights) is preceded by a LevelDB marker, so a restart resumes the run without committing or
// voting twice. A step the chain refuses backs off (logged once per run with the chain's error); a
// chain outage is logged when it starts and when it ends.
//
//   roster (chain state at the run's start block) → evaluating (queue, cache by (code, policy))
//   → committing (sha256(salt || report) on chain FIRST; report and salt sealed on this node)
//   → committed → publishing (the reveal, after the commit window) → consensus at the reveal
//   deadline, or as soon as every committed reveal is held (reports counted only if their reveal
//   opens their on-chain commitment) → certified |
//   quorum-miss (at the first of: max(consensus_timeout_s, n views), and the chain deadline — the block
//   the next run's consensus starts at) → weights (mode-dependent, uid→hotkey re-checked; a timelocked commit on
//   commit-reveal subnets) → confirming (until the chain reveals the commit) → done
//
// This file is the machine (which phase follows which, the tick, the persisted transitions and the
// message buffers shared by runs); the work of each phase is in ./phases/: roster.ts, evaluate.ts,
// commit.ts, reveal.ts, certify.ts, set-weights.ts.
// Why just over 400 lines: the tick, its lock and the early wake-ups (a consensus message or a reveal
// arriving steps the runs before the next tick) all read and write the same live runs and inbox under
// one lock; apart, that state would have to cross a module boundary on every message.
import PQueue from 'p-queue';
import type { EpochInfo, ValidatorDeps } from './ports.ts';
import { backoffRun } from './backoff.ts';
import { ConsensusInbox } from './consensus-inbox.ts';
import { nextRunStart, runDeadlines } from './schedule.ts';
import { runWindows, derivedWindows, type RunWindows } from './windows.ts';
import { confirmWeightsReveal } from './phases/confirm-reveal.ts';
import type { DivergenceRecord, RunPhase, RunRecord } from './store.ts';
import type { LiveRun, PhaseContext } from './phases/context.ts';
import { fetchRoster } from './phases/roster.ts';
import { evaluate } from './phases/evaluate.ts';
import { buildReport, commitReport } from './phases/commit.ts';
import { holdsEveryCommittedReveal, publishReport, storePeerReports } from './phases/reveal.ts';
import { driveConsensus, startConsensus, type ConsensusIo } from './phases/certify.ts';
import { consensusDeadlineBlock } from './consensus-deadline.ts';
import { warnIfViewsDoNotFit } from './phases/view-fit.ts';
import { setWeights } from './phases/set-weights.ts';

const MAX_BUFFERED_MESSAGES = 20_000;
/** How long a reveal kick waits to gather the rest of a burst of reveals before it steps the runs. */
const REVEAL_KICK_MS = 25;
const ACTIVE_PHASES: RunPhase[] = ['roster', 'evaluating', 'committing', 'committed', 'publishing', 'consensus', 'certified', 'quorum-miss', 'confirming'];

export class Validator {
  private readonly d: ValidatorDeps;
  private readonly now: () => number;
  private readonly queue: PQueue;
  private readonly live = new Map<number, LiveRun>();
  private incoming: Uint8Array[] = [];
  /** Consensus messages not yet delivered, the replay buffer and the lingering sessions (./consensus-inbox.ts). */
  private readonly consensusInbox = new ConsensusInbox();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private kickPending = false;
  private revealKickPending = false;
  /** Run ids known to be in the store (opened, skipped or finished). */
  private readonly known = new Set<number>();
  private lock: Promise<void> = Promise.resolve();
  private stopped = false;
  private tempo = 0;
  private windows: RunWindows | null = null;
  /** when the chain stopped answering (null: it answers) */
  private chainDownSince: number | null = null;
  private youngLogged = false;
  /** the run (epoch) the chain's schedule is in at the last tick, and the schedule's model */
  private runStart: number | null = null;
  private scheduleModel: 'stateful' | 'legacy' = 'stateful';
  /** the (members, view timeout, tempo) the view-fit warning was last checked for */
  private fitChecked: string | null = null;
  /** the block the chain's schedule expects the next epoch at (last tick) */
  private nextEpochAt = 0;
  /** What every phase is given (./phases/context.ts); reads this node's live fields. */
  private readonly ctx: PhaseContext;
  /** The loop's buffers as the certify phase uses them. */
  private readonly io: ConsensusIo;
  lastBlock = 0;
  lastTickError: string | null = null;

  constructor(deps: ValidatorDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.queue = new PQueue({ concurrency: Math.max(1, deps.evaluator.concurrency()) });
    const self = this;
    this.ctx = {
      d: deps,
      now: () => self.now(),
      get hotkey() { return self.hotkey; },
      get lastBlock() { return self.lastBlock; },
    };
    this.io = {
      drainReports: () => this.drainIncoming(),
      bufferReport: (bytes) => { this.incoming.push(bytes); },
      pumpConsensus: () => this.pumpConsensus(),
      recent: () => this.consensusInbox.recent,
    };
    deps.mesh.onReport((bytes) => {
      if (this.incoming.length < MAX_BUFFERED_MESSAGES) this.incoming.push(bytes);
      this.kickPublishing();
    });
    deps.mesh.onConsensus((bytes, from) => {
      if (!this.consensusInbox.push(bytes, from)) this.d.metrics.gossipRejections.inc({ reason: 'inbox-full' });
      this.kick();
    });
  }

  /**
   * A consensus message arrived: hand it to the open sessions now rather than on the next tick (a
   * PBFT round is several message hops; waiting up to a tick interval at each hop dominated the
   * report-to-certificate latency). Coalesced, and serialised with ticks so a session never sees two
   * deliveries at once. A session that has just decided gets a tick at once (certificate, archive).
   */
  private kick(): void {
    if (this.kickPending || this.stopped) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      if (this.stopped || this.consensusInbox.size === 0) return;
      void this.exclusive(() => this.pumpConsensus()).then(() => {
        const decided = [...this.live.values()].some((l) => l.record.phase === 'consensus' && l.session?.outcome());
        if (decided && !this.stopped) void this.tick();
      }, (err) => this.d.log.warn('consensus delivery failed; retried on the next tick', { error: (err as Error).message }));
    });
  }

  /**
   * A reveal arrived while a run waits for reveals: step soon (coalesced over a burst of reveals) rather
   * than at the next tick, since this reveal may be the last committed one and let consensus start.
   */
  private kickPublishing(): void {
    if (this.revealKickPending || this.stopped) return;
    if (![...this.live.values()].some((l) => l.record.phase === 'publishing')) return;
    this.revealKickPending = true;
    setTimeout(() => {
      this.revealKickPending = false;
      if (!this.stopped) void this.tick();
    }, REVEAL_KICK_MS).unref?.();
  }

  /** Runs `fn` after every earlier exclusive section has finished (ticks and message pumps). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(() => undefined, () => undefined);
    return run;
  }

  get hotkey(): string {
    return this.d.signer.hotkey;
  }

  /** Starts ticking every `intervalMs`; resumes unfinished runs from the store first. */
  async start(intervalMs = 500): Promise<void> {
    for (const r of await this.d.store.listRuns(8)) {
      if (ACTIVE_PHASES.includes(r.phase)) {
        this.live.set(r.runId, { record: r, busy: false });
        this.d.log.info('resuming run from the store', { runId: r.runId, phase: r.phase });
      }
    }
    const loop = async () => {
      if (this.stopped) return;
      await this.tick();
      if (!this.stopped) this.timer = setTimeout(loop, intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const l of this.live.values()) l.evalAbort?.abort();
    this.queue.clear();
    // let a running tick or message pump finish (bounded: a hung chain call must not hang the stop)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.lock, new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
  }

  /** One step of every active run. Never throws: errors are logged (once per run and cause), counted and retried with backoff. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.exclusive(() => this.step());
    } catch (err) {
      // a bug or a surprise from a port: logged and retried, never an unhandled rejection that ends the process
      this.lastTickError = (err as Error).message;
      this.d.log.error('tick failed; retrying next tick', { error: (err as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  private async step(): Promise<void> {
    let ep: EpochInfo;
    try {
      ep = await this.d.chain.epoch();
    } catch (err) {
      this.d.metrics.chainErrors.inc({ op: 'best-block' });
      this.lastTickError = `chain: ${(err as Error).message}`;
      if (this.chainDownSince === null) {
        this.chainDownSince = this.now();
        this.d.log.warn('chain reads failing: runs wait until the chain answers again', { error: (err as Error).message });
      }
      return;
    }
    if (this.chainDownSince !== null) {
      this.d.log.info('chain reads succeed again', { downMs: this.now() - this.chainDownSince, block: ep.block });
      this.chainDownSince = null;
    }
    this.lastBlock = ep.block;
    this.runStart = ep.runStart;
    this.nextEpochAt = ep.nextEpochAt;
    this.scheduleModel = ep.model;
    if (ep.tempo !== this.tempo || !this.windows) this.setWindows(ep.tempo);
    const runId = ep.runStart;
    if (runId === null) {
      // a young chain (legacy schedule): no epoch boundary yet, so no run to key
      if (!this.youngLogged) this.d.log.info('no run yet: the subnet has not had its first epoch', { block: ep.block, firstEpochAt: ep.nextEpochAt });
      this.youngLogged = true;
    } else {
      if (!this.live.has(runId) && !this.known.has(runId)) {
        // read once per run, not on every tick (a finished run's record is large)
        if (!(await this.d.store.getRun(runId))) await this.openRun(runId, ep);
        this.known.add(runId);
      }
      this.d.metrics.currentRun.set(runId);
      this.d.mesh.setRun?.(runId);
    }
    const block = ep.block;
    // oldest run first: a run whose chain deadline is this block gives up before the next run's consensus opens
    for (const [id, l] of [...this.live].sort((a, b) => a[0] - b[0])) {
      if (l.busy || (l.retryAt !== undefined && this.now() < l.retryAt)) continue;
      l.busy = true;
      try {
        await this.advance(l, block);
        l.failures = 0;
        l.retryAt = undefined;
      } catch (err) {
        this.lastTickError = `run ${id}: ${(err as Error).message}`;
        this.backoff(l, err as Error);
      } finally {
        l.busy = false;
      }
      if (l.record.phase === 'done' || l.record.phase === 'failed' || l.record.phase === 'skipped') {
        if (l.session) this.consensusInbox.linger(id, l.session, this.now());
        this.live.delete(id);
      }
    }
    await this.pumpConsensus();
    this.lastTickError = null;
  }

  /** A failed step waits before the next try, logged once per run and cause (./backoff.ts). */
  private backoff(l: LiveRun, err: Error): void {
    backoffRun(l, err, this.now(), this.d.log);
  }

  /** The run windows for `tempo`: the config's if they fit, else derived (a config that stopped fitting is logged). */
  private setWindows(tempo: number): void {
    const w = runWindows(tempo, this.d.config.consensus);
    if (w.ok) this.windows = w.windows;
    else {
      this.windows = derivedWindows(Math.max(tempo, 3));
      this.d.log.error('the configured run windows do not fit the subnet\'s tempo; using windows derived from the tempo', { tempo, reason: w.reason, commitBlocks: this.windows.commitBlocks, revealBlocks: this.windows.revealBlocks });
    }
    if (this.tempo !== 0 && this.tempo !== tempo) this.d.log.info('the subnet\'s tempo changed', { from: this.tempo, to: tempo });
    this.tempo = tempo;
  }

  /** A run's windows as absolute blocks (./schedule.ts). */
  private deadlines(r: RunRecord): { commitEnd: number; revealEnd: number } {
    return runDeadlines(r, this.windows ?? derivedWindows(Math.max(this.tempo, 3)));
  }

  /** The block the run after `r` starts at, by the chain's schedule (./schedule.ts). */
  private nextRunAt(r: RunRecord): number {
    return nextRunStart(r, { model: this.scheduleModel, tempo: this.tempo, runStart: this.runStart, nextEpochAt: this.nextEpochAt });
  }

  /**
   * The chain deadline of a run's consensus: the block the next run's consensus starts at — the next
   * epoch plus its windows, derived from the tempo as openRun does — or a later run's own reveal
   * deadline when the loop already holds one that comes earlier.
   */
  private consensusDeadline(r: RunRecord): number {
    let deadline = consensusDeadlineBlock(this.nextRunAt(r), this.windows ?? derivedWindows(Math.max(this.tempo, 3)));
    for (const l of this.live.values()) {
      if (l.record.runId > r.runId && l.record.revealEnd !== undefined) deadline = Math.min(deadline, l.record.revealEnd);
    }
    return deadline;
  }

  private async openRun(runId: number, ep: EpochInfo): Promise<void> {
    const c = this.d.config;
    const w = this.windows!;
    const record: RunRecord = {
      runId, netuid: c.chain.netuid, mode: c.node.mode, phase: 'roster', startedAt: this.now(), updatedAt: this.now(),
      commitEnd: runId + w.commitBlocks, revealEnd: runId + w.commitBlocks + w.revealBlocks, nextRunAt: ep.nextEpochAt,
      rosterHash: '', policyHash: '', hardwareClass: c.sandbox.hardwareClass, roster: [], rosterSkipped: [], verdicts: [],
    };
    const commitEnd = record.commitEnd!;
    if (this.lastBlock >= commitEnd - 1) {
      // too late to commit a report before the window closes: sit this run out, take the next
      record.phase = 'skipped';
      record.error = `joined at block ${this.lastBlock}, after run ${runId}'s commit window (ends ${commitEnd}); waiting for the next run (epoch at ~${ep.nextEpochAt})`;
      await this.d.store.putRun(record);
      this.d.metrics.runsTotal.inc({ outcome: 'skipped' });
      this.d.log.info('run skipped: joined too late', { runId, block: this.lastBlock, commitWindowEnd: commitEnd, nextEpochAt: ep.nextEpochAt });
      return;
    }
    await this.d.store.putRun(record);
    this.live.set(runId, { record, busy: false, phaseSince: this.now() });
    this.d.log.info('run opened', { runId, phase: record.phase, commitEnd, revealEnd: record.revealEnd, nextEpochAt: ep.nextEpochAt, schedule: ep.model });
  }

  private async setPhase(l: LiveRun, phase: RunPhase): Promise<void> {
    const from = l.record.phase;
    const now = this.now();
    const seconds = l.phaseSince === undefined ? undefined : Math.max(0, (now - l.phaseSince) / 1000);
    if (seconds !== undefined) this.d.metrics.runPhaseSeconds.observe(seconds, { phase: from });
    this.d.metrics.runPhase.set(0, { phase: from });
    l.record.phase = phase;
    l.phaseSince = now;
    this.d.metrics.runPhase.set(1, { phase });
    await this.d.store.putRun(l.record);
    this.d.log.info('run phase', { runId: l.record.runId, phase, from, ...(seconds !== undefined ? { seconds: Math.round(seconds * 10) / 10 } : {}) });
  }

  /** One step of one run: the phase's work (./phases/), then the transition it earned, persisted. */
  private async advance(l: LiveRun, block: number): Promise<void> {
    const r = l.record;
    const x = this.ctx;
    const { commitEnd, revealEnd } = this.deadlines(r);
    // the mesh sends and expands this run's reports against its roster (resumed runs too; well before any reveal)
    if (r.rosterHash) this.d.mesh.knowRoster?.(r.rosterHash, r.roster);
    switch (r.phase) {
      case 'roster':
        await fetchRoster(x, r);
        return this.setPhase(l, 'evaluating');
      case 'evaluating':
        // the last block before the window closes: report what is done rather than miss it
        if (!(await evaluate(x, l, this.queue, block >= commitEnd - 1))) return;
        await buildReport(x, r);
        return this.setPhase(l, 'committing');
      case 'committing':
        await commitReport(x, r);
        return this.setPhase(l, 'committed');
      case 'committed':
        if (block < commitEnd) return;
        await publishReport(x, r);
        return this.setPhase(l, 'publishing');
      case 'publishing':
        await this.drainIncoming();
        if (block < revealEnd && !(await holdsEveryCommittedReveal(x, l, commitEnd))) return;
        await startConsensus(x, l, commitEnd, revealEnd, this.io);
        this.fitChecked = warnIfViewsDoNotFit(x, l, { revealEnd, nextRunAt: this.nextRunAt(r), windows: this.windows ?? derivedWindows(Math.max(this.tempo, 3)), tempo: this.tempo }, this.fitChecked);
        return this.setPhase(l, 'consensus');
      case 'consensus': {
        await this.drainIncoming();
        const out = await driveConsensus(x, l, this.io, revealEnd, this.consensusDeadline(r));
        if (out === 'no-input') return this.setPhase(l, 'publishing');
        if (out) return this.setPhase(l, out);
        return;
      }
      case 'certified':
      case 'quorum-miss':
        await setWeights(x, r);
        return this.setPhase(l, r.weights?.commitReveal ? 'confirming' : 'done');
      case 'confirming':
        if (!(await confirmWeightsReveal(x, r, block, this.tempo))) return;
        return this.setPhase(l, 'done');
    }
  }

  /**
   * Stores peer reveals by (run, hotkey) as raw bytes; verification happens when the reveal window
   * closes. A reveal for a run whose consensus already started is late: it goes to the session too
   * (it still counts if a proposal includes it; it never makes a member refuse one).
   */
  private async drainIncoming(): Promise<void> {
    const batch = this.incoming;
    this.incoming = [];
    const stored = await storePeerReports(this.ctx, batch, (runId) => this.live.has(runId));
    for (const { runId, bytes } of stored) {
      const session = this.live.get(runId)?.session;
      if (session) await session.deliverReveal(bytes, this.now());
    }
  }

  /** New consensus messages go to every open session (each ignores other runs) and into the replay buffer. */
  private async pumpConsensus(): Promise<void> {
    await this.consensusInbox.pump([...this.live.values()].map((l) => l.session), this.now());
  }

  /** What the loop is doing, for /v1/status and /healthz (node/status/node-status.ts). */
  status(): { currentEpoch: number | null; epochBlocks: number | null; current: { runId: number; phase: string; phaseSince: number | null } | null; tickError: string | null } {
    const newest = [...this.live.values()].sort((a, b) => b.record.runId - a.record.runId)[0];
    return {
      // the run the chain's schedule is in (LastEpochBlock, or the legacy boundary)
      currentEpoch: this.lastBlock > 0 ? this.runStart : null,
      epochBlocks: this.tempo ? (this.scheduleModel === 'legacy' ? this.tempo + 1 : this.tempo) : null,
      current: newest ? { runId: newest.record.runId, phase: newest.record.phase, phaseSince: newest.phaseSince ?? null } : null,
      tickError: this.lastTickError,
    };
  }

  /** Health for /healthz. */
  async health(): Promise<{ ok: boolean } & Record<string, unknown>> {
    return { ok: this.lastTickError === null && this.lastBlock > 0, block: this.lastBlock, peers: this.d.mesh.peerCount(), activeRuns: [...this.live.keys()], error: this.lastTickError, chainDownSince: this.chainDownSince };
  }
}

export { identicalEarlier } from './phases/evaluate.ts';
export { epochStart } from './schedule.ts';
export type { ArchivePort, ValidatorDeps } from './ports.ts';
export type { DivergenceRecord };
