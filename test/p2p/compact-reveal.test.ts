// Compact reports on the wire (proto/reveal-compact.ts, envelope v2 in proto/gossip.ts): the compact
// form is an encoding of the canonical reveal against the run's roster, never a different message.
import assert from 'node:assert/strict';
import { cryptoReady, publicKeyToHotkey } from '../../proto/signer.ts';
import { CodecError, sha256Hex, toHex } from '../../proto/codec.ts';
import { SCORE_STATUSES, signScoreReport, type ScoreEntry, type ScoreReport } from '../../proto/score-report.ts';
import { decodeReveal, encodeReveal } from '../../proto/reveal.ts';
import { rosterHash, type RosterEntry } from '../../proto/roster.ts';
import {
  COMPACT_REVEAL_VERSION, CompactRosters, type CompactRoster, UnknownRosterError, compactReveal, compactRosterOf, expandReveal, revealRosterHash,
} from '../../proto/reveal-compact.ts';
import {
  decodeGossipEnvelope, encodeCompactGossipEnvelope, encodeGossipEnvelope, gossipContentHash, signGossipEnvelope, verifyGossipEnvelope,
} from '../../proto/gossip.ts';
import { Admission } from '../../node/p2p/admission.ts';
import { MessageValidator } from '../../node/p2p/message-validator.ts';
import { Publisher, type PublisherComponents } from '../../node/p2p/publish.ts';
import { boundValidator, type BoundValidator } from './identities.ts';

const NOW = 1_800_000_000_000;
const GENESIS = sha256Hex('compact-test-genesis');
const SCOPE = { genesisHash: GENESIS, netuid: 7 };
const RUN = 720;

/** Deterministic pseudo-random numbers, so that a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

function bytesOf(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

function rosterOf(rand: () => number, n: number): RosterEntry[] {
  const uids = new Set<number>();
  while (uids.size < n) uids.add(Math.floor(rand() * 4096));
  return [...uids].sort((x, y) => x - y).map((uid) => ({
    uid, minerHotkey: publicKeyToHotkey(bytesOf(rand, 32)), codeSha256: toHex(bytesOf(rand, 32)), url: `https://example.org/${uid}.zip`, commitBlock: 100 + uid,
  }));
}

const SCORES = [0, 1, 127, 128, 16_383, 16_384, 421_300, 2 ** 32, 2 ** 49, Number.MAX_SAFE_INTEGER];

/** A report over `roster` as a validator writes it, with some entries that differ from the roster (other code, other key, a uid it does not list). */
function reportOver(rand: () => number, roster: RosterEntry[], hotkey: string, hashOf = rosterHash(roster)): ScoreReport {
  const entries: ScoreEntry[] = [];
  for (const e of roster) {
    const r = rand();
    const status = SCORE_STATUSES[Math.floor(rand() * SCORE_STATUSES.length)];
    const score = status === 'scored' ? SCORES[Math.floor(rand() * SCORES.length)] : 0;
    if (r < 0.05) continue; // the validator left this uid out
    const codeSha256 = r < 0.1 ? toHex(bytesOf(rand, 32)) : e.codeSha256;
    const minerHotkey = r >= 0.1 && r < 0.15 ? publicKeyToHotkey(bytesOf(rand, 32)) : e.minerHotkey;
    entries.push({ uid: e.uid, minerHotkey, codeSha256, score, status });
  }
  const free = Array.from({ length: 4096 }, (_, i) => i).filter((u) => !roster.some((e) => e.uid === u));
  if (rand() < 0.5 && free.length) {
    const uid = free[Math.floor(rand() * free.length)];
    entries.push({ uid, minerHotkey: publicKeyToHotkey(bytesOf(rand, 32)), codeSha256: toHex(bytesOf(rand, 32)), score: 3, status: 'scored' });
    entries.sort((x, y) => x.uid - y.uid);
  }
  const hw = 'h100:sxm5.80gb'.slice(0, 1 + Math.floor(rand() * 14));
  return { version: 1, netuid: 7, runId: RUN, rosterHash: hashOf, policyHash: toHex(bytesOf(rand, 32)), hardwareClass: hw, validatorHotkey: hotkey, entries, issuedAt: NOW };
}

type V = BoundValidator;
const validator = (): V => boundValidator(SCOPE, NOW);

