// Shadow-mode divergence view-model: the API's divergence records and signed summary, the
// window's summary, the gate for switching shadow → decentralized (URL > API > defaults), its
// verdict and headline, and the chart series. Pure; no DOM, no fetch.
// @ts-check
import { isObj, pick, num, str } from './fields.js';

/** Gate defaults when neither the API nor the URL gives one (see docs/dashboard.md). */
export const DEFAULT_GATE = Object.freeze({ minTop1: 0.9, minRho: 0.8, minOverlap: 0.8, minRuns: 10 });

/** URL query parameter → gate key. */
export const GATE_PARAMS = Object.freeze({ minTop1: 'minTop1', minRho: 'minRho', minOverlap: 'minOverlap', minRuns: 'minRuns' });

/**
 * Divergence records, oldest first: {runId, top1Agree: boolean|null, spearman: number|null,
 * topKOverlap: number|null, k: number|null}. Accepts the API's `records` (or `runs`) list.
 */
export function normalizeDivergence(input) {
  // The node serves the divergence as a SignedDocument {domain, signer, body, signature}
  // (node/api/signed-summary.ts); the page shows the body and that it is signed.
  const doc = isObj(input) && isObj(input.body) && typeof input.signature === 'string' ? input : null;
  const body = doc ? doc.body : input;
  const list = pick(body, 'records', 'runs') ?? (Array.isArray(body) ? body : null);
  if (!Array.isArray(list)) throw new Error('GET /v1/consensus/divergence: expected {"records": [...]}');
  const records = [];
  for (const r of list) {
    const runId = num(pick(r, 'runId'));
    if (runId === null) continue;
    const t = pick(r, 'top1Agree', 'top1Agreement', 'top1');
    records.push({
      runId,
      top1Agree: typeof t === 'boolean' ? t : num(t) === null ? null : num(t) >= 0.5,
      spearman: num(pick(r, 'spearman', 'spearmanRho', 'rho')),
      topKOverlap: num(pick(r, 'topKOverlap', 'overlap')),
      k: num(pick(r, 'k')),
    });
  }
  records.sort((a, b) => a.runId - b.runId);
  // node/api/routes.ts serves {summary: SignedDocument<DivergenceSummary>, records}.
  const rawSummary = pick(body, 'summary') ?? null;
  const summaryDoc = isObj(rawSummary) && isObj(rawSummary.body) && typeof rawSummary.signature === 'string' ? rawSummary : null;
  const summary = summaryDoc ? summaryDoc.body : rawSummary;
  const signed = doc !== null || summaryDoc !== null || pick(body, 'signature') !== undefined;
  return {
    records,
    summary,
    signed,
    signer: str(pick(doc, 'signer') ?? pick(summaryDoc, 'signer') ?? pick(body, 'signer')),
    apiGate: pick(body, 'gate') ?? (doc ? pick(doc, 'gate') : undefined) ?? null,
    window: num(pick(body, 'window') ?? pick(summary, 'window')),
  };
}

