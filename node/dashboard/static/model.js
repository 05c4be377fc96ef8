// Pure view-model for the dashboard: turns the node API's JSON into what the page draws.
// No DOM, no fetch: the browser imports it, and so do the Node tests (test/dashboard/).
// The divergence view lives in divergence.js and is re-exported here, so the page and the
// tests import one module (model.d.ts types both).
// @ts-check
import { isObj, pick, num, str } from './fields.js';

export { DEFAULT_GATE, GATE_PARAMS, normalizeDivergence, summarizeWindow, windowSummary, parseGate, evaluateGate, divergenceSeries, gateText } from './divergence.js';

export const SCORE_SCALE = 1_000_000;

/** A validator's score is an outlier when it differs from the consensus median by more than
 * max(OUTLIER_ABS, OUTLIER_REL * median), in score units (1e6 = MFU 1.0). */
export const OUTLIER_ABS = 20_000;
export const OUTLIER_REL = 0.1;

/** Plain median of finite numbers (mean of the two middle values for an even count); null if empty. */
export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const m = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}

/** "0.4213" from 421300. */
export function formatScore(score) {
  return typeof score === 'number' && Number.isFinite(score) ? (score / SCORE_SCALE).toFixed(4) : '—';
}

/** "12.5%" from 0.125; "—" for null. */
export function formatShare(x) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—';
}

/** Shortens an SS58 hotkey or hex hash for tables: "5Grw…utQY". */
export function shortId(s, head = 4, tail = 4) {
  if (typeof s !== 'string') return '—';
  return s.length <= head + tail + 1 ? s : `${s.slice(0, head)}…${tail > 0 ? s.slice(-tail) : ''}`;
}

/** Rao (bigint as decimal string or number) → "1234.5 τ" (1 TAO = 1e9 rao). */
export function formatStake(rao) {
  if (rao === undefined || rao === null) return '—';
  let big;
  try {
    big = BigInt(rao);
  } catch {
    return '—';
  }
  const whole = big / 1_000_000_000n;
  const frac = Number(big % 1_000_000_000n) / 1e9;
  return `${(Number(whole) + frac).toLocaleString('en-US', { maximumFractionDigits: 2 })} τ`;
}

/**
 * One row of the run history. Reads the node's run record (node/validator-store.ts RunRecord:
 * phase, decision {quorumMet, scores, winner, countedStakeShare, incumbent?}, certificateHash,
 * weights {result, source}) and also the explicit fields listed in docs/CONTRACTS.md
 * (node/dashboard). A missing field shows as "—", never as an error.
 * @returns {{runId:number, mode:string|null, decision:string, winnerUid:number|null, winnerHotkey:string|null,
 *   incumbentUid:number|null, incumbent:'held'|'dethroned'|'none'|'unknown', certStatus:string, quorumShare:number|null,
 *   signers:number|null, validators:number|null, certificateHash:string|null, weights:string|null,
 *   reveal:'confirmed'|'failed'|'pending'|null, revealBlock:number|null, incumbentDerived:boolean}}
 * `reveal` follows weights.commitReveal (commit-reveal subnets: the weights went as a timelocked commit):
 * confirmed (revealed by the chain and equal to what was committed), failed, or pending; null otherwise.
 */
