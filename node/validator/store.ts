// The validator's own run state in LevelDB (separate from the foundation's archive of signed
// artefacts): one record per run (phase, roster, decision, weights outcome, divergence), the
// evaluation cache keyed by (codeSha256, policyHash), the serialised consensus state, and
// "done" markers (report committed, report published, vote sent, weights set) written BEFORE
// the action they guard, so a restart never commits or votes twice.
import { Level } from 'level';
import type { RosterEntry } from '../../proto/roster.ts';
import type { ScoreStatus } from '../../proto/score-report.ts';
import type { Mode } from '../config.ts';
import type { WeightsCommit } from '../chain/types.ts';
import { isConsensusDelta } from './consensus-state.ts';

/**
 * … → certified | quorum-miss → (weights) → confirming (a timelocked commit awaits its reveal) → done.
 * 'skipped': the node sat the run out (it joined after the commit window); not a failure.
 */
export type RunPhase = 'roster' | 'evaluating' | 'committing' | 'committed' | 'publishing' | 'consensus' | 'certified' | 'quorum-miss' | 'confirming' | 'done' | 'failed' | 'skipped';

export interface EvaluationRecord {
  codeSha256: string;
  policyHash: string;
  status: ScoreStatus;
  /** integer fixed point (SCORE_SCALE) */
  score: number;
  /** free-form evaluator output (checks, timings, reason) — bounded by the writer */
  detail: Record<string, unknown>;
  evaluatedAt: number;
  wallMs: number;
}

export interface ReportVerdict {
  hotkey: string;
  reportHash?: string;
  /**
   * As judged when consensus starts (the reveal deadline): 'counted' = a valid reveal opening its
   * author's on-chain commitment (the certificate decides what is finally counted); 'hash-mismatch' =
   * the reveal does not open the commitment (another report, or a wrong salt).
   */
  verdict: 'counted' | 'no-commitment' | 'hash-mismatch' | 'bad-signature' | 'not-member' | 'wrong-run' | 'equivocation' | 'undecodable';
  detail?: string;
}

/** One validator's part in a run: commitment, reveal, counting and abstentions (served by the API, shown by the dashboard). */
export interface ParticipationRow {
  hotkey: string;
  uid: number;
  stake: string;
  /** Block of its commitment for this run on chain by the commit deadline, null when none. */
  committedAt: number | null;
  /** 'on-time': revealed before the reveal deadline; 'late': after it; 'none': never seen here; 'mismatch': a reveal that does not open the commitment. */
  revealed: 'on-time' | 'late' | 'none' | 'mismatch';
  /** Block at which this node received the reveal (null when it did not). */
  revealedAt: number | null;
  /** Its report is in the certified counted set. */
  counted: boolean;
  /** Excluded from this run by the subnet's missed-reveals rule. */
  excluded: boolean;
  /** Missed reveals in a row as of this run's decision (0 when it revealed or did not commit). */
  missedStreak: number;
  /** Entries of its report that abstained, by reason (the status names it: fetch-failed, quarantined, not-evaluated). */
  abstained: Record<string, number>;
  /** Entries that voted (a score or a verdict). */
  voted: number;
}

export interface RunDecision {
  quorumMet: boolean;
  /** 'winner' or 'hold' (quorum miss / no candidate: incumbent held) */
  outcome: 'winner' | 'hold';
  /** counted report hashes, ascending */
  reportHashes: string[];
  /** consensus score per uid (integer fixed point) */
  scores: { uid: number; hotkey: string; score: number | null }[];
  winner: number | null;
  weights: { uid: number; weight: number }[];
  countedStakeShare: number;
  /** the incumbent the decision was taken against (null: none) */
  incumbentUid?: number | null;
  /** the certified run the incumbent comes from (null: the weights on chain at the run's start block) */
  previous?: { runId: number; decisionHash: string } | null;
  /** members that committed but were not counted, with their streak; members excluded by the missed-reveals rule */
  missedReveals?: { hotkey: string; streak: number }[];
  excluded?: string[];
}

/**
 * A timelocked weight commit (commit-reveal subnets) and what became of it. `revealed`: the chain
 * revealed it (TimelockedWeightsRevealed); `revealConfirmed`: revealed and the chain's Weights equal what
 * was committed. Both null while the reveal epoch is pending; false when the chain dropped or expired it
 * (a failed reveal leaves no error on chain: `reason` says what the node found).
 */
export interface CommitRevealOutcome extends WeightsCommit {
  revealed: boolean | null;
  revealConfirmed: boolean | null;
  revealBlock?: number;
  reason?: string;
}