/** Mean of the non-null values; null when there are none. */
function mean(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

/** The window's summary recomputed from its records (the last `window` runs). */
export function summarizeWindow(records, window) {
  const w = window && window > 0 ? records.slice(-window) : records;
  const agree = w.filter((r) => r.top1Agree !== null);
  return {
    runs: w.length,
    fromRunId: w.length ? w[0].runId : null,
    toRunId: w.length ? w[w.length - 1].runId : null,
    top1Agreement: agree.length ? agree.filter((r) => r.top1Agree).length / agree.length : null,
    meanSpearman: mean(w.map((r) => r.spearman)),
    meanTopKOverlap: mean(w.map((r) => r.topKOverlap)),
  };
}

/** The API's signed summary when it has the fields, else the page's own; `source` says which. */
export function windowSummary(div) {
  const own = summarizeWindow(div.records, div.window);
  const s = div.summary;
  if (!isObj(s)) return { ...own, source: 'page' };
  const api = {
    runs: num(pick(s, 'runs', 'count')),
    fromRunId: num(pick(s, 'fromRunId')),
    toRunId: num(pick(s, 'toRunId')),
    top1Agreement: num(pick(s, 'top1Agreement', 'top1')),
    meanSpearman: num(pick(s, 'meanSpearman', 'spearman')),
    meanTopKOverlap: num(pick(s, 'meanTopKOverlap', 'topKOverlap')),
  };
  if (api.runs === null || api.top1Agreement === null) return { ...own, source: 'page' };
  return {
    runs: api.runs,
    fromRunId: api.fromRunId ?? own.fromRunId,
    toRunId: api.toRunId ?? own.toRunId,
    top1Agreement: api.top1Agreement,
    meanSpearman: api.meanSpearman,
    meanTopKOverlap: api.meanTopKOverlap,
    source: 'api',
  };
}

/**
 * Gate thresholds: URL query parameters override the API's `gate`, which overrides
 * DEFAULT_GATE. A bad parameter value is reported, not silently used.
 * @param {string} search location.search, e.g. "?minTop1=0.95&minRuns=20"
 */
export function parseGate(search, apiGate) {
  const gate = { ...DEFAULT_GATE };
  const sources = { minTop1: 'default', minRho: 'default', minOverlap: 'default', minRuns: 'default' };
  const errors = [];
  if (isObj(apiGate)) {
    for (const key of Object.keys(GATE_PARAMS)) {
      const v = num(apiGate[key]);
      if (v !== null) {
        gate[key] = v;
        sources[key] = 'api';
      }
    }
  }
  const params = new URLSearchParams(search);
  for (const [key, param] of Object.entries(GATE_PARAMS)) {
    const raw = params.get(param);
    if (raw === null) continue;
    const v = num(raw);
    const ok = v !== null && (key === 'minRuns' ? Number.isInteger(v) && v >= 1 : key === 'minRho' ? v >= -1 && v <= 1 : v >= 0 && v <= 1);
    if (!ok) {
      errors.push(`${param}=${raw} ignored: expected ${key === 'minRuns' ? 'an integer ≥ 1' : key === 'minRho' ? 'a number in [-1, 1]' : 'a number in [0, 1]'}`);
      continue;
    }
    gate[key] = v;
    sources[key] = 'url';
  }
  return { gate, sources, errors };
}

/** Does the window pass the gate for switching shadow → decentralized? Every check must hold. */
export function evaluateGate(summary, gate) {
  const checks = [
    { name: 'runs in window', value: summary.runs, threshold: gate.minRuns },
    { name: 'top-1 agreement', value: summary.top1Agreement, threshold: gate.minTop1 },
    { name: 'mean Spearman ρ', value: summary.meanSpearman, threshold: gate.minRho },
    { name: 'mean top-k overlap', value: summary.meanTopKOverlap, threshold: gate.minOverlap },
  ].map((c) => ({ ...c, pass: typeof c.value === 'number' && c.value >= c.threshold }));
  return { pass: checks.every((c) => c.pass), checks };
}

/**
 * Line-chart series for the divergence view, one per metric, x = runId. Top-1 agreement is the
 * running agreement rate over the trailing window (a 0/1 line says little); the other two are
 * the per-run values. Runs where a metric is null are left out of that series.
 */
export function divergenceSeries(records, window) {
  const w = window && window > 0 ? window : records.length;
  const top1 = [];
  for (let i = 0; i < records.length; i++) {
    const slice = records.slice(Math.max(0, i - w + 1), i + 1).filter((r) => r.top1Agree !== null);
    if (records[i].top1Agree === null || slice.length === 0) continue;
    top1.push({ x: records[i].runId, y: slice.filter((r) => r.top1Agree).length / slice.length });
  }
  const pts = (key) => records.filter((r) => typeof r[key] === 'number').map((r) => ({ x: r.runId, y: r[key] }));
  return {
    top1: [{ name: 'top-1 agreement (trailing window)', points: top1 }],
    spearman: [{ name: 'Spearman ρ', points: pts('spearman') }],
    overlap: [{ name: 'top-k overlap', points: pts('topKOverlap') }],
  };
}

/**
 * The gate's headline for this node's mode: the switch it advises on only exists in shadow mode.
 * @param {string|null} mode node.mode from /v1/status (null: not served)
 * @param {boolean | {pass: boolean, checks: {name: string, value: number|null, threshold: number, pass: boolean}[]}} verdict evaluateGate's result (or just whether it passed)
 */
export function gateText(mode, verdict) {
  const pass = typeof verdict === 'boolean' ? verdict : verdict.pass;
  const runs = typeof verdict === 'object' ? verdict.checks.find((c) => c.name === 'runs in window') : undefined;
  const tooFew = !pass && runs !== undefined && !runs.pass;
  const count = runs ? ` (${runs.value ?? 0} of ${runs.threshold} runs in the window)` : '';
  if (mode === 'decentralized') {
    if (pass) return 'This node already runs in decentralized mode. For reference: the window passes the gate.';
    return tooFew
      ? `This node already runs in decentralized mode. For reference: the window holds too few runs to judge the gate${count}; divergence is recorded in shadow mode.`
      : 'This node already runs in decentralized mode. For reference: the window does not pass the gate — the certified outcome diverges from the owner\'s pick; check the runs below.';
  }
  if (mode === 'owner') {
    return `This node runs in owner mode: it sets the owner's pick. Run it in shadow mode to evaluate the switch to decentralized${pass ? ' (the window would pass the gate)' : ''}.`;
  }
  if (mode === 'shadow') {
    if (pass) return 'Gate passed: the window supports switching this node from shadow to decentralized mode (node.mode = "decentralized").';
    return `Gate not passed: stay in shadow mode${tooFew ? count : ''}.`;
  }
  return pass ? 'Gate passed: the window supports switching shadow → decentralized.' : 'Gate not passed: stay in shadow mode.';
}
