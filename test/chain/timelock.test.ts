// Commit-reveal v4 wire format against the vectors of ../shared/chain/commit-reveal-v4.md: drand quicknet
// round signatures (BLS check), the tle round trip for round 1000, the arkworks byte layout and its
// length, the SCALE payload example, a wrong round failing, and the reveal-block vectors.
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { QUICKNET, revealRoundAt, latestRoundAt } from '../../node/chain/timelock/drand.ts';
import { tleEncrypt, tleDecrypt, deserialize, verifyRoundSignature, signRound, beaconPublicKey, TimelockError, TLE_OVERHEAD } from '../../node/chain/timelock/tle.ts';
import { encodeWeightsPayload, decodeWeightsPayload } from '../../node/chain/timelock/payload.ts';
import { commitTiming, epochAt, runStart, nextEpochAt, step, shouldRun, EpochScheduleError, type EpochSchedule } from '../../node/chain/epoch-schedule.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// drand quicknet rounds 1000..1003 (public beacon data; see commit-reveal-v4.md §6)
const SIG: Record<number, string> = {
  1000: 'b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39',
  1001: 'b33bf3667cbd5a82de3a24b4e0e9fe5513cc1a0e840368c6e31f5fcfa79bea03f73896b25883abf2853d10337fb8fa41',
  1002: 'ab066f9c12dd6de1336fca0f925192fb0c72a771c3e4c82ede1fd362c1a770f9eb05843c6308ce2530b53a99c0281a6e',
  1003: 'b104c82771698f45fd8dcfead083d482694c31ab519bcef077f126f3736fe98c8392fd5d45d88aeb76b56ccfcb0296d7',
};

