// Owner and shadow modes on a commit-reveal subnet, end to end through the real wiring (startNode: chain
// client, mesh, LevelDB) against the devchain with its own drand beacon: each node runs a whole run
// alone (quorum miss), sends the owner's weights as a timelocked commit, waits in `confirming` until the
// chain reveals it in the next epoch, and records revealed / revealConfirmed — served by the API.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis, devKeypair } from '../../node/devchain/genesis.ts';
import { devHotkeyFile, freePorts } from '../../node/devnet/setup.ts';
import { parseConfig } from '../../node/config.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import { startNode } from '../../node/commands/start.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { fixedEvaluator } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('owner and shadow modes on a commit-reveal subnet (real devchain, real wiring)', function () {
  this.timeout(240_000);
  let root: string;
  let chain: DevChain;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'conclave-crmodes-'));
    mkdirSync(join(root, 'wallets', 'dev', 'hotkeys'), { recursive: true });
    for (const i of [1, 2]) writeFileSync(join(root, 'wallets', 'dev', 'hotkeys', `validator${i}`), (await devHotkeyFile(`//Validator${i}`)).json);
    const g = await defaultGenesis();
    Object.assign(g.subnets[0], { tempo: 40, weightsRateLimit: 1, commitRevealEnabled: true, revealPeriodEpochs: 1 });
    g.drand = { beacon: 'dev' };
    chain = new DevChain({ genesis: g, blockMs: 150 });
    // the owner (//Validator0, uid 0) has weights on chain: 0 → 1, 5 → 3
    chain.setStorage('subtensorModule', 'weights', [1, 0], [[0, 21845], [5, 65535]]);
    await chain.start();
  });
  after(async () => {
    await chain?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('each mode commits the owner\'s pick timelocked; the chain reveals it and the run record says revealConfirmed', async () => {
    const ports = await freePorts(2);
    const nodes = await Promise.all([['shadow', 1], ['owner', 2]].map(async ([mode, i], k) => startNode(parseConfig(`[chain]
endpoint = "${chain.url}"
netuid = 1
[wallet]
name = "dev"
hotkey = "validator${i}"
path = "${join(root, 'wallets')}"
[node]
data_dir = "${join(root, String(mode))}"
mode = "${mode}"
[p2p]
listen = "/ip4/127.0.0.1/tcp/0"
announce_axon = false
[consensus]
consensus_timeout_s = 2
# the node never gives up before each of the 4 members had a view (issue #15): keep views short here
view_timeout_s = 1
[api]
listen = "127.0.0.1:${ports[k]}"
`, { env: {} }), { evaluator: fixedEvaluator(new Map()), log: jsonLogger('error') })));
    try {
      const done = async (api: string) => {
        // a run outlasts several 6 s epochs (it waits out a view per member before its quorum miss): the
        // epochs it overlapped are skipped runs, newer than it in the listing
        const runs = ((await (await fetch(`${api}/v1/runs?limit=100`)).json()) as { runs: { runId: number; phase: string }[] }).runs;
        const r = runs.find((x) => x.phase === 'done');
        return r ? (await (await fetch(`${api}/v1/runs/${r.runId}`)).json()) as any : null;
      };
      const apis = ports.map((p) => `http://127.0.0.1:${p}`);
      const end = Date.now() + 200_000;
      let recs: any[] = [];
      while (Date.now() < end) {
        recs = await Promise.all(apis.map((a) => done(a).catch(() => null)));
        if (recs.every(Boolean)) break;
        await sleep(500);
      }
      const client = await SubtensorClient.connect({ endpoint: chain.url });
      try {
        for (const [k, rec] of recs.entries()) {
          assert.ok(rec, `${['shadow', 'owner'][k]}: no run reached done`);
          assert.equal(rec.weights.result, 'set', JSON.stringify(rec.weights));
          assert.equal(rec.weights.source, 'owner');
          const cr = rec.weights.commitReveal;
          assert.ok(cr && cr.commitBlock > 0, 'weights went as a timelocked commit');
          assert.equal(cr.revealed, true, JSON.stringify(cr));
          assert.equal(cr.revealConfirmed, true, JSON.stringify(cr));
          assert.ok(cr.revealBlock > cr.commitBlock);
          const hotkey = devKeypair(`//Validator${k + 1}`).address;
          assert.deepEqual(await client.weightsOf(1, hotkey), [{ uid: 0, weight: 21845 }, { uid: 5, weight: 65535 }], 'the owner\'s pick, revealed on chain');
        }
        assert.ok(recs[0].divergence, 'shadow mode records divergence');
        // the node's status (GET /v1/status, the dashboard's status panel) shows the confirmed reveal
        for (const api of apis) {
          const st = (await (await fetch(`${api}/v1/status`)).json()) as { lastWeights: { revealConfirmed: boolean | null } | null };
          assert.equal(st.lastWeights?.revealConfirmed, true, JSON.stringify(st.lastWeights));
        }
      } finally {
        await client.close();
      }
    } finally {
      for (const n of nodes) await n.stop();
    }
  });
});
