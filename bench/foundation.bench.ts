// Foundation benchmarks: canonical encoding, sr25519/ed25519 sign+verify, archive write/read rates,
// reopen, read-only (snapshot) open and repair time of a store holding 100,000 reports. One JSON object per line on stdout.
// Env: BENCH_REOPEN_REPORTS (default 100000), BENCH_ENTRIES (entries per archived report, default 8).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Archive } from '../node/archive.ts';
import {
  decodeScoreReport,
  encodeScoreReport,
  signScoreReport,
  verifySignedScoreReport,
  type SignedScoreReport,
} from '../proto/score-report.ts';
import { cryptoReady, ed25519SignerFromSeed, verifyEd25519 } from '../proto/signer.ts';
import { makeReport, makeSigned, validatorSigner } from '../test/fixtures/foundation/reports.ts';

const REOPEN_REPORTS = Number(process.env.BENCH_REOPEN_REPORTS ?? 100_000);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 8);

function emit(o: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

/** Runs fn repeatedly for about `ms` and returns operations per second. */
function rate(fn: () => void, ms = 1000): { ops_per_s: number; us_per_op: number } {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    t = performance.now();
  }
  const s = (t - t0) / 1000;
  return { ops_per_s: Math.round(n / s), us_per_op: Number(((s / n) * 1e6).toFixed(1)) };
}

await cryptoReady();
const v = validatorSigner(0);
const report64 = makeReport(v.hotkey, 1, { entries: 64 });
const bytes64 = encodeScoreReport(report64);
emit({ bench: 'foundation.encode', entries: 64, bytes: bytes64.length, ...rate(() => encodeScoreReport(report64)) });
emit({ bench: 'foundation.decode', entries: 64, bytes: bytes64.length, ...rate(() => decodeScoreReport(bytes64)) });
const signed64 = signScoreReport(report64, v);
emit({ bench: 'foundation.sign.sr25519', entries: 64, ...rate(() => signScoreReport(report64, v)) });
emit({ bench: 'foundation.verify.sr25519', entries: 64, ...rate(() => { if (!verifySignedScoreReport(signed64).ok) throw new Error('verify failed'); }) });
const ed = ed25519SignerFromSeed(new Uint8Array(32).fill(7));
const msg = new Uint8Array(256).fill(3);
const edSig = ed.sign(msg);
emit({ bench: 'foundation.sign.ed25519', bytes: msg.length, ...rate(() => ed.sign(msg)) });
emit({ bench: 'foundation.verify.ed25519', bytes: msg.length, ...rate(() => { if (!verifyEd25519(msg, edSig, ed.publicKey)) throw new Error('verify failed'); }) });

// The bounded-JSON limits scan in front of JSON.parse (every --in file, every HTTP answer an auditor reads).
{
  const { parseJsonBounded, REPORT_JSON_LIMITS } = await import('../node/bounded/json.ts');
  const big = JSON.stringify(signScoreReport(makeReport(v.hotkey, 1, { entries: 4096 }), v), null, 2);
  const plain = rate(() => JSON.parse(big), 500);
  const bounded = rate(() => parseJsonBounded(big, 'bench', REPORT_JSON_LIMITS), 500);
  emit({ bench: 'foundation.json_bounded', bytes: big.length, json_parse_us: plain.us_per_op, bounded_parse_us: bounded.us_per_op, scan_mb_per_s: Number((big.length / 1e6 / ((bounded.us_per_op - plain.us_per_op) / 1e6)).toFixed(0)) });
}

