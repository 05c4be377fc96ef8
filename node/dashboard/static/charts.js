// Small inline-SVG charts (no library): a line chart over run ids and a strip chart of each
// validator's score per miner against the consensus median. Every series is a
// <g class="series" data-series="…" data-points="N"> so tests and screen readers can count them.
// Colours are SVG presentation attributes, not style attributes (the page's CSP forbids those).
// @ts-check

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Colour-blind-safe palette (Okabe–Ito), cycled for more series. */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#666666'];

/** @param {string} tag @param {Record<string, string|number>} [attrs] @param {string} [text] */
function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** "Nice" tick values covering [lo, hi], about `count` of them. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && out.length < 50; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

const W = 640;
const H = 220;
const M = { top: 14, right: 16, bottom: 34, left: 52 };

/**
 * @param {{ id: string, title: string, series: {name: string, points: {x: number, y: number}[]}[],
 *   yMin?: number, yMax?: number, threshold?: number|null, xLabel?: string, yFormat?: (v: number) => string }} o
 */
export function lineChart(o) {
  // Narrower than the strip chart: three of these sit side by side, so text stays legible.
  const W = 420;
  const H = 220;
  const all = o.series.flatMap((s) => s.points);
  const root = svg('svg', { class: 'chart line-chart', 'data-chart': o.id, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': o.title });
  root.append(svg('title', {}, o.title));
  if (all.length === 0) {
    root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'no runs recorded yet'));
    return root;
  }
  let x0 = Math.min(...all.map((p) => p.x));
  let x1 = Math.max(...all.map((p) => p.x));
  if (x0 === x1) {
    x0 -= 1;
    x1 += 1;
  }
  const y0 = o.yMin ?? Math.min(...all.map((p) => p.y));
  const y1 = o.yMax ?? Math.max(...all.map((p) => p.y));
  const sx = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const sy = (y) => H - M.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const fmt = o.yFormat ?? ((v) => String(v));

  const axes = svg('g', { class: 'axes' });
  for (const t of ticks(y0, y1, 4)) {
    axes.append(svg('line', { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), class: 'grid' }));
    axes.append(svg('text', { x: M.left - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fmt(t)));
  }
  for (const t of ticks(x0, x1, 4).filter((t) => Number.isInteger(t))) {
    axes.append(svg('text', { x: sx(t), y: H - M.bottom + 16, 'text-anchor': 'middle' }, String(t)));
  }
  axes.append(svg('text', { x: (M.left + W - M.right) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label' }, o.xLabel ?? 'run id'));
  root.append(axes);

  if (typeof o.threshold === 'number') {
    const y = sy(o.threshold);
    const g = svg('g', { class: 'threshold', 'data-threshold': o.threshold });
    g.append(svg('line', { x1: M.left, x2: W - M.right, y1: y, y2: y, stroke: '#d55e00', 'stroke-dasharray': '6 4', 'stroke-width': 1.5 }));
    g.append(svg('text', { x: W - M.right, y: y - 4, 'text-anchor': 'end', fill: '#d55e00' }, `gate ${fmt(o.threshold)}`));
    root.append(g);
  }

  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const g = svg('g', { class: 'series', 'data-series': s.name, 'data-points': s.points.length });
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
      g.append(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 }));
    }
    for (const p of pts) {
      const c = svg('circle', { class: 'point', cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 3.5, fill: color, 'data-x': p.x, 'data-y': p.y });
      c.append(svg('title', {}, `run ${p.x}: ${fmt(p.y)}`));
      g.append(c);
    }
    root.append(g);
  });
  return root;
}

/**
 * Strip chart of one run: x = miner uid (categorical), y = score; one series of dots per
 * validator, offset sideways so they do not hide each other, and a "consensus median" series of
 * horizontal bars. Dots flagged by `isOutlier` get class "outlier" and a red ring.
 * @param {{ id: string, title: string, uids: number[],
 *   validators: {name: string, scores: Map<number, number|null>}[],
 *   median: Map<number, number|null>, isOutlier: (score: number, median: number) => boolean,
 *   yFormat?: (v: number) => string }} o
 */
