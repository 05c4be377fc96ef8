// Bad input and faults against the real devchain and the real node wiring (startNode: chain client,
// libp2p mesh, LevelDB): a young chain (block < one tempo) under both epoch schedules never crashes
// the node and the first run opens at the chain's first epoch; a write the chain refuses (a hotkey that
// is not registered, one whose account cannot pay) is retried with backoff and logged once per run with
// the chain's error; a chain outage is logged when it starts and when it ends.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis, devKeypair } from '../../node/devchain/genesis.ts';
import { devHotkeyFile } from '../../node/devnet/setup.ts';
import { parseConfig } from '../../node/config.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import { startNode } from '../../node/commands/start.ts';
import { fixedEvaluator } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('node against chain faults (real devchain, real wiring)', function () {
  this.timeout(240_000);
  let root: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'conclave-faults-'));
    mkdirSync(join(root, 'wallets', 'dev', 'hotkeys'), { recursive: true });
    for (const seed of ['//Validator0', '//Validator1', '//Stranger']) {
      writeFileSync(join(root, 'wallets', 'dev', 'hotkeys', seed.slice(2).toLowerCase()), (await devHotkeyFile(seed)).json);
    }
  });
  after(() => root && rmSync(root, { recursive: true, force: true }));

  const toml = (url: string, hotkey: string, tag: string) => `[chain]
endpoint = "${url}"
netuid = 1
[wallet]
name = "dev"
hotkey = "${hotkey}"
path = "${join(root, 'wallets')}"
[node]
data_dir = "${join(root, tag)}"
mode = "shadow"
log_level = "debug"
[p2p]
listen = "/ip4/127.0.0.1/tcp/0"
announce_axon = false
[api]
listen = ""
`;

  async function node(url: string, hotkey: string, tag: string) {
    const lines: Record<string, any>[] = [];
    const n = await startNode(parseConfig(toml(url, hotkey, tag), { env: {} }), { evaluator: fixedEvaluator(new Map()), log: jsonLogger('debug', {}, (l) => lines.push(JSON.parse(l))) });
    return { n, lines };
  }

  for (const model of ['stateful', 'legacy'] as const) {
    it(`a young chain (${model} schedule, block < one tempo) does not crash the node; the first run is keyed by the chain's first epoch`, async () => {
      const g = await defaultGenesis();
      g.subnets[0].tempo = 30;
      const chain = new DevChain({ genesis: g, blockMs: 0, epochModel: model });
      await chain.start();
      const { n, lines } = await node(chain.url, 'validator0', `young-${model}`);
      try {
        for (let i = 0; i < 5; i++) {
          chain.produceBlock();
          await sleep(200);
        }
        assert.ok(n.validator.lastBlock > 0 && n.validator.lastBlock < 30);
        assert.equal((await n.validator.health()).error, null);
        const opened = () => lines.filter((l) => l.msg === 'run opened').map((l) => l.runId);
        if (model === 'legacy') {
          assert.ok(lines.some((l) => l.msg === 'no run yet: the subnet has not had its first epoch' && l.firstEpochAt === 29), 'legacy: waits for the first boundary (30 - netuid - 1)');
          assert.deepEqual(opened(), []);
        } else {
          assert.deepEqual(opened(), [0], 'stateful: the run started at LastEpochBlock (the registration block)');
        }
        while (chain.head < 33) chain.produceBlock();
        const end = Date.now() + 20_000;
        const first = model === 'legacy' ? 29 : 30;
        while (Date.now() < end && !opened().includes(first)) await sleep(100);
        assert.ok(opened().includes(first), `a run opens at the chain's first epoch, block ${first} (opened: ${opened()})`);
        assert.ok(!lines.some((l) => l.level === 'error'), JSON.stringify(lines.filter((l) => l.level === 'error')));
      } finally {
        await n.stop();
        await chain.stop();
      }
    });
  }

  it('a refused write (not registered; no account to pay) backs off and is logged once per run with the chain\'s error', async () => {
    const g = await defaultGenesis();
    g.subnets[0].tempo = 200;
    g.balances = [{ address: devKeypair('//Stranger').address, free: '1000000000000' }]; // funded, not registered
    const chain = new DevChain({ genesis: g, blockMs: 100 });
    await chain.start();
    const submits = new Map<string, number>();
    const orig = chain.submit.bind(chain);
    // count every submission attempt (accepted into the pool or refused by it)
    chain.submit = (hex: string) => {
      const who = chain.meta.registry.createType('Extrinsic', hex).signer.toString();
      submits.set(who, (submits.get(who) ?? 0) + 1);
      return orig(hex);
    };
    // //Validator1 is registered but its account is gone: the pool refuses its transactions (cannot pay)
    chain.setStorage('system', 'account', [devKeypair('//Validator1').address], null);
    chain.produceBlock();
    const a = await node(chain.url, 'stranger', 'refused-stranger');
    const b = await node(chain.url, 'validator1', 'refused-nofee');
    try {
      await sleep(20_000);
      for (const [who, x, err] of [[devKeypair('//Stranger').address, a, 'AccountNotAllowedCommit'], [devKeypair('//Validator1').address, b, 'no-balance']] as const) {
        const warns = x.lines.filter((l) => l.msg.startsWith('chain refused a write'));
        assert.equal(warns.length, 1, `${who}: one warning per run, got ${warns.length}`);
        assert.ok(warns[0].chainError === err || warns[0].kind === err, JSON.stringify(warns[0]));
        assert.match(warns[0].error, err === 'no-balance' ? /cannot pay the fee/ : /AccountNotAllowedCommit/);
        const tries = submits.get(who) ?? 0;
        assert.ok(tries >= 2 && tries <= 6, `${who}: ${tries} attempts in 20 s (backoff 2, 4, 8, 16 s), not one per tick`);
        assert.ok(x.lines.filter((l) => l.msg === 'run step failed again; backing off').length >= 1, 'later attempts at debug');
      }
    } finally {
      await a.n.stop();
      await b.n.stop();
      await chain.stop();
    }
  });

  it('a chain outage is logged when it starts and when it ends', async () => {
    const dataDir = join(root, 'outage-chain');
    const chain = new DevChain({ blockMs: 200, dataDir });
    await chain.start();
    const port = chain.port;
    const { n, lines } = await node(chain.url, 'validator0', 'outage');
    let again: DevChain | undefined;
    try {
      const t0 = Date.now();
      while (Date.now() - t0 < 20_000 && !(n.validator.lastBlock > 0)) await sleep(50);
      await chain.stop();
      await sleep(4_000);
      again = new DevChain({ blockMs: 200, dataDir, port });
      await again.start();
      const end = Date.now() + 60_000;
      while (Date.now() < end && !lines.some((l) => l.msg === 'chain connection back')) await sleep(200);
      const down = lines.filter((l) => l.msg === 'chain connection lost: reconnecting with backoff; runs wait');
      const up = lines.filter((l) => l.msg === 'chain connection back');
      assert.equal(down.length, 1, 'the outage start is logged once');
      assert.equal(up.length, 1, 'and its end once');
      assert.ok(up[0].downMs >= 3_000, JSON.stringify(up[0]));
      assert.equal(down[0].level, 'warn');
    } finally {
      await n.stop();
      await again?.stop();
    }
  });
});
