// Byte-level paths for reports and reveals that skip a full decode: scoreReportHeader, the reveal
// helpers that work on canonical bytes (encodeRevealBytes, decodeRevealWithReport, revealAuthorPublicKey)
// and verifyScoreReportBytes, each checked against the full decode/encode it stands in for. The
// archive's stored-bytes reads are in archive-report-bytes.test.ts.
import assert from 'node:assert/strict';
import { CodecError, toHex } from '../../proto/codec.ts';
import { MAX_ENTRIES, MAX_HARDWARE_CLASS_BYTES, MAX_REPORT_BYTES, MAX_SIGNED_REPORT_BYTES, decodeScoreReport, encodeScoreReport, encodeSignedScoreReport, scoreReportHeader, signScoreReport, verifyScoreReportBytes, type SignedScoreReport } from '../../proto/score-report.ts';
import { MAX_REVEAL_BYTES, decodeReveal, decodeRevealWithReport, encodeReveal, encodeRevealBytes, revealAuthorPublicKey, type Reveal } from '../../proto/reveal.ts';
import { cryptoReady, hotkeyToPublicKey, type Sr25519Signer } from '../../proto/signer.ts';
import { prng } from '../prng.ts';
import { bytes, concat, countAt, hardwareClass, hex32, HW_LEN_AT, int, offsetCopy, pubHex, randomReport, signedReport, signerFromSeed, throwsCodec, u32 } from './report-bytes-fixtures.ts';

