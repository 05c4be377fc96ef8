// Divergence metrics for shadow mode: how far this node's local view is from the consensus.
//
// - top1Agreement: 1 when both rankings put the same uid first (ties broken by lower uid), else 0.
// - spearman: Spearman rank correlation with tie correction (Pearson correlation of average ranks)
//   over the uids present in both maps; null with < 2 common uids or when one side is constant.
// - topKOverlap: |topK(a) ∩ topK(b)| / k.
// - DivergenceTracker: sliding window of the last W distinct runs; a run id seen again (a re-armed
//   duplicate of a run) is ignored, so a replayed run cannot dilute or inflate the averages.

export type ScoreMap = ReadonlyMap<number, number>;

function ranked(m: ScoreMap): number[] {
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([uid]) => uid);
}

export function top1Agreement(a: ScoreMap, b: ScoreMap): number {
  if (a.size === 0 || b.size === 0) return 0;
  return ranked(a)[0] === ranked(b)[0] ? 1 : 0;
}

export function topKOverlap(a: ScoreMap, b: ScoreMap, k: number): number {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`top-k overlap: k must be a positive integer, got ${k}`);
  const ta = new Set(ranked(a).slice(0, k));
  let hit = 0;
  for (const uid of ranked(b).slice(0, k)) if (ta.has(uid)) hit++;
  return hit / k;
}

/** Average (fractional) ranks, 1-based; tied values share the mean of their positions. */
export function averageRanks(values: readonly number[]): number[] {
  const idx = values.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const ranks = new Array<number>(values.length);
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k][1]] = r;
    i = j + 1;
  }
  return ranks;
}

export function spearman(a: ScoreMap, b: ScoreMap): number | null {
  const uids = [...a.keys()].filter((u) => b.has(u)).sort((x, y) => x - y);
  if (uids.length < 2) return null;
  const ra = averageRanks(uids.map((u) => a.get(u)!));
  const rb = averageRanks(uids.map((u) => b.get(u)!));
  const n = uids.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) ** 2;
    vb += (rb[i] - mb) ** 2;
  }
  if (va === 0 || vb === 0) return null;
  return cov / Math.sqrt(va * vb);
}

export interface RunDivergence {
  runId: number;
  top1: number;
  spearman: number | null;
  topK: number;
}

export function compareRun(runId: number, local: ScoreMap, consensus: ScoreMap, k = 5): RunDivergence {
  return { runId, top1: top1Agreement(local, consensus), spearman: spearman(local, consensus), topK: topKOverlap(local, consensus, k) };
}

export interface DivergenceSummary {
  runs: number;
  top1Agreement: number | null;
  meanSpearman: number | null;
  meanTopK: number | null;
}

/** Serialisable (plain data): persist `state` and pass it back to resume. */
export class DivergenceTracker {
  readonly window: number;
  state: { entries: RunDivergence[] };

  constructor(window: number, state?: { entries: RunDivergence[] }) {
    if (!Number.isInteger(window) || window <= 0) throw new RangeError(`divergence window must be a positive integer, got ${window}`);
    this.window = window;
    this.state = state ? { entries: [...state.entries] } : { entries: [] };
  }

  /** Returns false (and changes nothing) for a run already in the window or older than it. */
  add(d: RunDivergence): boolean {
    const e = this.state.entries;
    if (e.some((x) => x.runId === d.runId)) return false;
    if (e.length >= this.window && d.runId < e[0].runId) return false;
    e.push(d);
    e.sort((x, y) => x.runId - y.runId);
    while (e.length > this.window) e.shift();
    return true;
  }

  summary(): DivergenceSummary {
    const e = this.state.entries;
    if (e.length === 0) return { runs: 0, top1Agreement: null, meanSpearman: null, meanTopK: null };
    const sp = e.filter((x) => x.spearman !== null).map((x) => x.spearman as number);
    return {
      runs: e.length,
      top1Agreement: e.reduce((s, x) => s + x.top1, 0) / e.length,
      meanSpearman: sp.length ? sp.reduce((s, x) => s + x, 0) / sp.length : null,
      meanTopK: e.reduce((s, x) => s + x.topK, 0) / e.length,
    };
  }
}
