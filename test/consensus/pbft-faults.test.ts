// The faults of issue #15 against the pure reducer: selective counting by the proposer, late reveals,
// a member that missed a certificate (stale incumbent), a collector withholding the certificate, a
// proposer steering the incumbent with a stale or forged certified run, joining a view f+1 moved to,
// and the subnet's rule on chronic non-revealers.
import assert from 'node:assert/strict';
import { decisionHash, encodeMessage, signVote, signViewChange, type Decision, type Proposal } from '../../proto/consensus.ts';
import { proposerOrder } from '../../consensus/validator-set.ts';
import { sha256Hex } from '../../proto/codec.ts';
import type { Reveal } from '../../proto/reveal.ts';
import { computeDecision } from '../../consensus/decision.ts';
import { DEFAULT_WINNER_POLICY, weightsFor } from '../../consensus/winner.ts';
import { Harness, NETUID, RUN, certifiedRun, ctx, encodeReveal, hashOf, makeMembers, makeReveal, roster, setups, type TestMember } from './pbft-harness.ts';

const PREV = RUN - 361;

function previousDecision(runId: number, winnerUid: number, missed: { hotkey: string; streak: number }[] = []): Decision {
  const reportHashes = [1, 2, 3, 4].map((i) => sha256Hex(`prev-${runId}-${i}`)).sort();
  return {
    version: 2, netuid: NETUID, runId, rosterHash: sha256Hex('prev-roster'), policyHash: ctx.policyHash, hardwareClass: ctx.hardwareClass,
    outcome: 'winner', winnerUid, winnerHotkey: roster.find((r) => r.uid === winnerUid)!.minerHotkey, incumbentUid: null, previous: null,
    weights: weightsFor(winnerUid, DEFAULT_WINNER_POLICY), scores: [{ uid: winnerUid, score: 500_000 }], reportHashes,
    countedPower: 4000n, totalPower: 4000n, missedReveals: missed, excluded: [],
  };
}

/** A proposal signed by member `i` for `view` (a Byzantine proposer's crafted decision). */
function proposalBy(m: TestMember, view: number, decision: Decision): Uint8Array {
  const vote = signVote({ phase: 'propose', netuid: NETUID, runId: RUN, view, decisionHash: decisionHash(decision) }, m.ed);
  const proposal: Proposal = { vote, decision, justification: [] };
  return encodeMessage({ type: 'proposal', proposal });
}

