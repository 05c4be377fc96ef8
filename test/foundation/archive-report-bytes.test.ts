// The archive's stored-bytes reads (storedReportBytes, reportBytesOfRun, and revealsOfRun built on
// them), each checked against the decode/encode path it stands in for, on a real LevelDB archive.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../proto/codec.ts';
import { encodeScoreReport, encodeSignedScoreReport, scoreReportHash } from '../../proto/score-report.ts';
import { decodeReveal, encodeReveal, type Reveal } from '../../proto/reveal.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { Archive } from '../../node/archive.ts';
import { ArchiveCorruptError } from '../../node/archive/errors.ts';
import { UNKNOWN_CHAIN, slotKey } from '../../node/archive/keys.ts';
import { storedReportBytes } from '../../node/archive/stored-report.ts';
import { archiveReveal, revealsOfRun } from '../../node/validator/evidence.ts';
import { prng } from '../prng.ts';
import { bytes, concat, hex32, int, pubHex, signedReport, signerFromSeed } from './report-bytes-fixtures.ts';

describe('foundation: report and reveal bytes from the archive without a full decode', () => {
  before(async () => {
    await cryptoReady();
  });

  describe('archive: stored report bytes', () => {
    let tmp: string;
    let n = 0;
    const freshDir = () => join(tmp, `db${n++}`);
    before(() => {
      tmp = mkdtempSync(join(tmpdir(), 'conclave-report-bytes-'));
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    const NETUID = 17;
    const RUN = 7_200;

    it('reportBytesOfRun returns the stored bytes in reportsOfRun order, with report bytes and hash', async () => {
      const rng = prng(20);
      const signers = [0, 1, 2, 3, 4, 5].map((i) => signerFromSeed(20 + i));
      const inRun = signers.map((s, i) => signedReport(s, rng, { netuid: NETUID, runId: RUN, entries: i === 0 ? 0 : int(rng, 1, 80) }));
      const elsewhere = [
        signedReport(signers[0], rng, { netuid: NETUID, runId: RUN + 1 }),
        signedReport(signers[1], rng, { netuid: NETUID + 1, runId: RUN }),
      ];
      const a = await Archive.open(freshDir());
      try {
        const res = await a.putReports([...inRun, ...elsewhere]);
        assert.deepEqual(res.map((r) => r.status), Array(inRun.length + elsewhere.length).fill('stored'));
        const decoded = await a.reportsOfRun({ netuid: NETUID, runId: RUN });
        const stored = await a.reportBytesOfRun({ netuid: NETUID, runId: RUN });
        assert.deepEqual(stored.corrupt, []);
        assert.deepEqual(decoded.corrupt, []);
        assert.equal(decoded.items.length, inRun.length);
        assert.equal(stored.items.length, inRun.length);
        for (let i = 0; i < stored.items.length; i++) {
          const s = decoded.items[i];
          const b = stored.items[i];
          assert.equal(toHex(b.value), toHex(encodeSignedScoreReport(s)), `item ${i}: value`);
          assert.equal(toHex(b.reportBytes), toHex(encodeScoreReport(s.report)), `item ${i}: report bytes`);
          assert.equal(b.hash, scoreReportHash(s.report), `item ${i}: hash`);
        }
        // Exactly the reports put in this run, none of the other run or subnet.
        assert.deepEqual(stored.items.map((b) => b.hash).sort(), inRun.map((s) => scoreReportHash(s.report)).sort());
        assert.deepEqual(stored.items.map((b) => toHex(b.value)).sort(), inRun.map((s) => toHex(encodeSignedScoreReport(s))).sort());
        assert.deepEqual((await a.reportBytesOfRun({ netuid: NETUID, runId: RUN + 2 })).items, []);
        assert.equal((await a.reportBytesOfRun({ netuid: NETUID, runId: RUN + 1 })).items[0].hash, scoreReportHash(elsewhere[0].report));
      } finally {
        await a.close();
      }
    });

    it('storedReportBytes returns the value, its report bytes and hash for a report in its own slot', () => {
      const signer = signerFromSeed(30);
      const signed = signedReport(signer, prng(30), { netuid: NETUID, runId: RUN, entries: 9 });
      const slot = slotKey({ chain: UNKNOWN_CHAIN, netuid: NETUID, runId: RUN }, signer.hotkey);
      const value = encodeSignedScoreReport(signed);
      const got = storedReportBytes(slot, `reports/${slot}`, value);
      assert.equal(toHex(got.value), toHex(value));
      assert.equal(toHex(got.reportBytes), toHex(encodeScoreReport(signed.report)));
      assert.equal(got.hash, scoreReportHash(signed.report));
    });

    it('storedReportBytes throws ArchiveCorruptError for a report of another run, netuid or author', () => {
      const signer = signerFromSeed(31);
      const stranger = signerFromSeed(32);
      const rng = prng(31);
      const signed = signedReport(signer, rng, { netuid: NETUID, runId: RUN, entries: 4 });
      const value = encodeSignedScoreReport(signed);
      const slots: [string, string][] = [
        [slotKey({ chain: UNKNOWN_CHAIN, netuid: NETUID, runId: RUN + 1 }, signer.hotkey), 'another run'],
        [slotKey({ chain: UNKNOWN_CHAIN, netuid: NETUID + 1, runId: RUN }, signer.hotkey), 'another netuid'],
        [slotKey({ chain: UNKNOWN_CHAIN, netuid: NETUID, runId: RUN }, stranger.hotkey), 'another author'],
        ['not/a/slot', 'a key that is no slot'],
      ];
      for (const [slot, what] of slots) {
        const key = `reports/${slot}`;
        assert.throws(() => storedReportBytes(slot, key, value), (err: unknown) => {
          assert.ok(err instanceof ArchiveCorruptError, `${what}: ${(err as Error).message}`);
          assert.equal(err.key, key);
          assert.match(err.message, new RegExp(`holds the report of netuid ${NETUID} run ${RUN} by public key ${pubHex(signer.hotkey)}`));
          return true;
        }, what);
      }
    });

    it('storedReportBytes throws ArchiveCorruptError for a value that is not framed as a signed report', () => {
      const signer = signerFromSeed(33);
      const rng = prng(33);
      const signed = signedReport(signer, rng, { netuid: NETUID, runId: RUN, entries: 6 });
      const slot = slotKey({ chain: UNKNOWN_CHAIN, netuid: NETUID, runId: RUN }, signer.hotkey);
      const key = `reports/${slot}`;
      const value = encodeSignedScoreReport(signed);
      const badVersion = Uint8Array.from(value);
      badVersion[4] = 2; // the report's version byte
      const badLength = Uint8Array.from(value);
      new DataView(badLength.buffer).setUint32(0, value.length - 4 - 64 - 1);
      const bad: [Uint8Array, string][] = [
        [bytes(rng, 10), '10 random bytes'],
        [new Uint8Array(0), 'empty'],
        [concat(value, new Uint8Array([0])), 'one trailing byte'],
        [value.subarray(0, value.length - 1), 'one byte short'],
        [badLength, 'a length field one short'],
        [badVersion, 'a report of version 2'],
      ];
      for (const [x, what] of bad) {
        assert.throws(() => storedReportBytes(slot, key, x), (err: unknown) => {
          assert.ok(err instanceof ArchiveCorruptError, `${what}: ${(err as Error).message}`);
          assert.equal(err.key, key);
          return true;
        }, what);
      }
      // The untouched value is accepted (the refusals above are about the damage alone).
      assert.equal(storedReportBytes(slot, key, value).hash, scoreReportHash(signed.report));
    });

    it('revealsOfRun returns encodeReveal of each salted reveal of the run, in reportsOfRun order, and leaves out reports without a salt', async () => {
      const rng = prng(40);
      const signers = [0, 1, 2, 3, 4].map((i) => signerFromSeed(40 + i));
      const reveals: Reveal[] = signers.slice(0, 4).map((s) => ({ salt: hex32(rng), signed: signedReport(s, rng, { netuid: NETUID, runId: RUN, entries: int(rng, 0, 50) }) }));
      const unsalted = signedReport(signers[4], rng, { netuid: NETUID, runId: RUN });
      const otherRun: Reveal = { salt: hex32(rng), signed: signedReport(signers[0], rng, { netuid: NETUID, runId: RUN + 1 }) };
      const a = await Archive.open(freshDir());
      try {
        for (const r of reveals) assert.equal(await archiveReveal(a, r), 'stored');
        assert.equal(await archiveReveal(a, otherRun), 'stored');
        assert.equal((await a.putReport(unsalted)).status, 'stored');
        const run = { netuid: NETUID, runId: RUN };
        const order = (await a.reportsOfRun(run)).items.map((s) => scoreReportHash(s.report));
        assert.equal(order.length, 5, 'the unsalted report is archived');
        const byHash = new Map(reveals.map((r) => [scoreReportHash(r.signed.report), r]));
        const expected = order.filter((h) => byHash.has(h)).map((h) => toHex(encodeReveal(byHash.get(h)!)));
        assert.equal(expected.length, 4);
        const got = await revealsOfRun(a, run);
        assert.deepEqual(got.map(toHex), expected);
        for (const [i, b] of got.entries()) {
          const r = decodeReveal(b);
          assert.equal(r.salt, byHash.get(scoreReportHash(r.signed.report))!.salt, `reveal ${i}: salt`);
          assert.notEqual(r.signed.report.validatorHotkey, unsalted.report.validatorHotkey);
        }
        const other = await revealsOfRun(a, { netuid: NETUID, runId: RUN + 1 });
        assert.deepEqual(other.map(toHex), [toHex(encodeReveal(otherRun))]);
        assert.deepEqual(await revealsOfRun(a, { netuid: NETUID, runId: RUN + 2 }), []);
      } finally {
        await a.close();
      }
    });
  });
});