export function normalizeRun(raw) {
  const r = isObj(pick(raw, 'run')) ? { ...raw.run, ...raw, run: undefined } : raw;
  const runId = num(pick(r, 'runId'));
  if (runId === null) throw new Error('run without a numeric runId');
  const d = isObj(pick(r, 'decision')) ? r.decision : {};
  const c = isObj(pick(r, 'certificate')) ? r.certificate : {};
  const w = isObj(pick(r, 'weights')) ? r.weights : null;
  const phase = str(pick(r, 'phase'));
  const cr = w && isObj(pick(w, 'commitReveal')) ? w.commitReveal : null;
  const confirmed = cr ? pick(cr, 'revealConfirmed') : undefined;
  const reveal = cr ? (confirmed === true ? 'confirmed' : confirmed === false ? 'failed' : 'pending') : null;
  const winnerUid = num(pick(d, 'winnerUid', 'winner') ?? pick(r, 'winnerUid', 'winner'));
  let winnerHotkey = str(pick(d, 'winnerHotkey'));
  if (winnerHotkey === null && winnerUid !== null && Array.isArray(pick(d, 'scores'))) {
    winnerHotkey = str(pick(d.scores.find((s) => isObj(s) && s.uid === winnerUid), 'hotkey', 'minerHotkey')) ?? null;
  }
  const incRaw = pick(d, 'incumbentUid') ?? pick(r, 'incumbentUid');
  const incumbentUid = num(incRaw);
  let incumbent = /** @type {'held'|'dethroned'|'none'|'unknown'} */ ('unknown');
  const explicit = str(pick(d, 'incumbent', 'incumbentOutcome') ?? pick(r, 'incumbent'));
  if (explicit === 'held' || explicit === 'dethroned' || explicit === 'none') incumbent = explicit;
  else if (w && str(pick(w, 'source')) === 'incumbent') incumbent = 'held';
  else if (incumbentUid !== null && winnerUid !== null) incumbent = incumbentUid === winnerUid ? 'held' : 'dethroned';
  else if ((isObj(d) && 'incumbentUid' in d && d.incumbentUid === null) || (isObj(r) && 'incumbentUid' in r && r.incumbentUid === null)) incumbent = 'none';
  const skipped = isSkipped(r);
  if (skipped) incumbent = 'unknown';

  const certificateHash = str(pick(c, 'hash')) ?? str(pick(r, 'certificateHash'));
  const quorumMet = pick(d, 'quorumMet') ?? pick(r, 'quorumMet');
  let certStatus = str(pick(c, 'status'));
  if (skipped) certStatus = 'skipped';
  if (certStatus === null) {
    if (certificateHash !== null || pick(r, 'certified') === true || str(pick(r, 'certificateHex'))) certStatus = 'certified';
    else if (quorumMet === false || phase === 'quorum-miss') certStatus = 'quorum-miss';
    else if (phase === 'failed') certStatus = 'failed';
    else if (phase !== null && phase !== 'done' && phase !== 'certified') certStatus = 'pending';
    else certStatus = 'none';
  }
  let decision = skipped ? 'skipped (node joined after the commit window)' : str(pick(d, 'kind', 'outcome', 'status'));
  if (decision === null) {
    if (quorumMet === true) decision = winnerUid !== null ? 'certified winner' : 'certified, no winner';
    else if (quorumMet === false) decision = 'quorum missed';
    else decision = phase ?? 'unknown';
  }
  return {
    runId,
    mode: str(pick(r, 'mode')),
    decision,
    winnerUid,
    winnerHotkey,
    incumbentUid,
    incumbent,
    certStatus,
    quorumShare: num(pick(c, 'quorumShare', 'stakeShare') ?? pick(d, 'countedStakeShare', 'quorumShare') ?? pick(r, 'countedStakeShare', 'quorumShare')),
    signers: num(pick(c, 'signers', 'signerCount')),
    validators: num(pick(c, 'validators', 'validatorCount')),
    certificateHash,
    weights: w ? `${str(pick(w, 'result')) ?? '?'} (${str(pick(w, 'source')) ?? '?'})${reveal ? `, committed: reveal ${reveal}` : ''}` : str(pick(r, 'weights')),
    reveal,
    revealBlock: cr ? num(pick(cr, 'revealBlock')) : null,
    incumbentDerived: false,
    skipped,
    skipReason: skipped ? str(pick(r, 'skipReason', 'error')) : null,
  };
}

/** A run the node sat out (joined after the commit window): shown as skipped, never as failed. Older
 * nodes recorded it as phase "failed" with the reason in `error`. */
export function isSkipped(r) {
  if (!isObj(r)) return false;
  if (r.skipped === true || r.phase === 'skipped') return true;
  return r.phase === 'failed' && typeof r.error === 'string' && /^joined at block \d+, after run \d+'s commit window/.test(r.error);
}

/** Does a /v1/runs row lack what the history table shows (then the page reads /v1/runs/:runId)? */
export function rowNeedsDetail(raw) {
  return isObj(raw) && !isObj(raw.decision) && pick(raw, 'countedStakeShare', 'quorumShare') === undefined && !isObj(raw.certificate);
}

/**
 * Fills `incumbent` for rows the node did not label, from the history itself: the incumbent of a
 * run is the winner of the closest older run that had one. Rows are newest first; the oldest
 * row of the page stays 'unknown' (its predecessor is not on the page). Marks what it derived.
 */
