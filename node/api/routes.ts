// The /v1 routes of the validator API, over a NodeView (what the running validator exposes).
//
// Sealed runs: until a run's reveal window opens (its phase is still roster, evaluating, committing
// or committed), nothing that could tell a peer this validator's scores leaves through the API —
// not its report, not the report's hash (brute-forceable from a few candidate score maps), not the
// evaluation records of the run's submissions. A lazy validator could otherwise copy instead of
// evaluating. The routes say until when a run is sealed.
import { scoreReportHash } from '../../proto/score-report.ts';
import { decodeReveal } from '../../proto/reveal.ts';
import { fromHex, sha256Hex } from '../../proto/codec.ts';
import type { Sr25519Signer } from '../../proto/signer.ts';
import type { NodeMetrics } from '../metrics.ts';
import type { DivergenceRecord, RunDecision, RunPhase, RunRecord, ValidatorStore } from '../validator/store.ts';
import { participationSummary } from '../validator/participation.ts';
import { ApiServer, HttpError, intParam, pathInt, type ApiServerOptions } from './server.ts';
import { DIVERGENCE_DOMAIN, signDocument } from './signed-summary.ts';
import { canonicalJson } from '../../proto/canonical-json.ts';
import { dashboardHandler } from '../dashboard/handler.ts';
import { equivocationRoutes, type EquivocationSource } from '../dashboard/equivocation-routes.ts';
import { isSkippedRun } from '../status/node-status.ts';

export interface NodeView {
  store: ValidatorStore;
  signer: Sr25519Signer;
  netuid: number;
  metrics: NodeMetrics;
  health(): Promise<{ ok: boolean }>;
  /** The archive (equivocation proofs); the /v1/equivocations routes exist only when it is open. */
  archive?: EquivocationSource;
  /** Divergence gate of the shadow → decentralized switch, shown by the dashboard. */
  gate?: { minTop1: number; minRho: number; minOverlap: number; minRuns: number };
  /** Runs in the divergence window when the request names none (config shadow.window; default 50). */
  divergenceWindow?: number;
  /** The node's status panel data (GET /v1/status); the route exists only when given. */
  status?: () => Promise<unknown>;
  /** Serve /metrics on this API (default true; false when metrics.address gives them their own listener). */
  serveMetrics?: boolean;
}

export interface DivergenceSummary {
  validator: string;
  netuid: number;
  window: number;
  runs: number;
  top1Agreement: number | null;
  meanSpearman: number | null;
  meanTopKOverlap: number | null;
  /** sha256 of the canonical JSON of `records` (newest first) served alongside */
  recordsSha256: string;
  generatedAt: number;
}

const mean = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/** One record per run: a re-armed duplicate counts once (records come newest first; the newest wins). */
function latestPerRun(records: DivergenceRecord[]): DivergenceRecord[] {
  const seen = new Set<number>();
  return records.filter((r) => (seen.has(r.runId) ? false : (seen.add(r.runId), true)));
}

export function summariseDivergence(records: DivergenceRecord[], validator: string, netuid: number, window: number, now = Date.now()): DivergenceSummary {
  const uniq = latestPerRun(records);
  return {
    validator,
    netuid,
    window,
    runs: uniq.length,
    top1Agreement: uniq.length ? uniq.filter((r) => r.top1Agree).length / uniq.length : null,
    meanSpearman: mean(uniq.map((r) => r.spearman)),
    meanTopKOverlap: mean(uniq.map((r) => r.topKOverlap)),
    recordsSha256: sha256Hex(canonicalJson(uniq)),
    generatedAt: now,
  };
}

/** 'held' when the incumbent kept the crown, 'dethroned' when another uid won, 'none' without an incumbent. */
function incumbentOutcome(d: RunDecision | undefined): 'held' | 'dethroned' | 'none' | null {
  if (!d) return null;
  if (d.incumbentUid === null || d.incumbentUid === undefined) return 'none';
  return d.winner === d.incumbentUid || d.outcome === 'hold' ? 'held' : 'dethroned';
}

