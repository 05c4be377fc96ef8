import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { CodecError, Writer, fromHex, sha256Hex, toHex } from '../../proto/codec.ts';
import {
  MAX_ENTRIES,
  SCORE_STATUSES,
  decodeScoreReport,
  decodeSignedScoreReport,
  encodeScoreReport,
  encodeSignedScoreReport,
  parseScoreReportJson,
  parseSignedScoreReportJson,
  scoreReportHash,
  scoreReportSigningBytes,
  signScoreReport,
  toScore,
  verifySignedScoreReport,
  type ScoreReport,
  type SignedScoreReport,
} from '../../proto/score-report.ts';
import { cryptoReady, publicKeyToHotkey, sr25519SignerFromSeed, verifySr25519 } from '../../proto/signer.ts';

const golden = JSON.parse(readFileSync(new URL('../fixtures/foundation/golden-v1.json', import.meta.url), 'utf8'));

function sampleReport(validatorHotkey: string): ScoreReport {
  return structuredClone({ ...golden.scoreReport.report, validatorHotkey }) as ScoreReport;
}

describe('foundation: score report wire format', () => {
  before(async () => {
    await cryptoReady();
  });

  describe('golden vector v1', () => {
    it('encodes the fixed report to the checked-in canonical hex and sha256', () => {
      const report = golden.scoreReport.report as ScoreReport;
      assert.equal(toHex(encodeScoreReport(report)), golden.scoreReport.canonicalHex);
      assert.equal(scoreReportHash(report), golden.scoreReport.sha256);
      assert.equal(sha256Hex(fromHex(golden.scoreReport.canonicalHex)), golden.scoreReport.sha256);
      assert.equal(toHex(scoreReportSigningBytes(report)), golden.scoreReport.signingBytesHex);
    });

    it('lays the fields out as documented (big-endian, fixed widths, domain prefix)', () => {
      const b = fromHex(golden.scoreReport.canonicalHex);
      const dv = new DataView(b.buffer, b.byteOffset);
      assert.equal(b[0], 1, 'version');
      assert.equal(dv.getUint16(1), 7, 'netuid u16');
      assert.equal(Number(dv.getBigUint64(3)), 4_200_000, 'runId u64');
      assert.equal(toHex(b.subarray(11, 43)), golden.roster.rosterHash);
      const hwLen = dv.getUint32(75);
      assert.equal(new TextDecoder().decode(b.subarray(79, 79 + hwLen)), 'cuda-sm90-H100');
      const afterHw = 79 + hwLen + 32;
      assert.equal(dv.getUint32(afterHw), 3, 'entry count');
      const e0 = afterHw + 4;
      assert.equal(dv.getUint16(e0), 0);
      assert.equal(Number(dv.getBigUint64(e0 + 66)), 421300, 'score');
      assert.equal(b[e0 + 74], SCORE_STATUSES.indexOf('scored'));
      assert.equal(b.length, afterHw + 4 + 3 * 75 + 8);
      const signing = fromHex(golden.scoreReport.signingBytesHex);
      assert.equal(new TextDecoder().decode(signing.subarray(0, 24)), 'conclave/score-report/v1');
      assert.equal(signing[24], 0);
    });

    it('decodes the golden hex back to the same report, and the fixed signature verifies', () => {
      assert.deepEqual(decodeScoreReport(fromHex(golden.scoreReport.canonicalHex)), golden.scoreReport.report);
      const signed = decodeSignedScoreReport(fromHex(golden.scoreReport.signedCanonicalHex));
      assert.equal(signed.signature, golden.scoreReport.signature);
      assert.deepEqual(verifySignedScoreReport(signed), { ok: true });
      assert.equal(toHex(encodeSignedScoreReport(signed)), golden.scoreReport.signedCanonicalHex);
    });

    it('derives the golden validator hotkey from its seed', () => {
      assert.equal(sr25519SignerFromSeed(fromHex(golden.validatorSeedHex, 32)).hotkey, golden.validatorHotkey);
    });
  });

  describe('signatures', () => {
    const validator = () => sr25519SignerFromSeed(fromHex(golden.validatorSeedHex, 32));

    it('signs and verifies; signatures are randomised but both verify', () => {
      const v = validator();
      const report = sampleReport(v.hotkey);
      const a = signScoreReport(report, v);
      const b = signScoreReport(report, v);
      assert.notEqual(a.signature, b.signature);
      assert.deepEqual(verifySignedScoreReport(a), { ok: true });
      assert.deepEqual(verifySignedScoreReport(b), { ok: true });
    });

    it('every single-bit flip of the signed bytes fails to decode or to verify', function () {
      this.timeout(60_000);
      const signed = fromHex(golden.scoreReport.signedCanonicalHex);
      let decodedButRejected = 0;
      let undecodable = 0;
      for (let bit = 0; bit < signed.length * 8; bit++) {
        const mutated = Uint8Array.from(signed);
        mutated[bit >> 3] ^= 1 << (bit & 7);
        let s: SignedScoreReport;
        try {
          s = decodeSignedScoreReport(mutated);
        } catch (err) {
          assert.ok(err instanceof CodecError, `bit ${bit}: unexpected ${(err as Error).message}`);
          undecodable++;
          continue;
        }
        const v = verifySignedScoreReport(s);
        assert.equal(v.ok, false, `bit ${bit} flipped and the report still verified`);
        decodedButRejected++;
      }
      assert.ok(decodedButRejected > signed.length * 4, 'most flips decode and must be caught by the signature');
      assert.ok(undecodable > 0, 'some flips (version, lengths, order) must be caught by the strict decoder');
    });

    it('a report signed by another hotkey fails, and signing a report naming someone else is refused', () => {
      const v = validator();
      const other = sr25519SignerFromSeed(new Uint8Array(32).fill(0x77));
      const signedByOther = signScoreReport(sampleReport(other.hotkey), other);
      const forged: SignedScoreReport = { report: sampleReport(v.hotkey), signature: signedByOther.signature };
      const r = verifySignedScoreReport(forged);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, /does not verify for validator hotkey/);
      assert.throws(() => signScoreReport(sampleReport(v.hotkey), other), /names validator .* signing hotkey is/);
    });

    it('verifySr25519 returns false (never throws) on garbage', () => {
      const msg = new Uint8Array([1, 2, 3]);
      assert.equal(verifySr25519(msg, new Uint8Array(64), golden.validatorHotkey), false);
      assert.equal(verifySr25519(msg, new Uint8Array(63), golden.validatorHotkey), false);
      assert.equal(verifySr25519(msg, new Uint8Array(64), 'not-an-address'), false);
    });
  });

  describe('strict decoding', () => {
    const canonical = () => fromHex(golden.scoreReport.canonicalHex);

    it('refuses an unknown version', () => {
      const b = canonical();
      b[0] = 2;
      assert.throws(() => decodeScoreReport(b), /unknown version 2/);
      assert.throws(() => encodeScoreReport({ ...golden.scoreReport.report, version: 2 }), /unsupported version 2/);
    });

    it('refuses trailing bytes and truncation', () => {
      const b = canonical();
      const longer = new Uint8Array(b.length + 1);
      longer.set(b);
      assert.throws(() => decodeScoreReport(longer), /1 trailing bytes/);
      assert.throws(() => decodeScoreReport(b.subarray(0, b.length - 1)), /truncated/);
    });

    it('refuses oversize input before parsing', () => {
      assert.throws(() => decodeScoreReport(new Uint8Array(400_000)), /exceed the limit/);
      const w = new Writer().u8(1).u16(1).u64(1).fixed(new Uint8Array(32), 32).fixed(new Uint8Array(32), 32).string('cpu').fixed(new Uint8Array(32), 32).u32(MAX_ENTRIES + 1);
      assert.throws(() => decodeScoreReport(w.finish()), /entries exceed the limit of 4096/);
    });

    it('refuses unsorted and duplicate entries (encode and decode)', () => {
      const r = golden.scoreReport.report as ScoreReport;
      const swapped = { ...r, entries: [r.entries[1], r.entries[0], r.entries[2]] };
      assert.throws(() => encodeScoreReport(swapped), /out of order/);
      const dup = { ...r, entries: [r.entries[0], { ...r.entries[1], uid: 0 }] };
      assert.throws(() => encodeScoreReport(dup), /uid 0 is duplicated/);
      // Same fault injected into canonical bytes: set entry 1's uid to entry 0's.
      const b = canonical();
      const dv = new DataView(b.buffer);
      const hwLen = dv.getUint32(75);
      const e1 = 79 + hwLen + 32 + 4 + 75;
      dv.setUint16(e1, 0);
      assert.throws(() => decodeScoreReport(b), /duplicated/);
    });

    it('refuses non-canonical values: unknown status, non-zero score on a non-scored entry, bad hashes', () => {
      const b = canonical();
      const hwLen = new DataView(b.buffer).getUint32(75);
      const statusAt = 79 + hwLen + 32 + 4 + 74;
      b[statusAt] = 8;
      assert.throws(() => decodeScoreReport(b), /unknown status code 8/);
      const r = golden.scoreReport.report as ScoreReport;
      assert.throws(() => encodeScoreReport({ ...r, entries: [{ ...r.entries[0], status: 'timeout', score: 5 }] }), /must carry score 0/);
      assert.throws(() => encodeScoreReport({ ...r, rosterHash: 'AB'.repeat(32) }), /lowercase hex/);
      assert.throws(() => encodeScoreReport({ ...r, policyHash: 'ab' }), /expected 32 bytes/);
      assert.throws(() => encodeScoreReport({ ...r, entries: [{ ...r.entries[0], score: 1.5 }] }), /score: expected an integer/);
      assert.throws(() => encodeScoreReport({ ...r, hardwareClass: 'gpu h100' }), /hardwareClass/);
      assert.throws(() => encodeScoreReport({ ...r, validatorHotkey: '5Bogus' }), /not a valid SS58 address/);
    });

    it('JSON parsing refuses unknown and missing fields', () => {
      const r = golden.scoreReport.report;
      assert.deepEqual(parseScoreReportJson(structuredClone(r)), r);
      assert.throws(() => parseScoreReportJson({ ...r, extra: 1 }), /unknown field 'extra'/);
      const { issuedAt: _drop, ...missing } = r;
      assert.throws(() => parseScoreReportJson(missing), /missing field 'issuedAt'/);
      assert.throws(() => parseSignedScoreReportJson({ report: r, signature: 'zz' }), /lowercase hex/);
    });
  });

  it('toScore is round(value * 1e6)', () => {
    assert.equal(toScore(0.4213), 421300);
    assert.equal(toScore(0), 0);
    assert.throws(() => toScore(-0.1), /finite number >= 0/);
    assert.throws(() => toScore(Number.NaN), /finite number >= 0/);
  });

  it('property: any valid report round-trips encode → decode → encode byte-identically', () => {
    const hotkeyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => publicKeyToHotkey(b));
    const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex);
    const entryArb = fc.record({
      minerHotkey: hotkeyArb,
      codeSha256: hashArb,
      status: fc.constantFrom(...SCORE_STATUSES),
      score: fc.integer({ min: 0, max: 10_000_000 }),
    });
    const reportArb = fc.record({
      netuid: fc.integer({ min: 0, max: 0xffff }),
      runId: fc.maxSafeNat(),
      rosterHash: hashArb,
      policyHash: hashArb,
      hardwareClass: fc.stringMatching(/^[A-Za-z0-9._:+-]{1,64}$/),
      validatorHotkey: hotkeyArb,
      uids: fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { maxLength: 20 }),
      entries: fc.array(entryArb, { minLength: 20, maxLength: 20 }),
      issuedAt: fc.maxSafeNat(),
    });
    fc.assert(
      fc.property(reportArb, (x) => {
        const uids = [...x.uids].sort((a, b) => a - b);
        const report: ScoreReport = {
          version: 1, netuid: x.netuid, runId: x.runId, rosterHash: x.rosterHash, policyHash: x.policyHash,
          hardwareClass: x.hardwareClass, validatorHotkey: x.validatorHotkey, issuedAt: x.issuedAt,
          entries: uids.map((uid, i) => ({ ...x.entries[i], uid, score: x.entries[i].status === 'scored' ? x.entries[i].score : 0 })),
        };
        const bytes = encodeScoreReport(report);
        const back = decodeScoreReport(bytes);
        assert.deepEqual(back, report);
        assert.deepEqual(encodeScoreReport(back), bytes);
      }),
      { numRuns: 200 },
    );
  });
});
