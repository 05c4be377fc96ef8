// `npm run model-check`: exhaustive check of the finality protocol's Promela model
// (consensus/model/pbft.pml) with spin, plus negative controls that must fail.
//
//   positive runs: n = 4, f = 1, 3 views, the Byzantine equivocating proposer in view 0, 1 and 2
//                  (one exhaustive run per position: together they cover every position; the
//                  model's nondeterministic position needs ~6.5 GB in one run, one position <= 3.2 GB)
//   controls:      NO_HIGHEST_LOCK (proposers ignore locks), PREPARE_TWICE (an honest replica
//                  prepares two values in one view): spin must report an assertion violation
// Exit 0 only when every positive run is violation-free and every control is caught.
// Options: --fast (the Byzantine proposer in the last view + the NO_HIGHEST_LOCK control, ~45 s on an
//          idle 2-core machine: what `npm test` runs),
//          --json (the summary as JSON), --keep (keep the work directory).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MODEL = fileURLToPath(new URL('../consensus/model/pbft.pml', import.meta.url));

export interface CheckRun {
  name: string;
  defines: string[];
  /** true: must find no violation; false (negative control): must find one */
  expectSafe: boolean;
  errors: number;
  states: number;
  transitions: number;
  seconds: number;
  memoryMb: number;
  violation: string | null;
  ok: boolean;
}

export interface CheckSummary {
  ok: boolean;
  model: string;
  spin: string;
  runs: CheckRun[];
  totalStates: number;
  totalSeconds: number;
}

export class ModelCheckUnavailable extends Error {}

function need(cmd: string, args: string[], hint: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || (r.status !== 0 && r.status !== 1)) throw new ModelCheckUnavailable(`${cmd} is not available (${r.error?.message ?? `exit ${r.status}`}): ${hint}`);
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
}

function one(dir: string, name: string, defines: string[], expectSafe: boolean): CheckRun {
  const work = join(dir, name);
  spawnSync('mkdir', ['-p', work]);
  copyFileSync(MODEL, join(work, 'pbft.pml'));
  const gen = spawnSync('spin', [...defines.map((d) => `-D${d}`), '-a', 'pbft.pml'], { cwd: work, encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`spin -a failed for ${name}: ${gen.stdout}${gen.stderr}`);
  const cc = spawnSync('gcc', ['-O2', '-w', '-DSAFETY', '-DCOLLAPSE', '-o', 'pan', 'pan.c'], { cwd: work, encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc failed for ${name}: ${cc.stderr}`);
  const t0 = Date.now();
  const run = spawnSync('./pan', ['-m100000', '-w26'], { cwd: work, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = `${run.stdout}${run.stderr}`;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const errors = num(/errors: (\d+)/);
  const r: CheckRun = {
    name, defines, expectSafe,
    errors,
    states: num(/([\d.e+]+) states, stored/),
    transitions: num(/([\d.e+]+) transitions \(/),
    seconds: Number.isFinite(num(/elapsed time ([\d.]+) seconds/)) ? num(/elapsed time ([\d.]+) seconds/) : (Date.now() - t0) / 1000,
    memoryMb: num(/([\d.]+)\s+total actual memory usage/),
    violation: /assertion violated (.*?) \(at depth/.exec(out)?.[1] ?? null,
    ok: false,
  };
  if (!Number.isFinite(errors)) throw new Error(`pan printed no result for ${name} (exit ${run.status}): ${out.slice(-600)}`);
  r.ok = expectSafe ? errors === 0 && !/max search depth too small/.test(out) : errors > 0;
  return r;
}

export function modelCheck(opts: { fast?: boolean; keep?: boolean } = {}): CheckSummary {
  const spin = need('spin', ['-V'], 'install it (Debian: apt-get install spin) and run again');
  need('gcc', ['--version'], 'install a C compiler (Debian: apt-get install gcc) and run again');
  const dir = mkdtempSync(join(tmpdir(), 'conclave-model-'));
  try {
    const positions = opts.fast ? [2] : [0, 1, 2];
    const runs: CheckRun[] = [];
    for (const p of positions) runs.push(one(dir, `byzantine-proposer-view-${p}`, [`BYZ_VIEW=${p}`], true));
    runs.push(one(dir, 'control-no-highest-lock', ['NO_HIGHEST_LOCK'], false));
    if (!opts.fast) runs.push(one(dir, 'control-prepare-twice', ['PREPARE_TWICE'], false));
    return {
      ok: runs.every((r) => r.ok), model: MODEL, spin, runs,
      totalStates: runs.filter((r) => r.expectSafe).reduce((s, r) => s + r.states, 0),
      totalSeconds: Math.round(runs.reduce((s, r) => s + r.seconds, 0) * 10) / 10,
    };
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = new Set(process.argv.slice(2));
  try {
    const s = modelCheck({ fast: args.has('--fast'), keep: args.has('--keep') });
    if (args.has('--json')) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    else {
      process.stdout.write(`${s.spin}; model ${s.model}\n`);
      for (const r of s.runs) {
        const what = r.expectSafe ? (r.errors === 0 ? 'no violation' : `VIOLATION ${r.violation}`) : (r.errors > 0 ? `violation found as expected: ${r.violation}` : 'NOT CAUGHT');
        process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(32)} ${String(r.states).padStart(10)} states ${r.seconds.toFixed(1).padStart(6)} s ${r.memoryMb.toFixed(0).padStart(5)} MB  ${what}\n`);
      }
      process.stdout.write(`${s.ok ? 'model check passed' : 'model check FAILED'}: ${s.totalStates} states explored without violation in ${s.totalSeconds} s in total\n`);
    }
    process.exit(s.ok ? 0 : 1);
  } catch (err) {
    process.stderr.write(`model-check: ${(err as Error).message}\n`);
    process.exit(err instanceof ModelCheckUnavailable ? 2 : 1);
  }
}
