// `conclave start` on a commit-reveal subnet, against the real devchain (CommitRevealWeightsEnabled
// set in genesis): decentralized mode refuses to start and says why and what to do (the CLI exits 2
// with the message); shadow mode starts (real chain client, real libp2p mesh, real LevelDB).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis } from '../../node/devchain/genesis.ts';
import { devHotkeyFile } from '../../node/devnet/setup.ts';
import { parseConfig } from '../../node/config.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import { commitRevealRefusal, startNode, StartRefused } from '../../node/commands/start.ts';
import { fixedEvaluator } from './harness.ts';

const CLI = new URL('../../node/cli.ts', import.meta.url).pathname;

describe('conclave start on a commit-reveal subnet (real devchain)', function () {
  this.timeout(120_000);
  let chain: DevChain;
  let root: string;

  const toml = (mode: string, tag: string) => `[chain]
endpoint = "${chain.url}"
netuid = 1
[wallet]
name = "dev"
hotkey = "validator0"
path = "${join(root, 'wallets')}"
[node]
data_dir = "${join(root, tag)}"
mode = "${mode}"
log_level = "warn"
[p2p]
listen = "/ip4/127.0.0.1/tcp/0"
announce_axon = false
[api]
listen = ""
`;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'conclave-cr-'));
    const g = await defaultGenesis();
    g.subnets[0].commitRevealEnabled = true;
    chain = new DevChain({ genesis: g, host: '127.0.0.1', port: 0, blockMs: 0 });
    await chain.start();
    const hk = await devHotkeyFile('//Validator0');
    mkdirSync(join(root, 'wallets', 'dev', 'hotkeys'), { recursive: true });
    writeFileSync(join(root, 'wallets', 'dev', 'hotkeys', 'validator0'), hk.json);
  });

  after(async () => {
    await chain?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the refusal only concerns decentralized mode on a commit-reveal subnet', () => {
    assert.equal(commitRevealRefusal('decentralized', 1, false), null);
    assert.equal(commitRevealRefusal('shadow', 1, true), null);
    assert.equal(commitRevealRefusal('owner', 1, true), null);
    assert.match(commitRevealRefusal('decentralized', 1, true)!, /CommitRevealWeightsEnabled/);
  });

  it('decentralized: `conclave start` exits 2 and explains why and what to do', async () => {
    const path = join(root, 'decentralized.toml');
    writeFileSync(path, toml('decentralized', 'dec'));
    const child = spawn(process.execPath, [CLI, 'start', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => { stderr += b; });
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); res(null); }, 90_000);
      child.once('exit', (c) => { clearTimeout(t); res(c); });
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /refusing to start: subnet 1 has commit-reveal weights enabled \(CommitRevealWeightsEnabled\)/);
    assert.match(stderr, /commit_timelocked_weights/, 'says why');
    assert.match(stderr, /CONCLAVE_MODE=shadow/, 'says what to do');
    assert.match(stderr, /sudo_set_commit_reveal_weights_enabled\(1, false\)/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  it('decentralized: startNode rejects with StartRefused before joining the mesh; shadow starts', async () => {
    const log = jsonLogger('error');
    await assert.rejects(startNode(parseConfig(toml('decentralized', 'dec2'), { env: {} }), { evaluator: fixedEvaluator(new Map()), log }), (e: unknown) => e instanceof StartRefused);

    for (let i = 0; i < 3; i++) await chain.produceBlock();
    const lines: string[] = [];
    const node = await startNode(parseConfig(toml('shadow', 'shadow'), { env: {} }), { evaluator: fixedEvaluator(new Map()), log: jsonLogger('warn', {}, (l) => lines.push(l)) });
    try {
      assert.ok(node.mesh.multiaddrs().length > 0, 'the mesh is listening');
      const end = Date.now() + 20_000;
      while (Date.now() < end && !(node.validator.lastBlock > 0)) await new Promise((r) => setTimeout(r, 50));
      assert.ok(node.validator.lastBlock > 0, 'the run loop reads the chain');
      assert.ok(lines.some((l) => /commit-reveal weights are enabled/.test(JSON.parse(l).msg)), 'warns that no weights will be set');
    } finally {
      await node.stop();
    }
  });
});