export interface WeightsOutcome {
  result: 'set' | 'held' | 'failed';
  source: 'certified' | 'owner' | 'incumbent';
  uids: number[];
  weights: number[];
  block?: number;
  reason?: string;
  at: number;
  /** present when the weights went as a timelocked commit (block = the commit's block) */
  commitReveal?: CommitRevealOutcome;
}

export interface DivergenceRecord {
  runId: number;
  consensusWinner: number | null;
  ownerPick: number | null;
  top1Agree: boolean;
  spearman: number | null;
  topKOverlap: number | null;
  at: number;
}

export interface RunRecord {
  runId: number;
  netuid: number;
  mode: Mode;
  phase: RunPhase;
  startedAt: number;
  updatedAt: number;
  /** the run's commit window ends at this block (runId + commit window; fixed when the run opens) */
  commitEnd?: number;
  /** the reveal window ends at this block */
  revealEnd?: number;
  /** the block the next run (epoch) was expected to start at when this one opened (the chain's schedule) */
  nextRunAt?: number;
  rosterHash: string;
  policyHash: string;
  hardwareClass: string;
  roster: RosterEntry[];
  rosterSkipped: { uid: number; reason: string }[];
  /** sha256 of this node's report: never served before the reveal window opens (it could be brute-forced) */
  myReportHash?: string;
  /** sha256(salt || report): what this node committed on chain */
  myCommitment?: string;
  myCommitBlock?: number;
  verdicts: ReportVerdict[];
  decision?: RunDecision;
  certificateHex?: string;
  certificateHash?: string;
  /** the commit certificate with its voters' bindings (proto/consensus.ts CertifiedRun), hex: what a peer lacking it fetches */
  certifiedRunHex?: string;
  /** per-validator record of commit, reveal and abstention (set when consensus starts, completed when certified) */
  participation?: ParticipationRow[];
  consensusLatencyMs?: number;
  /** why and when consensus gave up: the chain deadline (block) or max(consensus_timeout_s, n views) of time */
  quorumMiss?: { cause: 'chain-deadline' | 'timeout'; block: number; deadlineBlock: number; elapsedMs: number; timeoutMs: number };
  weights?: WeightsOutcome;
  divergence?: DivergenceRecord;
  error?: string;
}

const pad = (n: number) => n.toString().padStart(12, '0');

// JSON with bigints tagged, so serialised consensus state round-trips exactly.
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? { $big: x.toString() } : x instanceof Uint8Array ? { $u8: Buffer.from(x).toString('hex') } : x));
}
export function fromJson<T>(s: string): T {
  return JSON.parse(s, (_k, x) => {
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      const keys = Object.keys(x);
      if (keys.length === 1 && keys[0] === '$big' && typeof x.$big === 'string') return BigInt(x.$big);
      if (keys.length === 1 && keys[0] === '$u8' && typeof x.$u8 === 'string') return new Uint8Array(Buffer.from(x.$u8, 'hex'));
    }
    return x;
  }) as T;
}

export class ValidatorStore {
  private db: Level<string, string>;
  private constructor(db: Level<string, string>) {
    this.db = db;
  }

  static async open(dir: string): Promise<ValidatorStore> {
    const db = new Level<string, string>(dir, { valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      throw new Error(`cannot open validator state at ${dir}: ${(err as Error).message} (is another node running on this data dir?)`);
    }
    return new ValidatorStore(db);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const v = await this.db.get(key);
    if (v === undefined) return undefined;
    try {
      return fromJson<T>(v);
    } catch {
      throw new Error(`validator state: corrupt value under ${key}`);
    }
  }

  // --- runs
  async putRun(r: RunRecord): Promise<void> {
    r.updatedAt = Date.now();
    await this.db.put(`run/${pad(r.runId)}`, toJson(r));
  }
  getRun(runId: number): Promise<RunRecord | undefined> {
    return this.getJson<RunRecord>(`run/${pad(runId)}`);
  }
  /** The JSON records in a key range, in range order; unreadable ones are skipped, not fatal. */
  private async *jsonValues<T>(range: { gte: string; lt: string; reverse?: boolean; limit: number }): AsyncGenerator<T> {
    for await (const v of this.db.values(range)) {
      let parsed: T;
      try {
        parsed = fromJson<T>(v);
      } catch {
        continue;
      }
      yield parsed;
    }
  }

  /** Newest first; `before` pages backwards. Unreadable records are skipped, not fatal. */
  async listRuns(limit: number, before?: number): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for await (const r of this.jsonValues<RunRecord>({ gte: 'run/', lt: before !== undefined ? `run/${pad(before)}` : 'run/~', reverse: true, limit })) out.push(r);
    return out;
  }

