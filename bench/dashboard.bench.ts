// Dashboard: bytes the browser downloads (raw and gzip) and the cost of the view-model on a
// large run (256 miners × 64 validators) and a long divergence history (500 runs).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { DASHBOARD_ASSETS } from '../node/dashboard/handler.ts';
import { scoreMatrix, divergenceSeries, normalizeDivergence, windowSummary } from '../node/dashboard/static/model.js';

let raw = 0;
let gz = 0;
for (const name of DASHBOARD_ASSETS) {
  const b = readFileSync(new URL(`../node/dashboard/static/${name}`, import.meta.url));
  raw += b.length;
  gz += gzipSync(b).length;
}
console.log(JSON.stringify({ bench: 'dashboard.assets', files: DASHBOARD_ASSETS.length, bytes: raw, gzipBytes: gz }));

const MINERS = 256;
const VALIDATORS = 64;
const reports = Array.from({ length: VALIDATORS }, (_, v) => ({
  hotkey: `5V${v}`,
  report: {
    validatorHotkey: `5V${v}`,
    entries: Array.from({ length: MINERS }, (_, uid) => ({ uid, minerHotkey: `5M${uid}`, score: 300_000 + ((uid * 7919 + v * 104729) % 50_000), status: 'scored' })),
  },
}));
const run = { decision: { scores: Array.from({ length: MINERS }, (_, uid) => ({ uid, hotkey: `5M${uid}`, score: 325_000 })) } };
const N = 20;
let t = performance.now();
let outliers = 0;
for (let i = 0; i < N; i++) outliers = scoreMatrix({ reports }, run).outliers.length;
const matrixMs = (performance.now() - t) / N;
console.log(JSON.stringify({ bench: 'dashboard.scoreMatrix', miners: MINERS, validators: VALIDATORS, msPerRun: Number(matrixMs.toFixed(2)), outliers }));

const records = Array.from({ length: 500 }, (_, i) => ({ runId: 1000 + i * 360, top1Agree: i % 7 !== 0, spearman: 0.8 + (i % 10) / 50, topKOverlap: 1 - (i % 3) / 5 }));
t = performance.now();
for (let i = 0; i < N; i++) {
  const div = normalizeDivergence({ records, summary: null });
  windowSummary(div);
  divergenceSeries(div.records, 50);
}
console.log(JSON.stringify({ bench: 'dashboard.divergence', runs: records.length, window: 50, msPerRefresh: Number(((performance.now() - t) / N).toFixed(2)) }));