describe('chain: drand quicknet and tle timelock encryption', function () {
  this.timeout(60_000);

  it('verifies the real quicknet signatures of rounds 1000-1003, and refuses a signature for another round', () => {
    for (const [round, sig] of Object.entries(SIG)) assert.equal(verifyRoundSignature(Number(round), hex(sig), QUICKNET.publicKey), true, `round ${round}`);
    assert.equal(verifyRoundSignature(1001, hex(SIG[1000]), QUICKNET.publicKey), false);
    assert.equal(toHex(sha256(hex(SIG[1000]))), 'fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd', 'randomness = sha256(sigma)');
  });

  it('encrypts for round 1000 and opens with the round-1000 signature (hotkey payload, the SDK example bytes)', () => {
    const payload = encodeWeightsPayload({ hotkey: new Uint8Array(32).fill(7), uids: [0, 3, 7], values: [65535, 1000, 20], versionKey: 42n });
    assert.equal(toHex(payload), '80' + '07'.repeat(32) + '0c000003000700' + '0cffffe8031400' + '2a00000000000000');
    const ct = tleEncrypt(payload, 1000, QUICKNET.publicKey);
    assert.equal(ct.length, payload.length + TLE_OVERHEAD);
    assert.deepEqual(tleDecrypt(ct, hex(SIG[1000])), payload);
  });

  it('lays the ciphertext out as arkworks does: U(96) ‖ vec(V) ‖ vec(W) ‖ vec(vec(body) ‖ vec(nonce)) ‖ vec("AES_GCM_")', () => {
    let counter = 0;
    const rng = (n: number) => Uint8Array.from({ length: n }, () => counter++ & 255);
    const msg = new Uint8Array(59).fill(0xab); // the size of the 303-byte finney commit's payload
    const ct = tleEncrypt(msg, 1000, QUICKNET.publicKey, rng);
    assert.equal(ct.length, 303, 'a 59-byte payload gives the 303-byte commit seen on finney');
    const le64 = (o: number) => Number(Buffer.from(ct.subarray(o, o + 8)).readBigUInt64LE());
    assert.equal(ct[0] >> 5, 0b100, 'U is a compressed, non-infinity G2 point (zcash flags)');
    assert.equal(le64(96), 32); // V
    assert.equal(le64(96 + 40), 32); // W
    const bodyLen = le64(96 + 80);
    assert.equal(bodyLen, 8 + 59 + 16 + 8 + 12);
    assert.equal(le64(96 + 88), 59 + 16); // AES-GCM ciphertext + tag
    assert.equal(le64(96 + 88 + 8 + 75), 12); // nonce
    const nonceAt = 96 + 88 + 8 + 75 + 8;
    assert.deepEqual([...ct.subarray(nonceAt, nonceAt + 12)], [...Array(12).keys()].map((i) => 64 + i), 'the nonce is the third draw of the rng, after esk and sigma');
    assert.equal(le64(nonceAt + 12), 8);
    assert.equal(Buffer.from(ct.subarray(ct.length - 8)).toString(), 'AES_GCM_');
    const parsed = deserialize(ct);
    assert.equal(parsed.body.length, 75);
    // deterministic for a given rng: the same bytes twice
    counter = 0;
    assert.deepEqual(tleEncrypt(msg, 1000, QUICKNET.publicKey, rng), ct);
  });

  it('a wrong round fails at the U check; a tampered body fails authentication; malformed bytes are refused', () => {
    const ct = tleEncrypt(new Uint8Array([1, 2, 3]), 1000, QUICKNET.publicKey);
    assert.throws(() => tleDecrypt(ct, hex(SIG[1001])), (e: unknown) => e instanceof TimelockError && /does not open/.test((e as Error).message));
    const ct1001 = tleEncrypt(new Uint8Array([1, 2, 3]), 1001, QUICKNET.publicKey);
    assert.throws(() => tleDecrypt(ct1001, hex(SIG[1000])), /does not open/);
    assert.deepEqual(tleDecrypt(ct1001, hex(SIG[1001])), new Uint8Array([1, 2, 3]));
    const bad = ct.slice();
    bad[96 + 88 + 8 + 1] ^= 1; // inside the AES body
    assert.throws(() => tleDecrypt(bad, hex(SIG[1000])), /authentication failed/);
    assert.throws(() => deserialize(ct.subarray(0, ct.length - 1)), /truncated/);
    assert.throws(() => deserialize(new Uint8Array([...ct, 0])), /trailing/);
  });

  it('a dev beacon (own secret key) signs rounds that verify and open ciphertexts, like quicknet', () => {
    const sk = sha256(new TextEncoder().encode('test beacon'));
    sk[0] &= 0x3f; // below the group order
    const pk = beaconPublicKey(sk);
    const sig = signRound(77, sk);
    assert.equal(verifyRoundSignature(77, sig, pk), true);
    assert.equal(verifyRoundSignature(78, sig, pk), false);
    const ct = tleEncrypt(new Uint8Array([9]), 77, pk);
    assert.deepEqual(tleDecrypt(ct, sig), new Uint8Array([9]));
  });

  it('decodes payloads as the chain does: hotkey form checked against the committer, legacy form as fallback', () => {
    const me = new Uint8Array(32).fill(1);
    const other = new Uint8Array(32).fill(2);
    const cur = encodeWeightsPayload({ hotkey: me, uids: [1, 2], values: [10, 65535], versionKey: 5n });
    const ok = decodeWeightsPayload(cur, me);
    assert.ok(ok.ok);
    assert.deepEqual(ok.ok && ok.payload.uids, [1, 2]);
    assert.deepEqual(decodeWeightsPayload(cur, other), { ok: false, reason: 'hotkey mismatch in payload' });
    const legacy = encodeWeightsPayload({ uids: [4], values: [65535], versionKey: 0n });
    const l = decodeWeightsPayload(legacy, other);
    assert.ok(l.ok && l.payload.hotkey === undefined && l.payload.uids[0] === 4);
    assert.equal(decodeWeightsPayload(new Uint8Array([0xff]), me).ok, false);
  });

  it('reveal rounds follow the SDK rule against the beacon clock', () => {
    assert.equal(revealRoundAt(QUICKNET, QUICKNET.genesisTime + 3000), 1000);
    assert.equal(revealRoundAt(QUICKNET, 0), 1);
    assert.equal(latestRoundAt(QUICKNET, QUICKNET.genesisTime), 1);
    assert.equal(latestRoundAt(QUICKNET, QUICKNET.genesisTime + 2997), 1000);
  });
});

