// LevelDB store of accepted submissions' fingerprints and of quarantine evidence, in a DB directory
// owned by intake (not the node archive). Keys:
//   p!<commitBlock, 12 digits>!<hotkey>!<codeSha256>  -> SubmissionPrint
//   q!<id>                                            -> QuarantineRecord
import { Level } from 'level';
import { createHash } from 'node:crypto';
import { classifySubmission, DEFAULT_QUARANTINE_THRESHOLD, refOf } from './duplicates.ts';
import type { DuplicateDecision, PriorRef, SubmissionPrint } from './duplicates.ts';
import type { Span } from './fingerprint.ts';

export type QuarantineStatus = 'pending' | 'allowed' | 'rejected';

export interface QuarantineRecord {
  id: string;
  candidate: PriorRef;
  prior: PriorRef;
  similarity: number;
  candidateSpans: Span[];
  priorSpans: Span[];
  status: QuarantineStatus;
  createdAt: number;
  resolvedAt?: number;
  note?: string;
}

export class QuarantineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuarantineError';
  }
}

export function quarantineId(minerHotkey: string, codeSha256: string): string {
  return createHash('sha256').update(`${minerHotkey}\n${codeSha256}`).digest('hex').slice(0, 16);
}

const printKey = (p: PriorRef) => `p!${String(p.commitBlock).padStart(12, '0')}!${p.minerHotkey}!${p.codeSha256}`;

export class QuarantineStore {
  readonly dir: string;
  private db: Level<string, unknown>;
  private threshold: number;

  private constructor(dir: string, threshold: number) {
    this.dir = dir;
    this.threshold = threshold;
    this.db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
  }

  static async open(dir: string, opts: { threshold?: number } = {}): Promise<QuarantineStore> {
    const s = new QuarantineStore(dir, opts.threshold ?? DEFAULT_QUARANTINE_THRESHOLD);
    try {
      await s.db.open();
    } catch (err) {
      throw new QuarantineError(`cannot open the intake database at ${dir}: ${(err as Error).message}` +
        ' (is another process using it? pass a different --db directory)');
    }
    return s;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async prints(): Promise<SubmissionPrint[]> {
    const out: SubmissionPrint[] = [];
    for await (const v of this.db.values({ gte: 'p!', lt: 'p~' })) out.push(v as SubmissionPrint);
    return out;
  }

  /**
   * Decides an accepted submission against everything stored, then records it. An operator's earlier
   * resolution of its quarantine wins: allowed → allowed, rejected → duplicate.
   */
  async intake(candidate: SubmissionPrint, now = Date.now()): Promise<DuplicateDecision> {
    const id = quarantineId(candidate.minerHotkey, candidate.codeSha256);
    const existing = await this.getQuarantine(id);
    if (existing?.status === 'allowed') return { status: 'allowed', bestSimilarity: existing.similarity, closest: existing.prior };
    if (existing?.status === 'rejected') return { status: 'duplicate', of: existing.prior, similarity: 1, reason: 'operator-rejected' };
    const priors = (await this.prints()).filter((p) => !(p.minerHotkey === candidate.minerHotkey && p.codeSha256 === candidate.codeSha256));
    const decision = classifySubmission(candidate, priors, this.threshold);
    if (decision.status !== 'duplicate') await this.db.put(printKey(candidate), candidate);
    if (decision.status === 'quarantined' && !existing) {
      const rec: QuarantineRecord = {
        id, candidate: refOf(candidate), prior: decision.of, similarity: decision.similarity,
        candidateSpans: decision.candidateSpans, priorSpans: decision.priorSpans, status: 'pending', createdAt: now,
      };
      await this.db.put(`q!${id}`, rec);
    }
    return decision;
  }

  async getQuarantine(id: string): Promise<QuarantineRecord | undefined> {
    if (!/^[0-9a-f]{16}$/.test(id)) throw new QuarantineError(`'${id}' is not a quarantine id (16 hex digits, see \`conclave quarantine list\`)`);
    return (await this.db.get(`q!${id}`)) as QuarantineRecord | undefined;
  }

  async listQuarantine(status?: QuarantineStatus): Promise<QuarantineRecord[]> {
    const out: QuarantineRecord[] = [];
    for await (const v of this.db.values({ gte: 'q!', lt: 'q~' })) {
      const r = v as QuarantineRecord;
      if (!status || r.status === status) out.push(r);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async resolve(id: string, decision: 'allowed' | 'rejected', note?: string, now = Date.now()): Promise<QuarantineRecord> {
    const rec = await this.getQuarantine(id);
    if (!rec) throw new QuarantineError(`no quarantined submission with id ${id}; run \`conclave quarantine list\``);
    if (rec.status !== 'pending') throw new QuarantineError(`quarantine ${id} was already resolved as ${rec.status}`);
    const next: QuarantineRecord = { ...rec, status: decision, resolvedAt: now, ...(note ? { note } : {}) };
    await this.db.put(`q!${id}`, next);
    return next;
  }
}
