// Consensus wire formats (canonical bytes, strict decoding) and portable equivocation proofs,
// with real sr25519 hotkeys and ed25519 node keys.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cryptoReady, ed25519SignerFromSeed, sr25519SignerFromSeed, publicKeyToHotkey } from '../../proto/signer.ts';
import { signScoreReport, type ScoreReport } from '../../proto/score-report.ts';
import { signBinding } from '../../proto/binding.ts';
import { sha256Hex, toHex } from '../../proto/codec.ts';
import { decodeReveal, encodeReveal, freshSalt, reportCommitment, revealCommitment } from '../../proto/reveal.ts';
import { encodeScoreReport } from '../../proto/score-report.ts';
import {
  decisionHash,
  decodeCertifiedRun,
  decodeDecision,
  decodeEquivocationProof,
  encodeCertifiedRun,
  decodeMessage,
  encodeDecision,
  encodeEquivocationProof,
  encodeMessage,
  signVote,
  signViewChange,
  type Certificate,
  type Decision,
  type ConsensusMessage,
} from '../../proto/consensus.ts';
import { verifyEquivocationProof } from '../../consensus/equivocation.ts';
import { averageRanks, compareRun, DivergenceTracker, spearman, top1Agreement, topKOverlap } from '../../consensus/divergence.ts';

const seed = (b: number) => new Uint8Array(32).fill(b);

const GENESIS = sha256Hex('wire-test-genesis');

function decision(over: Partial<Decision> = {}): Decision {
  return {
    version: 2,
    netuid: 7,
    runId: 1234,
    rosterHash: 'a'.repeat(64),
    policyHash: 'b'.repeat(64),
    hardwareClass: 'H100',
    outcome: 'winner',
    winnerUid: 12,
    winnerHotkey: publicKeyToHotkey(seed(40)),
    incumbentUid: 11,
    previous: { runId: 873, decisionHash: '9'.repeat(64) },
    weights: [{ uid: 0, weightPpm: 950_000 }, { uid: 12, weightPpm: 50_000 }],
    scores: [{ uid: 11, score: 400_000 }, { uid: 12, score: 421_300 }],
    reportHashes: ['1'.repeat(64), '2'.repeat(64)],
    countedPower: 3n * 10n ** 12n,
    totalPower: 4n * 10n ** 12n,
    missedReveals: [{ hotkey: publicKeyToHotkey(seed(41)), streak: 2 }],
    excluded: [publicKeyToHotkey(seed(42))],
    ...over,
  };
}

