// The run loop end to end in one process: 4 validators of unequal stake, real LevelDB stores,
// real sr25519/ed25519, the real PBFT reducer and decision rules; chain, gossip and the sandbox
// are in-memory stand-ins behind the seams (the devnet test runs the real ones).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoReady, ed25519SignerFromSeed, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { fromHex, toHex } from '../../proto/codec.ts';
import { signBinding } from '../../proto/binding.ts';
import { decodeCertifiedRun, encodeCertifiedRun } from '../../proto/consensus.ts';
import { parseConfig, type NodeConfig } from '../../node/config.ts';
import { ValidatorStore, type RunRecord } from '../../node/validator/store.ts';
import { nodeMetrics } from '../../node/metrics.ts';
import { Validator, epochStart } from '../../node/validator/validator.ts';
import { PbftConsensus } from '../../node/validator/consensus-adapter.ts';
import { rulesFromConfig } from '../../node/validator/decision.ts';
import { runTimeoutMs } from '../../consensus/pbft.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import type { EvaluationOutcome } from '../../node/validator/ports.ts';
import type { RosterEntry } from '../../proto/roster.ts';
import { auditRun } from '../../node/audit.ts';
import { Bus, MemChain, fixedEvaluator, h32, seed } from './harness.ts';

const GENESIS = '0x' + h32('memchain-genesis');

const TEMPO = 40;
const NETUID = 1;
const STAKES = [400n, 300n, 200n, 100n];

interface Node {
  v: Validator;
  store: ValidatorStore;
  signer: Sr25519Signer;
  cfg: NodeConfig;
  dir: string;
}