const tmp = mkdtempSync(join(tmpdir(), 'conclave-bench-'));
try {
  // Write rate: 64 validators × runs, real signatures, batches of 1000, as a node archives gossip
  // it has already verified. A second figure includes the archive's own signature verification.
  const validators = Array.from({ length: 64 }, (_, i) => validatorSigner(i));
  const WRITE_N = 20_000;
  const pool: SignedScoreReport[] = [];
  for (let i = 0; i < WRITE_N; i++) pool.push(makeSigned(validators[i % 64], 10_000 + Math.floor(i / 64), { entries: ENTRIES }));
  const a = await Archive.open(join(tmp, 'write'));
  let t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < WRITE_N; i += 1000) await a.putReports(pool.slice(i, i + 1000), { verified: true });
  let s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  // cpu_share < 1 means the machine was busy with other work; reports_per_cpu_s is the rate per
  // second of CPU this process actually got (all threads, LevelDB's included).
  emit({ bench: 'foundation.archive.write', reports: WRITE_N, entries: ENTRIES, batch: 1000, reports_per_s: Math.round(WRITE_N / s), reports_per_cpu_s: Math.round(WRITE_N / cpuS), cpu_share: Number((cpuS / s).toFixed(2)), target_reports_per_s: 10_000 });
  const VERIFY_N = 2000;
  const fresh = pool.slice(0, VERIFY_N).map((x) => makeSigned(validators[(x.report.runId * 3) % 64], x.report.runId + 1_000_000, { entries: ENTRIES }));
  t0 = performance.now();
  for (let i = 0; i < VERIFY_N; i += 500) await a.putReports(fresh.slice(i, i + 500));
  s = (performance.now() - t0) / 1000;
  emit({ bench: 'foundation.archive.write_verified', reports: VERIFY_N, entries: ENTRIES, batch: 500, reports_per_s: Math.round(VERIFY_N / s) });
  // Read rates: point lookups and whole-run range reads.
  t0 = performance.now();
  const LOOKUPS = 5000;
  for (let i = 0; i < LOOKUPS; i++) {
    const x = pool[(i * 7919) % WRITE_N];
    if (!(await a.getReport({ netuid: x.report.netuid, runId: x.report.runId }, x.report.validatorHotkey))) throw new Error('missing');
  }
  s = (performance.now() - t0) / 1000;
  emit({ bench: 'foundation.archive.get', lookups: LOOKUPS, reports_per_s: Math.round(LOOKUPS / s) });
  const runs = await a.runs();
  t0 = performance.now();
  let read = 0;
  for (const r of runs.slice(0, 100)) read += (await a.reportsOfRun(r)).items.length;
  s = (performance.now() - t0) / 1000;
  emit({ bench: 'foundation.archive.run_range_read', runs: Math.min(100, runs.length), reports: read, reports_per_s: Math.round(read / s) });
  await a.close();

  // Reopen: a store of REOPEN_REPORTS reports (~two years of a 64-validator subnet). Filled with
  // verified:true and a reused signature: reopen cost depends on stored bytes, not on crypto.
  const big = await Archive.open(join(tmp, 'big'));
  const template = pool[0];
  t0 = performance.now();
  for (let i = 0; i < REOPEN_REPORTS; i += 2000) {
    const chunk: SignedScoreReport[] = [];
    for (let k = i; k < Math.min(REOPEN_REPORTS, i + 2000); k++) {
      chunk.push({ report: makeReport(validators[k % 64].hotkey, 1 + Math.floor(k / 64), { entries: ENTRIES }), signature: template.signature });
    }
    await big.putReports(chunk, { verified: true });
  }
  const fillS = (performance.now() - t0) / 1000;
  await big.close();
  t0 = performance.now();
  const reopened = await Archive.open(join(tmp, 'big'));
  const openMs = performance.now() - t0;
  const probe = await reopened.getReport({ netuid: template.report.netuid, runId: 1 + Math.floor((REOPEN_REPORTS - 1) / 64) }, validators[(REOPEN_REPORTS - 1) % 64].hotkey);
  const firstReadMs = performance.now() - t0;
  if (!probe) throw new Error('reopened store lost its last report');
  await reopened.close();
  emit({
    bench: 'foundation.archive.reopen',
    reports: REOPEN_REPORTS,
    entries: ENTRIES,
    fill_reports_per_s: Math.round(REOPEN_REPORTS / fillS),
    open_ms: Math.round(openMs),
    open_and_first_read_ms: Math.round(firstReadMs),
    target_ms: 1000,
  });

  // Read-only open of the same store: a private snapshot (tables hard-linked on this filesystem,
  // logs and manifest copied) opened in $TMPDIR, as `archive list` and `audit --archive` do.
  t0 = performance.now();
  const ro = await Archive.openReadOnly(join(tmp, 'big'));
  const roOpenMs = performance.now() - t0;
  const roRuns = (await ro.runs()).length;
  await ro.close();
  emit({ bench: 'foundation.archive.open_read_only', reports: REOPEN_REPORTS, runs: roRuns, open_ms: Math.round(roOpenMs) });

  // Repair of the same store: copy, list every entry, LevelDB repair, verify every entry, swap.
  const { statSync, readdirSync } = await import('node:fs');
  const { inspectDir, repairArchive } = await import('../node/archive.ts');
  const storeDir = (inspectDir(join(tmp, 'big')) as { storeDir: string }).storeDir;
  const storeBytes = readdirSync(storeDir).reduce((a, f) => a + statSync(join(storeDir, f)).size, 0);
  t0 = performance.now();
  const rep = await repairArchive(join(tmp, 'big'));
  const repairS = (performance.now() - t0) / 1000;
  emit({ bench: 'foundation.archive.repair', reports: REOPEN_REPORTS, store_mb: Number((storeBytes / 1e6).toFixed(1)), entries_verified: rep.before.entries, repair_s: Number(repairS.toFixed(2)), mb_per_s: Number((storeBytes / 1e6 / repairS).toFixed(1)) });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