export function deriveIncumbents(runs) {
  return runs.map((row, i) => {
    if (row.incumbent !== 'unknown' || row.skipped) return row;
    const prev = runs.slice(i + 1).find((r) => r.winnerUid !== null);
    if (!prev) return row;
    const incumbentUid = prev.winnerUid;
    const incumbent = row.winnerUid === null ? 'held' : row.winnerUid === incumbentUid ? 'held' : 'dethroned';
    return { ...row, incumbentUid, incumbent, incumbentDerived: true };
  });
}

/** Runs newest first; rows the page cannot read are dropped and counted. */
export function normalizeRuns(body) {
  const list = Array.isArray(body) ? body : pick(body, 'runs');
  if (!Array.isArray(list)) throw new Error('GET /v1/runs: expected {"runs": [...]}');
  const runs = [];
  let dropped = 0;
  for (const r of list) {
    try {
      runs.push(normalizeRun(r));
    } catch {
      dropped++;
    }
  }
  runs.sort((a, b) => b.runId - a.runId);
  return { runs, dropped };
}

/**
 * Score matrix of one run: miners (rows) × validators (columns) plus the consensus median.
 * `reportsBody` is GET /v1/runs/:runId/reports; `runBody` is GET /v1/runs/:runId, whose
 * `consensus` list carries the certified (stake-weighted) median per uid. When the run has no
 * consensus scores yet, the page falls back to the plain median of the reports and says so.
 */
export function scoreMatrix(reportsBody, runBody) {
  const list = Array.isArray(reportsBody) ? reportsBody : pick(reportsBody, 'reports');
  if (!Array.isArray(list)) throw new Error('GET /v1/runs/:runId/reports: expected {"reports": [...]}');
  /** @type {Map<number, {uid:number, minerHotkey:string|null}>} */
  const miners = new Map();
  const validators = [];
  /** @type {Map<string, string>} */
  const verdicts = new Map();
  const vlist = pick(reportsBody, 'verdicts');
  if (Array.isArray(vlist)) for (const v of vlist) if (str(pick(v, 'hotkey'))) verdicts.set(v.hotkey, str(pick(v, 'verdict')) ?? 'unknown');
  const undecodable = [];
  for (const item of list) {
    const report = pick(item, 'report') ?? item;
    const hotkey = str(pick(report, 'validatorHotkey')) ?? str(pick(item, 'validatorHotkey', 'hotkey'));
    const entries = pick(report, 'entries');
    if (hotkey === null || !Array.isArray(entries)) {
      undecodable.push({ hotkey: str(pick(item, 'hotkey')), error: str(pick(item, 'error')) ?? 'no report entries' });
      continue;
    }
    /** @type {Map<number, {score:number|null, status:string}>} */
    const scores = new Map();
    for (const e of entries) {
      const uid = num(pick(e, 'uid'));
      if (uid === null) continue;
      const status = str(pick(e, 'status')) ?? 'unknown';
      scores.set(uid, { score: status === 'scored' ? num(pick(e, 'score')) : null, status });
      if (!miners.has(uid)) miners.set(uid, { uid, minerHotkey: str(pick(e, 'minerHotkey')) });
    }
    validators.push({ hotkey, stake: pick(item, 'stake') ?? null, verdict: verdicts.get(hotkey) ?? null, reportHash: str(pick(item, 'reportHash')), scores });
  }
  validators.sort((a, b) => (a.hotkey < b.hotkey ? -1 : a.hotkey > b.hotkey ? 1 : 0));

  /** @type {Map<number, number|null>} */
  const consensus = new Map();
  const rb = isObj(pick(runBody, 'run')) ? runBody.run : runBody;
  const consensusList = pick(runBody, 'consensus') ?? pick(rb, 'consensus') ?? pick(pick(rb, 'decision'), 'scores');
  let medianSource = /** @type {'consensus'|'page'} */ ('consensus');
  if (Array.isArray(consensusList) && consensusList.length > 0) {
    for (const c of consensusList) {
      const uid = num(pick(c, 'uid'));
      if (uid === null) continue;
      consensus.set(uid, num(pick(c, 'median', 'score')));
      if (!miners.has(uid)) miners.set(uid, { uid, minerHotkey: str(pick(c, 'minerHotkey', 'hotkey')) });
    }
  } else {
    medianSource = 'page';
    for (const uid of miners.keys()) {
      consensus.set(uid, median(validators.map((v) => v.scores.get(uid)?.score ?? null)));
    }
  }
  const uids = [...miners.keys()].sort((a, b) => a - b);
  const outliers = [];
  for (const v of validators) {
    for (const uid of uids) {
      const s = v.scores.get(uid)?.score;
      const m = consensus.get(uid);
      if (typeof s === 'number' && typeof m === 'number' && isOutlier(s, m)) {
        outliers.push({ validator: v.hotkey, uid, score: s, median: m, deviation: s - m });
      }
    }
  }
  return { uids, miners, validators, consensus, medianSource, outliers, undecodable };
}