describe('consensus faults (issue #15) on the pure reducer', function () {
  this.timeout(30_000);
  let members: TestMember[] = [];
  let reveals: Reveal[] = [];

  before(async () => {
    members = await makeMembers(4);
    // uid 1 median 401000, uid 2 flat 400000: within the 1 % margin of each other
    reveals = members.map((m, i) => makeReveal(m.sr, [400_000 + i * 1000, 400_000, 350_000]));
  });

  function onTime(h: Harness, who = [0, 1, 2, 3]): void {
    for (const i of who) h.reveal(i, reveals[i]);
  }

  it('selective-count: a proposal leaving out a report revealed on time is refused and answered with it; the next view counts it', () => {
    const h = new Harness(members, setups(members, { reveals }));
    onTime(h);
    h.drop = (p, m) => p.from === 0 && m?.type === 'proposal'; // member 0 (view-0 proposer) proposes only what follows
    h.start();
    // The Byzantine proposer counts its own report and two honest ones, leaving out member 3's.
    const s = h.states[0];
    const rules = { context: ctx, roster, members: members.map((m) => ({ hotkey: m.sr.hotkey, stake: m.stake })), threshold: { num: 2, den: 3 }, policy: DEFAULT_WINNER_POLICY, basis: { previous: null, chain: null }, committed: Object.keys(s.setup.commitments!), maxMissedReveals: 0 };
    const selective = computeDecision(rules, [0, 1, 2].map((i) => ({ report: reveals[i].signed.report, hash: hashOf(reveals[i]), power: 1000n })));
    const bytes = proposalBy(members[0], 0, selective);
    for (const j of [1, 2, 3]) h.queue.push({ from: 0, to: j, bytes });
    h.deliverAll();
    for (const j of [1, 2, 3]) {
      assert.equal(h.states[j].prepared[0], undefined, `member ${j} must not prepare the selective proposal`);
      assert.ok(h.rejected(j).some((r) => /leaves out 1 valid report\(s\) revealed on time/.test(r)), h.rejected(j).join('\n'));
    }
    // answered: the left-out reveal is broadcast by the refusing members
    assert.ok(h.outputs.some((o) => o.member !== 3 && o.out.type === 'broadcast' && o.out.kind === 'reveal'));
    h.drop = () => false;
    h.run(60_000, [1, 2, 3]);
    const d = h.states[1].decided!.decision;
    assert.equal(d.reportHashes.length, 4, 'the certified decision counts every report');
    assert.ok(h.states[1].decided!.certificate.view >= 1);
  });

  it('selective-count after the certificate: a decided member still refuses a self-justified selective proposal for a later view, and answers with the certificate', () => {
    const h = new Harness(members, setups(members, { reveals }));
    onTime(h);
    h.start();
    h.run(60_000);
    const decided = h.states[0].decided!;
    assert.ok(h.states.every((s) => s.decided?.hash === decided.hash));
    const order = proposerOrder(members.length, RUN, h.states[0].setup.seed);
    const adversary = order[1];
    const victim = [0, 1, 2, 3].find((i) => i !== adversary)!;
    const s = h.states[adversary];
    const rules = { context: ctx, roster, members: members.map((m) => ({ hotkey: m.sr.hotkey, stake: m.stake })), threshold: { num: 2, den: 3 }, policy: DEFAULT_WINNER_POLICY, basis: { previous: null, chain: null }, committed: Object.keys(s.setup.commitments!), maxMissedReveals: 0 };
    const selective = computeDecision(rules, [0, 1, 2, 3].filter((i) => i !== victim).map((i) => ({ report: reveals[i].signed.report, hash: hashOf(reveals[i]), power: 1000n })));
    const vc = signViewChange({ netuid: NETUID, runId: RUN, newView: 1, prepared: null }, members[adversary].ed);
    const vote = signVote({ phase: 'propose', netuid: NETUID, runId: RUN, view: 1, decisionHash: decisionHash(selective) }, members[adversary].ed);
    const selfJustified = encodeMessage({ type: 'proposal', proposal: { vote, decision: selective, justification: [vc] } });
    const notItsView = encodeMessage({ type: 'proposal', proposal: { vote: signVote({ phase: 'propose', netuid: NETUID, runId: RUN, view: 2, decisionHash: decisionHash(selective) }, members[adversary].ed), decision: selective, justification: [vc] } });
    const before = h.outputs.length;
    const others = [0, 1, 2, 3].filter((i) => i !== adversary);
    for (const j of others) {
      h.input(j, { type: 'message', from: adversary, bytes: selfJustified });
      h.input(j, { type: 'message', from: adversary, bytes: notItsView });
    }
    const after = h.outputs.slice(before);
    for (const j of others) {
      const why = after.filter((o) => o.member === j && o.out.type === 'rejected').map((o) => (o.out as { reason: string }).reason);
      assert.ok(why.some((r) => /proposal for view 1: justification lacks view changes from a quorum/.test(r)), why.join('\n'));
      assert.ok(why.some((r) => /proposal for view 2 not signed by its proposer/.test(r)), why.join('\n'));
      assert.ok(after.some((o) => o.member === j && o.out.type === 'send' && o.out.to === adversary), `member ${j} answers the late proposer with the certificate`);
      assert.equal(h.states[j].decided!.hash, decided.hash, 'the decision stands');
    }
    // a late copy of the decided proposal is no fault
    const n = h.rejected().length;
    const decidedProposal = encodeMessage({ type: 'proposal', proposal: { vote: signVote({ phase: 'propose', netuid: NETUID, runId: RUN, view: 0, decisionHash: decided.hash }, members[order[0]].ed), decision: decided.decision, justification: [] } });
    for (const j of [0, 1, 2, 3].filter((i) => i !== order[0])) h.input(j, { type: 'message', from: order[0], bytes: decidedProposal });
    assert.equal(h.rejected().length, n);
  });

  it('late-reveal: a reveal arriving after the deadline never forces a refusal, and still counts when included', () => {
    const h = new Harness(members, setups(members, { reveals }));
    onTime(h, [0, 1, 2]); // member 3 reveals late
    h.start([0, 1, 2]);
    // member 3's reveal reaches member 1 only after start (late there), member 0 never holds it
    h.input(1, { type: 'message', from: 3, bytes: encodeReveal(reveals[3]) });
    h.run(60_000, [0, 1, 2]);
    assert.equal(h.states[1].prepared[0] !== undefined, true, 'member 1 prepared the proposal without the late reveal');
    assert.ok(!h.rejected(1).some((r) => /leaves out/.test(r)));
    assert.equal(h.states[0].decided!.decision.reportHashes.length, 3);

    // included: the proposer holds the late reveal; members lacking it fetch it and it proves itself
    const g = new Harness(members, setups(members, { reveals }));
    onTime(g, [0, 1, 2]);
    g.start([0, 1, 2]);
    g.input(0, { type: 'message', from: 3, bytes: encodeReveal(reveals[3]) });
    g.run(60_000, [0, 1, 2]);
    assert.equal(g.states[2].decided!.decision.reportHashes.length, 4);
  });

  it('stale-incumbent: a member that missed the previous certificate fetches it, has it verified and certifies again', () => {
    const prior = certifiedRun(members, previousDecision(PREV, 2));
    const h = new Harness(members, setups(members, { reveals, prior: [prior, prior, null, prior] }));
    onTime(h);
    h.start();
    h.run(60_000);
    assert.ok(h.states.every((s) => s.decided && s.decided.hash === h.states[0].decided!.hash));
    const d = h.states[2].decided!.decision;
    assert.deepEqual(d.previous, { runId: PREV, decisionHash: prior.decisionHash });
    assert.equal(d.incumbentUid, 2);
    assert.equal(d.winnerUid, 2, 'the incumbent holds: the challenger is within the margin');
    assert.ok(h.verified.some((v) => v.member === 2 && v.ok), 'member 2 had the certified run verified');
    assert.equal(h.states[2].prior?.runId, PREV);
  });

  it('a proposal taking its incumbent from chain weights while a run is certified is refused and answered; the proposer catches up', () => {
    const prior = certifiedRun(members, previousDecision(PREV, 2));
    const h = new Harness(members, setups(members, { reveals, prior: [null, prior, prior, prior], chainIncumbent: null }));
    onTime(h);
    h.start();
    h.run(60_000);
    for (const j of [1, 2, 3]) assert.ok(h.rejected(j).some((r) => /takes its incumbent from chain weights, but run \d+ is certified/.test(r)));
    const d = h.states[0].decided!.decision;
    assert.equal(d.previous?.runId, PREV);
    assert.equal(d.winnerUid, 2);
    assert.ok(h.verified.some((v) => v.member === 0 && v.ok));
  });

  it('a proposal naming a forged certified run is never prepared: the node refuses the evidence', () => {
    const genuine = certifiedRun(members, previousDecision(PREV, 2));
    const forgedDecision = previousDecision(RUN - 10, 3);
    const forged = certifiedRun(members.slice(0, 2), forgedDecision); // votes of 2 of 4: below the quorum
    const h = new Harness(members, setups(members, { reveals, prior: [forged, genuine, genuine, genuine] }));
    onTime(h);
    h.start();
    h.run(60_000, [1, 2, 3]);
    assert.ok(h.verified.some((v) => !v.ok && /not more than 2\/3/.test(v.reason ?? '')), JSON.stringify(h.verified));
    const d = h.states[1].decided!.decision;
    assert.equal(d.previous?.runId, PREV);
    assert.equal(d.incumbentUid, 2);
    assert.ok(h.states[1].decided!.certificate.view >= 1);
  });

  it('withhold-certificate: members the collector skipped catch up from decided members', () => {
    const h = new Harness(members, setups(members, { reveals }));
    onTime(h);
    h.drop = (p, m) => p.from === 0 && (p.to === 2 || p.to === 3) && m?.type === 'certificate' && m.cert.phase === 'commit';
    h.start();
    h.run(60_000);
    assert.ok(h.states.every((s) => s.decided && s.decided.hash === h.states[0].decided!.hash));
  });

  it('a member joins a view once members with more than 1/3 of the power moved there (its own timer never fires)', () => {
    const h = new Harness(members, setups(members, { reveals }));
    onTime(h);
    h.drop = (p, m) => p.from === 0 && m?.type === 'proposal';
    h.frozen = new Set([0, 3]);
    h.start();
    h.run(60_000, [1, 2, 3]);
    assert.ok([1, 2, 3].every((i) => h.states[i].decided));
    assert.equal(h.states[3].decided!.certificate.view, 1);
    // with the join rule disabled (weak quorum unreachable) nobody decides: members 1-2 alone are no quorum
    const g = new Harness(members, setups(members, { reveals }));
    onTime(g);
    g.drop = (p, m) => p.from === 0 && m?.type === 'proposal' || (m?.type === 'view-change' && (p.to === 0 || p.to === 3));
    g.frozen = new Set([0, 3]);
    g.start();
    g.run(20_000, [1, 2]);
    assert.ok(!g.states[1].decided, 'control: without the view changes reaching members 0 and 3, no quorum moves');
  });

  it('missed reveals: the streak carries over certified runs and the subnet rule excludes a chronic non-revealer', () => {
    const hk3 = members[3].sr.hotkey;
    const prior = certifiedRun(members, previousDecision(PREV, 2, [{ hotkey: hk3, streak: 2 }]));
    // limit 3: streak 2 → still counted; member 3 reveals nothing this run → streak 3
    const commitments = setups(members, { reveals })[0].commitments!;
    const a = new Harness(members, setups(members, { reveals: [reveals[0], reveals[1], reveals[2], null], prior: [prior, prior, prior, prior], maxMissedReveals: 3, commitments }));
    onTime(a, [0, 1, 2]);
    a.start();
    a.run(60_000, [0, 1, 2]);
    const da = a.states[0].decided!.decision;
    assert.deepEqual(da.missedReveals, [{ hotkey: hk3, streak: 3 }]);
    assert.deepEqual(da.excluded, []);
    // next run: member 3 is excluded (streak 3 >= 3): its reveal is not counted, its stake leaves the counting power
    const priorB = certifiedRun(members, { ...previousDecision(PREV + 1, 2, [{ hotkey: hk3, streak: 3 }]) });
    const b = new Harness(members, setups(members, { reveals, prior: [priorB, priorB, priorB, priorB], maxMissedReveals: 3 }));
    onTime(b);
    b.start();
    b.run(60_000);
    const db = b.states[0].decided!.decision;
    assert.deepEqual(db.excluded, [hk3]);
    assert.equal(db.totalPower, 3000n);
    assert.equal(db.reportHashes.length, 3);
    assert.ok(!db.reportHashes.includes(hashOf(reveals[3])));
    assert.deepEqual(db.missedReveals, []);
  });
});
