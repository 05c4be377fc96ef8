// `conclave start` on a commit-reveal subnet and against the subnet's tempo, with the real devchain
// (CommitRevealWeightsEnabled set in genesis): decentralized mode starts there (weights go as
// timelocked commits); it refuses only a runtime that cannot take them. Run windows that do not fit the
// tempo are refused with the numbers (the CLI exits 2 with the message, no stack).
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
import { commitRevealRefusal, startNode, windowsRefusal } from '../../node/commands/start.ts';
import { runWindows } from '../../node/validator/windows.ts';
import { fixedEvaluator } from './harness.ts';

const CLI = new URL('../../node/cli.ts', import.meta.url).pathname;

describe('conclave start on a commit-reveal subnet, and run windows against the tempo (real devchain)', function () {
  this.timeout(120_000);
  let chain: DevChain;
  let root: string;

  const toml = (mode: string, tag: string, extra = '') => `[chain]
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
${extra}`;

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

  it('refuses decentralized mode only where the runtime cannot take timelocked commits', () => {
    assert.equal(commitRevealRefusal('decentralized', 1, false, 'no call'), null);
    assert.equal(commitRevealRefusal('decentralized', 1, true, null), null, 'a current runtime: commits are timelocked');
    assert.equal(commitRevealRefusal('shadow', 1, true, 'the runtime has no commit_timelocked_weights call'), null);
    const msg = commitRevealRefusal('decentralized', 1, true, 'the runtime has no commit_timelocked_weights call')!;
    assert.match(msg, /CommitRevealWeightsEnabled\) and the runtime has no commit_timelocked_weights call/);
    assert.match(msg, /CONCLAVE_MODE=shadow/);
  });

  it('run windows: derived from the tempo (150/60 at 360); configured ones refused when they leave no room, naming the numbers', () => {
    assert.deepEqual(runWindows(360, { commitWindowBlocks: 0, revealWindowBlocks: 0 }), { ok: true, windows: { commitBlocks: 150, revealBlocks: 60, source: 'tempo' } });
    assert.deepEqual(runWindows(20, { commitWindowBlocks: 0, revealWindowBlocks: 0 }), { ok: true, windows: { commitBlocks: 8, revealBlocks: 3, source: 'tempo' } });
    assert.deepEqual(runWindows(360, { commitWindowBlocks: 200, revealWindowBlocks: 100 }), { ok: true, windows: { commitBlocks: 200, revealBlocks: 100, source: 'config' } });
    const bad = runWindows(100, { commitWindowBlocks: 150, revealWindowBlocks: 60 });
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.reason : '', /commit_window_blocks \(150\) \+ consensus\.reveal_window_blocks \(60\) \+ 10 blocks for consensus and weights = 220 > the subnet's tempo of 100 blocks/);
    assert.match(!bad.ok ? bad.reason : '', /commit \+ reveal <= 90 .*or to 0/);
    assert.equal(runWindows(2, { commitWindowBlocks: 0, revealWindowBlocks: 0 }).ok, false);
    assert.match(windowsRefusal(20, { commitWindowBlocks: 30, revealWindowBlocks: 5 } as never, 1)!, /^subnet 1: .*tempo of 20 blocks/);
  });

  it('`conclave start` with windows that do not fit the tempo exits 2 with the numbers', async () => {
    const path = join(root, 'windows.toml');
    writeFileSync(path, toml('shadow', 'win', '[consensus]\ncommit_window_blocks = 30\nreveal_window_blocks = 5\n'));
    const child = spawn(process.execPath, [CLI, 'start', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b) => { stderr += b; });
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); res(null); }, 90_000);
      child.once('exit', (c) => { clearTimeout(t); res(c); });
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /refusing to start: subnet 1: consensus\.commit_window_blocks \(30\) \+ consensus\.reveal_window_blocks \(5\) \+ 2 blocks .* > the subnet's tempo of 20 blocks/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  it('decentralized mode starts on a commit-reveal subnet and says how weights will go', async () => {
    for (let i = 0; i < 3; i++) chain.produceBlock();
    const lines: string[] = [];
    const node = await startNode(parseConfig(toml('decentralized', 'dec'), { env: {} }), { evaluator: fixedEvaluator(new Map()), log: jsonLogger('info', {}, (l) => lines.push(l)) });
    try {
      assert.ok(node.mesh.multiaddrs().length > 0, 'the mesh is listening');
      const end = Date.now() + 20_000;
      while (Date.now() < end && !(node.validator.lastBlock > 0)) await new Promise((r) => setTimeout(r, 50));
      assert.ok(node.validator.lastBlock > 0, 'the run loop reads the chain');
      assert.ok(lines.some((l) => /weights go as timelocked commits/.test(JSON.parse(l).msg)), 'says weights are committed timelocked');
      assert.ok(lines.some((l) => JSON.parse(l).msg === 'subnet epoch schedule' && JSON.parse(l).model === 'stateful'));
    } finally {
      await node.stop();
    }
  });
});