describe('chain: epoch schedule (stateful, spec >= 423, and legacy)', () => {
  const st = (o: Partial<Extract<EpochSchedule, { model: 'stateful' }>>): EpochSchedule => ({ model: 'stateful', netuid: 1, block: 0, tempo: 50, lastEpochBlock: 0, pendingEpochAt: 0, subnetEpochIndex: 0, blocksSinceLastStep: 0, ...o });

  it('reveal-block vectors of bittensor-drand', () => {
    assert.equal(commitTiming(st({ lastEpochBlock: 10, tempo: 50, block: 10 }), 1).firstRevealBlock, 60);
    assert.equal(commitTiming(st({ lastEpochBlock: 80, pendingEpochAt: 95, tempo: 20, block: 91 }), 1).firstRevealBlock, 95);
    assert.throws(() => commitTiming(st({ tempo: 0, block: 10 }), 1), EpochScheduleError);
    assert.equal(commitTiming(st({ lastEpochBlock: 100, tempo: 50, block: 120 }), 1).commitEpoch, 0);
  });

  it('a commit in the firing block belongs to the new epoch; reveal period 2 skips one more epoch', () => {
    const s = st({ lastEpochBlock: 100, tempo: 50, subnetEpochIndex: 7, block: 149 });
    const t = commitTiming(s, 1);
    assert.deepEqual(t, { commitBlock: 150, commitEpoch: 8, revealEpoch: 9, firstRevealBlock: 200 });
    assert.equal(commitTiming(s, 2).firstRevealBlock, 250);
  });

  it('stepping the state reproduces the chain: index, last block, pending cleared, blocks since last step', () => {
    let s = st({ lastEpochBlock: 0, tempo: 3, pendingEpochAt: 2 }) as Extract<EpochSchedule, { model: 'stateful' }>;
    const fired: number[] = [];
    for (let b = 1; b <= 10; b++) {
      const before = s.subnetEpochIndex;
      assert.equal(epochAt(s, b), before + (shouldRun(s, b) ? 1 : 0));
      s = { ...s, ...step(s, b) };
      if (s.subnetEpochIndex > before) fired.push(b);
    }
    assert.deepEqual(fired, [2, 5, 8]);
    assert.equal(s.pendingEpochAt, 0);
    assert.equal(s.blocksSinceLastStep, 2);
  });

  it('run keying: stateful runs start at LastEpochBlock; legacy at the modulo boundary; a young legacy chain has no run yet', () => {
    assert.equal(runStart(st({ lastEpochBlock: 340, block: 351 })), 340);
    assert.equal(nextEpochAt(st({ lastEpochBlock: 340, tempo: 50, pendingEpochAt: 360 })), 360);
    assert.equal(nextEpochAt(st({ lastEpochBlock: 340, tempo: 50 })), 390);
    const legacy = (block: number): EpochSchedule => ({ model: 'legacy', netuid: 1, block, tempo: 20 });
    assert.equal(runStart(legacy(5)), null, 'block 5 < first boundary 19: no epoch yet');
    assert.equal(runStart(legacy(19)), 19);
    assert.equal(runStart(legacy(30)), 19);
    assert.equal(runStart(legacy(40)), 40);
    assert.equal(nextEpochAt(legacy(30)), 40);
    // legacy reveal: epoch index (h + 1 + netuid + 1) div (tempo + 1), first block of the reveal epoch
    assert.deepEqual(commitTiming(legacy(30), 1), { commitBlock: 31, commitEpoch: 1, revealEpoch: 2, firstRevealBlock: 40 });
  });
});

describe('chain: reveal round choice', () => {
  it('finney-like chains (12 s blocks) get the SDK round; fast chains never a round published before the reveal epoch', async () => {
    const { revealRoundFor } = await import('../../node/chain/commit-reveal.ts');
    const g = QUICKNET.genesisTime;
    // 12 s blocks: head at t0, first reveal 100 blocks later: SDK round for t0 + 103 × 12 s
    const t0 = (g + 30_000) * 1000;
    const r = revealRoundFor(QUICKNET, t0, 1000, 1100, 12_000, 360);
    assert.deepEqual(r, { ok: true, round: revealRoundAt(QUICKNET, g + 30_000 + 103 * 12) });
    // 250 ms blocks: the SDK round (3 blocks = 0.75 s margin) would be published 2+ s before the reveal block
    const fast = revealRoundFor(QUICKNET, t0, 1000, 1100, 250, 30);
    assert.ok(fast.ok);
    const publishedAt = g + ((fast.ok ? fast.round : 0) - 1) * 3;
    assert.ok(publishedAt >= g + 30_000 + 25, `published at ${publishedAt}, reveal epoch starts at ${g + 30_000 + 25}`);
    assert.ok(publishedAt < g + 30_000 + 25 + 3);
    // an epoch shorter than the drand period cannot be served
    const tooShort = revealRoundFor(QUICKNET, t0, 1000, 1100, 250, 4);
    assert.equal(tooShort.ok, false);
    assert.match(!tooShort.ok ? tooShort.reason : '', /expire unrevealed/);
  });
});
