// `npm run devnet -- --byzantine` end to end (issue #15): validator 3 runs as an adversary
// (dev.fault = "adversary": selective proposals from inside a real node) and the devnet acts for it
// over the wire (a binding hijack through hello's peer exchange, an early-reveal fetch of every honest
// API and run bundle while the reports are sealed, a brute force of the honest commitments with its
// own scores as the guess). The summary's `ok` must be true: the honest validators certified the
// honest outcome and every attempt was refused, each with its evidence.
import assert from 'node:assert/strict';
import Dockerode from 'dockerode';
import { runDevnet, type DevnetSummary } from '../../node/devnet/devnet.ts';

describe('npm run devnet -- --byzantine (integration: one adversary validator among four)', function () {
  this.timeout(20 * 60_000);
  let summary: DevnetSummary;

  before(async function () {
    try {
      await new Dockerode().ping();
    } catch {
      this.skip(); // no Docker engine: the devnet refuses
    }
    summary = await runDevnet({ runs: 1, byzantine: true, commitWindow: 700, timeoutMs: 18 * 60_000, log: () => undefined });
  });

  const attempts = (kind: string) => summary.byzantine!.attempts.filter((a) => a.attack === kind);

  it('ok: the honest validators certified the honest outcome and every attempt was refused', () => {
    assert.equal(summary.problems.length, 0, summary.problems.join('; '));
    assert.equal(summary.ok, true);
    assert.ok(summary.byzantine, 'no byzantine summary');
    assert.equal(summary.byzantine.honestOutcome, true);
    const run = summary.runs[0];
    assert.equal(run.certifiedBy.length, 4, 'the adversary certifies the honest decision too (it cannot stop it)');
    assert.equal(run.sameCertificate, true);
    assert.equal(run.winnerMiner, 'faster');
    for (const kind of ['selective-count', 'binding-hijack', 'early-reveal-fetch', 'copying']) {
      assert.ok(attempts(kind).length > 0, `${kind} not tried`);
      for (const a of attempts(kind)) assert.equal(a.refused, true, `${kind}: ${a.evidence.join('; ')}`);
    }
  });

  it('selective counting: the adversary proposed a decision leaving an honest report out; honest members refused it and certified that report', () => {
    const [a] = attempts('selective-count');
    assert.match(a.what, /adversary: selective proposal/);
    assert.ok(a.evidence.some((e) => /leaves out \d+ valid report|justification lacks view changes/.test(e)), a.evidence.join('; '));
    assert.ok(a.evidence.some((e) => /the left-out one included/.test(e)), a.evidence.join('; '));
    assert.equal(summary.runs[0].countedHotkeys.length, 4);
  });

  it('binding hijack: every honest validator refused the forged and replayed bindings relayed to it', () => {
    const [a] = attempts('binding-hijack');
    const refusals = a.evidence.filter((e) => /^v\d refused/.test(e));
    assert.equal(refusals.length, 3);
    for (const r of refusals) {
      assert.doesNotMatch(r, /refused 0 relayed/);
      assert.match(r, /did not countersign|wrong-scope/);
    }
  });

  it('early-reveal fetch: before the commit deadline no API or run bundle served a report, report hash or evaluation', () => {
    const [a] = attempts('early-reveal-fetch');
    assert.ok(a.evidence.some((e) => /reports → 200, 0 report\(s\), sealed/.test(e)));
    assert.ok(a.evidence.some((e) => /consensus\/scores\/\d+ → 425/.test(e)));
    assert.ok(a.evidence.every((e) => !/SERVED/.test(e)));
  });

  it('copying: no brute-forced guess opened an honest commitment; the exact report without its salt does not either', () => {
    const [a] = attempts('copying');
    assert.match(a.evidence[0], /hashes in \d+ ms, 0 match\(es\)/);
    const exact = a.evidence.filter((e) => /exact report hashed without its salt/.test(e));
    assert.equal(exact.length, 3, a.evidence.join('; '));
    for (const e of exact) assert.match(e, /does not match the commitment; with its salt matches/);
  });
});
