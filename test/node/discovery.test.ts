// Peer discovery from chain: two validators started with the example config (validator.example.toml:
// no bootstrap list, announce_axon on) on a devchain serve their p2p addresses with serve_axon at start
// and find each other through the metagraph's axons. /healthz says degraded while a node has no peer.
// The choice of the address to announce is checked on its own (wildcard listen, loopback, NAT override).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevChain } from '../../node/devchain/devchain.ts';
import { defaultGenesis, devKeypair } from '../../node/devchain/genesis.ts';
import { devHotkeyFile, freePorts } from '../../node/devnet/setup.ts';
import { parseConfig } from '../../node/config.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import { startNode } from '../../node/commands/start.ts';
import { AxonAnnouncer, chooseAnnounceAddress } from '../../node/chain/axon-announcer.ts';
import { SubtensorClient } from '../../node/chain/client.ts';
import { fixedEvaluator } from './harness.ts';

const EXAMPLE = readFileSync(new URL('../../validator.example.toml', import.meta.url), 'utf8');

/** The example config with only what two nodes on one machine must not share: keys, data, ports, the devchain URL. */
function exampleConfig(x: { chainUrl: string; walletPath: string; hotkey: string; dataDir: string; listen: string }): string {
  const set = (text: string, section: string, key: string, value: string) => {
    const re = new RegExp(`(\\[${section}\\][\\s\\S]*?\\n)${key} = [^\\n]*`);
    assert.match(text, re, `example config has ${section}.${key}`);
    return text.replace(re, `$1${key} = ${value}`);
  };
  let t = EXAMPLE;
  t = set(t, 'chain', 'endpoint', JSON.stringify(x.chainUrl));
  t = set(t, 'wallet', 'name', '"dev"');
  t = set(t, 'wallet', 'hotkey', JSON.stringify(x.hotkey));
  t = set(t, 'wallet', 'path', JSON.stringify(x.walletPath));
  t = set(t, 'node', 'data_dir', JSON.stringify(x.dataDir));
  t = set(t, 'p2p', 'listen', JSON.stringify(x.listen));
  t = set(t, 'api', 'listen', '""');
  return t;
}

describe('peer discovery from chain (serve_axon + metagraph axons, no bootstrap list)', function () {
  this.timeout(180_000);
  let chain: DevChain;
  let root: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'conclave-discovery-'));
    const g = await defaultGenesis();
    g.subnets[0].tempo = 360; // the example config's windows derive from it
    chain = new DevChain({ genesis: g, blockMs: 250 });
    await chain.start();
    mkdirSync(join(root, 'wallets', 'dev', 'hotkeys'), { recursive: true });
    for (const i of [0, 1]) writeFileSync(join(root, 'wallets', 'dev', 'hotkeys', `validator${i}`), (await devHotkeyFile(`//Validator${i}`)).json);
  });
  after(async () => {
    await chain?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the example config has no bootstrap peers and announces its axon', () => {
    const cfg = parseConfig(EXAMPLE, { env: {} });
    assert.deepEqual(cfg.p2p.bootstrap, []);
    assert.equal(cfg.p2p.announceAxon, true);
  });

  it('two validators serve their axons and connect through them; health is degraded until then', async () => {
    const [p0, p1] = await freePorts(2);
    const nodes: Awaited<ReturnType<typeof startNode>>[] = [];
    try {
      // 127.0.0.1 is refused by subtensor as an axon; any other loopback address reaches a local listener
      const cfgOf = (i: number, listen: string) => parseConfig(exampleConfig({ chainUrl: chain.url, walletPath: join(root, 'wallets'), hotkey: `validator${i}`, dataDir: join(root, `v${i}`), listen }), { env: {} });
      const first = await startNode(cfgOf(0, `/ip4/127.0.0.2/tcp/${p0}`), { evaluator: fixedEvaluator(new Map()), log: jsonLogger('error') });
      nodes.push(first);
      const t0 = Date.now();
      while (Date.now() - t0 < 20_000 && !(first.validator.lastBlock > 0)) await new Promise((r) => setTimeout(r, 50));
      // /healthz (NodeStatus): degraded while no validator peer is admitted
      const alone = await first.status.health();
      assert.equal(alone.status, 'degraded');
      assert.equal(alone.checks.peers.ok, false);
      assert.ok(alone.reasons.some((r) => /^peers: 0 admitted/.test(r)), alone.reasons.join('; '));
      const second = await startNode(cfgOf(1, `/ip4/127.0.0.3/tcp/${p1}`), { evaluator: fixedEvaluator(new Map()), log: jsonLogger('error') });
      nodes.push(second);
      const client = await SubtensorClient.connect({ endpoint: chain.url });
      try {
        assert.deepEqual(await client.axonOf(1, devKeypair('//Validator0').address).then((a) => a && `${a.ip}:${a.port}`), `127.0.0.2:${p0}`);
        assert.deepEqual(await client.axonOf(1, devKeypair('//Validator1').address).then((a) => a && `${a.ip}:${a.port}`), `127.0.0.3:${p1}`);
      } finally {
        await client.close();
      }
      const end = Date.now() + 60_000;
      while (Date.now() < end && (first.mesh.admittedPeerCount() < 1 || second.mesh.admittedPeerCount() < 1)) await new Promise((r) => setTimeout(r, 200));
      assert.equal(first.mesh.admittedPeerCount(), 1, 'validator 0 admitted validator 1');
      assert.equal(second.mesh.admittedPeerCount(), 1, 'validator 1 admitted validator 0');
      const end2 = Date.now() + 20_000;
      while (Date.now() < end2 && !(await first.status.health()).checks.peers.ok) await new Promise((r) => setTimeout(r, 200));
      const both = await first.status.health();
      assert.equal(both.checks.peers.ok, true, both.reasons.join('; '));
      assert.equal(both.checks.peers.admitted, 1);
    } finally {
      for (const n of nodes.reverse()) await n.stop();
    }
  });
});