/** A stored reveal as the API serves it: the reveal (salt + signed report) hex, the signed report hex, its hash and JSON. */
export function reportView(hotkey: string, revealHex: string) {
  try {
    const reveal = decodeReveal(fromHex(revealHex, undefined, 'reveal'));
    const signedHex = revealHex.slice(2 + 64);
    return { hotkey, reportHash: scoreReportHash(reveal.signed.report), revealHex, salt: reveal.salt, signedHex, signature: reveal.signed.signature, report: reveal.signed.report };
  } catch (err) {
    return { hotkey, revealHex, error: `undecodable: ${(err as Error).message}` };
  }
}

/** The Prometheus text exposition of the node's registry, as /metrics answers it. */
export function metricsResult(metrics: NodeMetrics): { status: number; body: string; contentType: string } {
  return { status: 200, body: metrics.registry.render(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
}

/** Phases in which a run's report is still sealed (before its reveal window opens). */
export const SEALED_PHASES: ReadonlySet<RunPhase> = new Set(['roster', 'evaluating', 'committing', 'committed']);

export function isSealed(r: RunRecord | undefined): boolean {
  return Boolean(r && SEALED_PHASES.has(r.phase));
}

/** The run record as served: while sealed, without the report hash (it could be brute-forced) or anything scored. */
export function runView(r: RunRecord): RunRecord & { sealed: boolean } {
  if (!isSealed(r)) return { ...r, sealed: false };
  const { myReportHash: _h, decision: _d, verdicts: _v, participation: _p, ...rest } = r;
  return { ...rest, verdicts: [], sealed: true };
}

export function buildApi(view: NodeView, opts: ApiServerOptions): ApiServer {
  const api = new ApiServer({ ...opts, metrics: opts.metrics ?? view.metrics });
  const { store } = view;
  api.use(dashboardHandler);
  if (view.archive) equivocationRoutes(api, view.archive);

  api.route('/healthz', async () => {
    const h = await view.health();
    return { status: h.ok ? 200 : 503, body: h };
  });

  if (view.serveMetrics !== false) api.route('/metrics', () => metricsResult(view.metrics));
  if (view.status) {
    const status = view.status;
    api.route('/v1/status', async () => ({ status: 200, body: await status() }));
  }

  api.route('/v1/runs', async ({ url }) => {
    const limit = intParam(url, 'limit', 20, 1, 100);
    const beforeRaw = url.searchParams.get('before');
    const before = beforeRaw === null ? undefined : intParam(url, 'before', 0, 0, Number.MAX_SAFE_INTEGER);
    const runs = await store.listRuns(limit, before);
    return {
      status: 200,
      body: {
        runs: runs.map((r) => ({
          runId: r.runId, netuid: r.netuid, mode: r.mode, phase: isSkippedRun(r) ? 'skipped' : r.phase, skipped: isSkippedRun(r),
          ...(isSkippedRun(r) && r.error ? { skipReason: r.error } : {}),
          rosterHash: r.rosterHash, policyHash: r.policyHash,
          winner: r.decision?.winner ?? null, quorumMet: r.decision?.quorumMet ?? null, certified: Boolean(r.certificateHex),
          weights: r.weights?.result ?? null, updatedAt: r.updatedAt,
          countedStakeShare: r.decision?.countedStakeShare ?? null,
          winnerHotkey: r.decision && r.decision.winner !== null ? (r.decision.scores.find((x) => x.uid === r.decision!.winner)?.hotkey ?? null) : null,
          incumbentUid: r.decision?.incumbentUid ?? null,
          incumbent: incumbentOutcome(r.decision),
        })),
        next: runs.length === limit ? runs[runs.length - 1].runId : null,
      },
    };
  });

  api.route('/v1/runs/:runId', async ({ params }) => {
    const r = await store.getRun(pathInt(params.runId, 'runId'));
    if (!r) throw new HttpError(404, `run ${params.runId} not known to this validator`);
    return { status: 200, body: runView(r) };
  });

  api.route('/v1/runs/:runId/reports', async ({ params }) => {
    const runId = pathInt(params.runId, 'runId');
    const run = await store.getRun(runId);
    if (isSealed(run)) {
      return { status: 200, body: { runId, sealed: true, reason: `run ${runId} is sealed until its reveal window opens (phase ${run!.phase})`, verdicts: [], certificateHex: null, certifiedRunHex: null, reports: [] } };
    }
    const reports = await store.listReportBytes(runId);
    if (!run && reports.length === 0) throw new HttpError(404, `run ${runId} not known to this validator`);
    return {
      status: 200,
      body: { runId, sealed: false, verdicts: run?.verdicts ?? [], certificateHex: run?.certificateHex ?? null, certifiedRunHex: run?.certifiedRunHex ?? null, reports: reports.map((x) => reportView(x.hotkey, x.hex)) },
    };
  });

  api.route('/v1/runs/:runId/participation', async ({ params }) => {
    const runId = pathInt(params.runId, 'runId');
    const run = await store.getRun(runId);
    if (!run) throw new HttpError(404, `run ${runId} not known to this validator`);
    if (isSealed(run)) return { status: 200, body: { runId, sealed: true, participation: [] } };
    return { status: 200, body: { runId, sealed: false, certified: Boolean(run.certificateHex), participation: run.participation ?? [] } };
  });

  api.route('/v1/participation', async ({ url }) => {
    const limit = intParam(url, 'limit', 20, 1, 100);
    const runs = (await store.listRuns(limit)).filter((r) => !isSealed(r));
    return { status: 200, body: { runs: runs.map((r) => r.runId), validators: participationSummary(runs) } };
  });

  api.route('/v1/consensus/scores/:runId', async ({ params }) => {
    const runId = pathInt(params.runId, 'runId');
    const run = await store.getRun(runId);
    if (isSealed(run)) throw new HttpError(425, `run ${runId} is sealed until its reveal window opens (phase ${run!.phase}); ask again after the commit window closes`);
    const mine = await store.getReportBytes(runId, view.signer.hotkey);
    if (mine === undefined) throw new HttpError(404, `this validator has no report for run ${runId}`);
    return { status: 200, body: reportView(view.signer.hotkey, mine) };
  });

  api.route('/v1/consensus/divergence', async ({ url }) => {
    const window = intParam(url, 'window', view.divergenceWindow ?? 50, 1, 500);
    const records = await store.listDivergence(window);
    const body = summariseDivergence(records, view.signer.hotkey, view.netuid, window);
    return { status: 200, body: { summary: signDocument(DIVERGENCE_DOMAIN, body, view.signer), records: latestPerRun(records), ...(view.gate ? { gate: view.gate } : {}) } };
  });

  api.route('/v1/evaluations/:codeSha256', async ({ params }) => {
    if (!/^[0-9a-f]{64}$/.test(params.codeSha256)) throw new HttpError(400, 'codeSha256 must be 64 lowercase hex characters');
    // a submission of a run still sealed: its evaluation (the score) waits for the reveal window
    const sealedBy = (await store.listRuns(8)).find((r) => isSealed(r) && r.roster.some((e) => e.codeSha256 === params.codeSha256));
    if (sealedBy) throw new HttpError(425, `the evaluation of ${params.codeSha256} is sealed until run ${sealedBy.runId}'s reveal window opens (phase ${sealedBy.phase})`);
    const evals = await store.listEvaluations(params.codeSha256);
    if (evals.length === 0) throw new HttpError(404, `no evaluation of ${params.codeSha256} on this validator`);
    return { status: 200, body: { codeSha256: params.codeSha256, evaluations: evals } };
  });

  return api;
}
