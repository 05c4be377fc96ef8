// Crash safety at random moments (seeded: CONCLAVE_TEST_SEED=<n> replays a run; the seed is in every
// failure message): a repair of a damaged store (its CURRENT lost, the case: the store does
// not open) SIGKILLed anywhere over its whole run, repeatedly on the same directory; `archive put`
// SIGKILLed mid-import; and a repair of a store whose v1 → v2 migration was cut short. After each
// kill the store that is live is either the untouched original (byte for byte) or a verified repair,
// and once a repair completes every acknowledged report is there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../proto/codec.ts';
import { encodeSignedScoreReport, scoreReportHash, signScoreReport } from '../../proto/score-report.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { Archive, inspectDir, repairArchive } from '../../node/archive.ts';
import { makeReport, makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';
import { writeV1Store } from '../fixtures/foundation/v1-store.ts';
import { CLI, OPENER, REPAIRER, assertAcked, refOf, run, validators, writer, type Acked } from '../fixtures/foundation/crash-kit.ts';
import { prng } from '../prng.ts';

const SEED = Number(process.env.CONCLAVE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));


/** name → sha256 of every LevelDB data file of a store directory. */
function storeHashes(storeDir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of readdirSync(storeDir).filter((x) => /^(CURRENT|MANIFEST-\d+|\d+\.(log|ldb|sst))$/.test(x)).sort()) {
    m.set(n, createHash('sha256').update(readFileSync(join(storeDir, n))).digest('hex'));
  }
  return m;
}

/** Spawns `script` and SIGKILLs it `afterMs` after the start; resolves with how it ended. */
function killAfter(script: string, args: string[], afterMs: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), afterMs);
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    });
  });
}

