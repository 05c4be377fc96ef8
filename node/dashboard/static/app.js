// Dashboard page: fetches the node's read-only API (same origin) and renders it.
// API data is untrusted (peers' hotkeys, hardware classes…): it is only ever inserted as text
// (textContent / attributes), never as HTML.
// @ts-check
import {
  normalizeRuns,
  rowNeedsDetail,
  deriveIncumbents,
  scoreMatrix,
  normalizeDivergence,
  windowSummary,
  parseGate,
  evaluateGate,
  divergenceSeries,
  normalizeEquivocations,
  isOutlier,
  formatScore,
  formatShare,
  formatStake,
  shortId,
  normalizeStatus,
  gateText,
} from './model.js';
import { lineChart, stripChart, legend } from './charts.js';
import { ApiMissing, api, h, badge, facts } from './dom.js';
import { renderParticipation, renderEquivocations } from './tables.js';

const params = new URLSearchParams(location.search);
const refreshSeconds = Math.max(0, Math.min(3600, Number(params.get('refresh') ?? '60') || 0));

/** @type {HTMLElement} */
const statusEl = /** @type {HTMLElement} */ (document.getElementById('status'));
const problems = new Set();

function setStatus() {
  if (problems.size === 0) {
    statusEl.className = '';
    statusEl.textContent = `updated ${new Date().toLocaleTimeString()}${refreshSeconds ? ` · refreshes every ${refreshSeconds} s` : ''}`;
  } else {
    statusEl.className = 'error';
    statusEl.textContent = [...problems].join(' · ');
  }
}

function certBadge(status) {
  const kind = status === 'certified' ? 'ok' : status === 'pending' ? 'warn' : status === 'skipped' || status === 'none' ? 'neutral' : 'bad';
  return badge(status, kind);
}

/** The weights cell: outcome and, on commit-reveal subnets, whether the chain revealed the commit. */
function weightsText(run) {
  if (!run.weights) return '—';
  if (run.reveal === 'confirmed') return `${run.weights.replace(/, committed: reveal confirmed$/, '')} · revealed${run.revealBlock !== null ? ` #${run.revealBlock}` : ''}`;
  return run.weights;
}

function incumbentText(run) {
  if (run.incumbent === 'held') return badge('held', 'ok');
  if (run.incumbent === 'dethroned') return badge(`dethroned${run.incumbentUid !== null ? ` (uid ${run.incumbentUid})` : ''}`, 'warn');
  if (run.incumbent === 'none') return 'none';
  return '—';
}

function winnerText(run) {
  if (run.winnerUid === null) return '—';
  return `uid ${run.winnerUid}${run.winnerHotkey ? ` · ${shortId(run.winnerHotkey, 6, 4)}` : ''}`;
}

// ---------------------------------------------------------------- node status

/** node.mode from /v1/status, for the gate text (null when the node serves no status). */
let nodeMode = /** @type {string|null} */ (null);

function yesNo(v, yes, no) {
  return v === null ? '—' : v ? badge(yes, 'ok') : badge(no, 'bad');
}