describe('compact reports (proto/reveal-compact.ts, gossip envelope v2)', () => {
  let v: V;
  before(async () => {
    await cryptoReady();
    v = validator();
  });

  /** A reveal signed by `v` over a seeded random roster of `n` miners (report seeded `seed + 1`), and that roster in compact form. */
  function revealOver(seed: number, n: number): { dict: CompactRoster; reveal: Uint8Array } {
    const roster = rosterOf(prng(seed), n);
    const reveal = encodeReveal({ salt: sha256Hex('s'), signed: signScoreReport(reportOver(prng(seed + 1), roster, v.hot.hotkey), v.hot) });
    return { dict: compactRosterOf(roster), reveal };
  }

  it('expanding the compact form gives the canonical reveal byte for byte, over random rosters and reports', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rand = prng(seed);
      const roster = rosterOf(rand, Math.floor(rand() * 300));
      const dict = compactRosterOf(roster);
      const report = reportOver(rand, roster, v.hot.hotkey);
      const reveal = encodeReveal({ salt: toHex(bytesOf(rand, 32)), signed: signScoreReport(report, v.hot) });
      const compact = compactReveal(reveal, dict);
      assert.equal(compact[0], COMPACT_REVEAL_VERSION);
      assert.ok(compact.length <= reveal.length, `seed ${seed}: compact is never longer`);
      assert.deepEqual(expandReveal(compact, (h) => (h === dict.hash ? dict : undefined)), reveal, `seed ${seed}`);
      assert.equal(revealRosterHash(reveal), dict.hash);
    }
  });

  it('leaves out only what the roster holds: a full roster of 256 shrinks ~8x, an entry that differs from the roster travels whole', () => {
    const rand = prng(7);
    const roster = rosterOf(rand, 256);
    const dict = compactRosterOf(roster);
    const entries: ScoreEntry[] = roster.map((e, i) => ({ uid: e.uid, minerHotkey: e.minerHotkey, codeSha256: e.codeSha256, score: 400_000 + i, status: 'scored' }));
    const other = toHex(bytesOf(rand, 32));
    entries[10] = { ...entries[10], codeSha256: other }; // this validator fetched different code for uid entries[10].uid
    const report: ScoreReport = { version: 1, netuid: 7, runId: RUN, rosterHash: dict.hash, policyHash: sha256Hex('p'), hardwareClass: 'cpu', validatorHotkey: v.hot.hotkey, entries, issuedAt: NOW };
    const reveal = encodeReveal({ salt: sha256Hex('s'), signed: signScoreReport(report, v.hot) });
    const compact = compactReveal(reveal, dict);
    assert.ok(compact.length * 8 < reveal.length, `${compact.length} bytes vs ${reveal.length}`);
    const back = decodeReveal(expandReveal(compact, () => dict));
    assert.equal(back.signed.report.entries[10].codeSha256, other, 'the claimed code hash, not the roster\'s');
    assert.equal(back.signed.report.entries[11].codeSha256, roster[11].codeSha256);
    // compacted against another roster than the report names: nothing is left out, still exact
    const foreign = compactRosterOf(rosterOf(prng(8), 256));
    const full = compactReveal(reveal, foreign);
    assert.ok(full.length > reveal.length - 256 * 8, 'every key and code hash carried');
    assert.deepEqual(expandReveal(full, () => dict), reveal);
  });

  it('refuses what it cannot expand: an unknown roster (UnknownRosterError), a left-out uid the roster lacks, and malformed frames (CodecError)', () => {
    const { dict, reveal } = revealOver(11, 40);
    const compact = compactReveal(reveal, dict);
    assert.throws(() => expandReveal(compact, () => undefined), UnknownRosterError);
    // the same frame against a lookup under the same hash that lacks the left-out uids: refused, not filled with zeros
    const fewer = { hash: dict.hash, entries: new Map<number, Uint8Array>() };
    assert.throws(() => expandReveal(compact, () => fewer), (e: unknown) => e instanceof CodecError && /left out, but roster/.test(e.message));
    assert.throws(() => expandReveal(compact.subarray(0, compact.length - 1), () => dict), CodecError);
    assert.throws(() => expandReveal(Uint8Array.from([...compact, 0]), () => dict), /trailing/);
    const v2 = Uint8Array.from(compact);
    v2[0] = 9;
    assert.throws(() => expandReveal(v2, () => dict), /unknown version 9/);
  });

  it('score varints are minimal and at most 2^53-1', () => {
    const roster = rosterOf(prng(3), 1);
    const dict = compactRosterOf(roster);
    const report: ScoreReport = { version: 1, netuid: 7, runId: RUN, rosterHash: dict.hash, policyHash: sha256Hex('p'), hardwareClass: 'cpu', validatorHotkey: v.hot.hotkey, entries: [{ uid: roster[0].uid, minerHotkey: roster[0].minerHotkey, codeSha256: roster[0].codeSha256, score: 5, status: 'scored' }], issuedAt: NOW };
    const compact = compactReveal(encodeReveal({ salt: sha256Hex('s'), signed: signScoreReport(report, v.hot) }), dict);
    const tail = 8 + 64; // issuedAt + signature
    const at = compact.length - tail - 1; // the one-byte varint of score 5
    assert.equal(compact[at], 5);
    const splice = (bytes: number[]) => Uint8Array.from([...compact.subarray(0, at), ...bytes, ...compact.subarray(at + 1)]);
    assert.throws(() => expandReveal(splice([0x85, 0x00]), () => dict), /not minimal/);
    assert.throws(() => expandReveal(splice([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), () => dict), /longer than 8 bytes/);
    assert.throws(() => expandReveal(splice([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]), () => dict), /exceeds 2\^53-1/);
    assert.equal(decodeReveal(expandReveal(splice([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]), () => dict)).signed.report.entries[0].score, Number.MAX_SAFE_INTEGER);
  });

  it('mutated compact frames fail only with CodecError or UnknownRosterError, and never expand past the reveal limit', () => {
    const { dict, reveal } = revealOver(21, 64);
    const rand = prng(23);
    const compact = compactReveal(reveal, dict);
    let expanded = 0;
    for (let i = 0; i < 3000; i++) {
      const m = Uint8Array.from(compact);
      for (let k = 0, n = 1 + Math.floor(rand() * 3); k < n; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      const cut = rand() < 0.2 ? m.subarray(0, Math.floor(rand() * m.length)) : m;
      try {
        const out = expandReveal(cut, (h) => (h === dict.hash ? dict : undefined));
        expanded++;
        assert.ok(out.length <= 1 + 32 + 4 + 300_000 + 64);
      } catch (err) {
        assert.ok(err instanceof CodecError || err instanceof UnknownRosterError, `unexpected ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    assert.ok(expanded > 0, 'some mutations (scores, statuses) still expand: the signatures are what refuse them');
  });

  it('envelope v2 is the v1 envelope re-encoded: same signature, same content hash, refused for other kinds', () => {
    const { dict, reveal } = revealOver(31, 100);
    const signed = signGossipEnvelope({ version: 1, kind: 'report', netuid: 7, runId: RUN, issuedAt: NOW, payload: reveal }, v.node);
    const v1 = encodeGossipEnvelope(signed);
    const v2 = encodeCompactGossipEnvelope(signed, dict);
    assert.equal(v2[0], 2);
    assert.ok(v2.length < v1.length / 2);
    const back = decodeGossipEnvelope(v2, (h) => (h === dict.hash ? dict : undefined));
    assert.ok(verifyGossipEnvelope(back));
    assert.deepEqual(encodeGossipEnvelope(back), v1);
    assert.equal(gossipContentHash(back), gossipContentHash(signed));
    assert.throws(() => decodeGossipEnvelope(v2), UnknownRosterError, 'no rosters: not decodable here');
    const consensus = encodeGossipEnvelope(signGossipEnvelope({ version: 1, kind: 'consensus', netuid: 7, runId: RUN, issuedAt: NOW, payload: Uint8Array.of(1, 2) }, v.node));
    consensus[0] = 2;
    assert.throws(() => decodeGossipEnvelope(consensus, () => dict), /only reports have a compact form/);
    assert.throws(() => encodeCompactGossipEnvelope({ ...signed, kind: 'consensus' }, dict), /only reports/);
  });

  it('CompactRosters keeps the newest rosters up to its cap; adding one again makes it newest', () => {
    const rosters = new CompactRosters(2);
    const [r1, r2, r3] = [1, 2, 3].map((k) => compactRosterOf(rosterOf(prng(50 + k), 3)));
    rosters.add(r1);
    rosters.add(r2);
    rosters.add(r1);
    rosters.add(r3);
    assert.deepEqual([r1, r2, r3].map((r) => rosters.has(r.hash)), [true, false, true]);
    assert.equal(rosters.get(r3.hash), r3);
  });

  describe('in the mesh (message-validator.ts, publish.ts)', () => {
    let dict: CompactRoster;
    let reveal: Uint8Array;
    let adm: Admission;

    beforeEach(() => {
      ({ dict, reveal } = revealOver(41, 128));
      adm = new Admission(SCOPE);
      adm.setValidatorSet([{ hotkey: v.hot.hotkey, stake: 10n }], NOW);
      adm.consider(v.binding, NOW);
    });

    function validatorWith(rosters?: CompactRosters): MessageValidator {
      const val = new MessageValidator(adm, { netuid: 7, freshnessMs: 60_000, ...(rosters ? { rosters: (h: string) => rosters.get(h) } : {}) });
      val.setCurrentRun(RUN);
      return val;
    }

    it('accepts a compact report against the roster it names, as the canonical envelope under the canonical content hash; without that roster it is ignored, not struck', () => {
      const signed = signGossipEnvelope({ version: 1, kind: 'report', netuid: 7, runId: RUN, issuedAt: NOW, payload: reveal }, v.node);
      const v1 = encodeGossipEnvelope(signed);
      const v2 = encodeCompactGossipEnvelope(signed, dict);
      const rosters = new CompactRosters();
      rosters.add(dict);
      const val = validatorWith(rosters);
      const got = val.check(v2, { nowMs: NOW, via: 'gossip', expectKind: 'report' });
      assert.equal(got.action, 'accept');
      if (got.action !== 'accept') return;
      assert.deepEqual(got.bytes, v1, 'what is stored and served is the v1 envelope');
      assert.equal(got.hash, sha256Hex(reveal));
      assert.deepEqual(encodeReveal(got.reveal!), reveal);
      val.markDelivered(got.hash, NOW);
      const again = val.check(v1, { nowMs: NOW, via: 'fetch' });
      assert.deepEqual(again.action === 'accept' ? 'accept' : [again.action, again.reason], ['ignore', 'duplicate'], 'v1 and v2 of one reveal are one content');

      const without = validatorWith();
      const no = without.check(v2, { nowMs: NOW, via: 'gossip', expectKind: 'report' });
      assert.deepEqual(no.action === 'accept' ? 'accept' : [no.action, no.reason, no.strike], ['ignore', 'unknown-roster', false]);
      assert.equal(without.check(v1, { nowMs: NOW, via: 'fetch' }).action, 'accept', 'the canonical envelope, fetched by hash, still counts');
    });

    it('a compact frame altered in transit (another score, another code hash in place of a left-out one) fails the envelope signature: a strike', () => {
      const signed = signGossipEnvelope({ version: 1, kind: 'report', netuid: 7, runId: RUN, issuedAt: NOW, payload: reveal }, v.node);
      const rosters = new CompactRosters();
      rosters.add(dict);
      const val = validatorWith(rosters);
      const report = decodeReveal(reveal).signed.report;
      const forged = { ...report, entries: report.entries.map((e, i) => (i === 3 ? { ...e, score: e.status === 'scored' ? e.score + 1 : 0, status: 'scored' as const } : e)) };
      const wire = encodeCompactGossipEnvelope({ ...signed, payload: encodeReveal({ salt: sha256Hex('s'), signed: { report: forged, signature: decodeReveal(reveal).signed.signature } }) }, dict);
      const got = val.check(wire, { nowMs: NOW, via: 'gossip', expectKind: 'report' });
      assert.deepEqual(got.action === 'accept' ? 'accept' : [got.action, got.reason, got.strike], ['reject', 'bad-signature', true]);
    });

    it('the publisher sends a report compact when it holds the roster, stores the v1 envelope, and sends v1 otherwise', async () => {
      const rosters = new CompactRosters();
      const sent: Uint8Array[] = [];
      const stored = new Map<string, Uint8Array>();
      const components = {
        now: () => NOW,
        signer: v.node,
        host: { pubsub: { getSubscribers: () => [{ toString: () => 'A' }], publish: async (_t: string, data: Uint8Array) => { sent.push(data); return { recipients: [{ toString: () => 'A' }] }; } } },
        validator: { markDelivered: () => true, runAccepted: () => true, runs: () => ({ current: RUN, previous: null }) },
        store: { putEnvelope: (hash: string, bytes: Uint8Array) => { stored.set(hash, bytes); } },
        members: { isAdmitted: () => true },
        rosters: (h: string) => rosters.get(h),
      } as unknown as PublisherComponents;
      const publisher = new Publisher({ netuid: 7, publishWaitMs: 1000, publishRetryMs: 60_000 }, components);
      const first = await publisher.publishReport(reveal);
      assert.equal(sent[0][0], 1, 'roster not held: as signed');
      rosters.add(dict);
      const other = encodeReveal({ salt: sha256Hex('t'), signed: decodeReveal(reveal).signed });
      const second = await publisher.publishReport(other);
      assert.equal(sent[1][0], 2, 'roster held: compact');
      assert.ok(sent[1].length < sent[0].length / 2);
      assert.equal(stored.get(second.hash)![0], 1, 'stored as v1: fetchers get the canonical envelope');
      assert.deepEqual(decodeGossipEnvelope(sent[1], (h) => rosters.get(h)), decodeGossipEnvelope(stored.get(second.hash)!));
      assert.notEqual(first.hash, second.hash);
      assert.equal(publisher.metrics().publishedCompact, 1);
    });
  });
});
