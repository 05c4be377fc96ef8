import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { encodeSignedScoreReport, scoreReportHash, signScoreReport, verifySignedScoreReport } from '../../proto/score-report.ts';
import { cryptoReady, hotkeyToPublicKey } from '../../proto/signer.ts';
import { Archive, ArchiveCorruptError, runKey } from '../../node/archive.ts';
import { makeReport, makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';

describe('foundation: LevelDB archive', () => {
  let tmp: string;
  let n = 0;
  const freshDir = () => join(tmp, `db${n++}`);
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-archive-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('stores reports; run and (run, validator) lookups are range reads that survive restart', async () => {
    const dir = freshDir();
    const vs = [0, 1, 2].map(validatorSigner);
    let a = await Archive.open(dir);
    const batch = [5, 6, 70].flatMap((run) => vs.map((v) => makeSigned(v, run)));
    const res = await a.putReports(batch);
    assert.deepEqual(res.map((r) => r.status), Array(9).fill('stored'));
    await a.close();
    a = await Archive.open(dir);
    try {
      const run6 = await a.reportsOfRun(6);
      assert.equal(run6.corrupt.length, 0);
      assert.equal(run6.items.length, 3);
      assert.ok(run6.items.every((s) => s.report.runId === 6 && verifySignedScoreReport(s).ok));
      assert.deepEqual((await a.reportsOfRun(7)).items, []);
      const one = await a.getReport(70, vs[1].hotkey, { verify: true });
      assert.equal(one?.report.validatorHotkey, vs[1].hotkey);
      assert.equal(toHex(encodeSignedScoreReport(one!)), toHex(encodeSignedScoreReport(batch[7])));
      assert.equal(await a.getReport(71, vs[1].hotkey), undefined);
      assert.deepEqual(await a.runIds(), [5, 6, 70]);
      assert.deepEqual(await a.runIds({ limit: 2 }), [5, 6]);
    } finally {
      await a.close();
    }
  });

  it('keeps a second different signed report as an equivocation proof; re-signatures are duplicates', async () => {
    const dir = freshDir();
    const v = validatorSigner(3);
    let a = await Archive.open(dir);
    const first = makeSigned(v, 9);
    const resigned = signScoreReport(first.report, v);
    const second = makeSigned(v, 9, { salt: 1 });
    const third = makeSigned(v, 9, { salt: 2 });
    assert.notEqual(resigned.signature, first.signature);
    const r = await a.putReports([first, resigned, second]);
    assert.deepEqual(r.map((x) => x.status), ['stored', 'duplicate', 'equivocation']);
    assert.equal((await a.putReport(third)).status, 'equivocation');
    assert.equal((await a.putReport(second)).status, 'equivocation');
    await a.close();
    a = await Archive.open(dir);
    try {
      const kept = await a.getReport(9, v.hotkey);
      assert.equal(scoreReportHash(kept!.report), scoreReportHash(first.report), 'the first report is never overwritten');
      const eq = await a.equivocations();
      assert.equal(eq.corrupt.length, 0);
      assert.equal(eq.items.length, 2);
      for (const p of eq.items) {
        assert.equal(p.runId, 9);
        assert.equal(p.validatorHotkey, v.hotkey);
        assert.equal(scoreReportHash(p.first.report), scoreReportHash(first.report));
        assert.ok(verifySignedScoreReport(p.first).ok && verifySignedScoreReport(p.second).ok);
        assert.notEqual(scoreReportHash(p.second.report), scoreReportHash(p.first.report));
      }
      assert.deepEqual(new Set(eq.items.map((p) => scoreReportHash(p.second.report))), new Set([scoreReportHash(second.report), scoreReportHash(third.report)]));
      assert.equal((await a.equivocations({ runId: 8 })).items.length, 0);
    } finally {
      await a.close();
    }
  });

  it('refuses invalid signatures and malformed reports without writing anything', async () => {
    const a = await Archive.open(freshDir());
    try {
      const v = validatorSigner(4);
      const good = makeSigned(v, 1);
      const forged = { report: makeReport(v.hotkey, 2), signature: good.signature };
      const broken = { report: { ...makeReport(v.hotkey, 3), hardwareClass: '' }, signature: good.signature };
      const res = await a.putReports([forged, broken, good]);
      assert.equal(res[0].status, 'invalid');
      assert.match((res[0] as { reason: string }).reason, /does not verify/);
      assert.match((res[1] as { reason: string }).reason, /malformed report: .*hardwareClass/);
      assert.equal(res[2].status, 'stored');
      assert.deepEqual(await a.runIds(), [1]);
    } finally {
      await a.close();
    }
  });

  it('corrupt or foreign values give a clear error while the rest stays readable', async () => {
    const dir = freshDir();
    const vs = [0, 1, 2].map(validatorSigner);
    let a = await Archive.open(dir);
    await a.putReports(vs.map((v) => makeSigned(v, 11)));
    await a.putEvaluation('ee'.repeat(32), { ok: true });
    await a.close();
    // Tamper with the store underneath: garbage in one slot, another run's report in a second.
    const raw = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const reports = raw.sublevel<string, Uint8Array>('reports', { keyEncoding: 'utf8', valueEncoding: 'view' });
    const slot = (v: number) => `${runKey(11)}/${toHex(hotkeyToPublicKey(vs[v].hotkey))}`;
    await reports.put(slot(0), new Uint8Array([1, 2, 3]));
    await reports.put(slot(1), encodeSignedScoreReport(makeSigned(vs[1], 12)));
    await raw.sublevel<string, string>('evaluations', { valueEncoding: 'utf8' }).put('ff'.repeat(32), '{nope');
    await raw.close();
    a = await Archive.open(dir);
    try {
      const run = await a.reportsOfRun(11);
      assert.equal(run.items.length, 1);
      assert.equal(run.items[0].report.validatorHotkey, vs[2].hotkey);
      assert.equal(run.corrupt.length, 2);
      assert.match(run.corrupt.map((c) => c.reason).join('\n'), /truncated/);
      assert.match(run.corrupt.map((c) => c.reason).join('\n'), /holds the report of run 12/);
      await assert.rejects(a.getReport(11, vs[0].hotkey), (err: Error) => err instanceof ArchiveCorruptError && /reports\/0000000000000011\/.* corrupt or foreign/.test(err.message));
      await assert.rejects(a.getEvaluation('ff'.repeat(32)), /not JSON/);
      assert.deepEqual(await a.getEvaluation('ee'.repeat(32)), { ok: true });
      // A valid report for a corrupt slot heals it; the bad bytes are kept aside.
      assert.equal((await a.putReport(makeSigned(vs[0], 11))).status, 'stored');
      assert.equal((await a.reportsOfRun(11)).items.length, 2);
      assert.equal((await a.kv('corrupt-reports').entries()).items.length, 1);
    } finally {
      await a.close();
    }
  });

  it('refuses foreign directories, foreign LevelDBs and a store locked by another handle', async () => {
    const notLevel = freshDir();
    mkdirSync(notLevel);
    writeFileSync(join(notLevel, 'notes.txt'), 'hello');
    await assert.rejects(Archive.open(notLevel), /not empty and holds no LevelDB/);
    const foreign = freshDir();
    const raw = new Level(foreign);
    await raw.put('someone', 'else');
    await raw.close();
    await assert.rejects(Archive.open(foreign), /LevelDB database but not a Conclave archive/);
    await assert.rejects(Archive.open(freshDir(), { createIfMissing: false }), /no archive at/);
    const dir = freshDir();
    const a = await Archive.open(dir);
    try {
      await assert.rejects(Archive.open(dir), /in use by another process/);
    } finally {
      await a.close();
    }
  });

  it('certificates (first wins), evaluations, run metadata and kv stores persist', async () => {
    const dir = freshDir();
    let a = await Archive.open(dir);
    assert.equal(await a.putCertificate(5, new Uint8Array([1, 2])), 'stored');
    assert.equal(await a.putCertificate(5, new Uint8Array([1, 2])), 'duplicate');
    assert.equal(await a.putCertificate(5, new Uint8Array([3])), 'conflict');
    await a.putRunMeta(5, { winner: 3, height: 100 });
    await a.putEvaluation('aa'.repeat(32), { status: 'scored', score: 10 });
    await a.kv('quarantine').put('x/1', { held: true });
    await a.kv('quarantine').put('y/1', { held: false });
    await assert.rejects(a.putEvaluation('AA', {}), /lowercase hex/);
    assert.throws(() => a.kv('Bad Name'), /store name .* is invalid/);
    await a.close();
    a = await Archive.open(dir);
    try {
      assert.deepEqual(await a.getCertificate(5), new Uint8Array([1, 2]));
      assert.deepEqual(await a.getRunMeta(5), { winner: 3, height: 100 });
      assert.deepEqual(await a.getEvaluation('aa'.repeat(32)), { status: 'scored', score: 10 });
      assert.deepEqual((await a.kv('quarantine').entries({ prefix: 'x/' })).items, [{ key: 'x/1', value: { held: true } }]);
      await a.kv('quarantine').del('x/1');
      assert.equal(await a.kv('quarantine').get('x/1'), undefined);
    } finally {
      await a.close();
    }
  });

  it('crash safety: a writer killed with SIGKILL at a random point loses no acknowledged report', async function () {
    this.timeout(60_000);
    const dir = freshDir();
    const total = 10_000;
    const killAfter = 500 + Math.floor(Math.random() * 4000); // well before the end: the writer may run acks ahead of us
    const writer = fileURLToPath(new URL('../fixtures/foundation/crash-writer.ts', import.meta.url));
    const child = spawn(process.execPath, [writer, dir, String(total), '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<number, string>();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let buf = '';
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ack (\d+) ([0-9a-f]{64})$/.exec(line);
        if (m) acked.set(Number(m[1]), m[2]);
        if (acked.size >= killAfter && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      }
    });
    const { signal } = await exited;
    clearTimeout(guard);
    assert.equal(signal, 'SIGKILL', `writer should have been killed mid-run (stderr: ${stderr})`);
    assert.ok(acked.size >= killAfter && acked.size < total, `acked ${acked.size}, kill point ${killAfter}`);

    const a = await Archive.open(dir);
    try {
      const validators = Array.from({ length: 20 }, (_, i) => validatorSigner(i));
      for (const [i, hash] of acked) {
        const v = validators[i % 20];
        const run = 1000 + Math.floor(i / 20);
        const got = await a.getReport(run, v.hotkey);
        assert.ok(got, `acknowledged report ${i} is missing after the crash`);
        assert.equal(sha256Hex(encodeSignedScoreReport(got)), hash, `acknowledged report ${i} changed`);
      }
      // Signatures of a sample verify (all bytes already matched the writer's signed bytes).
      const sample = [...acked.keys()].filter((_, k) => k % 50 === 0);
      for (const i of sample) assert.ok(verifySignedScoreReport((await a.getReport(1000 + Math.floor(i / 20), validators[i % 20].hotkey))!).ok);
      const runs = await a.runIds();
      let corrupt = 0;
      for (const r of runs) corrupt += (await a.reportsOfRun(r)).corrupt.length;
      assert.equal(corrupt, 0, 'no torn writes after reopen');
    } finally {
      await a.close();
    }
  });
});
