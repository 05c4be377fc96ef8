// `conclave start` as an operator meets it, as a real process against the real devchain: an encrypted
// btcli hotkey (sealed by libsodium) unlocked through wallet.password_file; every stderr line JSON,
// including what @polkadot/api prints when the chain goes away and libp2p's DEBUG output; /healthz
// with its reasons, /v1/status, /metrics moved to metrics.address (promtool-clean); a taken p2p port
// refused in one line naming the port and the key; every --flag its help and errors name accepted.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis } from '../../node/devchain/genesis.ts';
import { devHotkeyFile, freePorts } from '../../node/devnet/setup.ts';
import { START_OPTIONS } from '../../node/commands/start.ts';
import { main } from '../../node/cli.ts';

const CLI = fileURLToPath(new URL('../../node/cli.ts', import.meta.url));
const NACL = fileURLToPath(new URL('../fixtures/keys/btwallet_nacl.py', import.meta.url));
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const PASSWORD = 'operator test password 7d1f';

interface Proc { child: ChildProcess; stderr: string; exited: Promise<number | null> }

function startCli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, stderr: '', exited: new Promise((res) => child.once('exit', (c) => res(c))) };
  child.stderr!.on('data', (b) => { p.stderr += b; });
  child.stdout!.resume();
  return p;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number, p?: Proc): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    if (p && p.child.exitCode !== null) throw new Error(`${what}: the node exited (${p.child.exitCode}):\n${p.stderr.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${p ? `:\n${p.stderr.slice(-3000)}` : ''}`);
}

const jsonLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '').map((l) => {
  try {
    return JSON.parse(l);
  } catch {
    throw new Error(`a stderr line is not JSON: ${l}`);
  }
});