describe('consensus wire formats', () => {
  before(async () => {
    await cryptoReady();
  });

  it('round-trips every message type byte-exactly', () => {
    const node = ed25519SignerFromSeed(seed(1));
    const node2 = ed25519SignerFromSeed(seed(2));
    const d = decision();
    const h = decisionHash(d);
    const votes = [node, node2]
      .map((s) => signVote({ phase: 'prepare', netuid: 7, runId: 1234, view: 0, decisionHash: h }, s))
      .sort((a, b) => (a.voter < b.voter ? -1 : 1));
    const cert: Certificate = { phase: 'prepare', view: 0, decision: d, votes };
    const vc = signViewChange({ netuid: 7, runId: 1234, newView: 1, prepared: cert }, node);
    const hot = sr25519SignerFromSeed(seed(5));
    const binding = signBinding({ genesisHash: GENESIS, netuid: 7, node, multiaddrs: [], issuedAt: 1, expiresAt: 2 }, hot);
    const commitCert: Certificate = { ...cert, phase: 'commit', votes: votes.map((v) => ({ ...v, phase: 'commit' as const })) };
    const report: ScoreReport = { version: 1, netuid: 7, runId: 1234, rosterHash: 'a'.repeat(64), policyHash: 'b'.repeat(64), hardwareClass: 'H100', validatorHotkey: hot.hotkey, entries: [], issuedAt: 3 };
    const msgs: ConsensusMessage[] = [
      { type: 'reveal', reveal: { salt: 'ab'.repeat(32), signed: signScoreReport(report, hot) } },
      { type: 'inventory', netuid: 7, runId: 1234, hashes: ['3'.repeat(64), '4'.repeat(64)] },
      { type: 'request-prior', netuid: 7, runId: 1234, priorRunId: 873, decisionHash: '9'.repeat(64) },
      { type: 'prior', evidence: { certificate: commitCert, bindings: [binding] } },
      { type: 'equivocation', proof: { kind: 'binding', a: binding, b: binding } },
      { type: 'vote', vote: votes[0] },
      { type: 'certificate', cert },
      { type: 'view-change', viewChange: vc },
      { type: 'proposal', proposal: { vote: signVote({ phase: 'propose', netuid: 7, runId: 1234, view: 1, decisionHash: h }, node), decision: d, justification: [vc] } },
      { type: 'request-reports', netuid: 7, runId: 1234, hashes: ['1'.repeat(64)] },
    ];
    for (const m of msgs) {
      const bytes = encodeMessage(m);
      const back = decodeMessage(bytes);
      assert.deepEqual(back, m);
      assert.deepEqual(encodeMessage(back), bytes);
    }
    assert.deepEqual(decodeDecision(encodeDecision(d)), d);
    assert.deepEqual(decodeDecision(encodeDecision(decision({ previous: null, winnerHotkey: null, winnerUid: null, missedReveals: [], excluded: [] }))).previous, null);
    const cr = { certificate: commitCert, bindings: [binding] };
    assert.deepEqual(decodeCertifiedRun(encodeCertifiedRun(cr)), cr);
    assert.throws(() => encodeCertifiedRun({ certificate: cert, bindings: [] }), /commit certificate/);
  });

  it('refuses version-1 messages and decisions by name', () => {
    const v2 = encodeMessage({ type: 'request-reports', netuid: 7, runId: 1, hashes: [] });
    assert.throws(() => decodeMessage(Uint8Array.from([1, ...v2.subarray(1)])), /unknown wire version 1 \(this node speaks 2\)/);
    const d = encodeDecision(decision());
    assert.throws(() => decodeDecision(Uint8Array.from([1, ...d.subarray(1)])), /decision: unknown version 1/);
    assert.throws(() => encodeDecision({ ...decision(), previous: { runId: 1234, decisionHash: '1'.repeat(64) } }), /earlier run/);
    assert.throws(() => encodeDecision(decision({ excluded: [publicKeyToHotkey(seed(43)), publicKeyToHotkey(seed(42))] })), /ascending/);
  });

  it('reveals: sha256(salt || report) opens the commitment; strict decoding', () => {
    const hot = sr25519SignerFromSeed(seed(6));
    const report: ScoreReport = { version: 1, netuid: 7, runId: 1234, rosterHash: 'a'.repeat(64), policyHash: 'b'.repeat(64), hardwareClass: 'H100', validatorHotkey: hot.hotkey, entries: [], issuedAt: 3 };
    const salt = freshSalt();
    assert.match(salt, /^[0-9a-f]{64}$/);
    assert.notEqual(freshSalt(), salt);
    const r = { salt, signed: signScoreReport(report, hot) };
    const canonical = encodeScoreReport(report);
    assert.equal(revealCommitment(r), sha256Hex(Uint8Array.from([...Buffer.from(salt, 'hex'), ...canonical])));
    assert.notEqual(reportCommitment(freshSalt(), canonical), revealCommitment(r), 'another salt, another commitment');
    const bytes = encodeReveal(r);
    assert.deepEqual(decodeReveal(bytes), r);
    assert.throws(() => decodeReveal(Uint8Array.from([...bytes, 0])), /trailing/);
    assert.throws(() => decodeReveal(Uint8Array.from([2, ...bytes.subarray(1)])), /unknown version 2/);
    assert.throws(() => decodeReveal(bytes.subarray(0, 20)), /truncated/);
  });

  it('hashes decisions canonically and distinguishes every field', () => {
    const base = decisionHash(decision());
    assert.equal(decisionHash(decision()), base);
    assert.notEqual(decisionHash(decision({ winnerUid: 11 })), base);
    assert.notEqual(decisionHash(decision({ reportHashes: ['1'.repeat(64)] })), base);
    assert.notEqual(decisionHash(decision({ countedPower: 3n * 10n ** 12n + 1n })), base);
    assert.throws(() => encodeDecision(decision({ reportHashes: ['2'.repeat(64), '1'.repeat(64)] })), /ascending/);
  });

  it('refuses garbage, truncation and trailing bytes with a named cause (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const m = decodeMessage(bytes);
          // Anything that decodes must re-encode to the same bytes (one value, one encoding).
          assert.deepEqual(encodeMessage(m), bytes);
        } catch (err) {
          assert.match((err as Error).message, /consensus message|reveal|proposal|vote|decision|certificate|certified|view-change|request|prior|inventory|proof|report|hotkey|string|byte/i);
        }
      }),
      { numRuns: 300 },
    );
    const good = encodeMessage({ type: 'request-reports', netuid: 7, runId: 1, hashes: [] });
    assert.throws(() => decodeMessage(Uint8Array.from([...good, 0])), /trailing/);
    assert.throws(() => decodeMessage(good.subarray(0, good.length - 1)), /truncated/);
    assert.throws(() => decodeMessage(Uint8Array.of(9, 3)), /wire version 9/);
    assert.throws(() => decodeMessage(Uint8Array.of(2, 11)), /unknown tag 11/);
  });

  it('domain-separates votes: a vote signature does not verify as another phase or view', () => {
    const node = ed25519SignerFromSeed(seed(3));
    const v = signVote({ phase: 'prepare', netuid: 7, runId: 5, view: 0, decisionHash: 'c'.repeat(64) }, node);
    const w = signVote({ phase: 'prepare', netuid: 7, runId: 5, view: 0, decisionHash: 'd'.repeat(64) }, node);
    assert.equal(verifyEquivocationProof({ kind: 'vote', a: v, b: w, binding: null }).ok, true);
    const forged = { ...w, phase: 'commit' as const };
    const r = verifyEquivocationProof({ kind: 'vote', a: { ...v, phase: 'commit' }, b: forged, binding: null });
    assert.equal(r.ok, false);
  });
});