describe('node/validator run loop (4 validators in-process, real PBFT + LevelDB)', function () {
  this.timeout(60_000);
  let root: string;
  let chain: MemChain;
  let bus: Bus;
  let signers: Sr25519Signer[];
  let miners: Sr25519Signer[];
  let roster: RosterEntry[];
  const nodes: Node[] = [];
  /** every node's log lines (JSON) */
  const logLines: string[] = [];

  const MFU: Record<number, EvaluationOutcome> = {
    4: { status: 'scored', score: 300_000, detail: {} }, // honest
    5: { status: 'scored', score: 420_000, detail: {} }, // faster honest
    6: { status: 'duplicate', score: 0, detail: {} }, // renamed copy
    7: { status: 'rejected-runtime', score: 0, detail: { check: 'timer-agreement' } },
    8: { status: 'rejected-runtime', score: 0, detail: { check: 'gradient-error' } },
    9: { status: 'fetch-failed', score: 0, detail: { reason: 'redirect to loopback refused' } },
  };

  before(async () => {
    await cryptoReady();
    root = mkdtempSync(join(tmpdir(), 'conclave-loop-'));
    signers = STAKES.map((_, i) => sr25519SignerFromSeed(seed(`validator-${i}`)));
    miners = [4, 5, 6, 7, 8, 9].map((u) => sr25519SignerFromSeed(seed(`miner-${u}`)));
    roster = miners.map((m, i) => ({ uid: i + 4, minerHotkey: m.hotkey, codeSha256: h32(`code-${i + 4}`), url: `http://127.0.0.1:1/${i + 4}.py`, commitBlock: 10 + i }));
  });

  afterEach(async () => {
    logLines.length = 0;
    for (const n of nodes.splice(0)) {
      await n.v.stop();
      await n.store.close().catch(() => undefined);
    }
    chain?.stop();
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  function setup(): void {
    const neurons = [
      ...signers.map((s, i) => ({ uid: i, hotkey: s.hotkey, stake: STAKES[i], validatorPermit: true })),
      ...miners.map((m, i) => ({ uid: i + 4, hotkey: m.hotkey, stake: 0n, validatorPermit: false })),
    ];
    chain = new MemChain({ tempo: TEMPO, netuid: NETUID, neurons, roster });
    chain.block = 80; // an epoch start for tempo 40, netuid 1
    assert.equal(epochStart(80, TEMPO, NETUID), 80);
    bus = new Bus();
  }

  async function startNode(i: number, opts: { fault?: string; mode?: string; tag: string; viewTimeoutMs?: number }): Promise<Node> {
    const dir = join(root, `${opts.tag}-v${i}`);
    const cfg = parseConfig(
      `[chain]\nnetuid = ${NETUID}\n[node]\nmode = "${opts.mode ?? 'decentralized'}"\n[consensus]\ncommit_window_blocks = 6\nreveal_window_blocks = 3\nconsensus_timeout_s = 20\n[dev]\nfault = "${opts.fault ?? ''}"\n`,
      { env: {} },
    );
    const store = await ValidatorStore.open(join(dir, 'state'));
    const signer = signers[i];
    const nodeSigner = ed25519SignerFromSeed(seed(`node-${i}`));
    const metrics = nodeMetrics();
    // each validator measures slightly differently (real hardware noise)
    const scores = new Map(roster.map((e) => [e.codeSha256, { ...MFU[e.uid], score: MFU[e.uid].score ? MFU[e.uid].score + i * 1000 : 0 }]));
    const v = new Validator({
      config: cfg,
      chain: chain.portFor(signer.hotkey),
      mesh: bus.portFor(signer.hotkey, toHex(nodeSigner.publicKey), signBinding({ genesisHash: GENESIS, netuid: NETUID, node: nodeSigner, multiaddrs: [], issuedAt: Date.now() - 60_000, expiresAt: Date.now() + 3600_000 }, signer)),
      evaluator: fixedEvaluator(scores),
      consensus: new PbftConsensus({ nodeSigner, hotkey: signer.hotkey, rules: rulesFromConfig(cfg), timing: { proposeDelayMs: 200, viewTimeoutMs: opts.viewTimeoutMs ?? 3000 } }),
      store,
      signer,
      metrics,
      log: jsonLogger('warn', { v: i }, (line) => { logLines.push(line); process.stderr.write(line + '\n'); }),
    });
    await v.start(40);
    const n = { v, store, signer, cfg, dir };
    nodes.push(n);
    return n;
  }

  async function waitFor(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await pred()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  const runOf = (n: Node) => n.store.getRun(80);
  const allCommitted = (ns: Node[]) => waitFor(async () => (await Promise.all(ns.map(runOf))).every((r) => r?.phase === 'committed'), 30_000, 'every validator to commit run 80');
  const done = async (n: Node) => (await runOf(n))?.phase === 'done';

  it('certifies one decision; an inflating validator moves neither median nor winner; a validator killed mid-run resumes without a second commit', async () => {
    setup();
    const a = await startNode(0, { tag: 'a' });
    const b = await startNode(1, { tag: 'a' });
    let c = await startNode(2, { tag: 'a' });
    const d = await startNode(3, { tag: 'a', fault: 'inflate:4:10' });
    // kill validator 2 once its commitment is on chain, before reports are published; blocks start once
    // all four have committed (the commit window is 6 blocks: a slow machine must not miss it)
    await allCommitted([a, b, c, d]);
    await c.v.stop();
    bus.down.add(toHex(ed25519SignerFromSeed(seed('node-2')).publicKey));
    await c.store.close();
    nodes.splice(nodes.indexOf(c), 1);
    chain.run(120);

    await waitFor(async () => (await Promise.all([a, b, d].map(done))).every(Boolean), 30_000, 'the three live validators to finish run 80');
    const runs = (await Promise.all([a, b, d].map(runOf))) as RunRecord[];
    const certs = new Set(runs.map((r) => r.certificateHash));
    assert.equal(certs.size, 1, 'all live validators hold the same certificate');
    const dec = runs[0].decision!;
    assert.equal(dec.quorumMet, true);
    assert.equal(dec.winner, 5, 'the faster honest miner wins');
    const s4 = dec.scores.find((s) => s.uid === 4)!.score!;
    assert.ok(s4 >= 300_000 && s4 <= 303_000, `uid 4 median ${s4} stays within the honest range despite a 10x inflation`);
    assert.deepEqual(dec.weights, [{ uid: 0, weight: 0.95 }, { uid: 5, weight: 0.05 }]);
    for (const r of runs) assert.equal(r.weights?.result, 'set');
    assert.deepEqual(chain.weights.get(signers[0].hotkey)!.at(-1)!.uids, [0, 5]);

    // restart validator 2 on the same data dir: it resumes, never commits twice, and learns the certificate
    bus.down.clear();
    c = await startNode(2, { tag: 'a' });
    await waitFor(() => done(c), 20_000, 'restarted validator 2 to finish run 80');
    // count run 80's commitments only: under load the fake chain may already be in the next epoch
    const commitsFor80 = (hotkey: string) => (chain.commits.get(hotkey) ?? []).filter((x) => x.runId === 80).length;
    assert.equal(commitsFor80(signers[2].hotkey), 1, 'exactly one commitment by validator 2');
    for (const s of signers) assert.equal(commitsFor80(s.hotkey), 1);
    assert.equal((await runOf(c))!.certificateHash, runs[0].certificateHash);
  });

  it('a quorum miss does not hold weight for a recycled incumbent uid (the uid now belongs to another miner)', async () => {
    setup();
    // 1 s views: one view per member (backoff capped) is ~11 s; the next run's quorum miss comes at its chain deadline
    // (one epoch after its reveal deadline: 41 blocks of 120 ms, ~5 s) if that is earlier
    const ns: Node[] = [];
    for (const i of [0, 1, 2, 3]) ns.push(await startNode(i, { tag: 'c', viewTimeoutMs: 1000 }));
    const [a, b, c, d] = ns;
    await allCommitted([a, b, c, d]);
    chain.run(120);
    await waitFor(async () => (await Promise.all([a, b, c, d].map(done))).every(Boolean), 30_000, 'run 80 to finish');
    assert.equal((await runOf(a))!.decision!.winner, 5);
    for (const n of [a, d]) n.cfg.consensus.consensusTimeoutS = 3; // the next run's quorum miss need not take 20 s
    // uid 5 is deregistered and re-registered by another miner; validators 1 and 2 (half the stake) go silent
    const newcomer = sr25519SignerFromSeed(seed('miner-5-newcomer'));
    chain.roster = chain.roster.map((e) => (e.uid === 5 ? { ...e, minerHotkey: newcomer.hotkey } : e));
    chain.neurons = chain.neurons.map((n) => (n.uid === 5 ? { ...n, hotkey: newcomer.hotkey } : n));
    for (const [n, i] of [[b, 1], [c, 2]] as const) {
      await n.v.stop();
      bus.down.add(toHex(ed25519SignerFromSeed(seed(`node-${i}`)).publicKey));
    }
    const from = chain.block + 1;
    let next = from;
    while (epochStart(next, TEMPO, NETUID) !== next) next++; // the first run that sees the recycled uid
    await waitFor(async () => (await a.store.getRun(next))?.phase === 'done', 40_000, `validator 0 to finish run ${next}`);
    const r = (await a.store.getRun(next))!;
    assert.equal(r.decision?.quorumMet, false, 'half the stake is silent: quorum miss');
    assert.equal(r.weights?.result, 'held');
    assert.ok(!r.weights!.uids.includes(5), `no weight for the recycled uid 5: ${JSON.stringify(r.weights)}`);
    const after = (chain.weights.get(signers[0].hotkey) ?? []).filter((w) => w.block >= from);
    assert.ok(after.every((w) => !w.uids.includes(5)), `no set_weights rewarding uid 5 after the recycle: ${JSON.stringify(after)}`);
  });

  // Half the stake goes silent once committed: quorum (> 2/3 of stake) is unreachable in run 80.
  async function unreachableQuorum(tag: string, viewTimeoutMs: number): Promise<Node[]> {
    setup();
    const ns: Node[] = [];
    for (const i of [0, 1, 2, 3]) ns.push(await startNode(i, { tag, viewTimeoutMs }));
    await allCommitted(ns);
    for (const i of [1, 2]) {
      await ns[i].v.stop();
      bus.down.add(toHex(ed25519SignerFromSeed(seed(`node-${i}`)).publicKey));
    }
    return [ns[0], ns[3]];
  }

  it('with quorum unreachable, gives up at the chain deadline (the next run\'s reveal deadline), not after one view per member', async () => {
    // 3 s views: one view per member is 0.2 + 3 + 6 + 12 + 12 = 33.2 s (the old rule: max(consensus_timeout_s 20 s, that));
    // the chain deadline: the next run (legacy schedule: 80 + 41 = 121) + its windows (6 + 3) = block 130, i.e. 41 blocks
    // after run 80's reveal deadline (89) = 4.1 s at 100 ms a block
    const [a, d] = await unreachableQuorum('dl', 3000);
    chain.run(100);
    await waitFor(async () => (await Promise.all([a, d].map(done))).every(Boolean), 30_000, 'the two live validators to finish run 80');
    const oldRuleMs = Math.max(20_000, runTimeoutMs({ proposeDelayMs: 200, viewTimeoutMs: 3000, maxBackoffExponent: 2 }, 4));
    assert.equal(oldRuleMs, 33_200);
    for (const n of [a, d]) {
      const r = (await runOf(n))!;
      const q = r.quorumMiss!;
      assert.equal(r.decision?.quorumMet, false);
      assert.equal(r.weights?.result, 'held', 'decentralized mode holds the incumbent on a quorum miss');
      assert.equal(q.cause, 'chain-deadline', JSON.stringify(q));
      assert.equal(q.deadlineBlock, 130, JSON.stringify(q));
      assert.ok(q.block >= 130 && q.block <= 130 + 10, `declared at block ${q.block}: at the deadline, not before, and promptly`);
      // negative control: the old rule (max(consensus_timeout_s, n views)) was still waiting when the chain deadline came
      assert.equal(q.timeoutMs, oldRuleMs, 'the n-views bound is computed as before');
      assert.ok(q.elapsedMs < oldRuleMs / 2, `gave up after ${q.elapsedMs} ms; the old rule waits ${oldRuleMs} ms`);
    }
    // each node warned once, when run 80's membership was known, with the numbers: 4 views of 3 s need 33.2 s,
    // the epoch leaves 32 blocks (121 - 89) = 3.2 s after the reveal window, and no whole-second view timeout fits
    for (const v of [0, 3]) {
      const warns = logLines.map((l) => JSON.parse(l)).filter((x) => x.v === v && /does not fit the epoch/.test(x.msg));
      assert.equal(warns.length, 1, JSON.stringify(warns));
      const w = warns[0];
      assert.deepEqual([w.members, w.viewTimeoutS, w.secondsNeeded, w.secondsAvailable, w.largestViewTimeoutSThatFits], [4, 3, 33.2, 3.2, 0]);
    }
  });

  it('with quorum unreachable and the chain stalled before the deadline, gives up after max(consensus_timeout_s, n views) (the floor is kept when it fits)', async () => {
    // 300 ms views: n views = 0.2 + 0.3 + 0.6 + 1.2 + 1.2 = 3.5 s > consensus_timeout_s (1 s); the chain stops a block after
    // the reveal deadline, far before block 130
    const [a, d] = await unreachableQuorum('st', 300);
    for (const n of [a, d]) n.cfg.consensus.consensusTimeoutS = 1;
    chain.run(100);
    await waitFor(async () => (await runOf(a))?.phase === 'consensus' && (await runOf(d))?.phase === 'consensus', 20_000, 'consensus to open');
    chain.stop();
    const stalledAt = chain.block;
    await waitFor(async () => (await Promise.all([a, d].map(done))).every(Boolean), 20_000, 'the two live validators to finish run 80');
    for (const n of [a, d]) {
      const q = (await runOf(n))!.quorumMiss!;
      assert.equal(q.cause, 'timeout', JSON.stringify(q));
      assert.ok(q.block <= stalledAt && q.block < q.deadlineBlock, JSON.stringify(q));
      assert.equal(q.timeoutMs, 3_500);
      assert.ok(q.elapsedMs > 3_500, `not before every member had its view: ${q.elapsedMs} ms`);
    }
  });

  it('excludes a report that does not match its commitment; shadow mode records divergence and sets the owner pick', async () => {
    setup();
    const owner = sr25519SignerFromSeed(seed('owner'));
    chain.weights.set(owner.hotkey, [{ block: 1, uids: [0, 4], weights: [0.95, 0.05] }]);
    const a = await startNode(0, { tag: 'b' });
    const b = await startNode(1, { tag: 'b', fault: 'mismatch-report' });
    const c = await startNode(2, { tag: 'b' });
    const d = await startNode(3, { tag: 'b', mode: 'shadow' });
    d.cfg.owner.hotkey = owner.hotkey;
    await allCommitted([a, b, c, d]);
    chain.run(120);
    await waitFor(async () => (await Promise.all([a, c, d].map(done))).every(Boolean), 30_000, 'honest validators to finish run 80');
    const ra = (await runOf(a))!;
    const rd = (await runOf(d))!;
    assert.equal(ra.certificateHash, rd.certificateHash);
    const vb = ra.verdicts.find((x) => x.hotkey === signers[1].hotkey);
    assert.equal(vb?.verdict, 'hash-mismatch', JSON.stringify(ra.verdicts));
    const committedB = chain.commits.get(signers[1].hotkey)![0].hash;
    assert.ok(!ra.decision!.reportHashes.includes(committedB) && ra.decision!.reportHashes.length === 3, 'the mismatching validator is not counted');
    assert.equal(ra.decision!.winner, 5);
    // the per-validator record (issue #15): all committed; b's reveal does not open its commitment
    const part = new Map((ra.participation ?? []).map((p) => [p.hotkey, p]));
    assert.equal(part.size, 4, JSON.stringify(ra.participation));
    for (const [i, s] of signers.entries()) {
      const p = part.get(s.hotkey)!;
      assert.equal(p.committedAt, chain.commits.get(s.hotkey)![0].block, `validator ${i} commitment block`);
      assert.equal(p.revealed, i === 1 ? 'mismatch' : 'on-time', `validator ${i}: ${JSON.stringify(p)}`);
      assert.equal(p.counted, i !== 1, `validator ${i} counted`);
      assert.equal(p.missedStreak, i === 1 ? 1 : 0, `validator ${i} missed-reveal streak`);
    }
    // shadow: owner's pick set, divergence recorded
    assert.equal(rd.weights?.source, 'owner');
    assert.deepEqual(chain.weights.get(signers[3].hotkey)!.at(-1)!.uids, [0, 4]);
    assert.equal(rd.divergence?.consensusWinner, 5);
    assert.equal(rd.divergence?.ownerPick, 4);
    assert.equal(rd.divergence?.top1Agree, false);

    // audit from validator 0's evidence + chain state: every vote attributed and the decision recomputed;
    // the mismatching reveal is listed as revealed-but-uncommitted, its commitment as committed-but-uncounted
    const port = chain.portFor(signers[0].hotkey);
    const w0 = chain.weights.get(signers[0].hotkey)!.at(-1)!;
    const audit = auditRun({
      runId: 80, netuid: NETUID, genesisHash: GENESIS, roster: ra.roster, rosterHash: ra.rosterHash, policyHash: ra.policyHash, hardwareClass: ra.hardwareClass,
      reveals: (await a.store.listReportBytes(80)).map((x) => ({ hotkey: x.hotkey, revealHex: x.hex })),
      certifiedRunHex: ra.certifiedRunHex ?? null, metagraph: await port.metagraph(), commitments: await port.reportCommitments(80, 86),
      previous: null, chainWeightsAtStart: [],
      chainWeights: new Map([[signers[0].hotkey, { block: w0.block, weights: await port.weightsOf(signers[0].hotkey, w0.block) }]]), rules: rulesFromConfig(a.cfg),
    });
    assert.deepEqual(audit.failed, [], JSON.stringify(audit.checks.filter((c) => !c.ok)));
    assert.equal(audit.ok, true);
    assert.ok(audit.checks.some((c) => c.check === 'certificate-votes-verify' && c.ok));
    assert.deepEqual(audit.uncommitted.map((u) => u.hotkey), [signers[1].hotkey]);
    assert.deepEqual(audit.uncounted.map((u) => u.hotkey), [signers[1].hotkey]);
    assert.equal(audit.incumbent.from, 'chain-weights');
    assert.equal(audit.winner, 5);
    // a forged certificate: the same votes, another decision → refused by the vote check
    const forged = decodeCertifiedRun(fromHex(ra.certifiedRunHex!));
    forged.certificate.decision = { ...forged.certificate.decision, winnerUid: 4 };
    const bad = auditRun({ ...{ runId: 80, netuid: NETUID, genesisHash: GENESIS, roster: ra.roster, rosterHash: ra.rosterHash, policyHash: ra.policyHash, hardwareClass: ra.hardwareClass }, reveals: [], certifiedRunHex: toHex(encodeCertifiedRun(forged)), metagraph: await port.metagraph(), commitments: await port.reportCommitments(80, 86), previous: null, chainWeightsAtStart: [], chainWeights: new Map(), rules: rulesFromConfig(a.cfg) });
    assert.ok(bad.failed.includes('certificate-votes-verify'), bad.failed.join(','));
  });
});