/** --flags a text offers to the user of `conclave start`: not those inside a backticked command of another program or subcommand. */
function offeredFlags(text: string): string[] {
  const foreign = /`(btcli|docker|conclave (?!start)[a-z]+)[^`]*`/g;
  return [...new Set(text.replace(foreign, '').match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])];
}

describe('conclave start, as an operator meets it (real process, real devchain)', function () {
  this.timeout(240_000);
  let chain: DevChain;
  let root: string;
  let ports: number[];
  const seen: string[] = []; // every stderr text start produced, for the flag check

  const toml = (over: Record<string, string> = {}) => {
    const v = {
      endpoint: chain.url, data: join(root, 'data'), p2p: `/ip4/127.0.0.1/tcp/${ports[0]}`, api: `127.0.0.1:${ports[1]}`, metrics: `127.0.0.1:${ports[2]}`,
      hotkey: 'validator0', pw: join(root, 'hotkey.password'), ...over,
    };
    return `[chain]\nendpoint = "${v.endpoint}"\nnetuid = 1\n[wallet]\nname = "dev"\nhotkey = "${v.hotkey}"\npath = "${join(root, 'wallets')}"\npassword_file = "${v.pw}"\n`
      + `[node]\ndata_dir = "${v.data}"\nmode = "shadow"\nlog_level = "debug"\n[p2p]\nlisten = "${v.p2p}"\nannounce_axon = false\n`
      + `[api]\nlisten = "${v.api}"\n[metrics]\naddress = "${v.metrics}"\n[health]\nmin_peers = 1\n`;
  };

  before(async function () {
    root = mkdtempSync(join(tmpdir(), 'conclave-op-'));
    ports = await freePorts(4);
    // no miners: nothing to evaluate, so no sandbox container starts; the run loop still follows the epochs
    chain = new DevChain({ genesis: await defaultGenesis({ miners: 0 }), host: '127.0.0.1', port: 0, blockMs: 500 });
    await chain.start();
    mkdirSync(join(root, 'wallets', 'dev', 'hotkeys'), { recursive: true });
    writeFileSync(join(root, 'hotkey.password'), PASSWORD + '\n', { mode: 0o600 });
    const plain = (await devHotkeyFile('//Validator0')).json;
    // btcli --use-password: the keyfile sealed by libsodium, the way bittensor-wallet writes it
    const sealed = spawnSync(PYTHON, [NACL, 'encrypt', join(root, 'hotkey.password')], { input: plain });
    assert.equal(sealed.status, 0, `python3-nacl (libsodium) is needed: ${sealed.stderr}`);
    writeFileSync(join(root, 'wallets', 'dev', 'hotkeys', 'validator0'), sealed.stdout, { mode: 0o600 });
    writeFileSync(join(root, 'wallets', 'dev', 'hotkeys', 'encrypted-nopw'), sealed.stdout, { mode: 0o600 });
  });

  after(async () => {
    await chain?.stop().catch(() => {});
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('a p2p port in use: one JSON line naming the port and p2p.listen, exit 2, before touching the chain', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(ports[3], '127.0.0.1', () => r()));
    try {
      const cfg = join(root, 'busy.toml');
      writeFileSync(cfg, toml({ p2p: `/ip4/127.0.0.1/tcp/${ports[3]}`, endpoint: 'ws://127.0.0.1:1' }));
      const p = startCli(['start', '--config', cfg]);
      assert.equal(await p.exited, 2);
      seen.push(p.stderr);
      const lines = jsonLines(p.stderr);
      assert.equal(lines.length, 1, p.stderr);
      assert.equal(lines[0].level, 'error');
      assert.match(lines[0].msg, new RegExp(`p2p port ${ports[3]} is already in use \\(p2p\\.listen = "/ip4/127\\.0\\.0\\.1/tcp/${ports[3]}"\\).*set p2p\\.listen \\(or CONCLAVE_P2P_LISTEN\\) to a free port`));
      assert.doesNotMatch(p.stderr, /\n\s+at |libp2p/i, 'no stack trace');
    } finally {
      holder.close();
    }
  });

  it('an encrypted hotkey without a password: says where a password can come from (options start takes)', async () => {
    const cfg = join(root, 'nopw.toml');
    writeFileSync(cfg, toml({ hotkey: 'encrypted-nopw', pw: '' }));
    const p = startCli(['start', '--config', cfg], { CONCLAVE_HOTKEY_PASSWORD: '' });
    assert.equal(await p.exited, 2);
    seen.push(p.stderr);
    const [line] = jsonLines(p.stderr);
    assert.match(line.msg, /encrypted-nopw is encrypted .*no password was given: give it with --password-file FILE, wallet\.password_file in the config, or the environment variable CONCLAVE_HOTKEY_PASSWORD/);
    writeFileSync(cfg.replace('nopw', 'missing-hotkey'), toml({ hotkey: 'nobody' }));
    const again = startCli(['start', '--config', cfg.replace('nopw', 'missing-hotkey')]);
    assert.equal(await again.exited, 2);
    seen.push(again.stderr);
    assert.match(jsonLines(again.stderr)[0].msg, /no hotkey file at .*nobody: .*point wallet\.path, wallet\.name and wallet\.hotkey in the config/);
  });

  it('runs: JSON logs only (polkadot-js and libp2p included), health with reasons, status, metrics on their own address', async () => {
    const cfg = join(root, 'node.toml');
    writeFileSync(cfg, toml());
    // DEBUG selects libp2p's and @polkadot/api's own debug output (js-libp2p / polkadot-js habits)
    const p = startCli(['start', '--config', cfg], { DEBUG: 'libp2p:tcp*,api-ws', CONCLAVE_HOTKEY_PASSWORD: '' });
    try {
      const lines = () => jsonLines(p.stderr);
      await waitFor('the API and metrics listeners', () => lines().some((l) => l.msg === 'metrics listening'), 150_000, p);
      const api = `http://127.0.0.1:${ports[1]}`;
      const met = `http://127.0.0.1:${ports[2]}`;
      const starting = lines().find((l) => l.msg === 'starting validator')!;
      assert.match(starting.hotkey, /^5/);
      assert.match(starting.version, /^\d+\.\d+\.\d+$/);
      assert.equal(starting.config.wallet.passwordFile, '(set)');

      // the run loop follows the chain: a run exists, the head advances; no peers → degraded, with the reason
      let health: any;
      await waitFor('a run and a chain head', async () => {
        health = await (await fetch(`${api}/healthz`)).json();
        return health.checks?.chain.ok && health.checks?.run.runId !== null;
      }, 60_000, p);
      const h = await fetch(`${api}/healthz`);
      assert.equal(h.status, 503);
      health = await h.json();
      assert.equal(health.status, 'degraded');
      assert.deepEqual(health.reasons.map((r: string) => r.split(':')[0]), ['peers']);
      assert.match(health.reasons[0], /0 admitted validator peer\(s\), 1 required/);
      assert.equal((await fetch(`${met}/healthz`)).status, 503, 'the metrics address serves /healthz too');

      const status = await (await fetch(`${api}/v1/status`)).json();
      assert.equal(status.mode, 'shadow');
      assert.ok(status.chain.head > 0 && status.chain.finalized > 0, JSON.stringify(status.chain));
      assert.equal(status.chain.endpoint, chain.url.replace(/\/$/, ''));
      assert.equal(status.peers.admitted, 0);
      assert.ok(status.run.runId !== null);
      assert.equal(status.lastWeights, null);

      // /metrics moved to metrics.address: gone from the public API, promtool-clean where it is
      assert.equal((await fetch(`${api}/metrics`)).status, 404);
      const text = await (await fetch(`${met}/metrics`)).text();
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
      assert.equal((lint.stdout + lint.stderr).trim(), '');
      assert.match(text, /^conclave_build_info\{commit="[0-9a-f]+|unknown",node="v\d+/m);
      assert.match(text, /^conclave_chain_head_block [1-9]\d*$/m);
      assert.match(text, /^conclave_node_info\{.*mode="shadow"/m);
      assert.match(text, /^conclave_peers_admitted 0$/m);
      assert.match(text, /^process_open_fds \d+$/m);

      // libp2p's and @polkadot/api's own output arrive as JSON debug lines
      await waitFor('libp2p debug lines', () => lines().some((l) => l.source === 'libp2p' && /^libp2p:tcp/.test(l.ns)), 20_000, p);
      await waitFor('@polkadot/api debug lines', () => lines().some((l) => l.source === 'polkadot' && l.origin === 'API-WS' && l.level === 'debug'), 20_000, p);
      // the chain goes away: health says why, the gauge drops
      await chain.stop();
      await waitFor('health to report the chain', async () => {
        const b = await (await fetch(`${api}/healthz`)).json();
        return b.checks.chain.ok === false && b.reasons.some((r: string) => r.startsWith('chain:'));
      }, 30_000, p);
      assert.match(await (await fetch(`${met}/metrics`)).text(), /^conclave_chain_connected 0$/m);
    } finally {
      p.child.kill('SIGTERM');
      const code = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
      if (code === null) p.child.kill('SIGKILL');
      seen.push(p.stderr);
    }
    const all = jsonLines(p.stderr); // throws on any non-JSON line
    assert.ok(all.length > 20);
    assert.ok(all.every((l) => typeof l.t === 'string' && ['debug', 'info', 'warn', 'error'].includes(l.level) && typeof l.msg === 'string'));
    assert.ok(all.some((l) => l.msg === 'stopped'), 'SIGTERM stops the node cleanly');
    assert.ok(all.some((l) => l.msg === 'run opened' || /^run skipped/.test(l.msg)), 'run phase changes are logged');
    assert.doesNotMatch(p.stderr, new RegExp(PASSWORD), 'the hotkey password is never logged');
    assert.doesNotMatch(p.stderr, /privateKey|secretSeed/);
  });

  it('every --flag that start\'s help and error messages offer is an option of start', async () => {
    let help = '';
    const write = process.stdout.write;
    process.stdout.write = ((c: string) => { help += c; return true; }) as typeof process.stdout.write;
    try {
      await main(['start', '--help']);
    } finally {
      process.stdout.write = write;
    }
    // the error lines of the failed starts (the running node's debug lines quote libp2p/polkadot internals, not advice)
    const errors = seen.flatMap((s) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === 'error' || l.level === 'warn').map((l) => l.msg as string));
    const texts = [help, ...errors];
    const flags = new Set(texts.flatMap(offeredFlags));
    assert.ok(flags.has('--config') && flags.has('--password-file') && flags.has('--print-config'), [...flags].join(' '));
    const accepted = new Set([...Object.keys(START_OPTIONS).map((k) => `--${k}`), '--help']);
    for (const f of flags) assert.ok(accepted.has(f), `conclave start mentions ${f} but does not accept it`);
    // and the parser really takes them
    const dir = mkdtempSync(join(root, 'flags-'));
    const cfg = join(dir, 'c.toml');
    writeFileSync(cfg, '[chain]\nnetuid = 2\n');
    let out = '';
    process.stdout.write = ((c: string) => { out += c; return true; }) as typeof process.stdout.write;
    try {
      assert.equal(await main(['start', '--config', cfg, '--password-file', join(root, 'hotkey.password'), '--print-config']), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.match(out, /netuid = 2/);
    assert.ok(readFileSync(join(root, 'hotkey.password'), 'utf8').length > 0);
  });
});