export function isOutlier(score, med) {
  return Math.abs(score - med) > Math.max(OUTLIER_ABS, OUTLIER_REL * Math.abs(med));
}

/** Equivocation list rows: {id, runId, validatorHotkey, kind, detectedAt}. */
export function normalizeEquivocations(body) {
  const list = Array.isArray(body) ? body : pick(body, 'equivocations', 'proofs');
  if (!Array.isArray(list)) throw new Error('GET /v1/equivocations: expected {"equivocations": [...]}');
  return list
    .map((e) => ({
      id: str(pick(e, 'id', 'hash')),
      runId: num(pick(e, 'runId')),
      validatorHotkey: str(pick(e, 'validatorHotkey', 'hotkey', 'offender')),
      kind: str(pick(e, 'kind', 'type')) ?? 'equivocation',
      detectedAt: num(pick(e, 'detectedAt', 'at', 'timestamp')),
      hashes: [str(pick(e, 'firstHash')), str(pick(e, 'secondHash'))].filter((x) => x !== null),
    }))
    .filter((e) => e.id !== null && /^[0-9A-Za-z_-]{1,128}$/.test(e.id));
}

/** Reveal confirmation of a weights outcome under the spellings a node may use; null = not said. */
export function revealConfirmed(w) {
  if (!isObj(w)) return null;
  for (const k of ['revealConfirmed', 'revealed']) if (typeof w[k] === 'boolean') return w[k];
  for (const k of ['revealConfirmedAt', 'revealBlock']) if (typeof w[k] === 'number') return w[k] > 0;
  if (isObj(w.reveal)) {
    if (typeof w.reveal.confirmed === 'boolean') return w.reveal.confirmed;
    if (typeof w.reveal.block === 'number') return w.reveal.block > 0;
  }
  return null;
}

/**
 * The status panel from GET /v1/status (node/status/node-status.ts StatusBody). Every field is
 * optional: what the node does not serve shows as "—".
 * @returns {{mode:string|null, version:string|null, chain:{connected:boolean|null, head:number|null, finalized:number|null, headAgeS:number|null},
 *   peers:{admitted:number|null, connected:number|null, required:number|null}, run:{runId:number|null, phase:string|null, skipped:boolean},
 *   lastWeights:{runId:number|null, result:string|null, source:string|null, block:number|null, revealConfirmed:boolean|null}|null,
 *   health:{ok:boolean|null, reasons:string[]}}}
 */
export function normalizeStatus(body) {
  const b = isObj(body) ? body : {};
  const chain = isObj(b.chain) ? b.chain : {};
  const peers = isObj(b.peers) ? b.peers : {};
  const run = isObj(b.run) ? b.run : null;
  const w = isObj(b.lastWeights) ? b.lastWeights : null;
  const h = isObj(b.health) ? b.health : {};
  return {
    mode: str(b.mode),
    version: str(b.version),
    chain: { connected: typeof chain.connected === 'boolean' ? chain.connected : null, head: num(chain.head), finalized: num(chain.finalized), headAgeS: num(chain.headAgeS) },
    peers: { admitted: num(peers.admitted), connected: num(peers.connected), required: num(peers.required) },
    run: { runId: num(run?.runId), phase: isSkipped(run) ? 'skipped' : str(run?.phase), skipped: isSkipped(run) },
    lastWeights: w ? { runId: num(w.runId), result: str(w.result), source: str(w.source), block: num(w.block), revealConfirmed: revealConfirmed(w) } : null,
    health: { ok: typeof h.ok === 'boolean' ? h.ok : null, reasons: Array.isArray(h.reasons) ? h.reasons.filter((x) => typeof x === 'string') : [] },
  };
}

