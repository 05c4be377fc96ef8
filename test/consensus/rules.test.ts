// Hand-checked numbers for the pure decision rules: median, quorum, aggregation, winner, burn split, hold.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { weightedLowerMedian } from '../../consensus/median.ts';
import { buildValidatorSet, checkThreshold, meetsThreshold, parseThreshold, proposerIndex, ConsensusConfigError, type Neuron } from '../../consensus/validator-set.ts';
import { incumbentFromDecision, incumbentFromWeights } from '../../consensus/incumbent.ts';
import type { Decision } from '../../proto/consensus.ts';
import { aggregateScores, reportMismatch, type RosterSlot, type RunContext } from '../../consensus/aggregate.ts';
import { chooseWinner, weightsFor, DEFAULT_WINNER_POLICY, checkWinnerPolicy } from '../../consensus/winner.ts';
import { computeDecision } from '../../consensus/decision.ts';
import type { ScoreEntry, ScoreReport, ScoreStatus } from '../../proto/score-report.ts';

const T23 = { num: 2, den: 3 };
const hk = (i: number) => `hotkey-${i}`;

function report(validator: number, entries: [uid: number, score: number, status?: ScoreStatus][], ctx?: Partial<RunContext>): ScoreReport {
  return {
    version: 1,
    netuid: 7,
    runId: 100,
    rosterHash: 'a'.repeat(64),
    policyHash: 'b'.repeat(64),
    hardwareClass: 'H100',
    ...ctx,
    validatorHotkey: hk(validator),
    entries: entries.map(([uid, score, status]) => ({ uid, minerHotkey: `m${uid}`, codeSha256: 'c'.repeat(64), score, status: status ?? 'scored' }) as ScoreEntry),
    issuedAt: 0,
  };
}