describe('equivocation proofs', () => {
  before(async () => {
    await cryptoReady();
  });

  const hot = () => sr25519SignerFromSeed(seed(9));
  const report = (score: number, runId = 50): ScoreReport => ({
    version: 1,
    netuid: 7,
    runId,
    rosterHash: 'a'.repeat(64),
    policyHash: 'b'.repeat(64),
    hardwareClass: 'H100',
    validatorHotkey: hot().hotkey,
    entries: [{ uid: 3, minerHotkey: publicKeyToHotkey(seed(4)), codeSha256: 'e'.repeat(64), score, status: 'scored' }],
    issuedAt: 1,
  });

  it('proves two conflicting reports by one hotkey, portable through bytes', () => {
    const s = hot();
    const proof = { kind: 'report' as const, a: signScoreReport(report(1), s), b: signScoreReport(report(2), s) };
    const back = decodeEquivocationProof(encodeEquivocationProof(proof));
    const r = verifyEquivocationProof(back);
    assert.deepEqual(r, { ok: true, netuid: 7, runId: 50, offender: { hotkey: s.hotkey, nodeKey: null } });
  });

  it('refuses non-proofs: same report, different runs, forged signature, different signers', () => {
    const s = hot();
    const other = sr25519SignerFromSeed(seed(10));
    const a = signScoreReport(report(1), s);
    assert.match((verifyEquivocationProof({ kind: 'report', a, b: signScoreReport(report(1), s) }) as { reason: string }).reason, /identical/);
    assert.match((verifyEquivocationProof({ kind: 'report', a, b: signScoreReport(report(2, 51), s) }) as { reason: string }).reason, /different runs/);
    const b = signScoreReport(report(2), s);
    const forged = { ...b, signature: a.signature };
    assert.match((verifyEquivocationProof({ kind: 'report', a, b: forged }) as { reason: string }).reason, /report b does not verify/);
    const foreign = signScoreReport({ ...report(2), validatorHotkey: other.hotkey }, other);
    assert.match((verifyEquivocationProof({ kind: 'report', a, b: foreign }) as { reason: string }).reason, /different hotkeys/);
  });

  it('attributes vote equivocation to the hotkey through the binding record', () => {
    const s = hot();
    const node = ed25519SignerFromSeed(seed(11));
    const binding = signBinding({ genesisHash: GENESIS, netuid: 7, node, multiaddrs: ['/ip4/127.0.0.1/tcp/1'], issuedAt: 1_000, expiresAt: 2_000 }, s);
    const a = signVote({ phase: 'commit', netuid: 7, runId: 50, view: 2, decisionHash: '1'.repeat(64) }, node);
    const b = signVote({ phase: 'commit', netuid: 7, runId: 50, view: 2, decisionHash: '2'.repeat(64) }, node);
    const r = verifyEquivocationProof(decodeEquivocationProof(encodeEquivocationProof({ kind: 'vote', a, b, binding })));
    assert.deepEqual(r, { ok: true, netuid: 7, runId: 50, offender: { hotkey: s.hotkey, nodeKey: toHex(node.publicKey) } });
    const otherNode = ed25519SignerFromSeed(seed(12));
    const wrong = signBinding({ genesisHash: GENESIS, netuid: 7, node: otherNode, multiaddrs: [], issuedAt: 1_000, expiresAt: 2_000 }, s);
    assert.match((verifyEquivocationProof({ kind: 'vote', a, b, binding: wrong }) as { reason: string }).reason, /another node key/);
    const c = signVote({ phase: 'commit', netuid: 7, runId: 50, view: 3, decisionHash: '2'.repeat(64) }, node);
    assert.equal(verifyEquivocationProof({ kind: 'vote', a, b: c, binding: null }).ok, false);
  });

  it('proves one node key bound to two hotkeys (both countersigned, overlapping validity)', () => {
    const node = ed25519SignerFromSeed(seed(13));
    const h1 = sr25519SignerFromSeed(seed(14));
    const h2 = sr25519SignerFromSeed(seed(15));
    const a = signBinding({ genesisHash: GENESIS, netuid: 7, node, multiaddrs: [], issuedAt: 1_000, expiresAt: 5_000 }, h1);
    const b = signBinding({ genesisHash: GENESIS, netuid: 7, node, multiaddrs: [], issuedAt: 2_000, expiresAt: 6_000 }, h2);
    const r = verifyEquivocationProof(decodeEquivocationProof(encodeEquivocationProof({ kind: 'binding', a, b })));
    assert.deepEqual(r, { ok: true, netuid: 7, runId: 0, offender: { hotkey: null, nodeKey: toHex(node.publicKey), hotkeys: [h1.hotkey, h2.hotkey] } });
    const later = signBinding({ genesisHash: GENESIS, netuid: 7, node, multiaddrs: [], issuedAt: 5_000, expiresAt: 9_000 }, h2);
    assert.match((verifyEquivocationProof({ kind: 'binding', a, b: later }) as { reason: string }).reason, /never valid at the same time/);
    assert.match((verifyEquivocationProof({ kind: 'binding', a, b: a }) as { reason: string }).reason, /same hotkey/);
    const otherNet = signBinding({ genesisHash: GENESIS, netuid: 8, node, multiaddrs: [], issuedAt: 2_000, expiresAt: 6_000 }, h2);
    assert.match((verifyEquivocationProof({ kind: 'binding', a, b: otherNet }) as { reason: string }).reason, /different chains or subnets/);
    // a binding "relayed" by h2 for a node key it does not hold cannot carry the node's countersignature
    const claimed = { ...b, nodeSignature: a.nodeSignature };
    assert.match((verifyEquivocationProof({ kind: 'binding', a, b: claimed }) as { reason: string }).reason, /did not countersign/);
  });
});

