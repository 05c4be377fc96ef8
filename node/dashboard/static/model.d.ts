// Types for model.js (plain ES module served to the browser as is, with divergence.js and fields.js
// that it imports and re-exports; this file lets the TypeScript tests and the node import it
// type-checked). Keep in step with model.js and divergence.js.
export declare const SCORE_SCALE: number;
export interface Gate { minTop1: number; minRho: number; minOverlap: number; minRuns: number }
export declare const DEFAULT_GATE: Readonly<Gate>;
export declare const GATE_PARAMS: Readonly<Record<keyof Gate, string>>;
export declare const OUTLIER_ABS: number;
export declare const OUTLIER_REL: number;

export declare function median(values: (number | null | undefined)[]): number | null;
export declare function formatScore(score: number | null | undefined): string;
export declare function formatShare(x: number | null | undefined): string;
export declare function shortId(s: string | null | undefined, head?: number, tail?: number): string;
export declare function formatStake(rao: string | number | bigint | null | undefined): string;

export interface RunRow {
  runId: number;
  mode: string | null;
  decision: string;
  winnerUid: number | null;
  winnerHotkey: string | null;
  incumbentUid: number | null;
  incumbent: 'held' | 'dethroned' | 'none' | 'unknown';
  certStatus: string;
  quorumShare: number | null;
  signers: number | null;
  validators: number | null;
  certificateHash: string | null;
  weights: string | null;
  /** commit-reveal subnets: whether the chain revealed the timelocked weights commit */
  reveal: 'confirmed' | 'failed' | 'pending' | null;
  revealBlock: number | null;
  incumbentDerived: boolean;
  skipped: boolean;
  skipReason: string | null;
}
export declare function isSkipped(raw: unknown): boolean;
export declare function normalizeRun(raw: unknown): RunRow;
export declare function rowNeedsDetail(raw: unknown): boolean;
export declare function deriveIncumbents(runs: RunRow[]): RunRow[];
export declare function normalizeRuns(body: unknown): { runs: RunRow[]; dropped: number };

export interface ScoreMatrix {
  uids: number[];
  miners: Map<number, { uid: number; minerHotkey: string | null }>;
  validators: { hotkey: string; stake: unknown; verdict: string | null; reportHash: string | null; scores: Map<number, { score: number | null; status: string }> }[];
  consensus: Map<number, number | null>;
  medianSource: 'consensus' | 'page';
  outliers: { validator: string; uid: number; score: number; median: number; deviation: number }[];
  undecodable: { hotkey: string | null; error: string }[];
}
export declare function scoreMatrix(reportsBody: unknown, runBody: unknown): ScoreMatrix;
export declare function isOutlier(score: number, median: number): boolean;

export interface DivergenceRow { runId: number; top1Agree: boolean | null; spearman: number | null; topKOverlap: number | null; k: number | null }
export interface Divergence {
  records: DivergenceRow[];
  summary: unknown;
  signed: boolean;
  signer: string | null;
  apiGate: unknown;
  window: number | null;
}
export declare function normalizeDivergence(body: unknown): Divergence;
export interface WindowSummary {
  runs: number;
  fromRunId: number | null;
  toRunId: number | null;
  top1Agreement: number | null;
  meanSpearman: number | null;
  meanTopKOverlap: number | null;
}
export declare function summarizeWindow(records: DivergenceRow[], window: number | null | undefined): WindowSummary;
export declare function windowSummary(div: Divergence): WindowSummary & { source: 'api' | 'page' };
export declare function parseGate(search: string, apiGate: unknown): { gate: Gate; sources: Record<keyof Gate, 'default' | 'api' | 'url'>; errors: string[] };
export declare function evaluateGate(summary: WindowSummary, gate: Gate): { pass: boolean; checks: { name: string; value: number | null; threshold: number; pass: boolean }[] };
export interface Series { name: string; points: { x: number; y: number }[] }
export declare function divergenceSeries(records: DivergenceRow[], window: number | null | undefined): { top1: Series[]; spearman: Series[]; overlap: Series[] };
export declare function normalizeEquivocations(body: unknown): { id: string; runId: number | null; validatorHotkey: string | null; kind: string; detectedAt: number | null; hashes: string[] }[];
export declare function revealConfirmed(weights: unknown): boolean | null;
export interface StatusView {
  mode: string | null;
  version: string | null;
  chain: { connected: boolean | null; head: number | null; finalized: number | null; headAgeS: number | null };
  peers: { admitted: number | null; connected: number | null; required: number | null };
  run: { runId: number | null; phase: string | null; skipped: boolean };
  lastWeights: { runId: number | null; result: string | null; source: string | null; block: number | null; revealConfirmed: boolean | null } | null;
  health: { ok: boolean | null; reasons: string[] };
}
export declare function normalizeStatus(body: unknown): StatusView;
export declare function gateText(mode: string | null, verdict: boolean | { pass: boolean; checks: { name: string; value: number | null; threshold: number; pass: boolean }[] }): string;
