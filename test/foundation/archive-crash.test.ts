// Crash safety with real processes and SIGKILL: the writer at a random point, the repair at every
// step (fault injection: CONCLAVE_ARCHIVE_FAULT names the step at which the process kills itself)
// and — through the real `conclave archive repair` — at random moments, and creation, marker adoption and v1 migration at every step. After each
// kill: every acknowledged report is readable, and the archive opens (and repairs) normally.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../proto/codec.ts';
import { encodeSignedScoreReport, verifySignedScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { Archive, repairArchive } from '../../node/archive.ts';
import { FAULT_STEPS } from '../../node/archive/fault.ts';
import { makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';
import { writeV1Store } from '../fixtures/foundation/v1-store.ts';
import { CLI, OPENER, REPAIRER, assertAcked, refOf, run, validators, writer, type Acked } from '../fixtures/foundation/crash-kit.ts';

describe('foundation: archive crash safety (SIGKILL)', function () {
  this.timeout(300_000);
  let tmp: string;
  let n = 0;
  const fresh = () => join(tmp, `c${n++}`);
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-crash-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a writer killed at a random point loses no acknowledged report', async () => {
    const dir = fresh();
    const killAfter = 500 + Math.floor(Math.random() * 4000); // well before the end: the writer may run acks ahead of us
    const { acked, signal } = await writer(dir, 10_000, killAfter);
    assert.equal(signal, 'SIGKILL', 'writer should have been killed mid-run');
    assert.ok(acked.size >= killAfter && acked.size < 10_000, `acked ${acked.size}, kill point ${killAfter}`);
    await assertAcked(dir, acked, 'after the writer crash');
    const a = await Archive.open(dir);
    try {
      const vs = validators();
      for (const i of [...acked.keys()].filter((_, k) => k % 50 === 0)) assert.ok(verifySignedScoreReport((await a.getReport(refOf(i), vs[i % 20].hotkey))!).ok);
      let corrupt = 0;
      for (const r of await a.runs()) corrupt += (await a.reportsOfRun(r)).corrupt.length;
      assert.equal(corrupt, 0, 'no torn writes after reopen');
    } finally {
      await a.close();
    }
  });

  for (const layout of ['store', 'legacy'] as const) {
    it(`a repair killed at every step (${layout === 'store' ? 'STORE layout' : 'archive of the old layout'}) loses nothing, and the next repair completes`, async () => {
      const template = fresh();
      let acked: Acked;
      if (layout === 'store') {
        const w = await writer(template, 600);
        assert.equal(w.acked.size, 600);
        acked = w.acked;
      } else {
        const vs = validators();
        const reports: SignedScoreReport[] = Array.from({ length: 300 }, (_, i) => makeSigned(vs[i % 20], refOf(i).runId));
        await writeV1Store(template, { reports });
        acked = new Map(reports.map((s, i) => [i, sha256Hex(encodeSignedScoreReport(s))]));
      }
      const steps = FAULT_STEPS.filter((s) => s.startsWith('repair:'));
      const reached: string[] = [];
      for (const step of steps) {
        const dir = fresh();
        cpSync(template, dir, { recursive: true });
        const r = await run(REPAIRER, [dir], { CONCLAVE_ARCHIVE_FAULT: step }); // the CLI's repair minus its start-up cost
        if (r.signal === 'SIGKILL') reached.push(step);
        else assert.equal(r.code, 0, `${step}: ${r.stderr}`); // a step this layout does not have: the repair just completes
        await assertAcked(dir, acked, `killed at ${step}`);
        const again = await repairArchive(dir);
        assert.ok(again.after.reports >= acked.size, `${step}: the next repair sees every report`);
        await assertAcked(dir, acked, `repaired after a kill at ${step}`);
      }
      const expected = steps.filter((s) => layout === 'legacy' || s !== 'repair:old-moving');
      assert.deepEqual(reached, expected, 'the fault hook fired at every step');
    });
  }

  it('creating an archive, adopting the marker and migrating v1 keys are killable at every step', async () => {
    for (const step of FAULT_STEPS.filter((s) => s.startsWith('create:'))) {
      const dir = fresh();
      const r = await run(OPENER, [dir], { CONCLAVE_ARCHIVE_FAULT: step });
      assert.equal(r.signal, 'SIGKILL', `${step} was not reached: ${r.stdout}${r.stderr}`);
      const a = await Archive.open(dir);
      try {
        const s = makeSigned(validatorSigner(1), 5);
        assert.equal((await a.putReport(s)).status, 'stored', `${step}: the archive is usable after the kill`);
      } finally {
        await a.close();
      }
    }
    const vs = validators();
    const reports = Array.from({ length: 1200 }, (_, i) => makeSigned(vs[i % 20], refOf(i).runId)); // three migration chunks
    const acked: Acked = new Map(reports.map((s, i) => [i, sha256Hex(encodeSignedScoreReport(s))]));
    const template = fresh();
    await writeV1Store(template, { reports });
    for (const step of FAULT_STEPS.filter((s) => s.startsWith('adopt:') || s.startsWith('migrate:'))) {
      const dir = fresh();
      cpSync(template, dir, { recursive: true });
      const r = await run(OPENER, [dir], { CONCLAVE_ARCHIVE_FAULT: step });
      assert.equal(r.signal, 'SIGKILL', `${step} was not reached: ${r.stdout}${r.stderr}`);
      await assertAcked(dir, acked, `v1 open killed at ${step}`);
      const a = await Archive.open(dir);
      try {
        assert.equal((await a.runs()).length, 60);
        assert.equal((await a.equivocations()).items.length, 0, `${step}: a resumed migration creates no false proofs`);
      } finally {
        await a.close();
      }
    }
  });

  it('writer and repair killed at random moments: no acknowledged report is lost', async () => {
    const dir = fresh();
    const { acked, signal } = await writer(dir, 6000, 1000 + Math.floor(Math.random() * 4000));
    assert.equal(signal, 'SIGKILL');
    let midRun = 0;
    for (let i = 0; i < 4; i++) {
      // kill once the repair is working on its copy (it logs "copied …"), a random moment later
      const r = await run(CLI, ['archive', 'repair', '--db', dir], {}, { stderr: /copied \d+ files/, afterMs: Math.floor(Math.random() * 400) });
      if (r.signal === 'SIGKILL') midRun++;
      else assert.equal(r.code, 0, r.stderr);
      await assertAcked(dir, acked, `repair killed at a random moment (#${i})`);
    }
    const final = await repairArchive(dir);
    assert.ok(final.after.reports >= acked.size);
    await assertAcked(dir, acked, 'after the final repair');
    if (process.env.CONCLAVE_TEST_VERBOSE) process.stderr.write(`random repair kills that landed mid-run: ${midRun}/4\n`);
  });
});