describe('divergence metrics', () => {
  const m = (pairs: [number, number][]) => new Map(pairs);

  it('top-1 agreement and top-k overlap', () => {
    assert.equal(top1Agreement(m([[1, 5], [2, 9]]), m([[1, 1], [2, 3]])), 1);
    assert.equal(top1Agreement(m([[1, 5], [2, 9]]), m([[1, 4], [2, 3]])), 0);
    // ties break by lower uid: both put uid 1 first.
    assert.equal(top1Agreement(m([[2, 7], [1, 7]]), m([[1, 7], [2, 7]])), 1);
    assert.equal(topKOverlap(m([[1, 9], [2, 8], [3, 7], [4, 1]]), m([[1, 9], [3, 8], [4, 7], [2, 1]]), 2), 0.5);
  });

  it('Spearman with tie correction (average ranks)', () => {
    assert.deepEqual(averageRanks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
    assert.equal(spearman(m([[1, 1], [2, 2], [3, 3]]), m([[1, 10], [2, 20], [3, 30]])), 1);
    assert.equal(spearman(m([[1, 1], [2, 2], [3, 3]]), m([[1, 30], [2, 20], [3, 10]])), -1);
    // a: ranks 1,2.5,2.5,4 ; b: 1,2,3,4 -> r = 4.5 / sqrt(4.5*5) = 0.948683...
    assert.ok(Math.abs(spearman(m([[1, 10], [2, 20], [3, 20], [4, 30]]), m([[1, 1], [2, 2], [3, 3], [4, 4]]))! - 0.9486832980505138) < 1e-12);
    assert.equal(spearman(m([[1, 5], [2, 5]]), m([[1, 1], [2, 2]])), null);
  });

  it('windowed tracker ignores re-armed duplicates of a run and keeps the last W runs', () => {
    const t = new DivergenceTracker(3);
    const a = m([[1, 9], [2, 1]]);
    const b = m([[1, 1], [2, 9]]);
    assert.equal(t.add(compareRun(10, a, a)), true);
    assert.equal(t.add(compareRun(10, a, b)), false); // re-armed duplicate ignored
    t.add(compareRun(11, a, b));
    t.add(compareRun(12, a, a));
    t.add(compareRun(13, a, a));
    assert.deepEqual(t.state.entries.map((e) => e.runId), [11, 12, 13]);
    assert.equal(t.add(compareRun(9, a, a)), false); // older than the window
    const s = t.summary();
    assert.equal(s.runs, 3);
    assert.ok(Math.abs(s.top1Agreement! - 2 / 3) < 1e-12);
    const resumed = new DivergenceTracker(3, JSON.parse(JSON.stringify(t.state)));
    assert.deepEqual(resumed.summary(), s);
  });
});