describe('foundation: archive crash safety at random moments (seeded)', function () {
  this.timeout(400_000);
  let tmp: string;
  let n = 0;
  const fresh = () => join(tmp, `r${n++}`);
  const rnd = prng(SEED);
  const why = (s: string) => `${s} (CONCLAVE_TEST_SEED=${SEED})`;
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-crash-random-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a repair of a store that no longer opens (CURRENT lost), killed anywhere in its run and again, loses nothing', async () => {
    const template = fresh();
    const w = await writer(template, 4000, 800 + Math.floor(rnd() * 2500));
    assert.equal(w.signal, 'SIGKILL');
    const acked: Acked = w.acked;
    const tStore = (inspectDir(template) as { storeDir: string }).storeDir;
    unlinkSync(join(tStore, 'CURRENT'));
    await assert.rejects(Archive.openReadOnly(template), /damaged LevelDB files/);
    const original = storeHashes(tStore);

    // how long an uninterrupted repair takes here
    const timing = fresh();
    cpSync(template, timing, { recursive: true });
    const t0 = performance.now();
    const full = await run(REPAIRER, [timing]);
    const fullMs = performance.now() - t0;
    assert.equal(full.code, 0, full.stderr);
    await assertAcked(timing, acked, why('an uninterrupted repair'));

    let midRun = 0;
    for (let trial = 0; trial < 5; trial++) {
      const dir = fresh();
      cpSync(template, dir, { recursive: true });
      for (let kill = 0; kill < 2; kill++) {
        const at = Math.floor(rnd() * fullMs * 1.1);
        const r = await killAfter(REPAIRER, [dir], at);
        if (r.signal === 'SIGKILL') midRun++;
        else assert.equal(r.code, 0, why(`trial ${trial}: ${r.stderr}`));
        const state = inspectDir(dir) as { storeDir: string; storeName: string | null };
        if (state.storeName === (inspectDir(template) as { storeName: string | null }).storeName) {
          // the original is still live: not one byte of it changed (LevelDB never ran on it)
          assert.deepEqual(storeHashes(state.storeDir), original, why(`trial ${trial}, kill at ${at} ms: the original store changed`));
        } else {
          await assertAcked(dir, acked, why(`trial ${trial}, kill at ${at} ms: the swapped-in store`));
        }
      }
      await repairArchive(dir);
      await assertAcked(dir, acked, why(`trial ${trial}: after the final repair`));
    }
    // with the CLI as operators run it (its start-up is part of the run)
    const dir = fresh();
    cpSync(template, dir, { recursive: true });
    const r = await run(CLI, ['archive', 'repair', '--db', dir], {}, { stderr: /copied \d+ files/, afterMs: Math.floor(rnd() * fullMs) });
    if (r.signal !== 'SIGKILL') assert.equal(r.code, 0, why(r.stderr));
    await repairArchive(dir);
    await assertAcked(dir, acked, why('after a killed CLI repair and a complete one'));
    if (process.env.CONCLAVE_TEST_VERBOSE) process.stderr.write(`seed ${SEED}: ${midRun}/10 kills landed mid-repair (full repair ${Math.round(fullMs)} ms)\n`);
  });

  it('archive put killed mid-import: every result it printed is archived; the rerun completes the rest', async () => {
    const vs = validators();
    const file = join(tmp, 'put.json');
    const fd = openSync(file, 'w');
    const total = 1500;
    writeSync(fd, '[');
    for (let i = 0; i < total; i++) writeSync(fd, (i ? ',' : '') + JSON.stringify(signScoreReport(makeReport(vs[i % 20].hotkey, refOf(i).runId, { entries: 16 }), vs[i % 20])));
    writeSync(fd, ']');
    closeSync(fd);
    for (let trial = 0; trial < 3; trial++) {
      const dir = fresh();
      const printed: { runId: number; validator: string; hash: string }[] = [];
      const target = 50 + Math.floor(rnd() * (total - 100));
      await new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'archive', 'put', '--db', dir, '--in', file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const m = /^stored\s+netuid 42 run (\d+) (\S+) ([0-9a-f]{64})$/.exec(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
            if (m) printed.push({ runId: Number(m[1]), validator: m[2], hash: m[3] });
            if (printed.length >= target && !child.killed) child.kill('SIGKILL');
          }
        });
        const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.on('exit', () => (clearTimeout(guard), resolve()));
      });
      assert.ok(printed.length >= target && printed.length < total, why(`trial ${trial}: ${printed.length} printed, kill after ${target}`));
      const a = await Archive.openReadOnly(dir);
      try {
        for (const p of printed) {
          const got = await a.getReport({ netuid: 42, runId: p.runId }, p.validator);
          assert.ok(got, why(`trial ${trial}: printed report run ${p.runId} ${p.validator} is missing`));
          assert.equal(scoreReportHash(got.report), p.hash);
        }
      } finally {
        await a.close();
      }
      const again = await run(CLI, ['archive', 'put', '--db', dir, '--in', file, '--json']);
      assert.equal(again.code, 0, why(again.stderr));
      const results = JSON.parse(again.stdout) as { status: string }[];
      assert.equal(results.length, total);
      assert.ok(results.every((x) => x.status === 'stored' || x.status === 'duplicate'));
      assert.ok(results.filter((x) => x.status === 'duplicate').length >= printed.length);
    }
  });

  it('a repair of a store whose v1 → v2 migration was cut short keeps every report, and the next open finishes it', async () => {
    const vs = validators();
    const reports = Array.from({ length: 1200 }, (_, i) => makeSigned(vs[i % 20], refOf(i).runId));
    const acked: Acked = new Map(reports.map((s, i) => [i, sha256Hex(encodeSignedScoreReport(s))]));
    const dir = fresh();
    await writeV1Store(dir, { reports });
    const cut = await run(OPENER, [dir], { CONCLAVE_ARCHIVE_FAULT: 'migrate:chunk' });
    assert.equal(cut.signal, 'SIGKILL');
    const killed = await killAfter(REPAIRER, [dir], Math.floor(rnd() * 600));
    if (killed.signal !== 'SIGKILL') assert.equal(killed.code, 0, killed.stderr);
    await assertAcked(dir, acked, why('after the repair was killed'));
    const r = await repairArchive(dir);
    assert.ok(r.after.reports >= 1200);
    await assertAcked(dir, acked, why('after the repair'));
    const a = await Archive.open(dir);
    try {
      assert.equal((await a.runs()).length, 60);
      assert.equal((await a.equivocations()).items.length, 0);
    } finally {
      await a.close();
    }
    await assertAcked(dir, acked, why('after the migration finished'));
  });
});