describe('AxonAnnouncer against the devchain: serves at start, again when the address changes, backs off when refused', function () {
  this.timeout(60_000);
  it('served → unchanged → served again on a new address; a ServingRateLimit refusal is logged once and retried later', async () => {
    const chain = new DevChain({ blockMs: 50 });
    await chain.start();
    const client = await SubtensorClient.connect({ endpoint: chain.url });
    try {
      chain.setStorage('subtensorModule', 'servingRateLimit', [1], 0);
      const pair = devKeypair('//Validator2');
      const signer = { hotkey: pair.address, publicKey: pair.publicKey, sign: (m: Uint8Array) => pair.sign(m) };
      let addrs = ['/ip4/127.0.0.1/tcp/4100/p2p/x', '/ip4/10.1.2.3/tcp/4100/p2p/x'];
      const warns: string[] = [];
      let now = 0;
      const log = { info: () => undefined, debug: () => undefined, warn: (m: string, f?: Record<string, unknown>) => warns.push(`${m} ${JSON.stringify(f)}`) };
      const a = new AxonAnnouncer({ client, signer, netuid: 1, configured: '', listenAddrs: () => addrs, log, now: () => now });
      assert.equal(await a.check(), 'served');
      assert.deepEqual(await client.axonOf(1, pair.address).then((x) => x && `${x.ip}:${x.port}`), '10.1.2.3:4100');
      assert.equal(await a.check(), 'unchanged');
      addrs = ['/ip4/10.9.9.9/tcp/4200/p2p/x'];
      assert.equal(await a.check(), 'served');
      assert.deepEqual(await client.axonOf(1, pair.address).then((x) => x && `${x.ip}:${x.port}`), '10.9.9.9:4200');
      // a rate limit: refused by the chain (pool: Custom error 12), logged once, not retried before the backoff
      chain.setStorage('subtensorModule', 'servingRateLimit', [1], 100_000);
      await new Promise((r) => setTimeout(r, 200));
      addrs = ['/ip4/10.7.7.7/tcp/4300/p2p/x'];
      assert.equal(await a.check(), 'refused');
      assert.equal(await a.check(), 'waiting', 'inside the backoff');
      now += 10_000;
      assert.equal(await a.check(), 'refused');
      assert.equal(warns.length, 1, warns.join('\n'));
      assert.match(warns[0], /ServingRateLimitExceeded/);
    } finally {
      await client.close();
      await chain.stop();
    }
  });
});

describe('the address a validator announces', () => {
  it('the listen address when specific; for a wildcard the first non-loopback interface; 127.0.0.1 never', () => {
    assert.deepEqual(chooseAnnounceAddress('', ['/ip4/203.0.113.7/tcp/30333/p2p/12D3KooWA']), { ok: true, address: { ip: '203.0.113.7', port: 30333 } });
    // a wildcard listen is expanded by libp2p to every interface
    assert.deepEqual(chooseAnnounceAddress('', ['/ip4/127.0.0.1/tcp/30333/p2p/x', '/ip4/192.0.2.2/tcp/30333/p2p/x']), { ok: true, address: { ip: '192.0.2.2', port: 30333 } });
    assert.deepEqual(chooseAnnounceAddress('', ['/ip4/127.0.0.2/tcp/4000']), { ok: true, address: { ip: '127.0.0.2', port: 4000 } });
    const lo = chooseAnnounceAddress('', ['/ip4/127.0.0.1/tcp/30333/p2p/x']);
    assert.equal(lo.ok, false);
    assert.match(!lo.ok ? lo.reason : '', /refuses 127\.0\.0\.1.*p2p\.announce_address/);
    // behind NAT: the configured public address, with or without a port
    assert.deepEqual(chooseAnnounceAddress('198.51.100.4:40000', ['/ip4/0.0.0.0/tcp/30333']), { ok: true, address: { ip: '198.51.100.4', port: 40000 } });
    assert.deepEqual(chooseAnnounceAddress('198.51.100.4', ['/ip4/10.0.0.5/tcp/30333']), { ok: true, address: { ip: '198.51.100.4', port: 30333 } });
    assert.deepEqual(chooseAnnounceAddress('[2001:db8::7]:30334', []), { ok: true, address: { ip: '2001:db8::7', port: 30334 } });
    assert.equal(chooseAnnounceAddress('not-an-ip', ['/ip4/10.0.0.5/tcp/1']).ok, false);
    assert.equal(chooseAnnounceAddress('127.0.0.1:9', []).ok, false);
  });
});
