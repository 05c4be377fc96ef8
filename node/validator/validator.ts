// The validator's run loop: one run per epoch, advanced by an idempotent phase machine on every
// tick (new block or timer). Each step persists what it did before the next one starts, and every
// externally visible action (chain commit, gossip vote, set_weights) is preceded by a LevelDB
// marker, so a restart resumes the run without committing or voting twice.
//
//   roster (chain state at the run's start block) → evaluating (queue, cache by (code, policy))
//   → committing (report hash on chain FIRST) → committed → publishing (after the commit window)
//   → consensus (reports counted only if they hash to their on-chain commitment) → certified |
//   quorum-miss → weights (mode-dependent, uid→hotkey re-checked) → done
//
// This file is the machine (which phase follows which, the tick, the persisted transitions and the
// message buffers shared by runs); the work of each phase is in ./phases/: roster.ts, evaluate.ts,
// commit.ts, reveal.ts, certify.ts, set-weights.ts.
import PQueue from 'p-queue';
import type { Sr25519Signer } from '../../proto/signer.ts';
import type { SignedScoreReport } from '../../proto/score-report.ts';
import type { NodeConfig } from '../config.ts';
import type { NodeMetrics } from '../metrics.ts';
import type { ChainPort, ConsensusPort, ConsensusSession, EvaluatorPort, Logger, MeshPort } from './ports.ts';
import type { DivergenceRecord, RunPhase, RunRecord, ValidatorStore } from './store.ts';
import type { LiveRun, PhaseContext } from './phases/context.ts';
import { fetchRoster } from './phases/roster.ts';
import { evaluate } from './phases/evaluate.ts';
import { buildReport, commitReport } from './phases/commit.ts';
import { publishReport, storePeerReports } from './phases/reveal.ts';
import { driveConsensus, startConsensus, type ConsensusIo } from './phases/certify.ts';
import { setWeights } from './phases/set-weights.ts';

/** What the loop hands the archive (node/archive.ts adapter); all methods best effort. */
export interface ArchivePort {
  /** A report whose signature the loop has verified (peers') or just made (its own): not verified again. */
  putSignedReport(signed: SignedScoreReport): Promise<void>;
  putCertificate(runId: number, bytes: Uint8Array): Promise<void>;
  putEquivocation(runId: number, hotkey: string, proofHex: string): Promise<void>;
  putEvaluation?(codeSha256: string, record: unknown): Promise<void>;
}

export interface ValidatorDeps {
  config: NodeConfig;
  chain: ChainPort;
  mesh: MeshPort;
  evaluator: EvaluatorPort;
  consensus: ConsensusPort;
  store: ValidatorStore;
  signer: Sr25519Signer;
  metrics: NodeMetrics;
  log: Logger;
  archive?: ArchivePort;
  now?: () => number;
}

/** subtensor's epoch rule: an epoch of netuid N runs when (block + N + 1) % (tempo + 1) == 0. */
export function epochStart(block: number, tempo: number, netuid: number): number {
  const t = tempo + 1;
  return block - ((block + netuid + 1) % t);
}

const MAX_BUFFERED_MESSAGES = 20_000;
const RECENT_MESSAGES = 4_000;
const RECENT_MS = 10 * 60_000;
const LINGER_MS = 10 * 60_000;
const ACTIVE_PHASES: RunPhase[] = ['roster', 'evaluating', 'committing', 'committed', 'publishing', 'consensus', 'certified', 'quorum-miss'];