async function loadStatus() {
  const box = /** @type {HTMLElement} */ (document.getElementById('node-status'));
  const dl = /** @type {HTMLElement} */ (box.querySelector('dl.facts'));
  const reasons = /** @type {HTMLElement} */ (document.getElementById('health-reasons'));
  let st;
  try {
    st = normalizeStatus(await api('/v1/status'));
  } catch (err) {
    nodeMode = null;
    dl.replaceChildren();
    reasons.replaceChildren(h('p', { class: 'hint' }, err instanceof ApiMissing ? 'This node serves no status (GET /v1/status): an older version.' : `status: ${err.message}`));
    if (!(err instanceof ApiMissing)) problems.add(`status: ${err.message}`);
    box.removeAttribute('data-mode');
    return;
  }
  nodeMode = st.mode;
  box.setAttribute('data-mode', st.mode ?? '');
  box.setAttribute('data-health', st.health.ok === null ? '' : st.health.ok ? 'ok' : 'degraded');
  const w = st.lastWeights;
  facts(dl, [
    ['mode', st.mode ?? '—'],
    ['health', st.health.ok === null ? '—' : st.health.ok ? badge('healthy', 'ok') : badge('degraded', 'bad')],
    ['chain head', st.chain.head === null ? '—' : `#${st.chain.head}${st.chain.finalized !== null ? ` (finalized #${st.chain.finalized})` : ''}${st.chain.connected === false ? ' · disconnected' : ''}`],
    ['peers', st.peers.admitted === null ? '—' : `${st.peers.admitted} admitted${st.peers.required !== null ? ` (${st.peers.required} required)` : ''}${st.peers.connected !== null ? ` · ${st.peers.connected} connections` : ''}`],
    ['current run', st.run.runId === null ? '—' : h('span', {}, `${st.run.runId} · `, st.run.skipped ? badge('skipped', 'neutral') : (st.run.phase ?? '—'))],
    ['last weights', w === null ? '—' : `${w.result ?? '?'}${w.source ? ` (${w.source})` : ''}${w.runId !== null ? ` · run ${w.runId}` : ''}${w.block !== null ? ` · block #${w.block}` : ''}`],
    ['reveal confirmed', w === null ? '—' : yesNo(w.revealConfirmed, 'confirmed', 'not confirmed')],
    ['version', st.version ?? '—'],
  ]);
  reasons.replaceChildren(...(st.health.reasons.length ? [h('ul', { class: 'reasons' }, ...st.health.reasons.map((r) => h('li', {}, r)))] : []));
}

// ---------------------------------------------------------------- run history

let runs = /** @type {import('./model.js').RunRow[]} */ ([]);
/** Run bodies (GET /v1/runs/:runId) read during this refresh, reused by the detail view. */
let runBodies = new Map();
const MAX_DETAIL_FETCHES = 20;

/** Map with bounded concurrency (the API rate-limits per client). */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function loadRuns() {
  const tbody = /** @type {HTMLElement} */ (document.querySelector('#runs tbody'));
  runBodies = new Map();
  try {
    const body = await api('/v1/runs');
    const list = Array.isArray(body?.runs) ? body.runs : [];
    // The list rows may lack quorum share / incumbent; read the run records for the newest ones.
    const merged = await mapLimit(list, 4, async (row, i) => {
      if (i >= MAX_DETAIL_FETCHES || !rowNeedsDetail(row) || typeof row?.runId !== 'number') return row;
      try {
        const detail = await api(`/v1/runs/${row.runId}`);
        runBodies.set(row.runId, detail);
        return { ...detail, ...row, decision: detail.decision, weights: detail.weights ?? row.weights };
      } catch {
        return row;
      }
    });
    const norm = normalizeRuns({ runs: merged });
    runs = deriveIncumbents(norm.runs);
    if (norm.dropped) problems.add(`${norm.dropped} run(s) without a runId were skipped`);
    tbody.replaceChildren(
      ...runs.map((run) =>
        h(
          'tr',
          { 'data-run-id': run.runId, 'data-status': run.certStatus, onclick: () => openRun(run.runId) },
          h('td', {}, h('button', { class: 'run-link', type: 'button', 'aria-label': `open run ${run.runId}` }, String(run.runId))),
          h('td', {}, run.mode ?? '—'),
          h('td', { title: run.skipReason ?? '' }, run.decision),
          h('td', {}, certBadge(run.certStatus)),
          h('td', { class: 'num' }, `${formatShare(run.quorumShare)}${run.signers !== null ? ` (${run.signers}${run.validators !== null ? `/${run.validators}` : ''})` : ''}`),
          h('td', {}, winnerText(run)),
          h('td', { title: run.incumbentDerived ? 'derived from the previous run in this list' : '' }, incumbentText(run)),
          h('td', { title: run.reveal ? 'commit-reveal: weights committed timelocked, revealed by the chain an epoch later' : '' }, weightsText(run)),
        ),
      ),
    );
    if (runs.length === 0) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 8 }, 'no runs yet')));
  } catch (err) {
    problems.add(`runs: ${err.message}`);
  }
  markSelected();
}

