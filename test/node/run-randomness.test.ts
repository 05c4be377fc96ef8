// The run's chain randomness: every evaluation of a run gets the hash of the run's epoch start block
// (ChainPort.blockHash(runId)), the seed of everything the evaluator draws. When the chain cannot give it,
// nothing is evaluated and the phase is retried on the next tick instead of being stuck. One validator
// holding all the stake on the in-process harness (real LevelDB, sr25519, PBFT).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoReady, ed25519SignerFromSeed, sr25519SignerFromSeed } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';
import { parseConfig } from '../../node/config.ts';
import { ValidatorStore } from '../../node/validator/store.ts';
import { nodeMetrics } from '../../node/metrics.ts';
import { Validator } from '../../node/validator/validator.ts';
import { PbftConsensus } from '../../node/validator/consensus-adapter.ts';
import { rulesFromConfig } from '../../node/validator/decision.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import { Bus, MemChain, fixedEvaluator, h32, seed } from './harness.ts';

describe('node/validator: the run\'s chain randomness reaches the evaluator', function () {
  this.timeout(60_000);
  let root: string;
  before(async () => {
    await cryptoReady();
    root = mkdtempSync(join(tmpdir(), 'conclave-randomness-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('passes blockHash(runId) to every evaluation, and retries the phase when the chain could not give it', async () => {
    const signer = sr25519SignerFromSeed(seed('rnd-validator'));
    const miners = [4, 5].map((u) => sr25519SignerFromSeed(seed(`rnd-miner-${u}`)));
    const chain = new MemChain({
      tempo: 40, netuid: 1,
      neurons: [{ uid: 0, hotkey: signer.hotkey, stake: 1000n, validatorPermit: true }, ...miners.map((m, i) => ({ uid: i + 4, hotkey: m.hotkey, stake: 0n, validatorPermit: false }))],
      roster: miners.map((m, i) => ({ uid: i + 4, minerHotkey: m.hotkey, codeSha256: h32(`rnd-code-${i}`), url: `http://127.0.0.1:1/${i}.py`, commitBlock: 10 + i })),
    });
    chain.block = 80;
    const base = chain.portFor(signer.hotkey);
    const asked: number[] = [];
    let failures = 2;
    const port = {
      ...base,
      blockHash: async (block: number) => {
        asked.push(block);
        if (failures-- > 0) throw new Error('chain_getBlockHash: connection reset');
        return base.blockHash(block);
      },
    };
    const cfg = parseConfig('[chain]\nnetuid = 1\n[node]\nmode = "decentralized"\n[consensus]\ncommit_window_blocks = 4\nreveal_window_blocks = 2\nconsensus_timeout_s = 20\n', { env: {} });
    const store = await ValidatorStore.open(join(root, 'state'));
    const contexts: { runId: number; randomness: string }[] = [];
    const scores = new Map(miners.map((_, i) => [h32(`rnd-code-${i}`), { status: 'scored' as const, score: 100_000 * (i + 1), detail: {} }]));
    const nodeSigner = ed25519SignerFromSeed(seed('rnd-node'));
    const v = new Validator({
      config: cfg, chain: port, mesh: new Bus().portFor(signer.hotkey, toHex(nodeSigner.publicKey)), evaluator: fixedEvaluator(scores, [], contexts),
      consensus: new PbftConsensus({ nodeSigner, hotkey: signer.hotkey, rules: rulesFromConfig(cfg), timing: { proposeDelayMs: 50, viewTimeoutMs: 3000 } }),
      store, signer, metrics: nodeMetrics(), log: jsonLogger('error'),
    });
    try {
      await v.start(30);
      const end = Date.now() + 20_000;
      while (contexts.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.equal(contexts.length, 2, 'both roster entries evaluated');
      const expected = await base.blockHash(80);
      assert.deepEqual(contexts, [{ runId: 80, randomness: expected }, { runId: 80, randomness: expected }]);
      assert.ok(asked.length >= 3 && asked.every((b) => b === 80), `asked for blocks ${asked}: two failures, then the run's epoch start block`);
    } finally {
      await v.stop();
      await store.close().catch(() => undefined);
      chain.stop();
    }
  });
});