export class Validator {
  private readonly d: ValidatorDeps;
  private readonly now: () => number;
  private readonly queue: PQueue;
  private readonly live = new Map<number, LiveRun>();
  private incoming: Uint8Array[] = [];
  private consensusInbox: { bytes: Uint8Array; from: string }[] = [];
  /** Recent consensus messages, replayed into a session that opens after they arrived. */
  private recent: { bytes: Uint8Array; from: string; at: number }[] = [];
  /** Finished runs keep their session a while to answer laggards (a restarted peer) with the certificate. */
  private lingering = new Map<number, { session: ConsensusSession; until: number }>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private tempo = 0;
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
      recent: () => this.recent,
    };
    deps.mesh.onReport((bytes) => {
      if (this.incoming.length < MAX_BUFFERED_MESSAGES) this.incoming.push(bytes);
    });
    deps.mesh.onConsensus((bytes, from) => {
      if (this.consensusInbox.length < MAX_BUFFERED_MESSAGES) this.consensusInbox.push({ bytes, from });
      else this.d.metrics.gossipRejections.inc({ reason: 'inbox-full' });
    });
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
    const deadline = Date.now() + 5000;
    while (this.ticking && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** One step of every active run. Never throws: errors are logged, counted and retried next tick. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      let block: number;
      try {
        block = await this.d.chain.bestBlock();
        if (!this.tempo) this.tempo = await this.d.chain.tempo();
      } catch (err) {
        this.d.metrics.chainErrors.inc({ op: 'best-block' });
        this.lastTickError = `chain: ${(err as Error).message}`;
        return;
      }
      this.lastBlock = block;
      const runId = epochStart(block, this.tempo, this.d.config.chain.netuid);
      if (!this.live.has(runId) && !(await this.d.store.getRun(runId))) await this.openRun(runId);
      this.d.metrics.currentRun.set(runId);
      this.d.mesh.setRun?.(runId);
      for (const [id, l] of [...this.live]) {
        if (l.busy) continue;
        l.busy = true;
        try {
          await this.advance(l, block);
        } catch (err) {
          this.lastTickError = `run ${id}: ${(err as Error).message}`;
          this.d.log.warn('run step failed; retrying next tick', { runId: id, phase: l.record.phase, error: (err as Error).message });
        } finally {
          l.busy = false;
        }
        if (l.record.phase === 'done' || l.record.phase === 'failed' || l.record.phase === 'skipped') {
          if (l.session) this.lingering.set(id, { session: l.session, until: this.now() + LINGER_MS });
          this.live.delete(id);
        }
      }
      await this.pumpConsensus();
      this.lastTickError = null;
    } finally {
      this.ticking = false;
    }
  }

  private async openRun(runId: number): Promise<void> {
    const c = this.d.config;
    const record: RunRecord = {
      runId, netuid: c.chain.netuid, mode: c.node.mode, phase: 'roster', startedAt: this.now(), updatedAt: this.now(),
      rosterHash: '', policyHash: '', hardwareClass: c.sandbox.hardwareClass, roster: [], rosterSkipped: [], verdicts: [],
    };
    const commitEnd = runId + c.consensus.commitWindowBlocks;
    if (this.lastBlock >= commitEnd - 1) {
      // too late to commit a report before the window closes: sit this run out, take the next
      record.phase = 'skipped';
      record.error = `joined at block ${this.lastBlock}, after run ${runId}'s commit window (ends ${commitEnd}); waiting for the next run`;
      await this.d.store.putRun(record);
      this.d.metrics.runsTotal.inc({ outcome: 'skipped' });
      this.d.log.info('run skipped: joined too late', { runId, block: this.lastBlock, commitWindowEnd: commitEnd });
      return;
    }
    await this.d.store.putRun(record);
    this.live.set(runId, { record, busy: false, phaseSince: this.now() });
    this.d.log.info('run opened', { runId, phase: record.phase });
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
    const c = this.d.config.consensus;
    const commitEnd = r.runId + c.commitWindowBlocks;
    const revealEnd = commitEnd + c.revealWindowBlocks;
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
        if (block < revealEnd) return;
        await startConsensus(x, l, commitEnd, this.io);
        return this.setPhase(l, 'consensus');
      case 'consensus': {
        const out = await driveConsensus(x, l, this.io);
        if (out === 'no-input') return this.setPhase(l, 'publishing');
        if (out) return this.setPhase(l, out);
        return;
      }
      case 'certified':
      case 'quorum-miss':
        await setWeights(x, r);
        return this.setPhase(l, 'done');
    }
  }

  /** Stores peer reports by (run, hotkey) as raw bytes; verification happens when the reveal window closes. */
  private async drainIncoming(): Promise<void> {
    const batch = this.incoming;
    this.incoming = [];
    await storePeerReports(this.ctx, batch, (runId) => this.live.has(runId));
  }

  /** New consensus messages go to every open session (each ignores other runs) and into the replay buffer. */
  private async pumpConsensus(): Promise<void> {
    const inbox = this.consensusInbox;
    this.consensusInbox = [];
    const now = this.now();
    for (const [id, x] of this.lingering) if (x.until < now) this.lingering.delete(id);
    const sessions = [...[...this.live.values()].map((l) => l.session), ...[...this.lingering.values()].map((x) => x.session)].filter((x): x is ConsensusSession => Boolean(x));
    for (const m of inbox) {
      this.recent.push({ ...m, at: now });
      for (const s of sessions) await s.deliver(m.bytes, m.from, now);
    }
    while (this.recent.length > RECENT_MESSAGES || (this.recent.length && this.recent[0].at < now - RECENT_MS)) this.recent.shift();
    for (const x of this.lingering.values()) await x.session.tick(now);
  }

  /** What the loop is doing, for /v1/status and /healthz (node/status/node-status.ts). */
  status(): { currentEpoch: number | null; epochBlocks: number | null; current: { runId: number; phase: string; phaseSince: number | null } | null; tickError: string | null } {
    const newest = [...this.live.values()].sort((a, b) => b.record.runId - a.record.runId)[0];
    return {
      currentEpoch: this.lastBlock > 0 && this.tempo ? epochStart(this.lastBlock, this.tempo, this.d.config.chain.netuid) : null,
      epochBlocks: this.tempo ? this.tempo + 1 : null,
      current: newest ? { runId: newest.record.runId, phase: newest.record.phase, phaseSince: newest.phaseSince ?? null } : null,
      tickError: this.lastTickError,
    };
  }

  /** Health for /healthz. */
  async health(): Promise<{ ok: boolean } & Record<string, unknown>> {
    return { ok: this.lastTickError === null && this.lastBlock > 0, block: this.lastBlock, peers: this.d.mesh.peerCount(), activeRuns: [...this.live.keys()], error: this.lastTickError };
  }
}

export { identicalEarlier } from './phases/evaluate.ts';
export type { DivergenceRecord };