describe('consensus rules', () => {
  describe('weighted lower median', () => {
    it('picks the first value whose cumulative weight reaches half', () => {
      assert.equal(weightedLowerMedian([{ value: 10, weight: 1n }, { value: 20, weight: 1n }, { value: 30, weight: 1n }]), 20);
      // cum 1,2 of 4: 2*2 >= 4 at 20 (lower median; 30 carries exactly half).
      assert.equal(weightedLowerMedian([{ value: 30, weight: 2n }, { value: 10, weight: 1n }, { value: 20, weight: 1n }]), 20);
      // a heavy vote dominates: 5 of 7 on 30.
      assert.equal(weightedLowerMedian([{ value: 10, weight: 1n }, { value: 20, weight: 1n }, { value: 30, weight: 5n }]), 30);
      // even split: lower of the two.
      assert.equal(weightedLowerMedian([{ value: 7, weight: 3n }, { value: 9, weight: 3n }]), 7);
      assert.equal(weightedLowerMedian([]), null);
      assert.equal(weightedLowerMedian([{ value: 5, weight: 0n }]), null);
    });

    it('stays within the honest range whenever dishonest weight < 1/2 (property)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ value: fc.integer({ min: 0, max: 1_000_000 }), weight: fc.bigInt({ min: 1n, max: 10n ** 12n }) }), { minLength: 1, maxLength: 20 }),
          fc.array(fc.record({ value: fc.integer({ min: 0, max: 1_000_000 }), weight: fc.bigInt({ min: 1n, max: 10n ** 12n }) }), { maxLength: 20 }),
          (honest, dishonest) => {
            const hw = honest.reduce((s, v) => s + v.weight, 0n);
            const dw = dishonest.reduce((s, v) => s + v.weight, 0n);
            fc.pre(2n * dw < hw + dw);
            const m = weightedLowerMedian([...honest, ...dishonest])!;
            const values = honest.map((v) => v.value);
            return m >= Math.min(...values) && m <= Math.max(...values);
          },
        ),
        { numRuns: 300 },
      );
    });
  });

  describe('validator set and quorum', () => {
    const neurons: Neuron[] = [
      { uid: 5, hotkey: hk(5), stake: 300n, validatorPermit: true },
      { uid: 1, hotkey: hk(1), stake: 100n, validatorPermit: true },
      { uid: 2, hotkey: hk(2), stake: 50n, validatorPermit: true },
      { uid: 3, hotkey: hk(3), stake: 1000n, validatorPermit: false },
    ];

    it('keeps permitted validators with stake >= min_stake, sorted by uid', () => {
      const set = buildValidatorSet(neurons, { minStake: 100n });
      assert.deepEqual(set.members.map((m) => m.uid), [1, 5]);
      assert.equal(set.totalStake, 400n);
    });

    it('refuses duplicate uids and hotkeys', () => {
      assert.throws(() => buildValidatorSet([...neurons, { uid: 5, hotkey: 'x', stake: 1n, validatorPermit: true }]), /uid 5 appears twice/);
      assert.throws(() => buildValidatorSet([...neurons, { uid: 9, hotkey: hk(1), stake: 1n, validatorPermit: true }]), /appears twice/);
    });

    it('needs strictly more than the threshold', () => {
      assert.equal(meetsThreshold(200n, 300n, T23), false); // exactly 2/3
      assert.equal(meetsThreshold(201n, 300n, T23), true);
      assert.equal(meetsThreshold(3n, 4n, T23), true);
      assert.equal(meetsThreshold(1n, 2n, { num: 1, den: 2 }), false);
      assert.equal(meetsThreshold(0n, 0n, T23), false);
    });

    it('refuses thresholds below 1/2 and parses fractions', () => {
      assert.throws(() => checkThreshold({ num: 2, den: 5 }), ConsensusConfigError);
      assert.throws(() => checkThreshold({ num: 3, den: 3 }), /below 1/);
      assert.deepEqual(parseThreshold('1/2'), { num: 1, den: 2 });
      assert.throws(() => parseThreshold('0.6'), /fraction like 2\/3/);
    });

    it('every member proposes once in n views; the order moves with the seed block hash', () => {
      const seed = 'ab'.repeat(32);
      const order = [0, 1, 2, 3].map((v) => proposerIndex(4, 720, v, seed));
      assert.deepEqual([...order].sort(), [0, 1, 2, 3]);
      assert.equal(proposerIndex(4, 720, 4, seed), order[0]);
      // run ids are multiples of the tempo: the first proposer must still move between runs and seeds.
      const starts = new Set(Array.from({ length: 20 }, (_, k) => proposerIndex(10, 360 * k, 0, seed)));
      assert.ok(starts.size >= 5, `only ${starts.size} distinct proposers over 20 runs`);
      const bySeed = new Set(Array.from({ length: 20 }, (_, k) => proposerIndex(10, 720, 0, k.toString(16).padStart(64, '0'))));
      assert.ok(bySeed.size >= 5, `only ${bySeed.size} distinct proposers over 20 seeds`);
    });
  });

  describe('aggregation', () => {
    const counted = [
      { report: report(1, [[10, 400_000], [11, 0, 'rejected-runtime'], [12, 0, 'fetch-failed']]), power: 100n },
      { report: report(2, [[10, 410_000], [11, 300_000], [12, 0, 'not-evaluated']]), power: 100n },
      { report: report(3, [[10, 900_000], [11, 0, 'rejected-runtime'], [12, 500_000]]), power: 100n },
    ];

    it('takes the weighted median per miner; verdict statuses vote 0, others abstain', () => {
      const out = aggregateScores(counted, 300n, T23);
      assert.deepEqual(out.map((m) => [m.uid, m.score, m.votingPower]), [
        [10, 410_000, 300n],
        [11, 0, 300n], // votes 0, 300000, 0 -> lower median 0
        [12, null, 100n], // only one voter (100 of 300): no consensus score
      ]);
    });

    it('a miner needs > threshold of the COUNTED power voting on it', () => {
      // 300 of 400 = 3/4 > 2/3 for uid 10; uid 11 has the same voters.
      const out = aggregateScores(counted, 400n, T23);
      assert.equal(out[0].score, 410_000);
      const out2 = aggregateScores(counted, 451n, T23); // 300/451 < 2/3
      assert.equal(out2[0].score, null);
    });

    it('an abstaining minority plus absent stake cannot veto a miner every honest counted report votes on', () => {
      // 3 honest x 3000 + 1 Byzantine x 1000 = 10000; one honest absent: counted 7000 (> 2/3 of 10000).
      // The Byzantine abstains everywhere: 6000 votes. Against the total (6000/10000) it would veto;
      // against the counted power (6000/7000 > 2/3) it does not.
      const honest = [1, 2].map((v) => ({ report: report(v, [[10, 400_000 + v]]), power: 3000n }));
      const byz = { report: report(9, [[10, 0, 'fetch-failed']]), power: 1000n };
      const out = aggregateScores([...honest, byz], 7000n, T23);
      assert.equal(out[0].score, 400_001);
      assert.equal(aggregateScores([...honest, byz], 10_000n, T23)[0].score, null, 'control: the old total-power rule vetoes');
    });

    it('names the mismatch of a report from another run, roster, policy or hardware class', () => {
      const ctx: RunContext = { netuid: 7, runId: 100, rosterHash: 'a'.repeat(64), policyHash: 'b'.repeat(64), hardwareClass: 'H100' };
      const roster = new Map<number, RosterSlot>([[10, { uid: 10, minerHotkey: 'm10', codeSha256: 'c'.repeat(64), commitBlock: 1 }]]);
      assert.equal(reportMismatch(report(1, [[10, 1]]), ctx, roster), null);
      assert.match(reportMismatch(report(1, [[10, 1]], { runId: 99 }), ctx, roster)!, /run 99.*stale or replayed/);
      assert.match(reportMismatch(report(1, [[10, 1]], { policyHash: 'd'.repeat(64) }), ctx, roster)!, /policy hash/);
      assert.match(reportMismatch(report(1, [[10, 1]], { hardwareClass: 'A100' }), ctx, roster)!, /hardware class A100/);
      assert.match(reportMismatch(report(1, [[11, 1]]), ctx, roster)!, /uid 11, which is not in the run's roster/);
    });
  });

  describe('winner rule and weights', () => {
    const P = DEFAULT_WINNER_POLICY;
    const m = (uid: number, score: number, commitBlock = 10) => ({ uid, score, commitBlock });

    it('picks the highest score', () => {
      assert.deepEqual(chooseWinner([m(1, 400), m(2, 500), m(3, 450)], null, P), { winnerUid: 2, reason: 'best' });
    });

    it('breaks ties by earlier commitment block, then lower uid', () => {
      assert.equal(chooseWinner([m(4, 500, 20), m(3, 500, 15), m(9, 100)], null, P).winnerUid, 3);
      assert.equal(chooseWinner([m(4, 500, 15), m(3, 500, 15)], null, P).winnerUid, 3);
    });

    it('dethrones the incumbent only by more than the 1 % margin', () => {
      // incumbent 1000: challenger needs > 1010.
      assert.deepEqual(chooseWinner([m(1, 1000), m(2, 1010)], 1, P), { winnerUid: 1, reason: 'incumbent-held' });
      assert.deepEqual(chooseWinner([m(1, 1000), m(2, 1011)], 1, P), { winnerUid: 2, reason: 'best' });
      // a 5 % margin
      assert.equal(chooseWinner([m(1, 1000), m(2, 1040)], 1, { ...P, dethroneMarginPpm: 50_000 }).winnerUid, 1);
      // an incumbent without a positive score cannot defend
      assert.equal(chooseWinner([m(1, 0), m(2, 10)], 1, P).winnerUid, 2);
      assert.equal(chooseWinner([m(2, 10)], 1, P).winnerUid, 2);
    });

    it('never crowns the burn uid or a zero score', () => {
      assert.deepEqual(chooseWinner([m(0, 999), m(5, 0)], null, P), { winnerUid: null, reason: 'none' });
    });

    it('splits weight 5 % winner / 95 % burn, all to burn without a winner', () => {
      assert.deepEqual(weightsFor(7, P), [{ uid: 0, weightPpm: 950_000 }, { uid: 7, weightPpm: 50_000 }]);
      assert.deepEqual(weightsFor(null, P), [{ uid: 0, weightPpm: 1_000_000 }]);
      assert.deepEqual(weightsFor(7, { ...P, burnRatePpm: 0 }), [{ uid: 7, weightPpm: 1_000_000 }]);
      assert.throws(() => checkWinnerPolicy({ ...P, burnRatePpm: 1_000_001 }), /burn rate/);
    });
  });

  describe('decision', () => {
    const ctx: RunContext = { netuid: 7, runId: 100, rosterHash: 'a'.repeat(64), policyHash: 'b'.repeat(64), hardwareClass: 'H100' };
    const roster: RosterSlot[] = [10, 11, 12].map((uid) => ({ uid, minerHotkey: `m${uid}`, codeSha256: 'c'.repeat(64), commitBlock: uid === 12 ? 5 : 9 }));
    const members = [1, 2, 3].map((v) => ({ hotkey: hk(v), stake: 100n }));
    const prev = (winnerUid: number | null, winnerHotkey: string | null): Decision => ({
      version: 2, netuid: 7, runId: 50, rosterHash: 'e'.repeat(64), policyHash: 'b'.repeat(64), hardwareClass: 'H100', outcome: 'winner', winnerUid, winnerHotkey,
      incumbentUid: null, previous: null, weights: [], scores: [], reportHashes: [], countedPower: 0n, totalPower: 0n, missedReveals: [], excluded: [],
    });
    const basis = { previous: { ref: { runId: 50, decisionHash: 'f'.repeat(64) }, decision: prev(11, 'm11') }, chain: null };
    const rules = { context: ctx, roster, members, threshold: T23, policy: DEFAULT_WINNER_POLICY, basis, committed: [], maxMissedReveals: 0 };
    const r = (v: number, s10: number, s11: number, s12: number) => ({ report: report(v, [[10, s10], [11, s11], [12, s12]]), hash: String(v).repeat(64), power: 100n });

    it('holds the incumbent on a quorum miss (never one validator view)', () => {
      const d = computeDecision(rules, [r(1, 900_000, 1, 1), r(2, 900_000, 1, 1)]); // 200 of 300 = exactly 2/3
      assert.equal(d.outcome, 'hold');
      assert.equal(d.winnerUid, 11);
      assert.deepEqual(d.weights, [{ uid: 0, weightPpm: 950_000 }, { uid: 11, weightPpm: 50_000 }]);
      assert.deepEqual(d.scores, []);
      assert.equal(d.countedPower, 200n);
    });

    it('decides from the medians with the margin and tie rules', () => {
      // medians: uid10 500, uid11 500, uid12 500 -> tie; incumbent 11 holds (challengers not > 1 % better).
      const d = computeDecision(rules, [r(1, 500_000, 500_000, 500_000), r(2, 500_000, 500_000, 500_000), r(3, 100, 100, 100)]);
      assert.equal(d.outcome, 'winner');
      assert.equal(d.winnerUid, 11);
      // without an incumbent, the tie goes to the earlier commitment (uid 12, block 5).
      const d2 = computeDecision({ ...rules, basis: { previous: null, chain: null } }, [r(1, 500_000, 500_000, 500_000), r(2, 500_000, 500_000, 500_000), r(3, 100, 100, 100)]);
      assert.equal(d2.winnerUid, 12);
      assert.deepEqual(d2.reportHashes, ['1'.repeat(64), '2'.repeat(64), '3'.repeat(64)]);
      assert.equal(d2.winnerHotkey, 'm12');
      assert.equal(d.previous?.runId, 50);
    });

    it('the incumbent comes from the previous certified decision only while its uid holds the same miner', () => {
      assert.deepEqual(incumbentFromDecision(prev(11, 'm11'), roster), { uid: 11, hotkey: 'm11' });
      assert.equal(incumbentFromDecision(prev(11, 'someone-else'), roster), null, 'uid recycled');
      assert.equal(incumbentFromDecision(prev(null, null), roster), null);
    });

    it('without a certified run, the incumbent is the top non-burn weight of members holding a stake majority on chain', () => {
      const row = (hotkey: string, stake: bigint, w: [number, number][]) => ({ hotkey, stake, weights: w.map(([uid, weight]) => ({ uid, weight })) });
      const rows = [row('a', 40n, [[0, 62258], [11, 3277]]), row('b', 30n, [[0, 65535], [11, 3449]]), row('c', 30n, [[0, 65535], [12, 3449]])];
      assert.deepEqual(incumbentFromWeights(rows, 100n, 0, roster), { uid: 11, hotkey: 'm11' });
      // split 40 / 30 / 30: no uid has a majority, so nothing is named
      assert.equal(incumbentFromWeights([rows[0], row('b', 30n, [[10, 1]]), rows[2]], 100n, 0, roster), null);
      // the burn uid is never the incumbent
      assert.equal(incumbentFromWeights([row('a', 100n, [[0, 65535]])], 100n, 0, roster), null);
      assert.equal(incumbentFromWeights(rows, 100n, 0, roster.filter((x) => x.uid !== 11)), null, 'not in the roster');
    });
  });
});