  // --- evaluation cache
  async putEvaluation(e: EvaluationRecord): Promise<void> {
    await this.db.put(`eval/${e.codeSha256}/${e.policyHash}`, toJson(e));
  }
  getEvaluation(codeSha256: string, policyHash: string): Promise<EvaluationRecord | undefined> {
    return this.getJson<EvaluationRecord>(`eval/${codeSha256}/${policyHash}`);
  }
  async listEvaluations(codeSha256: string): Promise<EvaluationRecord[]> {
    const out: EvaluationRecord[] = [];
    for await (const e of this.jsonValues<EvaluationRecord>({ gte: `eval/${codeSha256}/`, lt: `eval/${codeSha256}/~`, limit: 100 })) out.push(e);
    return out;
  }

  // --- markers (idempotence across restarts)
  async mark(runId: number, name: string, detail: unknown = null): Promise<void> {
    await this.db.put(`mark/${pad(runId)}/${name}`, toJson({ at: Date.now(), detail }));
  }
  async marked(runId: number, name: string): Promise<{ at: number; detail: any } | undefined> {
    return this.getJson(`mark/${pad(runId)}/${name}`);
  }

  // --- consensus reducer state
  /**
   * A consensus delta (consensus-adapter.ts) is written in one batch: core and timers under
   * `cstate/<run>`, the setup under `cstate-setup/<run>` and each report entry under
   * `cstate-rep/<run>/<hash>` only when the delta carries them. Any other value is stored whole.
   */
  async putConsensusState(runId: number, state: unknown): Promise<void> {
    const run = pad(runId);
    if (!isConsensusDelta(state)) {
      await this.db.put(`cstate/${run}`, toJson(state));
      return;
    }
    const ops: { type: 'put'; key: string; value: string }[] = [{ type: 'put', key: `cstate/${run}`, value: toJson({ v: 2, core: state.core, timers: state.timers }) }];
    if (state.setup !== undefined) ops.push({ type: 'put', key: `cstate-setup/${run}`, value: state.setup });
    for (const [hash, json] of Object.entries(state.reports)) ops.push({ type: 'put', key: `cstate-rep/${run}/${hash}`, value: json });
    await this.db.batch(ops);
  }
  /** What `putConsensusState` wrote, whole again (a delta's parts merged: PersistedConsensus). */
  async getConsensusState<T>(runId: number): Promise<T | undefined> {
    const run = pad(runId);
    const head = await this.getJson<{ v?: number; core?: string; timers?: Record<string, number> }>(`cstate/${run}`);
    if (!head || head.v !== 2 || typeof head.core !== 'string') return head as T | undefined;
    const setup = await this.db.get(`cstate-setup/${run}`);
    if (setup === undefined) throw new Error(`consensus state of run ${runId} is incomplete (no setup under cstate-setup/${run}); delete cstate/${run} to restart the run's consensus from its input`);
    const reports: Record<string, string> = {};
    const p = `cstate-rep/${run}/`;
    for await (const [k, v] of this.db.iterator({ gte: p, lt: p + '~' })) reports[k.slice(p.length)] = v;
    return { v: 2, core: head.core, timers: head.timers ?? {}, setup, reports } as T;
  }

  // --- signed reports this node saw for a run (raw bytes hex), kept even before the archive accepts them
  async putReportBytes(runId: number, hotkey: string, hex: string): Promise<void> {
    await this.db.put(`rep/${pad(runId)}/${hotkey}`, hex);
  }
  /** One validator's report for a run (hex), without scanning the run's other reports. */
  getReportBytes(runId: number, hotkey: string): Promise<string | undefined> {
    return this.db.get(`rep/${pad(runId)}/${hotkey}`);
  }
  async listReportBytes(runId: number): Promise<{ hotkey: string; hex: string }[]> {
    const out: { hotkey: string; hex: string }[] = [];
    const p = `rep/${pad(runId)}/`;
    for await (const [k, v] of this.db.iterator({ gte: p, lt: p + '~', limit: 1024 })) out.push({ hotkey: k.slice(p.length), hex: v });
    return out;
  }

  // --- divergence (shadow mode)
  async listDivergence(limit: number): Promise<DivergenceRecord[]> {
    const out: DivergenceRecord[] = [];
    for await (const r of this.jsonValues<RunRecord>({ gte: 'run/', lt: 'run/~', reverse: true, limit: limit * 4 })) {
      if (r.divergence) out.push(r.divergence);
      if (out.length >= limit) break;
    }
    return out;
  }

  // --- small key/value for node-level facts (incumbent, last weights block)
  async putMeta(key: string, value: unknown): Promise<void> {
    await this.db.put(`meta/${key}`, toJson(value));
  }
  getMeta<T>(key: string): Promise<T | undefined> {
    return this.getJson<T>(`meta/${key}`);
  }
}
