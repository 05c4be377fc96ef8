// The consensus state machine driven directly (no simulator): 4 members with real sr25519 reports
// revealed against salted commitments, ed25519 votes, a FIFO in-memory network with a drop filter,
// explicit timers (test/consensus/pbft-harness.ts).
import assert from 'node:assert/strict';
import { ed25519SignerFromSeed } from '../../proto/signer.ts';
import { decisionHash, encodeMessage, signVote } from '../../proto/consensus.ts';
import { computeDecision } from '../../consensus/decision.ts';
import { nativeVerifier, verifyEquivocationProof, verifyVoteSignature } from '../../consensus/equivocation.ts';
import { DEFAULT_WINNER_POLICY } from '../../consensus/winner.ts';
import { proposerOrder } from '../../consensus/validator-set.ts';
import { decodeStateParts, encodeJson, encodeState, encodeStateCore, maxViewTimeoutMs, runTimeoutMs, viewTimeout } from '../../consensus/pbft.ts';
import { Harness, RUN, ctx, encodeReveal, hashOf, identitySeed, makeMembers, makeReveal, roster, setups, type TestMember } from './pbft-harness.ts';
import type { Reveal } from '../../proto/reveal.ts';

describe('consensus state machine (pbft.ts)', function () {
  this.timeout(30_000);
  let members: TestMember[] = [];
  let reveals: Reveal[] = [];

  before(async () => {
    members = await makeMembers(4);
    reveals = members.map((m, i) => makeReveal(m.sr, [400_000 + i * 1000, 300_000, i === 3 ? 900_000 : 350_000]));
  });

  /** All four reveal during the reveal window (on time everywhere), then start. */
  function honest(over: Partial<Parameters<typeof setups>[1]> = {}): Harness {
    const h = new Harness(members, setups(members, { reveals, ...over }));
    reveals.forEach((r, i) => h.reveal(i, r));
    return h;
  }

  it('the proposer order is a permutation drawn from the seed block hash', () => {
    const a = proposerOrder(16, RUN, 'a'.repeat(64));
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 16 }, (_, i) => i));
    assert.deepEqual(proposerOrder(16, RUN, 'a'.repeat(64)), a);
    assert.notDeepEqual(proposerOrder(16, RUN, 'b'.repeat(64)), a);
    assert.notDeepEqual(proposerOrder(16, RUN + 361, 'a'.repeat(64)), a);
    assert.throws(() => proposerOrder(4, RUN, 'xyz'), /block hash/);
    const seed = identitySeed(4);
    assert.deepEqual(proposerOrder(4, RUN, seed), [0, 1, 2, 3]);
  });

  it('all honest: every member decides the same decision, recomputable from the reports', () => {
    const h = honest();
    h.start();
    h.run(60_000);
    const hashes = h.states.map((s) => s.decided?.hash);
    assert.ok(hashes.every((x) => x && x === hashes[0]), `decisions differ: ${hashes}`);
    const d = h.states[0].decided!.decision;
    const expected = computeDecision(
      {
        context: ctx, roster, members: members.map((m) => ({ hotkey: m.sr.hotkey, stake: 1000n })), threshold: { num: 2, den: 3 }, policy: DEFAULT_WINNER_POLICY,
        basis: { previous: null, chain: null }, committed: members.map((m) => m.sr.hotkey), maxMissedReveals: 0,
      },
      reveals.map((r) => ({ report: r.signed.report, hash: hashOf(r), power: 1000n })),
    );
    assert.equal(h.states[0].decided!.hash, decisionHash(expected));
    // uid 1 medians: 400000,401000,402000,403000 -> lower median 401000; uid 3: 350000 (the 900000 outlier ignored).
    assert.deepEqual(d.scores, [{ uid: 1, score: 401_000 }, { uid: 2, score: 300_000 }, { uid: 3, score: 350_000 }]);
    assert.equal(d.winnerUid, 1);
    assert.equal(d.winnerHotkey, roster[0].minerHotkey);
    assert.equal(d.previous, null);
    assert.deepEqual(d.missedReveals, []);
    const cert = h.states[0].decided!.certificate;
    assert.equal(cert.phase, 'commit');
    assert.ok(cert.votes.length >= 3);
    assert.ok(cert.votes.every((v) => verifyVoteSignature(v, nativeVerifier)));
    assert.equal(cert.view, 0);
  });

  it('persists and resumes: a JSON round-trip of the state before every input changes nothing', () => {
    const a = honest();
    a.start();
    a.run(60_000);
    const b = honest();
    b.persist = true;
    b.start();
    b.run(60_000);
    assert.deepEqual(b.states.map((s) => s.decided?.hash), a.states.map((s) => s.decided?.hash));
    assert.equal(b.outputs.length, a.outputs.length);
  });

  it('silent proposer: view change to the next proposer, which decides in view 1', () => {
    const h = honest();
    h.drop = (p, m) => p.from === 0 && (m?.type === 'proposal' || m?.type === 'certificate');
    h.start();
    h.run(60_000, [1, 2, 3]);
    const hashes = [1, 2, 3].map((i) => h.states[i].decided?.hash);
    assert.ok(hashes.every((x) => x && x === hashes[0]));
    assert.equal(h.states[1].decided!.certificate.view, 1);
  });

  it('a prepared (locked) decision survives a view change even when the next proposer would choose differently', () => {
    // Member 3 reveals late (after start) to members 1-2 and never to member 0: view 0 proposes 3
    // reports. All commits of view 0 are lost, so nobody decides there; member 1 (view 1 proposer)
    // then holds all 4 reports, but must re-propose the locked 3-report decision.
    const h = new Harness(members, setups(members, { reveals }));
    for (let i = 0; i < 3; i++) h.reveal(i, reveals[i]);
    h.drop = (p, m) => (m?.type === 'reveal' && p.from === 3 && p.to === 0) || (m?.type === 'vote' && m.vote.phase === 'commit' && m.vote.view === 0);
    h.start([0, 1, 2]);
    h.run(900, [3]);
    assert.ok(h.states[1].lock, 'member 1 holds a prepare certificate from view 0');
    const locked = h.states[1].lock!;
    assert.equal(locked.decision.reportHashes.length, 3);
    h.start([3]);
    h.run(60_000);
    const decided = h.states.map((s) => s.decided);
    assert.ok(decided.every((d) => d && d.hash === decisionHash(locked.decision)), 'the locked decision is the one finalised');
    assert.ok(decided[0]!.certificate.view >= 1);
  });

  it('rejects replayed, foreign and garbage messages with a named cause, and keeps working', () => {
    const h = honest();
    h.start();
    const old = makeReveal(members[1].sr, [1, 1, 1], { runId: RUN - 360 });
    h.input(0, { type: 'message', from: 1, bytes: encodeReveal(old) });
    h.input(0, { type: 'message', from: 1, bytes: Uint8Array.of(2, 3, 0, 0) });
    h.input(0, { type: 'message', from: 1, bytes: Uint8Array.of(1, 1, 0, 0) });
    const stranger = ed25519SignerFromSeed(new Uint8Array(32).fill(99));
    h.input(0, { type: 'message', from: 2, bytes: encodeMessage({ type: 'vote', vote: signVote({ phase: 'prepare', netuid: 7, runId: RUN, view: 0, decisionHash: 'f'.repeat(64) }, stranger) }) });
    const reasons = h.rejected();
    assert.ok(reasons.some((r) => /run 360,.*stale or replayed/.test(r)), reasons.join('\n'));
    assert.ok(reasons.some((r) => /undecodable/.test(r)));
    assert.ok(reasons.some((r) => /unknown wire version 1/.test(r)), 'a version-1 message is refused by name');
    assert.ok(reasons.some((r) => /not bound to a member/.test(r)));
    h.run(60_000);
    assert.ok(h.states.every((s) => s.decided));
  });

  it('two reports by one hotkey: a verifiable proof, broadcast once; the committed one still counts', () => {
    const h = honest();
    const twin = makeReveal(members[2].sr, [1, 2, 3], { issuedAt: 2 });
    h.input(0, { type: 'message', from: 2, bytes: encodeReveal(twin) });
    h.start();
    const found = h.outputs.filter((o) => o.member === 0 && o.out.type === 'equivocation');
    assert.equal(found.length, 1);
    const proof = (found[0].out as { proof: Parameters<typeof verifyEquivocationProof>[0] }).proof;
    const check = verifyEquivocationProof(proof);
    assert.ok(check.ok);
    assert.equal(check.ok && check.offender.hotkey, members[2].sr.hotkey);
    h.run(60_000);
    // the chain fixes which report counts: the committed one, whoever knows of the proof
    const d = h.states[0].decided!.decision;
    assert.ok(d.reportHashes.includes(hashOf(reveals[2])));
    assert.ok(!d.reportHashes.includes(hashOf(twin)));
  });

  it('a wrong-salt copy of a report never hides the reveal that opens the commitment', () => {
    const h = new Harness(members, setups(members, { reveals }));
    const forged: Reveal = { salt: 'ee'.repeat(32), signed: reveals[3].signed };
    for (const j of [0, 1, 2]) h.input(j, { type: 'message', from: 2, bytes: encodeReveal(forged) });
    assert.equal(h.states[0].reports[hashOf(reveals[3])].countable, false);
    reveals.forEach((r, i) => h.reveal(i, r));
    assert.equal(h.states[0].reports[hashOf(reveals[3])].countable, true);
    h.start();
    h.run(60_000);
    assert.equal(h.states[0].decided!.decision.reportHashes.length, 4);
  });

  it('a member that committed but never revealed is recorded with its streak; the others decide', () => {
    const commitments = setups(members, { reveals })[0].commitments!;
    const h = new Harness(members, setups(members, { reveals: [reveals[0], reveals[1], reveals[2], null], commitments }));
    for (let i = 0; i < 3; i++) h.reveal(i, reveals[i]);
    h.start();
    h.run(60_000, [0, 1, 2]);
    const d = h.states[0].decided!.decision;
    assert.equal(d.reportHashes.length, 3);
    assert.deepEqual(d.missedReveals, [{ hotkey: members[3].sr.hotkey, streak: 1 }]);
  });

  it('timing: backoff is capped and the run timeout covers one view per member', () => {
    const t = { proposeDelayMs: 2000, viewTimeoutMs: 30_000, maxBackoffExponent: 2 };
    assert.equal(viewTimeout(t, 10), 120_000);
    assert.equal(runTimeoutMs(t, 4), 2000 + 30_000 + 60_000 + 120_000 + 120_000);
    assert.ok(runTimeoutMs(t, 64) >= 64 * 30_000);
  });

  it('timing: the largest view timeout whose n views fit a budget is exact to the granule', () => {
    const t = { proposeDelayMs: 2000, maxBackoffExponent: 2 };
    for (const [n, budget] of [[4, 332_000], [4, 331_999], [64, 1_800_000], [21, 600_000], [1, 5_000]] as const) {
      const best = maxViewTimeoutMs(t, n, budget);
      assert.ok(runTimeoutMs({ ...t, viewTimeoutMs: best }, n) <= budget, `n=${n}: ${best} ms fits ${budget}`);
      assert.ok(runTimeoutMs({ ...t, viewTimeoutMs: best + 1000 }, n) > budget, `n=${n}: ${best + 1000} ms does not fit ${budget}`);
    }
    assert.equal(maxViewTimeoutMs(t, 4, 332_000), 30_000, '4 views of 30 s fill 332 s exactly');
    assert.equal(maxViewTimeoutMs(t, 64, 1_800_000), 7_000, '64 views (factor 1+2+62*4 = 251) in 30 min: 7 s');
    assert.equal(maxViewTimeoutMs(t, 4, 1_000), 0, 'not even the propose delay fits');
  });

  it('a member whose reveal gossip carried does not send it again at start; a collector that missed it asks after the inventory', () => {
    const revealSends = (h: Harness, member: number) => h.outputs.filter((o) => o.member === member && o.out.type === 'send' && o.out.kind === 'reveal').length;
    // all four got every reveal in the reveal window: no member sends its own reveal to the collector
    const a = new Harness(members, setups(members, { reveals }).map((x) => ({ ...x, ownRevealGossiped: true })));
    reveals.forEach((r, i) => a.reveal(i, r));
    a.start();
    a.run(60_000);
    assert.ok(a.states.every((s) => s.decided), 'all decide');
    assert.deepEqual([1, 2, 3].map((i) => revealSends(a, i)), [0, 0, 0], 'no reveal is resent to the collector');
    assert.equal(a.states[0].decided!.decision.reportHashes.length, 4);
    // without the flag every member sends its own again (the behaviour for a reveal gossip did not carry)
    const b = honest();
    b.start();
    b.run(60_000);
    assert.deepEqual([1, 2, 3].map((i) => revealSends(b, i)), [1, 1, 1]);
    // member 2's reveal never reached the collector (member 0) by gossip: its inventory makes 0 ask, 2 answers
    const c = new Harness(members, setups(members, { reveals }).map((x) => ({ ...x, ownRevealGossiped: true })));
    reveals.forEach((r, i) => c.reveal(i, r, i === 2 ? [1, 3] : undefined));
    c.start();
    c.run(60_000);
    assert.ok(c.states.every((s) => s.decided), 'all decide');
    assert.equal(c.states[0].decided!.decision.reportHashes.length, 4, 'the collector fetched the reveal it lacked and counted it');
    assert.equal(revealSends(c, 2), 1, 'member 2 answered the request once');
    assert.ok(c.outputs.some((o) => o.member === 0 && o.out.type === 'send' && o.out.kind === 'request-reports' && o.out.to === 2));
  });

  it('the state in parts (setup, report entries, core) decodes to the same state at every point of a run', () => {
    const h = honest();
    const check = () => h.states.forEach((s) => {
      const parts = { core: encodeStateCore(s), setup: encodeJson(s.setup), reports: Object.fromEntries(Object.entries(s.reports).map(([k, r]) => [k, encodeJson(r)])) };
      const core = JSON.parse(parts.core);
      assert.ok(!('setup' in core) && !('reports' in core), 'the core leaves the setup and reports out');
      assert.deepEqual(decodeStateParts(parts), JSON.parse(encodeState(s), (_k, v) => (v && typeof v === 'object' && typeof v.$bigint === 'string' ? BigInt(v.$bigint) : v)));
    });
    check();
    h.start();
    check();
    h.run(60_000);
    check();
    assert.ok(h.states.every((s) => s.decided));
  });
});