export function stripChart(o) {
  const root = svg('svg', { class: 'chart strip-chart', 'data-chart': o.id, viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': o.title });
  root.append(svg('title', {}, o.title));
  const Hs = H + 20;
  const vals = [];
  for (const v of o.validators) for (const s of v.scores.values()) if (typeof s === 'number') vals.push(s);
  for (const m of o.median.values()) if (typeof m === 'number') vals.push(m);
  if (o.uids.length === 0 || vals.length === 0) {
    root.append(svg('text', { x: W / 2, y: Hs / 2, 'text-anchor': 'middle', class: 'empty' }, 'no scored entries in this run'));
    return root;
  }
  const y0 = 0;
  const y1 = Math.max(...vals) * 1.08 || 1;
  const band = (W - M.left - M.right) / o.uids.length;
  const cx = (i) => M.left + band * (i + 0.5);
  const sy = (y) => Hs - M.bottom - ((y - y0) / (y1 - y0)) * (Hs - M.top - M.bottom);
  const fmt = o.yFormat ?? ((v) => String(v));

  const axes = svg('g', { class: 'axes' });
  for (const t of ticks(y0, y1, 4)) {
    axes.append(svg('line', { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), class: 'grid' }));
    axes.append(svg('text', { x: M.left - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fmt(t)));
  }
  const every = Math.ceil(o.uids.length / 24);
  o.uids.forEach((uid, i) => {
    if (i % every === 0) axes.append(svg('text', { x: cx(i), y: Hs - M.bottom + 16, 'text-anchor': 'middle' }, String(uid)));
  });
  axes.append(svg('text', { x: (M.left + W - M.right) / 2, y: Hs - 4, 'text-anchor': 'middle', class: 'axis-label' }, 'miner uid'));
  root.append(axes);

  const n = o.validators.length;
  const spread = Math.min(band * 0.6, 8 * n);
  o.validators.forEach((v, vi) => {
    const color = PALETTE[vi % PALETTE.length];
    const g = svg('g', { class: 'series', 'data-series': v.name });
    let count = 0;
    o.uids.forEach((uid, i) => {
      const s = v.scores.get(uid);
      if (typeof s !== 'number') return;
      const m = o.median.get(uid);
      const out = typeof m === 'number' && o.isOutlier(s, m);
      const x = cx(i) + (n > 1 ? (vi / (n - 1) - 0.5) * spread : 0);
      const c = svg('circle', {
        class: out ? 'point outlier' : 'point',
        cx: x.toFixed(1),
        cy: sy(s).toFixed(1),
        r: out ? 5 : 3.5,
        fill: color,
        stroke: out ? '#d00' : 'none',
        'stroke-width': out ? 2 : 0,
        'data-uid': uid,
        'data-score': s,
      });
      c.append(svg('title', {}, `${v.name} · uid ${uid}: ${fmt(s)}${typeof m === 'number' ? ` (median ${fmt(m)})` : ''}${out ? ' — outlier' : ''}`));
      g.append(c);
      count++;
    });
    g.setAttribute('data-points', String(count));
    root.append(g);
  });

  const mg = svg('g', { class: 'series median', 'data-series': 'consensus median' });
  let mc = 0;
  o.uids.forEach((uid, i) => {
    const m = o.median.get(uid);
    if (typeof m !== 'number') return;
    const bar = svg('line', { class: 'point', x1: cx(i) - band * 0.4, x2: cx(i) + band * 0.4, y1: sy(m), y2: sy(m), stroke: '#000', 'stroke-width': 2.5, 'data-uid': uid, 'data-score': m });
    bar.append(svg('title', {}, `consensus median · uid ${uid}: ${fmt(m)}`));
    mg.append(bar);
    mc++;
  });
  mg.setAttribute('data-points', String(mc));
  root.append(mg);
  return root;
}

/** Legend as HTML: a swatch per series name. */
export function legend(names, extra = []) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  names.forEach((name, i) => {
    const li = document.createElement('li');
    const sw = svg('svg', { width: 12, height: 12, viewBox: '0 0 12 12', 'aria-hidden': 'true' });
    sw.append(svg('circle', { cx: 6, cy: 6, r: 5, fill: PALETTE[i % PALETTE.length] }));
    li.append(sw, document.createTextNode(' ' + name));
    ul.append(li);
  });
  for (const e of extra) {
    const li = document.createElement('li');
    li.textContent = e;
    ul.append(li);
  }
  return ul;
}