function markSelected() {
  const id = selectedRunId();
  for (const tr of document.querySelectorAll('#runs tbody tr')) tr.classList.toggle('selected', tr.getAttribute('data-run-id') === String(id));
}

function selectedRunId() {
  const m = /^#run\/(\d{1,16})$/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

function openRun(runId) {
  if (location.hash !== `#run/${runId}`) location.hash = `#run/${runId}`;
  else void showRun(runId);
}

// ---------------------------------------------------------------- run detail

async function showRun(runId) {
  const section = /** @type {HTMLElement} */ (document.getElementById('run-detail'));
  const heading = /** @type {HTMLElement} */ (document.getElementById('run-detail-h'));
  const dl = /** @type {HTMLElement} */ (section.querySelector('dl.facts'));
  const chartBox = /** @type {HTMLElement} */ (document.getElementById('run-chart'));
  const outBox = /** @type {HTMLElement} */ (document.getElementById('run-outliers'));
  const table = /** @type {HTMLElement} */ (document.getElementById('score-table'));
  section.hidden = false;
  section.setAttribute('data-run-id', String(runId));
  section.setAttribute('aria-busy', 'true');
  heading.textContent = `Run ${runId}`;
  markSelected();
  try {
    const [runBody, reportsBody] = await Promise.all([runBodies.has(runId) ? runBodies.get(runId) : api(`/v1/runs/${runId}`), api(`/v1/runs/${runId}/reports`)]);
    if (selectedRunId() !== runId) return; // the user moved on while this loaded
    const run = runs.find((r) => r.runId === runId);
    const mx = scoreMatrix(reportsBody, runBody);
    facts(dl, [
      ['mode', run?.mode ?? '—'],
      ['decision', run?.decision ?? '—'],
      ['certificate', run ? certBadge(run.certStatus) : '—'],
      ['quorum share', formatShare(run?.quorumShare ?? null)],
      ['winner', run ? winnerText(run) : '—'],
      ['incumbent', run ? incumbentText(run) : '—'],
      ['reports', `${mx.validators.length}${mx.undecodable.length ? ` (+${mx.undecodable.length} undecodable: ${mx.undecodable.map((u) => `${shortId(u.hotkey, 6, 4)}: ${u.error}`).join('; ')})` : ''}`],
      ['certificate hash', run?.certificateHash ?? runBody?.certificateHash ?? '—'],
      ['weights', run?.weights ?? '—'],
      ['median', mx.medianSource === 'consensus' ? 'certified stake-weighted median (from the node)' : 'no consensus scores served: plain median computed by this page'],
    ]);
    const names = mx.validators.map((v) => shortId(v.hotkey, 6, 4));
    chartBox.replaceChildren(
      stripChart({
        id: 'run-scores',
        title: `Run ${runId}: each validator's score per miner against the consensus median`,
        uids: mx.uids,
        validators: mx.validators.map((v, i) => ({ name: names[i], scores: new Map([...v.scores].map(([uid, e]) => [uid, e.score])) })),
        median: mx.consensus,
        isOutlier,
        yFormat: formatScore,
      }),
      legend(names, ['— consensus median', '◯ red ring: outlier']),
    );
    outBox.replaceChildren(
      mx.outliers.length === 0
        ? h('p', { class: 'hint' }, 'No validator score is far from the median.')
        : h(
            'p',
            { class: 'outliers' },
            `${mx.outliers.length} outlier score(s): `,
            mx.outliers.map((o) => `${shortId(o.validator, 6, 4)} on uid ${o.uid} (${formatScore(o.score)} vs ${formatScore(o.median)})`).join('; '),
          ),
    );
    const thead = /** @type {HTMLElement} */ (table.querySelector('thead'));
    const tbody = /** @type {HTMLElement} */ (table.querySelector('tbody'));
    thead.replaceChildren(
      h(
        'tr',
        {},
        h('th', {}, 'uid'),
        h('th', {}, 'miner'),
        h('th', { class: 'num' }, 'median'),
        ...mx.validators.map((v, i) =>
          h(
            'th',
            { class: 'num', title: `${v.hotkey}${v.stake !== null ? ` · stake ${formatStake(v.stake)}` : ''}${v.reportHash ? ` · report ${v.reportHash}` : ''}` },
            names[i],
            v.verdict && v.verdict !== 'counted' ? h('div', {}, badge(v.verdict, 'bad')) : null,
          ),
        ),
      ),
    );
    tbody.replaceChildren(
      ...mx.uids.map((uid) => {
        const m = mx.consensus.get(uid) ?? null;
        return h(
          'tr',
          { 'data-uid': uid },
          h('td', {}, String(uid)),
          h('td', { title: mx.miners.get(uid)?.minerHotkey ?? '' }, shortId(mx.miners.get(uid)?.minerHotkey ?? null, 6, 4)),
          h('td', { class: 'num median' }, formatScore(m)),
          ...mx.validators.map((v) => {
            const e = v.scores.get(uid);
            if (!e) return h('td', { class: 'num' }, '—');
            if (e.score === null) return h('td', { class: 'num', title: e.status }, e.status);
            const out = typeof m === 'number' && isOutlier(e.score, m);
            return h('td', { class: out ? 'num outlier' : 'num' }, formatScore(e.score));
          }),
        );
      }),
    );
    await showParticipation(runId);
    problems.delete(`run ${runId}`);
  } catch (err) {
    chartBox.replaceChildren(h('p', { class: 'hint' }, `run ${runId}: ${err.message}`));
  } finally {
    section.removeAttribute('aria-busy');
  }
}

/** The per-validator record of commitment, reveal and abstention (GET /v1/runs/:runId/participation). */
async function showParticipation(runId) {
  const tbody = /** @type {HTMLElement} */ (document.querySelector('#participation-table tbody'));
  let body;
  try {
    body = await api(`/v1/runs/${runId}/participation`);
  } catch (err) {
    tbody.replaceChildren(h('tr', {}, h('td', { colspan: '9', class: 'hint' }, `participation: ${err.message}`)));
    return;
  }
  if (selectedRunId() !== runId) return;
  renderParticipation(tbody, body);
}

// ---------------------------------------------------------------- divergence

async function loadDivergence() {
  const gateBox = /** @type {HTMLElement} */ (document.getElementById('gate'));
  const summaryDl = /** @type {HTMLElement} */ (document.getElementById('window-summary'));
  const win = params.get('window');
  const path = win && /^\d{1,6}$/.test(win) ? `/v1/consensus/divergence?window=${win}` : '/v1/consensus/divergence';
  let div;
  try {
    div = normalizeDivergence(await api(path));
  } catch (err) {
    gateBox.className = '';
    gateBox.replaceChildren(h('p', {}, err instanceof ApiMissing ? 'This node serves no divergence records (it is not in shadow mode, or the API is older).' : `divergence: ${err.message}`));
    if (!(err instanceof ApiMissing)) problems.add(`divergence: ${err.message}`);
    return;
  }
  if (win && /^\d{1,6}$/.test(win) && div.window === null) div.window = Number(win);
  const summary = windowSummary(div);
  const { gate, sources, errors } = parseGate(location.search, div.apiGate);
  for (const e of errors) problems.add(e);
  const verdict = evaluateGate(summary, gate);
  gateBox.className = verdict.pass ? 'pass' : 'fail';
  gateBox.setAttribute('data-pass', String(verdict.pass));
  gateBox.replaceChildren(
    h('div', { class: 'verdict' }, gateText(nodeMode, verdict)),
    h(
      'ul',
      {},
      ...verdict.checks.map((c) =>
        h(
          'li',
          { class: c.pass ? 'pass' : 'fail' },
          `${c.pass ? '✓' : '✗'} ${c.name}: ${c.value === null ? 'n/a' : c.name === 'runs in window' ? c.value : c.value.toFixed(3)} ≥ ${c.threshold}`,
        ),
      ),
    ),
    h('p', { class: 'hint' }, `thresholds from: ${[...new Set(Object.values(sources))].join(', ')} (override with ?minTop1=&minRho=&minOverlap=&minRuns=)`),
  );
  facts(summaryDl, [
    ['window', `${summary.runs} run(s)${summary.fromRunId !== null ? `, ${summary.fromRunId} → ${summary.toRunId}` : ''}`],
    ['top-1 agreement', formatShare(summary.top1Agreement)],
    ['mean Spearman ρ', summary.meanSpearman === null ? '—' : summary.meanSpearman.toFixed(3)],
    ['mean top-k overlap', formatShare(summary.meanTopKOverlap)],
    ['summary', summary.source === 'api' ? (div.signed ? `signed by ${div.signer ?? 'the node'} (verify with conclave audit)` : 'from the node (API)') : 'computed by this page from the records'],
  ]);
  const series = divergenceSeries(div.records, div.window ?? 0);
  const pct = (v) => `${Math.round(v * 100)}%`;
  const place = (id, chart) => {
    const fig = /** @type {HTMLElement} */ (document.getElementById(id));
    for (const old of fig.querySelectorAll('svg.chart')) old.remove();
    fig.append(chart);
  };
  place('chart-top1', lineChart({ id: 'top1', title: 'Top-1 agreement over the trailing window', series: series.top1, yMin: 0, yMax: 1, threshold: gate.minTop1, yFormat: pct }));
  place('chart-spearman', lineChart({ id: 'spearman', title: 'Spearman ρ per run', series: series.spearman, yMin: -1, yMax: 1, threshold: gate.minRho, yFormat: (v) => v.toFixed(2) }));
  place('chart-overlap', lineChart({ id: 'overlap', title: 'Top-k overlap per run', series: series.overlap, yMin: 0, yMax: 1, threshold: gate.minOverlap, yFormat: pct }));
}

// ---------------------------------------------------------------- equivocations

async function loadEquivocations() {
  const tbody = /** @type {HTMLElement} */ (document.querySelector('#equivocations tbody'));
  try {
    renderEquivocations(tbody, normalizeEquivocations(await api('/v1/equivocations')));
  } catch (err) {
    tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, err instanceof ApiMissing ? 'this node does not serve equivocation proofs (GET /v1/equivocations)' : `equivocations: ${err.message}`)));
    if (!(err instanceof ApiMissing)) problems.add(`equivocations: ${err.message}`);
  }
}

// ---------------------------------------------------------------- wiring

async function refresh() {
  problems.clear();
  await loadStatus(); // the gate text depends on the node's mode
  await Promise.all([loadRuns(), loadDivergence(), loadEquivocations()]);
  const id = selectedRunId();
  if (id !== null) await showRun(id);
  setStatus();
  document.body.setAttribute('data-loaded', 'true');
}

window.addEventListener('hashchange', () => {
  const id = selectedRunId();
  if (id !== null) void showRun(id);
  else {
    /** @type {HTMLElement} */ (document.getElementById('run-detail')).hidden = true;
    markSelected();
  }
});

void refresh();
if (refreshSeconds > 0) {
  setInterval(() => {
    if (document.visibilityState === 'visible') void refresh();
  }, refreshSeconds * 1000);
}
