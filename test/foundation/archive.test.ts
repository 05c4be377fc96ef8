import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { toHex } from '../../proto/codec.ts';
import { encodeSignedScoreReport, scoreReportHash, signScoreReport, verifySignedScoreReport } from '../../proto/score-report.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { Archive, ArchiveCorruptError, UNKNOWN_CHAIN, inspectDir } from '../../node/archive.ts';
import { slotKey } from '../../node/archive/keys.ts';
import { makeReport, makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';

const R = (runId: number, netuid = 42) => ({ netuid, runId });
const storeDir = (dir: string) => (inspectDir(dir) as { storeDir: string }).storeDir;

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
      const run6 = await a.reportsOfRun(R(6));
      assert.equal(run6.corrupt.length, 0);
      assert.equal(run6.items.length, 3);
      assert.ok(run6.items.every((s) => s.report.runId === 6 && verifySignedScoreReport(s).ok));
      assert.deepEqual((await a.reportsOfRun(R(7))).items, []);
      const one = await a.getReport(R(70), vs[1].hotkey, { verify: true });
      assert.equal(one?.report.validatorHotkey, vs[1].hotkey);
      assert.equal(toHex(encodeSignedScoreReport(one!)), toHex(encodeSignedScoreReport(batch[7])));
      assert.equal(await a.getReport(R(71), vs[1].hotkey), undefined);
      assert.equal(await a.getReport(R(70, 43), vs[1].hotkey), undefined, 'another subnet is another key');
      assert.deepEqual((await a.runs()).map((r) => r.runId), [5, 6, 70]);
      assert.deepEqual((await a.runs({ limit: 2 })).map((r) => r.runId), [5, 6]);
      assert.deepEqual((await a.runs())[0], { chain: UNKNOWN_CHAIN, netuid: 42, runId: 5 });
      assert.equal(await a.reportCount(R(6)), 3);
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
    // A proof once stored is never replaced: the same second report again, or re-signed, is a duplicate.
    assert.equal((await a.putReport(second)).status, 'duplicate');
    const resecond = signScoreReport(second.report, v);
    assert.notEqual(resecond.signature, second.signature);
    assert.deepEqual((await a.putReports([resecond, resecond])).map((x) => x.status), ['duplicate', 'duplicate']);
    await a.close();
    a = await Archive.open(dir);
    try {
      const kept = await a.getReport(R(9), v.hotkey);
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
      assert.equal(eq.items.find((p) => scoreReportHash(p.second.report) === scoreReportHash(second.report))!.second.signature, second.signature, 'the stored proof keeps its original signature');
      assert.equal((await a.equivocations({ netuid: 42, runId: 8 })).items.length, 0);
      assert.equal((await a.equivocations({ runId: 9 })).items.length, 2);
    } finally {
      await a.close();
    }
  });

  it('keys include the subnet and the chain: the same validator and run id in another subnet or chain is not an equivocation', async () => {
    const dir = freshDir();
    const v = validatorSigner(5);
    const g1 = 'aa'.repeat(32);
    const g2 = '0x' + 'BB'.repeat(32);
    const a = await Archive.open(dir, { chain: g1 });
    try {
      const n1 = makeSigned(v, 77, { netuid: 1 });
      const n2 = makeSigned(v, 77, { netuid: 2, salt: 9 });
      assert.deepEqual((await a.putReports([n1, n2])).map((x) => x.status), ['stored', 'stored']);
      const other = makeSigned(v, 77, { netuid: 1, salt: 5 });
      assert.equal((await a.putReport(other, { chain: g2 })).status, 'stored', 'another chain');
      assert.equal((await a.equivocations({ chain: 'any' })).items.length, 0, 'no false proof across subnets or chains');
      assert.equal(scoreReportHash((await a.getReport({ netuid: 2, runId: 77 }, v.hotkey))!.report), scoreReportHash(n2.report));
      assert.equal(scoreReportHash((await a.getReport({ netuid: 1, runId: 77, chain: g2 }, v.hotkey))!.report), scoreReportHash(other.report));
      assert.equal(scoreReportHash((await a.getReport({ netuid: 1, runId: 77 }, v.hotkey))!.report), scoreReportHash(n1.report));
      // a real equivocation: same chain, subnet, run and validator
      const eq = makeSigned(v, 77, { netuid: 2, salt: 10 });
      assert.equal((await a.putReport(eq)).status, 'equivocation');
      const proofs = await a.equivocations({ netuid: 2 });
      assert.equal(proofs.items.length, 1);
      assert.deepEqual([proofs.items[0].chain, proofs.items[0].netuid, proofs.items[0].runId], [g1, 2, 77]);
      assert.equal((await a.equivocations({ netuid: 1 })).items.length, 0);
      assert.equal((await a.equivocations({ chain: g2 })).items.length, 0);
      assert.deepEqual((await a.runs({ chain: 'any' })).map((r) => `${r.chain.slice(0, 2)}/${r.netuid}/${r.runId}`), ['aa/1/77', 'aa/2/77', 'bb/1/77']);
    } finally {
      await a.close();
    }
    // the chain given at creation is the archive's default for later opens
    const b = await Archive.openReadOnly(dir);
    try {
      assert.equal(b.chain, g1);
    } finally {
      await b.close();
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
      assert.deepEqual((await a.runs()).map((r) => r.runId), [1]);
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
    const raw = new Level<string, Uint8Array>(storeDir(dir), { keyEncoding: 'utf8', valueEncoding: 'view' });
    const reports = raw.sublevel<string, Uint8Array>('v2-reports', { keyEncoding: 'utf8', valueEncoding: 'view' });
    const slot = (v: number) => slotKey({ chain: UNKNOWN_CHAIN, netuid: 42, runId: 11 }, vs[v].hotkey);
    await reports.put(slot(0), new Uint8Array([1, 2, 3]));
    await reports.put(slot(1), encodeSignedScoreReport(makeSigned(vs[1], 12)));
    await raw.sublevel<string, string>('evaluations', { valueEncoding: 'utf8' }).put('ff'.repeat(32), '{nope');
    await raw.close();
    a = await Archive.open(dir);
    try {
      const run = await a.reportsOfRun(R(11));
      assert.equal(run.items.length, 1);
      assert.equal(run.items[0].report.validatorHotkey, vs[2].hotkey);
      assert.equal(run.corrupt.length, 2);
      assert.match(run.corrupt.map((c) => c.reason).join('\n'), /truncated/);
      assert.match(run.corrupt.map((c) => c.reason).join('\n'), /holds the report of netuid 42 run 12/);
      await assert.rejects(a.getReport(R(11), vs[0].hotkey), (err: Error) => err instanceof ArchiveCorruptError && /reports\/0+\/00042\/0000000000000011\/.* corrupt or foreign/.test(err.message));
      await assert.rejects(a.getEvaluation('ff'.repeat(32)), /not JSON/);
      assert.deepEqual(await a.getEvaluation('ee'.repeat(32)), { ok: true });
      // A valid report for a corrupt slot heals it; the bad bytes are kept aside.
      assert.equal((await a.putReport(makeSigned(vs[0], 11))).status, 'stored');
      assert.equal((await a.reportsOfRun(R(11))).items.length, 2);
      assert.equal((await a.kv('corrupt-reports').entries()).items.length, 1);
    } finally {
      await a.close();
    }
  });

  it('refuses foreign directories, foreign LevelDBs and a store locked by another handle', async () => {
    const notLevel = freshDir();
    mkdirSync(notLevel);
    writeFileSync(join(notLevel, 'notes.txt'), 'hello');
    await assert.rejects(Archive.open(notLevel), /not empty and is not a Conclave archive/);
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
    assert.equal(await a.putCertificate(R(5), new Uint8Array([1, 2])), 'stored');
    assert.equal(await a.putCertificate(R(5), new Uint8Array([1, 2])), 'duplicate');
    assert.equal(await a.putCertificate(R(5), new Uint8Array([3])), 'conflict');
    assert.equal(await a.putCertificate(R(5, 43), new Uint8Array([3])), 'stored', 'another subnet, same run id');
    await a.putRunMeta(R(5), { winner: 3, height: 100 });
    await a.putEvaluation('aa'.repeat(32), { status: 'scored', score: 10 });
    await a.kv('quarantine').put('x/1', { held: true });
    await a.kv('quarantine').put('y/1', { held: false });
    await assert.rejects(a.putEvaluation('AA', {}), /lowercase hex/);
    assert.throws(() => a.kv('Bad Name'), /store name .* is invalid/);
    await a.close();
    a = await Archive.open(dir);
    try {
      assert.deepEqual(await a.getCertificate(R(5)), new Uint8Array([1, 2]));
      assert.deepEqual(await a.getCertificate(R(5, 43)), new Uint8Array([3]));
      assert.deepEqual(await a.getRunMeta(R(5)), { winner: 3, height: 100 });
      assert.deepEqual(await a.getEvaluation('aa'.repeat(32)), { status: 'scored', score: 10 });
      assert.deepEqual((await a.kv('quarantine').entries({ prefix: 'x/' })).items, [{ key: 'x/1', value: { held: true } }]);
      await a.kv('quarantine').del('x/1');
      assert.equal(await a.kv('quarantine').get('x/1'), undefined);
    } finally {
      await a.close();
    }
  });
});
