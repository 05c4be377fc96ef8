// Restart safety of set_weights: the process dies after the `weights-intent` marker and before the
// confirmation is recorded. On restart the loop reads the chain (this hotkey's weights and the block
// they were set at) and neither sends twice nor loses the send. One validator holding all the stake
// (so it certifies alone) on the in-process harness; real LevelDB, sr25519, PBFT.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoReady, ed25519SignerFromSeed, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';
import { parseConfig } from '../../node/config.ts';
import { ValidatorStore, type RunRecord } from '../../node/validator/store.ts';
import { nodeMetrics } from '../../node/metrics.ts';
import { Validator } from '../../node/validator/validator.ts';
import { PbftConsensus } from '../../node/validator/consensus-adapter.ts';
import { rulesFromConfig } from '../../node/validator/decision.ts';
import { jsonLogger, type ChainPort } from '../../node/validator/ports.ts';
import { sameWeightShares } from '../../node/validator/weights.ts';
import { Bus, MemChain, fixedEvaluator, h32, seed } from './harness.ts';

const TEMPO = 40;
const NETUID = 1;
const RUN = 80;

describe('node/validator: set_weights across a crash between intent and confirmation', function () {
  this.timeout(60_000);
  let root: string;
  let signer: Sr25519Signer;
  let chain: MemChain;
  const open: { v?: Validator; store?: ValidatorStore }[] = [];

  before(async () => {
    await cryptoReady();
    root = mkdtempSync(join(tmpdir(), 'conclave-weights-'));
    signer = sr25519SignerFromSeed(seed('weights-validator'));
  });
  afterEach(async () => {
    for (const n of open.splice(0)) {
      await n.v?.stop();
      await n.store?.close().catch(() => undefined);
    }
    chain?.stop();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  function setupChain(): void {
    const miners = [4, 5].map((u) => sr25519SignerFromSeed(seed(`wminer-${u}`)));
    chain = new MemChain({
      tempo: TEMPO, netuid: NETUID,
      neurons: [{ uid: 0, hotkey: signer.hotkey, stake: 1000n, validatorPermit: true }, ...miners.map((m, i) => ({ uid: i + 4, hotkey: m.hotkey, stake: 0n, validatorPermit: false }))],
      roster: miners.map((m, i) => ({ uid: i + 4, minerHotkey: m.hotkey, codeSha256: h32(`wcode-${i}`), url: `http://127.0.0.1:1/${i}.py`, commitBlock: 10 + i })),
    });
    chain.block = RUN;
  }

  async function start(dir: string, port: ChainPort): Promise<{ v: Validator; store: ValidatorStore }> {
    const cfg = parseConfig(`[chain]\nnetuid = ${NETUID}\n[node]\nmode = "decentralized"\n[consensus]\nburn_rate = 0.5\ncommit_window_blocks = 4\nreveal_window_blocks = 2\nconsensus_timeout_s = 20\n`, { env: {} });
    const store = await ValidatorStore.open(join(dir, 'state'));
    const nodeSigner = ed25519SignerFromSeed(seed('weights-node'));
    const scores = new Map([[h32('wcode-0'), { status: 'scored' as const, score: 300_000, detail: {} }], [h32('wcode-1'), { status: 'scored' as const, score: 400_000, detail: {} }]]);
    const v = new Validator({
      config: cfg, chain: port, mesh: new Bus().portFor(signer.hotkey, toHex(nodeSigner.publicKey)), evaluator: fixedEvaluator(scores),
      consensus: new PbftConsensus({ nodeSigner, hotkey: signer.hotkey, rules: rulesFromConfig(cfg), timing: { proposeDelayMs: 50, viewTimeoutMs: 3000 } }),
      store, signer, metrics: nodeMetrics(), log: jsonLogger('error'),
    });
    await v.start(30);
    const n = { v, store };
    open.push(n);
    return n;
  }

  async function waitFor(pred: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await pred()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  /**
   * Runs the loop until set_weights is called, then "kills" the process there: with `lands` the
   * extrinsic reaches the chain first. Nothing after the kill is persisted (the store is closed
   * before the pending call returns).
   */
  async function crashInSetWeights(dir: string, lands: boolean): Promise<void> {
    const base = chain.portFor(signer.hotkey);
    let release: (e: Error) => void = () => undefined;
    let called = false;
    const port: ChainPort = {
      ...base,
      setWeights: async (uids, weights) => {
        called = true;
        if (lands) await base.setWeights(uids, weights);
        return new Promise((_res, rej) => { release = rej; });
      },
    };
    const n = await start(dir, port);
    // blocks start only once the commitment is in: on a slow machine the 4-block window could close first
    await waitFor(async () => (await n.store.getRun(RUN))?.phase === 'committed', 30_000, 'the validator to commit');
    chain.run(100);
    await waitFor(() => called, 30_000, 'the validator to call set_weights');
    chain.stop(); // the chain stands still while the validator is down: no new run interferes
    await n.store.close();
    release(new Error('process killed'));
    await n.v.stop();
    open.splice(open.indexOf(n), 1);
    const intent = await reopenedMark(dir);
    assert.equal(intent?.detail.sends, 1, 'the intent was recorded before sending');
  }

  async function reopenedMark(dir: string) {
    const s = await ValidatorStore.open(join(dir, 'state'));
    try {
      assert.notEqual((await s.getRun(RUN))?.phase, 'done', 'the crash left the run unfinished');
      return await s.marked(RUN, 'weights-intent');
    } finally {
      await s.close();
    }
  }

  async function restartToDone(dir: string): Promise<RunRecord> {
    const n = await start(dir, chain.portFor(signer.hotkey));
    await waitFor(async () => (await n.store.getRun(RUN))?.phase === 'done', 20_000, 'the restarted validator to finish the run');
    return (await n.store.getRun(RUN))!;
  }

  it('weights that landed before the crash are found on chain and not sent again', async () => {
    setupChain();
    const dir = join(root, 'landed');
    await crashInSetWeights(dir, true);
    const sent = chain.weights.get(signer.hotkey)!;
    assert.equal(sent.length, 1);
    const r = await restartToDone(dir);
    assert.equal(chain.weights.get(signer.hotkey)!.length, 1, 'exactly one set_weights on chain');
    assert.equal(r.weights?.result, 'set');
    assert.equal(r.weights?.block, sent[0].block);
    assert.match(r.weights!.reason!, /found on chain after a restart/);
    assert.deepEqual(r.weights?.uids, [0, 5]);
  });

  it('weights that did not land are sent once on restart', async () => {
    setupChain();
    const dir = join(root, 'lost');
    await crashInSetWeights(dir, false);
    assert.equal(chain.weights.get(signer.hotkey), undefined, 'nothing reached the chain');
    const r = await restartToDone(dir);
    const sent = chain.weights.get(signer.hotkey)!;
    assert.equal(sent.length, 1, 'sent exactly once, after the restart');
    assert.deepEqual(sent[0].uids, [0, 5]);
    assert.deepEqual(r.weights, { ...r.weights, result: 'set', source: 'certified', uids: [0, 5], block: sent[0].block });
  });

  it('an older identical set does not count as landed; a newer run\'s weights stop a stale re-send', async () => {
    setupChain();
    // the same weights were set long before (previous run): identical shares, earlier block
    chain.weights.set(signer.hotkey, [{ block: 3, uids: [0, 5], weights: [0.5, 0.5] }]);
    const dir = join(root, 'older');
    await crashInSetWeights(dir, false);
    const r = await restartToDone(dir);
    assert.equal(chain.weights.get(signer.hotkey)!.length, 2, 'the old identical set at block 3 did not count: sent again');
    assert.equal(r.weights?.result, 'set');

    setupChain();
    const dir2 = join(root, 'stale');
    await crashInSetWeights(dir2, false);
    const s = await ValidatorStore.open(join(dir2, 'state'));
    const stale = (await s.getRun(RUN))!;
    await s.putRun({ ...stale, runId: RUN + 2 * (TEMPO + 1), phase: 'done', weights: { result: 'set', source: 'certified', uids: [0, 4], weights: [1, 1], block: 170, at: Date.now() } });
    await s.close();
    const r2 = await restartToDone(dir2);
    assert.equal(chain.weights.get(signer.hotkey), undefined, 'not re-sent over newer weights');
    assert.equal(r2.weights?.result, 'failed');
    assert.match(r2.weights!.reason!, /run 162 has set weights since/);
  });

  it('compares weights as the chain stores them (u16, max-upscaled, zeros dropped)', () => {
    assert.ok(sameWeightShares([{ uid: 0, weight: 65535 }, { uid: 5, weight: 3449 }], { uids: [0, 5], weights: [0.95, 0.05] }));
    assert.ok(sameWeightShares([{ uid: 0, weight: 65535 }], { uids: [0, 5], weights: [1, 0] }));
    assert.ok(!sameWeightShares([{ uid: 0, weight: 65535 }, { uid: 5, weight: 3500 }], { uids: [0, 5], weights: [0.95, 0.05] }));
    assert.ok(!sameWeightShares([{ uid: 0, weight: 65535 }, { uid: 4, weight: 3449 }], { uids: [0, 5], weights: [0.95, 0.05] }));
    assert.ok(!sameWeightShares([], { uids: [0], weights: [1] }));
  });
});
