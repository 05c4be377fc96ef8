// GET /v1/equivocations and GET /v1/equivocations/:id over the archive's equivocation proofs
// (node/archive.ts): the endpoints the dashboard lists and links to. A proof is two different
// score reports for one (run, validator), both validly signed by that validator's hotkey; the
// download carries both signed reports (canonical bytes hex + JSON view) so anyone can re-verify
// it offline with proto/score-report.ts.
//
// id = "<runId>-<sha256 of the second report>" — stable, URL-safe, and enough to find the proof.
import { encodeSignedScoreReport, scoreReportHash, type SignedScoreReport } from '../../proto/score-report.ts';
import { toHex } from '../../proto/codec.ts';
import type { EquivocationProof, ListResult } from '../archive.ts';
import { HttpError, intParam, type ApiServer } from '../api/server.ts';

export interface EquivocationSource {
  equivocations(opts?: { runId?: number }): Promise<ListResult<EquivocationProof>>;
}

const ID_RE = /^(\d{1,16})-([0-9a-f]{64})$/;

export function equivocationId(p: EquivocationProof): string {
  return `${p.runId}-${scoreReportHash(p.second.report)}`;
}

function signedView(s: SignedScoreReport) {
  return { reportHash: scoreReportHash(s.report), signedHex: toHex(encodeSignedScoreReport(s)), signature: s.signature, report: s.report };
}

export function equivocationSummary(p: EquivocationProof) {
  return {
    id: equivocationId(p),
    kind: 'report' as const,
    runId: p.runId,
    validatorHotkey: p.validatorHotkey,
    firstHash: scoreReportHash(p.first.report),
    secondHash: scoreReportHash(p.second.report),
  };
}

/** Registers both routes on the node's API server (read-only, bounded by ?limit). */
export function equivocationRoutes(api: ApiServer, source: EquivocationSource): ApiServer {
  api.route('/v1/equivocations', async ({ url }) => {
    const limit = intParam(url, 'limit', 100, 1, 500);
    const runRaw = url.searchParams.get('runId');
    const runId = runRaw === null ? undefined : intParam(url, 'runId', 0, 0, Number.MAX_SAFE_INTEGER);
    const { items, corrupt } = await source.equivocations(runId === undefined ? {} : { runId });
    const newest = [...items].sort((a, b) => b.runId - a.runId);
    return {
      status: 200,
      body: { equivocations: newest.slice(0, limit).map(equivocationSummary), total: items.length, corrupt: corrupt.length },
    };
  });

  api.route('/v1/equivocations/:id', async ({ params }) => {
    const m = ID_RE.exec(params.id);
    if (!m) throw new HttpError(400, 'equivocation id must be "<runId>-<64 hex report hash>", as listed by GET /v1/equivocations');
    const runId = Number(m[1]);
    const { items } = await source.equivocations({ runId });
    const p = items.find((x) => equivocationId(x) === params.id);
    if (!p) throw new HttpError(404, `no equivocation proof ${params.id} in this node's archive`);
    return {
      status: 200,
      headers: { 'content-disposition': `attachment; filename="equivocation-${params.id}.json"` },
      body: { ...equivocationSummary(p), first: signedView(p.first), second: signedView(p.second) },
    };
  });
  return api;
}