describe('foundation: report and reveal bytes without a full decode', () => {
  before(async () => {
    await cryptoReady();
  });

  describe('scoreReportHeader', () => {
    it('agrees with decodeScoreReport on netuid, runId, entry count and author for many random reports', () => {
      const rng = prng(1);
      const seenCounts = new Set<number>();
      const seenHw = new Set<number>();
      for (let i = 0; i < 160; i++) {
        const entries = i === 0 ? 0 : i === 1 ? 300 : i === 2 ? 1 : int(rng, 0, 300);
        const hwLength = i === 0 ? 1 : i === 1 ? 64 : int(rng, 1, MAX_HARDWARE_CLASS_BYTES);
        const report = randomReport(rng, { entries, hwLength });
        const b = encodeScoreReport(report);
        const full = decodeScoreReport(b);
        const h = scoreReportHeader(b);
        assert.deepEqual(h, {
          netuid: full.netuid,
          runId: full.runId,
          entryCount: full.entries.length,
          validatorPublicKey: toHex(hotkeyToPublicKey(full.validatorHotkey)),
        }, `report ${i}`);
        // And against what was encoded, so a decoder bug shared by both cannot hide.
        assert.equal(h.netuid, report.netuid);
        assert.equal(h.runId, report.runId);
        assert.equal(h.entryCount, entries);
        assert.equal(h.validatorPublicKey, pubHex(report.validatorHotkey));
        assert.match(h.validatorPublicKey, /^[0-9a-f]{64}$/);
        // Same answer when the bytes sit at an offset in a larger buffer.
        assert.deepEqual(scoreReportHeader(offsetCopy(b)), h, `report ${i} at an offset`);
        seenCounts.add(entries);
        seenHw.add(hwLength);
      }
      assert.ok(seenCounts.has(0) && seenCounts.has(300), 'covers 0 and 300 entries');
      assert.ok(seenHw.has(1) && seenHw.has(64), 'covers hardware classes of 1 and 64 bytes');
    });

    it('accepts a report of exactly MAX_REPORT_BYTES (MAX_ENTRIES entries, a 64-byte hardware class)', () => {
      const report = randomReport(prng(2), { entries: MAX_ENTRIES, hwLength: MAX_HARDWARE_CLASS_BYTES });
      const b = encodeScoreReport(report);
      assert.equal(b.length, MAX_REPORT_BYTES);
      const h = scoreReportHeader(b);
      assert.equal(h.entryCount, MAX_ENTRIES);
      assert.equal(h.validatorPublicKey, pubHex(report.validatorHotkey));
    });

    it('refuses an unknown version', () => {
      const b = encodeScoreReport(randomReport(prng(3), { entries: 3, hwLength: 10 }));
      for (const v of [0, 2, 255]) {
        const x = Uint8Array.from(b);
        x[0] = v;
        throwsCodec(() => scoreReportHeader(x), new RegExp(`unknown version ${v}\\b`), `version ${v}`);
      }
    });

    it('refuses a hardware class of 0 bytes and of more than 64 bytes', () => {
      const report = randomReport(prng(4), { entries: 2, hwLength: 12 });
      const b = encodeScoreReport(report);
      const afterHw = HW_LEN_AT + 4 + 12;
      // Length 0: the hardware class spliced out, everything else consistent.
      const zero = concat(b.subarray(0, HW_LEN_AT), u32(0), b.subarray(afterHw));
      throwsCodec(() => scoreReportHeader(zero), /hardwareClass: 0 bytes/, 'hardware class of 0 bytes');
      // Length 65: a 65-byte class spliced in (the encoder refuses to write one).
      const long = new TextEncoder().encode('a'.repeat(MAX_HARDWARE_CLASS_BYTES + 1));
      const over = concat(b.subarray(0, HW_LEN_AT), u32(long.length), long, b.subarray(afterHw));
      throwsCodec(() => scoreReportHeader(over), /hardwareClass: 65 bytes/, 'hardware class of 65 bytes');
      // A huge announced length is refused as such, not read.
      const huge = Uint8Array.from(b);
      new DataView(huge.buffer).setUint32(HW_LEN_AT, 0xffffffff);
      throwsCodec(() => scoreReportHeader(huge), /hardwareClass: 4294967295 bytes/, 'hardware class of 2^32-1 bytes');
      // The same splice with 64 bytes is accepted: the bound is exact.
      const max = new TextEncoder().encode('a'.repeat(MAX_HARDWARE_CLASS_BYTES));
      const ok = concat(b.subarray(0, HW_LEN_AT), u32(max.length), max, b.subarray(afterHw));
      assert.equal(scoreReportHeader(ok).entryCount, 2);
    });

    it('refuses an entry count over MAX_ENTRIES', () => {
      const b = encodeScoreReport(randomReport(prng(5), { entries: 4, hwLength: 7 }));
      for (const count of [MAX_ENTRIES + 1, 0xffffffff]) {
        const x = Uint8Array.from(b);
        new DataView(x.buffer).setUint32(countAt(7), count);
        throwsCodec(() => scoreReportHeader(x), new RegExp(`${count} entries exceed the limit of ${MAX_ENTRIES}`), `count ${count}`);
      }
      // An in-range count that does not match the bytes that follow is refused too.
      const x = Uint8Array.from(b);
      new DataView(x.buffer).setUint32(countAt(7), 5);
      throwsCodec(() => scoreReportHeader(x), /5 entries announced/, 'count 5 for 4 entries');
    });

    it('refuses input truncated by one byte, one trailing byte, empty input and input over MAX_REPORT_BYTES', () => {
      const rng = prng(6);
      for (let i = 0; i < 20; i++) {
        const b = encodeScoreReport(randomReport(rng, { entries: int(rng, 0, 40), hwLength: int(rng, 1, 64) }));
        throwsCodec(() => scoreReportHeader(b.subarray(0, b.length - 1)), /truncated|more bytes/, `report ${i} truncated by one byte`);
        throwsCodec(() => scoreReportHeader(concat(b, new Uint8Array([0]))), /more bytes, \d+ left/, `report ${i} with a trailing byte`);
      }
      throwsCodec(() => scoreReportHeader(new Uint8Array(0)), /truncated/, 'empty input');
      throwsCodec(() => scoreReportHeader(new Uint8Array(MAX_REPORT_BYTES + 1)), new RegExp(`${MAX_REPORT_BYTES + 1} bytes exceed the limit of ${MAX_REPORT_BYTES}`), 'oversize input');
      // Every proper prefix of a small report is refused.
      const small = encodeScoreReport(randomReport(rng, { entries: 1, hwLength: 3 }));
      for (let len = 0; len < small.length; len++) {
        assert.throws(() => scoreReportHeader(small.subarray(0, len)), CodecError, `prefix of ${len} bytes`);
      }
    });
  });

  describe('reveals from bytes', () => {
    let signers: Sr25519Signer[];
    let reveals: Reveal[];
    before(() => {
      signers = [0, 1, 2, 3].map(signerFromSeed);
      const rng = prng(7);
      reveals = [];
      for (let i = 0; i < 12; i++) {
        const signed = signedReport(signers[i % signers.length], rng, { entries: i === 0 ? 0 : i === 1 ? 300 : int(rng, 0, 60) });
        reveals.push({ salt: hex32(rng), signed });
      }
    });

    it('encodeRevealBytes gives exactly the bytes of encodeReveal', () => {
      for (const [i, r] of reveals.entries()) {
        const expected = encodeReveal(r);
        const got = encodeRevealBytes(r.salt, encodeSignedScoreReport(r.signed));
        assert.equal(toHex(got), toHex(expected), `reveal ${i}`);
        assert.equal(got.length, 1 + 32 + encodeSignedScoreReport(r.signed).length);
        assert.deepEqual(decodeReveal(got), decodeReveal(expected));
      }
    });

    it('encodeRevealBytes refuses a bad salt and an oversize signed report', () => {
      const signed = encodeSignedScoreReport(reveals[2].signed);
      const good = reveals[2].salt;
      const bad: [string, string][] = [
        [good.slice(0, 62), '31 bytes'],
        [good + 'ab', '33 bytes'],
        ['', 'empty'],
        [good.slice(0, 63), 'odd length'],
        ['zz' + good.slice(2), 'non-hex'],
        [good.toUpperCase(), 'uppercase'],
        ['0x' + good.slice(2), '0x prefix'],
      ];
      for (const [salt, what] of bad) {
        assert.notEqual(salt, good, what);
        throwsCodec(() => encodeRevealBytes(salt, signed), /reveal salt/, `salt ${what}`);
      }
      throwsCodec(() => encodeRevealBytes(good, new Uint8Array(MAX_SIGNED_REPORT_BYTES + 1)), new RegExp(`${MAX_SIGNED_REPORT_BYTES + 1} bytes exceeds the limit`), 'oversize signed report');
      // The limit itself is accepted and fills a reveal of MAX_REVEAL_BYTES.
      assert.equal(encodeRevealBytes(good, new Uint8Array(MAX_SIGNED_REPORT_BYTES)).length, MAX_REVEAL_BYTES);
    });

    it('decodeRevealWithReport hands back the canonical report bytes and the same reveal as decodeReveal', () => {
      for (const [i, r] of reveals.entries()) {
        const b = encodeReveal(r);
        for (const input of [b, offsetCopy(b)]) {
          const { reveal, reportBytes } = decodeRevealWithReport(input);
          assert.equal(toHex(reportBytes), toHex(encodeScoreReport(r.signed.report)), `reveal ${i}: report bytes`);
          assert.deepEqual(reveal, decodeReveal(input), `reveal ${i}`);
          assert.equal(reveal.salt, r.salt);
          assert.equal(reveal.signed.signature, r.signed.signature);
          assert.equal(reportBytes.buffer, input.buffer, 'a view into the input, not a copy');
        }
      }
    });

    it('decodeRevealWithReport throws what decodeReveal throws (truncation, a trailing byte, a bad version)', () => {
      for (const [i, r] of reveals.slice(0, 6).entries()) {
        const b = encodeReveal(r);
        const broken: [Uint8Array, string][] = [
          [b.subarray(0, b.length - 1), 'truncated by one byte'],
          [b.subarray(0, 40), 'truncated to 40 bytes'],
          [new Uint8Array(0), 'empty'],
          [concat(b, new Uint8Array([7])), 'one trailing byte'],
          [concat(new Uint8Array([2]), b.subarray(1)), 'version 2'],
        ];
        for (const [x, what] of broken) {
          let expected: Error | undefined;
          try {
            decodeReveal(x);
          } catch (err) {
            expected = err as Error;
          }
          assert.ok(expected instanceof CodecError, `reveal ${i} ${what}: decodeReveal refuses it`);
          assert.throws(() => decodeRevealWithReport(x), (err: unknown) => err instanceof CodecError && err.message === expected.message, `reveal ${i} ${what}`);
        }
      }
    });

    it('revealAuthorPublicKey returns the author public key', () => {
      for (const [i, r] of reveals.entries()) {
        const b = encodeReveal(r);
        const expected = toHex(signers[i % signers.length].publicKey);
        assert.equal(revealAuthorPublicKey(b), expected, `reveal ${i}`);
        assert.equal(revealAuthorPublicKey(offsetCopy(b)), expected, `reveal ${i} at an offset`);
        assert.equal(expected, pubHex(r.signed.report.validatorHotkey));
      }
      // Different authors give different keys.
      assert.equal(new Set(reveals.map((r) => revealAuthorPublicKey(encodeReveal(r)))).size, signers.length);
    });

    it('revealAuthorPublicKey refuses truncated input, a wrong version byte and a length field that does not match', () => {
      const b = encodeReveal(reveals[3]);
      const n = new DataView(b.buffer, b.byteOffset).getUint32(33);
      assert.equal(n, encodeScoreReport(reveals[3].signed.report).length, 'the length field sits at offset 33');
      throwsCodec(() => revealAuthorPublicKey(new Uint8Array(0)), /truncated \(0 bytes\)/, 'empty');
      throwsCodec(() => revealAuthorPublicKey(b.subarray(0, 36)), /truncated \(36 bytes\)/, '36 bytes');
      throwsCodec(() => revealAuthorPublicKey(b.subarray(0, b.length - 1)), /do not fill/, 'truncated by one byte');
      throwsCodec(() => revealAuthorPublicKey(concat(b, new Uint8Array([0]))), /do not fill/, 'one trailing byte');
      for (const v of [0, 2, 255]) {
        const x = Uint8Array.from(b);
        x[0] = v;
        throwsCodec(() => revealAuthorPublicKey(x), new RegExp(`unknown version ${v}\\b`), `version ${v}`);
      }
      for (const len of [n - 1, n + 1, 0, 0xffffffff]) {
        const x = Uint8Array.from(b);
        new DataView(x.buffer).setUint32(33, len);
        throwsCodec(() => revealAuthorPublicKey(x), new RegExp(`a report of ${len} bytes and a signature do not fill ${b.length - 37} bytes`), `length field ${len}`);
      }
      // A well-framed reveal whose report header is broken is refused by the header check.
      const x = Uint8Array.from(b);
      x[37] = 9; // the report's version byte
      throwsCodec(() => revealAuthorPublicKey(x), /score report: unknown version 9/, 'report version 9');
    });
  });

  describe('verifyScoreReportBytes', () => {
    let signer: Sr25519Signer;
    let other: Sr25519Signer;
    let signed: SignedScoreReport;
    let reportBytes: Uint8Array;
    before(() => {
      signer = signerFromSeed(10);
      other = signerFromSeed(11);
      signed = signedReport(signer, prng(8), { entries: 25 });
      reportBytes = encodeScoreReport(signed.report);
    });

    it('accepts a correctly signed report over its canonical bytes (also as the slice of a reveal)', () => {
      assert.deepEqual(verifyScoreReportBytes(reportBytes, signed.signature, signer.hotkey), { ok: true });
      const { reportBytes: slice } = decodeRevealWithReport(encodeReveal({ salt: hex32(prng(9)), signed }));
      assert.deepEqual(verifyScoreReportBytes(slice, signed.signature, signer.hotkey), { ok: true });
      const rng = prng(12);
      for (let i = 0; i < 5; i++) {
        const s = signedReport(other, rng);
        assert.deepEqual(verifyScoreReportBytes(encodeScoreReport(s.report), s.signature, other.hotkey), { ok: true }, `report ${i}`);
      }
    });

    it('refuses a flipped byte anywhere in the report bytes, with a reason', () => {
      const positions = [0, 1, 5, HW_LEN_AT, countAt(signed.report.hardwareClass.length) - 1, countAt(signed.report.hardwareClass.length) + 10, reportBytes.length - 1];
      const rng = prng(13);
      for (let i = 0; i < 8; i++) positions.push(int(rng, 0, reportBytes.length - 1));
      for (const at of positions) {
        const x = Uint8Array.from(reportBytes);
        x[at] ^= 0x01;
        const v = verifyScoreReportBytes(x, signed.signature, signer.hotkey);
        assert.equal(v.ok, false, `byte ${at} flipped`);
        assert.match((v as { reason: string }).reason, /signature does not verify for validator hotkey/, `byte ${at} flipped`);
      }
      // One byte more or less is another message too.
      assert.equal(verifyScoreReportBytes(reportBytes.subarray(0, reportBytes.length - 1), signed.signature, signer.hotkey).ok, false);
      assert.equal(verifyScoreReportBytes(concat(reportBytes, new Uint8Array([0])), signed.signature, signer.hotkey).ok, false);
    });

    it('refuses another hotkey, with a reason naming it', () => {
      const v = verifyScoreReportBytes(reportBytes, signed.signature, other.hotkey);
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, new RegExp(`does not verify for validator hotkey ${other.hotkey}`));
      // Nor does a hotkey that is not an SS58 address throw.
      const w = verifyScoreReportBytes(reportBytes, signed.signature, 'not-a-hotkey');
      assert.equal(w.ok, false);
    });

    it('refuses a malformed signature hex without throwing', () => {
      const sig = signed.signature;
      const bad: [string, string][] = [
        ['', 'empty'],
        [sig.slice(0, 126), '63 bytes'],
        [sig + '00', '65 bytes'],
        [sig.slice(0, 127), 'odd length'],
        ['zz' + sig.slice(2), 'non-hex'],
        ['0x' + sig.slice(2), '0x prefix'],
        [sig.toUpperCase(), 'uppercase'],
      ];
      for (const [s, what] of bad) {
        assert.notEqual(s, sig, what);
        let v;
        assert.doesNotThrow(() => { v = verifyScoreReportBytes(reportBytes, s, signer.hotkey); }, what);
        assert.equal(v!.ok, false, what);
        assert.match((v! as { reason: string }).reason, /signature: expected/, what);
      }
      // A well-formed signature of another report does not verify either.
      const s2 = signScoreReport({ ...signed.report, issuedAt: signed.report.issuedAt + 1 }, signer).signature;
      const v = verifyScoreReportBytes(reportBytes, s2, signer.hotkey);
      assert.equal(v.ok, false);
      assert.match((v as { reason: string }).reason, /signature does not verify/);
    });
  });
});
