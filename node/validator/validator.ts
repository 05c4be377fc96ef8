// The validator's run loop: one run per epoch, advanced by an idempotent phase machine on every
// tick (new block or timer). Each step persists what it did before the next one starts, and every
// externally visible action (chain commit, gossip vote, set_weights) is preceded by a LevelDB
// marker, so a restart resumes the run without committing or voting twice.
//
//   roster (chain state at the run's start block) → evaluating (queue, cache by (code, policy))
//   → committing (report hash on chain FIRST) → committed → publishing (after the commit window)
//   → consensus (reports counted only if they hash to their on-chain commitment) → certified |
//   quorum-miss → weights (mode-dependent, uid→hotkey re-checked) → done
import PQueue from 'p-queue';
import { decodeSignedScoreReport, encodeSignedScoreReport, scoreReportHash, signScoreReport, verifySignedScoreReport, type ScoreEntry, type ScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import { fromHex, toHex } from '../../proto/codec.ts';
import type { Sr25519Signer } from '../../proto/signer.ts';
import { reportMismatch } from '../../consensus/aggregate.ts';
import type { NodeConfig } from '../config.ts';
import type { NodeMetrics } from '../metrics.ts';
import type { ChainPort, ConsensusPort, ConsensusSession, EvaluatorPort, Logger, MeshPort } from './ports.ts';
import type { DivergenceRecord, ReportVerdict, RunPhase, RunRecord, ValidatorStore } from './store.ts';
import { decide, decisionView, membersOf, rulesFromConfig } from './decision.ts';
import { divergenceBetween } from './divergence.ts';
import { isWeightsIntent, MAX_WEIGHT_SENDS, sameWeightShares, type WeightsIntent } from './weights.ts';

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

interface LiveRun {
  record: RunRecord;
  evaluation?: Promise<void>;
  evalAbort?: AbortController;
  session?: ConsensusSession;
  consensusStartedAt?: number;
  busy: boolean;
}

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
  lastBlock = 0;
  lastTickError: string | null = null;

  constructor(deps: ValidatorDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.queue = new PQueue({ concurrency: Math.max(1, deps.evaluator.concurrency()) });
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
        if (l.record.phase === 'done' || l.record.phase === 'failed') {
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
      record.phase = 'failed';
      record.error = `joined at block ${this.lastBlock}, after run ${runId}'s commit window (ends ${commitEnd}); waiting for the next run`;
      await this.d.store.putRun(record);
      this.d.log.info('run skipped: joined too late', { runId, block: this.lastBlock });
      return;
    }
    await this.d.store.putRun(record);
    this.live.set(runId, { record, busy: false });
    this.d.log.info('run opened', { runId });
  }

  private async setPhase(l: LiveRun, phase: RunPhase): Promise<void> {
    this.d.metrics.runPhase.set(0, { phase: l.record.phase });
    l.record.phase = phase;
    this.d.metrics.runPhase.set(1, { phase });
    await this.d.store.putRun(l.record);
    this.d.log.info('run phase', { runId: l.record.runId, phase });
  }

  private async advance(l: LiveRun, block: number): Promise<void> {
    const r = l.record;
    const c = this.d.config.consensus;
    const commitEnd = r.runId + c.commitWindowBlocks;
    const revealEnd = commitEnd + c.revealWindowBlocks;
    switch (r.phase) {
      case 'roster': {
        const { entries, skipped } = await this.chainCall('miner-roster', () => this.d.chain.minerRoster(r.runId));
        r.roster = entries;
        r.rosterSkipped = skipped;
        r.rosterHash = rosterHash(entries);
        r.policyHash = await this.d.evaluator.policyHash();
        return this.setPhase(l, 'evaluating');
      }
      case 'evaluating': {
        if (!l.evaluation) l.evaluation = this.evaluateRoster(l);
        const done = await Promise.race([l.evaluation.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 50))]);
        // Out of time: report what is done (the rest is 'not-evaluated') rather than miss the window.
        if (!done && block < commitEnd - 1) return;
        if (!done) l.evalAbort?.abort();
        await this.buildReport(l);
        return this.setPhase(l, 'committing');
      }
      case 'committing':
        return this.commit(l);
      case 'committed': {
        if (block < commitEnd) return;
        await this.publish(l);
        return this.setPhase(l, 'publishing');
      }
      case 'publishing': {
        await this.drainIncoming();
        if (block < revealEnd) return;
        await this.startConsensus(l, commitEnd);
        return this.setPhase(l, 'consensus');
      }
      case 'consensus':
        return this.driveConsensus(l);
      case 'certified':
      case 'quorum-miss':
        await this.applyWeights(l);
        return this.setPhase(l, 'done');
    }
  }

  private async chainCall<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.d.metrics.chainErrors.inc({ op });
      throw err;
    }
  }

  // ---- evaluation

  private async evaluateRoster(l: LiveRun): Promise<void> {
    const r = l.record;
    l.evalAbort = new AbortController();
    const signal = l.evalAbort.signal;
    const timeoutMs = this.d.config.sandbox.evaluationTimeoutS * 1000;
    const jobs = r.roster.map((entry) => async () => {
      if (signal.aborted) return;
      if (identicalEarlier(r.roster, entry)) return; // same bytes as an earlier miner's: a duplicate, nothing to run
      const cached = await this.d.store.getEvaluation(entry.codeSha256, r.policyHash);
      if (cached) {
        this.d.metrics.evaluationCacheHits.inc();
        return;
      }
      const started = this.now();
      const earlier = r.roster.filter((e) => e.commitBlock < entry.commitBlock || (e.commitBlock === entry.commitBlock && e.uid < entry.uid));
      this.d.log.info('evaluating', { runId: r.runId, uid: entry.uid, code: entry.codeSha256.slice(0, 12) });
      let out;
      try {
        out = await this.d.evaluator.evaluate(entry, { runId: r.runId, earlier, timeoutMs, signal });
      } catch (err) {
        // a validator-side failure (Docker down): not the miner's fault, so nothing is cached
        this.d.log.error('evaluator error', { uid: entry.uid, error: (err as Error).message });
        this.d.metrics.evaluationsTotal.inc({ status: 'error' });
        return;
      }
      const wallMs = this.now() - started;
      this.d.metrics.evaluationsTotal.inc({ status: out.status });
      this.d.metrics.evaluationSeconds.observe(wallMs / 1000);
      const rec = { codeSha256: entry.codeSha256, policyHash: r.policyHash, status: out.status, score: out.status === 'scored' ? out.score : 0, detail: out.detail, evaluatedAt: this.now(), wallMs };
      await this.d.store.putEvaluation(rec);
      await this.d.archive?.putEvaluation?.(entry.codeSha256, { ...rec, runId: r.runId, uid: entry.uid, minerHotkey: entry.minerHotkey, url: entry.url }).catch((err) => this.d.log.warn('archive refused evaluation record', { error: (err as Error).message }));
      this.d.log.info('evaluated', { runId: r.runId, uid: entry.uid, status: out.status, score: out.score, ms: wallMs });
    });
    this.d.metrics.evaluationsQueued.set(jobs.length);
    await Promise.all(jobs.map((j) => this.queue.add(j).finally(() => this.d.metrics.evaluationsQueued.set(this.queue.size + this.queue.pending))));
  }

  private async buildReport(l: LiveRun): Promise<void> {
    const r = l.record;
    const entries: ScoreEntry[] = [];
    for (const e of r.roster) {
      if (identicalEarlier(r.roster, e)) {
        entries.push({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, status: 'duplicate', score: 0 });
        continue;
      }
      const ev = await this.d.store.getEvaluation(e.codeSha256, r.policyHash);
      entries.push({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, status: ev?.status ?? 'not-evaluated', score: ev && ev.status === 'scored' ? ev.score : 0 });
    }
    const fault = this.d.config.dev.fault;
    const inflate = /^inflate:(\d+):([\d.]+)$/.exec(fault);
    if (inflate) {
      const e = entries.find((x) => x.uid === Number(inflate[1]));
      if (e) Object.assign(e, { status: 'scored', score: Math.round(Math.max(e.score, 1000) * Number(inflate[2])) });
    }
    const report: ScoreReport = {
      version: 1, netuid: r.netuid, runId: r.runId, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass,
      validatorHotkey: this.hotkey, entries, issuedAt: this.now(),
    };
    const signed = signScoreReport(report, this.d.signer);
    r.myReportHash = scoreReportHash(report);
    await this.d.store.putReportBytes(r.runId, this.hotkey, toHex(encodeSignedScoreReport(signed)));
    if (fault === 'mismatch-report') {
      // Byzantine test double: publish a report other than the one committed.
      const other = { ...report, entries: entries.map((e) => (e.status === 'scored' ? { ...e, score: e.score + 1 } : e)), issuedAt: report.issuedAt + 1 };
      await this.d.store.mark(r.runId, 'fault-published-report', toHex(encodeSignedScoreReport(signScoreReport(other, this.d.signer))));
    }
    await this.d.archive?.putSignedReport(signed).catch((err) => this.d.log.warn('archive refused own report', { error: (err as Error).message }));
    this.d.log.info('report built', { runId: r.runId, hash: r.myReportHash, entries: entries.length });
  }

  private async commit(l: LiveRun): Promise<void> {
    const r = l.record;
    const hash = r.myReportHash!;
    const done = await this.d.store.marked(r.runId, 'committed');
    if (done) return this.setPhase(l, 'committed');
    if (await this.d.store.marked(r.runId, 'commit-intent')) {
      // We may have sent it before a crash: look before sending again (no double commit).
      const best = await this.chainCall('read-commitments', () => this.d.chain.bestBlock());
      const onChain = (await this.chainCall('read-commitments', () => this.d.chain.reportCommitments(r.runId, best))).get(this.hotkey);
      if (onChain && onChain.hash === hash) {
        r.myCommitBlock = onChain.block;
        await this.d.store.mark(r.runId, 'committed', onChain.block);
        this.d.log.info('commitment found on chain after restart', { runId: r.runId, block: onChain.block });
        return this.setPhase(l, 'committed');
      }
    }
    await this.d.store.mark(r.runId, 'commit-intent', hash);
    const { block } = await this.chainCall('commit', () => this.d.chain.commitReportHash(r.runId, hash));
    r.myCommitBlock = block;
    await this.d.store.mark(r.runId, 'committed', block);
    this.d.log.info('report hash committed on chain', { runId: r.runId, hash, block });
    return this.setPhase(l, 'committed');
  }

  private async publish(l: LiveRun): Promise<void> {
    const r = l.record;
    if (this.d.config.dev.fault === 'silent') return;
    const faulty = await this.d.store.marked(r.runId, 'fault-published-report');
    const mine = faulty ? (faulty.detail as string) : await this.d.store.getReportBytes(r.runId, this.hotkey);
    if (!mine) throw new Error(`own report for run ${r.runId} is missing from the store`);
    await this.d.store.mark(r.runId, 'published');
    await this.d.mesh.publishReport(fromHex(mine, undefined, 'own report')).catch((err) => {
      // gossip not ready yet is not fatal: peers fetch by request, and we republish next run step
      this.d.log.warn('publish failed', { runId: r.runId, error: (err as Error).message });
    });
    this.d.log.info('report published', { runId: r.runId, peers: this.d.mesh.peerCount() });
  }

  /** Stores peer reports by (run, hotkey) as raw bytes; verification happens when the reveal window closes. */
  private async drainIncoming(): Promise<void> {
    const batch = this.incoming;
    this.incoming = [];
    for (const bytes of batch) {
      let signed: SignedScoreReport;
      try {
        signed = decodeSignedScoreReport(bytes);
      } catch {
        this.d.metrics.reportsReceived.inc({ verdict: 'undecodable' });
        continue;
      }
      const runId = signed.report.runId;
      if (!this.live.has(runId)) {
        this.d.metrics.reportsReceived.inc({ verdict: 'wrong-run' });
        continue;
      }
      if (signed.report.validatorHotkey === this.hotkey) continue;
      const hex = toHex(bytes);
      const prev = await this.d.store.getReportBytes(runId, signed.report.validatorHotkey);
      if (prev !== undefined && prev !== hex) {
        // two different reports from one key: keep the first, record the second as evidence
        await this.d.store.mark(runId, `second-report/${signed.report.validatorHotkey}`, hex);
        continue;
      }
      await this.d.store.putReportBytes(runId, signed.report.validatorHotkey, hex);
    }
  }

  private async verdictsFor(l: LiveRun, commitEnd: number, members: { hotkey: string; stake: bigint }[], commitments: Map<string, { hash: string; block: number }>) {
    const r = l.record;
    const rosterMap = new Map(r.roster.map((e) => [e.uid, e]));
    const memberSet = new Set(members.map((m) => m.hotkey));
    const verdicts: ReportVerdict[] = [];
    const counted: { signed: SignedScoreReport; bytes: Uint8Array }[] = [];
    for (const { hotkey, hex } of await this.d.store.listReportBytes(r.runId)) {
      const bytes = fromHex(hex, undefined, 'stored report');
      const signed = decodeSignedScoreReport(bytes);
      const hash = scoreReportHash(signed.report);
      const v = (verdict: ReportVerdict['verdict'], detail?: string) => {
        verdicts.push({ hotkey, reportHash: hash, verdict, detail });
        this.d.metrics.reportsReceived.inc({ verdict });
      };
      const sig = verifySignedScoreReport(signed);
      if (!sig.ok) { v('bad-signature', sig.reason); continue; }
      if (hotkey !== this.hotkey) await this.d.archive?.putSignedReport(signed).catch(() => undefined);
      if (!memberSet.has(hotkey)) { v('not-member', 'hotkey is not a permitted validator with enough stake at the run block'); continue; }
      if (await this.d.store.marked(r.runId, `second-report/${hotkey}`)) { v('equivocation', 'two different signed reports for this run'); continue; }
      const mismatch = reportMismatch(signed.report, { netuid: r.netuid, runId: r.runId, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass }, rosterMap);
      if (mismatch) { v('wrong-run', mismatch); continue; }
      const onChain = commitments.get(hotkey);
      if (!onChain) { v('no-commitment', `no conclave/v1:${r.runId} commitment on chain by block ${commitEnd}`); continue; }
      if (onChain.hash !== hash) { v('hash-mismatch', `report hashes to ${hash.slice(0, 16)}…, the on-chain commitment is ${onChain.hash.slice(0, 16)}…`); continue; }
      v('counted');
      counted.push({ signed, bytes });
    }
    return { verdicts, counted };
  }

  private async startConsensus(l: LiveRun, commitEnd: number): Promise<void> {
    const r = l.record;
    await this.drainIncoming();
    if (this.d.mesh.fetchReports) {
      for (const bytes of await this.d.mesh.fetchReports(r.runId).catch(() => [] as Uint8Array[])) this.incoming.push(bytes);
      await this.drainIncoming();
    }
    const neurons = await this.chainCall('metagraph', () => this.d.chain.metagraph(r.runId));
    const members = membersOf(neurons, this.d.config.consensus.minStake);
    const commitments = await this.chainCall('read-commitments', () => this.d.chain.reportCommitments(r.runId, commitEnd));
    const { verdicts, counted } = await this.verdictsFor(l, commitEnd, members, commitments);
    r.verdicts = verdicts;
    const incumbent = await this.currentIncumbent(r.roster);
    // What this node would decide from its own view (the certificate may count a different set).
    const rules = rulesFromConfig(this.d.config);
    r.decision = decisionView(decide(counted.map((c) => c.signed.report), members, r.roster, r, incumbent, rules), r.roster, rules.threshold);
    await this.d.store.putRun(r);
    l.consensusStartedAt = this.now();
    await this.openSession(l, { members, commitments, counted: counted.map((c) => c.bytes), incumbent });
  }

  private async openSession(l: LiveRun, x: { members: { uid: number; hotkey: string; stake: bigint }[]; commitments: Map<string, { hash: string; block: number }>; counted: Uint8Array[]; incumbent: number | null }): Promise<void> {
    const r = l.record;
    const resume = await this.d.store.getConsensusState(r.runId);
    const nodeKeys = this.d.mesh.boundNodeKeys();
    await this.d.store.putMeta(`consensus-input/${r.runId}`, { members: x.members, commitments: [...x.commitments], counted: x.counted.map(toHex), incumbent: x.incumbent, startedAt: l.consensusStartedAt });
    const mine = await this.d.store.getReportBytes(r.runId, this.hotkey);
    // a node publishing a report other than its commitment (test fault) feeds that one to consensus too
    const faulty = await this.d.store.marked(r.runId, 'fault-published-report');
    const own = this.d.config.dev.fault === 'silent' ? null : faulty ? fromHex(faulty.detail as string) : mine ? fromHex(mine) : null;
    l.session = await this.d.consensus.start(
      { runId: r.runId, netuid: r.netuid, members: x.members, rosterHash: r.rosterHash, policyHash: r.policyHash, hardwareClass: r.hardwareClass, roster: r.roster, counted: x.counted, commitments: x.commitments, incumbent: x.incumbent, nodeKeys, ownReport: own },
      {
        send: async (to, bytes) => {
          if (this.d.config.dev.fault === 'silent') return;
          await this.d.mesh.sendConsensus(to, bytes).catch((err) => this.d.log.debug('consensus send failed', { error: (err as Error).message }));
        },
        persist: (state) => this.d.store.putConsensusState(r.runId, state),
      },
      resume,
      this.now(),
    );
    for (const m of this.recent) await l.session.deliver(m.bytes, m.from, this.now());
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

  private async driveConsensus(l: LiveRun): Promise<void> {
    const r = l.record;
    if (!l.session) {
      // restart mid-consensus: rebuild the session from the persisted input and reducer state
      const saved = await this.d.store.getMeta<{ members: { uid: number; hotkey: string; stake: bigint }[]; commitments: [string, { hash: string; block: number }][]; counted: string[]; incumbent: number | null; startedAt: number }>(`consensus-input/${r.runId}`);
      if (!saved) return this.setPhase(l, 'publishing');
      l.consensusStartedAt = saved.startedAt;
      await this.openSession(l, { members: saved.members, commitments: new Map(saved.commitments), counted: saved.counted.map((h) => fromHex(h)), incumbent: saved.incumbent });
    }
    const s = l.session!;
    await this.pumpConsensus();
    await s.tick(this.now());
    for (const e of s.equivocations()) {
      await this.d.archive?.putEquivocation(r.runId, e.hotkey, e.proofHex).catch(() => undefined);
    }
    const out = s.outcome();
    if (out) {
      r.decision = out.decision;
      r.certificateHex = toHex(out.certificateBytes);
      r.certificateHash = out.certificateHash;
      r.consensusLatencyMs = this.now() - (l.consensusStartedAt ?? this.now());
      this.d.metrics.consensusLatency.observe(r.consensusLatencyMs / 1000);
      await this.d.archive?.putCertificate(r.runId, out.certificateBytes).catch((err) => this.d.log.warn('archive refused certificate', { error: (err as Error).message }));
      this.d.metrics.runsTotal.inc({ outcome: 'certified' });
      this.d.log.info('run certified', { runId: r.runId, winner: out.decision.winner, counted: out.countedHashes.length, latencyMs: r.consensusLatencyMs });
      return this.setPhase(l, 'certified');
    }
    if (this.now() - (l.consensusStartedAt ?? this.now()) > this.d.config.consensus.consensusTimeoutS * 1000) {
      this.d.metrics.runsTotal.inc({ outcome: 'quorum-miss' });
      this.d.log.warn('no certificate before the consensus timeout: quorum miss', { runId: r.runId });
      return this.setPhase(l, 'quorum-miss');
    }
  }

  // ---- weights

  private async applyWeights(l: LiveRun): Promise<void> {
    const r = l.record;
    const intent = await this.d.store.marked(r.runId, 'weights-intent');
    if (intent) return this.resumeWeights(l, intent.detail);
    const mode = this.d.config.node.mode;
    const certified = r.phase === 'certified' && r.decision?.quorumMet === true;
    const incumbent = await this.currentIncumbent(r.roster);
    if (certified && r.decision!.winner !== null) {
      const winner = r.decision!.winner;
      const hotkey = r.roster.find((e) => e.uid === winner)?.minerHotkey ?? null;
      await this.d.store.putMeta('incumbent', { uid: winner, hotkey });
    }

    let source: 'certified' | 'owner' | 'incumbent';
    let weights: { uid: number; weight: number }[];
    let ownerWeights: { uid: number; weight: number }[] | null = null;
    if (mode !== 'decentralized') {
      const owner = this.d.config.owner.hotkey || (await this.d.chain.subnetOwnerHotkey().catch(() => null));
      ownerWeights = owner ? await this.chainCall('owner-weights', () => this.d.chain.weightsOf(owner)).catch(() => null) : null;
    }
    if (mode === 'shadow' && r.decision) {
      r.divergence = divergenceBetween(r.runId, r.decision, ownerWeights, this.d.config.consensus.burnUid, this.now());
      this.d.metrics.divergenceTop1.set(r.divergence.top1Agree ? 1 : 0);
    }
    if (mode === 'decentralized') {
      if (certified) {
        source = 'certified';
        weights = r.decision!.weights;
      } else {
        source = 'incumbent';
        weights = r.decision && incumbent !== null ? weightsForIncumbent(incumbent, this.d.config) : [];
      }
    } else {
      source = 'owner';
      weights = ownerWeights ?? [];
    }
    if (weights.length === 0) {
      r.weights = { result: 'held', source, uids: [], weights: [], reason: mode === 'decentralized' ? 'quorum miss and no incumbent: nothing to hold' : 'owner weights unavailable', at: this.now() };
      this.d.metrics.weightsSet.inc({ result: 'held' });
      return;
    }
    const intentNow: WeightsIntent = { source, uids: weights.map((w) => w.uid), weights: weights.map((w) => w.weight), block: this.lastBlock, sends: 1 };
    if (await this.holdIfRecycled(r, intentNow)) return;
    return this.sendWeights(l, intentNow);
  }

  /**
   * The previous winner, if its uid still belongs to the same miner in this run's roster. A uid
   * recycled on deregistration must not inherit the incumbent's protection or a held weight.
   */
  private async currentIncumbent(roster: { uid: number; minerHotkey: string }[]): Promise<number | null> {
    const stored = await this.d.store.getMeta<number | { uid: number; hotkey: string | null } | null>('incumbent');
    if (stored === undefined || stored === null) return null;
    if (typeof stored === 'number') return stored; // written before hotkeys were recorded
    const entry = roster.find((e) => e.uid === stored.uid);
    if (entry && entry.minerHotkey === stored.hotkey) return stored.uid;
    this.d.log.warn('incumbent void: its uid no longer holds the same miner', { uid: stored.uid, was: stored.hotkey, now: entry?.minerHotkey ?? null });
    return null;
  }

  /** uids are recycled on deregistration: the uid we are about to reward must still be the miner we certified. */
  private async holdIfRecycled(r: RunRecord, w: WeightsIntent): Promise<boolean> {
    if (w.source === 'owner') return false;
    const now = await this.chainCall('metagraph', () => this.d.chain.metagraph());
    const hotkeyOf = new Map(now.map((n) => [n.uid, n.hotkey]));
    const certifiedHotkey = new Map((r.decision?.scores ?? []).map((s) => [s.uid, s.hotkey]));
    for (const uid of w.uids) {
      if (uid === this.d.config.consensus.burnUid) continue;
      const want = certifiedHotkey.get(uid);
      const have = hotkeyOf.get(uid);
      if (want && have !== want) {
        r.weights = { result: 'held', source: w.source, uids: w.uids, weights: w.weights, reason: `uid ${uid} now belongs to ${have ?? 'nobody'}, not the certified ${want}: uid recycled, weights held`, at: this.now() };
        this.d.metrics.weightsSet.inc({ result: 'held' });
        this.d.log.warn('weights held: uid re-mapped', { runId: r.runId, uid });
        return true;
      }
    }
    return false;
  }

  /** Intent (with the run record: divergence survives a crash) persisted BEFORE set_weights leaves. */
  private async sendWeights(l: LiveRun, intent: WeightsIntent): Promise<void> {
    const r = l.record;
    await this.d.store.putRun(r);
    await this.d.store.mark(r.runId, 'weights-intent', intent);
    const { source, uids, weights } = intent;
    try {
      const { block } = await this.chainCall('set-weights', () => this.d.chain.setWeights(uids, weights));
      r.weights = { result: 'set', source, uids, weights, block, at: this.now() };
      this.d.metrics.weightsSet.inc({ result: 'set' });
      this.d.log.info('weights set', { runId: r.runId, source, uids, block, sends: intent.sends });
    } catch (err) {
      r.weights = { result: 'failed', source, uids, weights, reason: (err as Error).message, at: this.now() };
      this.d.metrics.weightsSet.inc({ result: 'failed' });
      this.d.log.warn('set_weights failed (run continues)', { runId: r.runId, error: (err as Error).message });
    }
  }

  /**
   * A set_weights was sent (or about to be) when the process stopped, and no outcome was recorded.
   * Read the chain: this hotkey's weights equal the intent and were set at/after the intent's block →
   * landed (done, not re-sent). Otherwise re-send, unless a newer run has set weights since (ours
   * would overwrite fresher ones) or the send budget is spent. Chain read errors: retried next tick.
   */
  private async resumeWeights(l: LiveRun, detail: unknown): Promise<void> {
    const r = l.record;
    if (r.weights) return;
    if (!isWeightsIntent(detail)) {
      // a marker from an older version carries no intent: never risk a double send
      r.weights = { result: 'failed', source: r.mode === 'decentralized' ? 'certified' : 'owner', uids: [], weights: [], reason: 'weights-intent marker without its intent (older version): not re-sent', at: this.now() };
      return;
    }
    const intent = detail;
    const onChain = await this.chainCall('weights-of', () => this.d.chain.weightsOf(this.hotkey));
    const setAt = this.d.chain.lastWeightsBlock ? await this.chainCall('weights-of', () => this.d.chain.lastWeightsBlock!(this.hotkey)) : null;
    const base = { source: intent.source, uids: intent.uids, weights: intent.weights };
    if (sameWeightShares(onChain, intent) && (!this.d.chain.lastWeightsBlock || (setAt !== null && setAt >= intent.block))) {
      r.weights = { result: 'set', ...base, block: setAt ?? undefined, reason: 'found on chain after a restart (sent before it)', at: this.now() };
      this.d.metrics.weightsSet.inc({ result: 'set' });
      this.d.log.info('weights found on chain after a restart: not sent again', { runId: r.runId, block: setAt });
      return;
    }
    const newer = await this.newerRunWithWeights(r.runId);
    if (newer !== null || intent.sends >= MAX_WEIGHT_SENDS) {
      const reason = newer !== null
        ? `not on chain after a restart, and run ${newer} has set weights since: not re-sent (would overwrite newer weights)`
        : `not on chain after ${intent.sends} send(s): given up`;
      r.weights = { result: 'failed', ...base, reason, at: this.now() };
      this.d.metrics.weightsSet.inc({ result: 'failed' });
      this.d.log.warn('weights not re-sent after a restart', { runId: r.runId, reason });
      return;
    }
    this.d.log.info('weights not on chain after a restart: sending again', { runId: r.runId, sends: intent.sends + 1 });
    const again: WeightsIntent = { ...intent, block: this.lastBlock, sends: intent.sends + 1 };
    if (await this.holdIfRecycled(r, again)) return;
    return this.sendWeights(l, again);
  }

  private async newerRunWithWeights(runId: number): Promise<number | null> {
    for (const x of await this.d.store.listRuns(8)) {
      if (x.runId <= runId) continue;
      if (x.weights?.result === 'set' || (await this.d.store.marked(x.runId, 'weights-intent'))) return x.runId;
    }
    return null;
  }

  /** Health for /healthz. */
  async health(): Promise<{ ok: boolean } & Record<string, unknown>> {
    return { ok: this.lastTickError === null && this.lastBlock > 0, block: this.lastBlock, peers: this.d.mesh.peerCount(), activeRuns: [...this.live.keys()], error: this.lastTickError };
  }
}

/**
 * The earlier roster entry of another miner committing the very same bytes (the first committer keeps
 * them). The evaluation cache is keyed by code, so without this rule a copier would inherit the score.
 */
export function identicalEarlier(roster: RosterEntry[], e: RosterEntry): RosterEntry | undefined {
  return roster.find((o) => o.codeSha256 === e.codeSha256 && o.minerHotkey !== e.minerHotkey && (o.commitBlock < e.commitBlock || (o.commitBlock === e.commitBlock && o.uid < e.uid)));
}

function weightsForIncumbent(incumbent: number, c: NodeConfig): { uid: number; weight: number }[] {
  if (incumbent === c.consensus.burnUid) return [{ uid: c.consensus.burnUid, weight: 1 }];
  const w = [{ uid: incumbent, weight: 1 - c.consensus.burnRate }];
  if (c.consensus.burnRate > 0) w.push({ uid: c.consensus.burnUid, weight: c.consensus.burnRate });
  return w.sort((a, b) => a.uid - b.uid);
}

export type { DivergenceRecord };
