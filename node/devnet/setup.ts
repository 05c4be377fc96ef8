// Devnet building blocks: dev hotkey files for //Validator<i>, the miners' loopback file server, the
// devnet genesis (real sha256 commitments of node/devnet/miners/*) and the validators' TOML configs.
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { sha256Hex } from '../../proto/codec.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_PHRASE } from '@polkadot/keyring';
import { cryptoWaitReady, encodeAddress, keyExtractPath, keyFromPath, mnemonicToMiniSecret, sr25519PairFromSeed } from '@polkadot/util-crypto';
import { defaultGenesis, devMinerSeed, devKeypair, type Genesis } from '../devchain/genesis.ts';
import { loadPolicy } from '../../runtime/evaluator-policy.ts';
import { CPU_IMAGE } from '../../runtime/sandbox-image.ts';
import { ed25519FormToCanonical } from '../keys/sr25519-secret.ts';

export const MINERS_DIR = fileURLToPath(new URL('./miners/', import.meta.url));

export type MinerKind = 'honest' | 'faster' | 'renamed-copy' | 'timer-cheat' | 'skip-backward' | 'redirect';

/** The six devnet miners, in uid order after the validators; `expect` is what an honest network must decide. */
export const DEVNET_MINERS: { kind: MinerKind; file: string; expect: string; note: string }[] = [
  { kind: 'honest', file: 'honest.py', expect: 'scored', note: 'correct, slower' },
  { kind: 'faster', file: 'faster.py', expect: 'scored (winner)', note: 'correct, fastest' },
  { kind: 'renamed-copy', file: 'renamed-copy.py', expect: 'duplicate', note: "miner 1's code, locals renamed, committed later" },
  { kind: 'timer-cheat', file: 'timer-cheat.py', expect: 'rejected-static', note: 'patches time.perf_counter' },
  { kind: 'skip-backward', file: 'skip-backward.py', expect: 'rejected-runtime', note: 'never calls backward()' },
  { kind: 'redirect', file: 'faster.py', expect: 'fetch-failed', note: 'URL redirects to another loopback port' },
];

/**
 * Hotkey file for a dev URI such as //Validator0 exactly as bittensor-wallet writes one for `--uri`:
 * derived key, so no seed; `privateKey` in canonical schnorrkel form, `publicKey`, `ss58Address`.
 */
export async function devHotkeyFile(uri: string): Promise<{ json: string; hotkey: string }> {
  await cryptoWaitReady();
  const root = sr25519PairFromSeed(mnemonicToMiniSecret(DEV_PHRASE));
  const kp = keyFromPath(root, keyExtractPath(uri).path, 'sr25519');
  const hex = (u: Uint8Array) => '0x' + Buffer.from(u).toString('hex');
  const hotkey = encodeAddress(kp.publicKey, 42);
  return { hotkey, json: JSON.stringify({ accountId: hex(kp.publicKey), publicKey: hex(kp.publicKey), privateKey: hex(ed25519FormToCanonical(kp.secretKey)), ss58Address: hotkey }) };
}

/**
 * `n` distinct loopback ports for child processes to bind later. They are picked below the kernel's
 * ephemeral range where it leaves room (so no outgoing connection takes one in the meantime), and
 * all are held open until every one is chosen (so two of them are never the same).
 */
export async function freePorts(n: number): Promise<number[]> {
  let low = 32768;
  try { low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low; } catch { /* not Linux */ }
  const span = low > 12_000 ? [10_000, low] as const : null;
  const held: NetServer[] = [];
  const listen = (port: number) => new Promise<NetServer | null>((res) => {
    const srv = createNetServer();
    srv.once('error', () => res(null));
    srv.listen(port, '127.0.0.1', () => res(srv));
  });
  try {
    for (let tries = 0; held.length < n && tries < 50 * n; tries++) {
      const want = span && tries < 40 * n ? span[0] + Math.floor(Math.random() * (span[1] - span[0])) : 0;
      const srv = await listen(want);
      if (srv) held.push(srv);
    }
    if (held.length < n) throw new Error(`could not find ${n} free loopback ports`);
    return held.map((srv) => (srv.address() as AddressInfo).port);
  } finally {
    await Promise.all(held.map((srv) => new Promise<void>((res) => srv.close(() => res()))));
  }
}

export interface MinerServer {
  origin: string;
  /** Another loopback service (not allowed to the validators), where the redirecting miner points. */
  internalOrigin: string;
  urls: string[];
  hashes: string[];
  requests: { path: string; at: number }[];
  close(): Promise<void>;
}

/** Serves node/devnet/miners/* on 127.0.0.1 (one path per miner); miner 5's URL redirects elsewhere on loopback. */
export async function startMinerServer(): Promise<MinerServer> {
  const files = DEVNET_MINERS.map((m) => readFileSync(join(MINERS_DIR, m.file)));
  const requests: { path: string; at: number }[] = [];
  // what the internal service would hand out (distinct bytes, so no cache or copy rule decides it first)
  const internalBody = Buffer.concat([files[1], Buffer.from('# served by an internal service the validators must never reach\n')]);
  const internal = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/x-python' });
    res.end(internalBody);
  });
  await new Promise<void>((res) => internal.listen(0, '127.0.0.1', () => res()));
  const internalOrigin = `http://127.0.0.1:${(internal.address() as AddressInfo).port}`;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path, at: Date.now() });
    const m = /^\/miner(\d)\/[\w.-]+$/.exec(path);
    const i = m ? Number(m[1]) : -1;
    if (i < 0 || i >= files.length || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    } else if (DEVNET_MINERS[i].kind === 'redirect') {
      res.writeHead(302, { location: `${internalOrigin}/internal/train.py` });
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'text/x-python', 'content-length': String(files[i].length) });
      res.end(files[i]);
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    internalOrigin,
    urls: DEVNET_MINERS.map((m, i) => `${origin}/miner${i}/${m.kind === 'redirect' ? 'train.py' : m.file}`),
    hashes: files.map((f, i) => sha256Hex(DEVNET_MINERS[i].kind === 'redirect' ? internalBody : f)),
    requests,
    close: async () => {
      server.closeAllConnections();
      internal.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => internal.close(r))]);
    },
  };
}

/**
 * The default devnet genesis (4 validators of unequal stake, 6 miners) with real commitments. The
 * renamed copy (miner 2) is left out: the devnet commits it a few blocks later, so that it is the
 * later of the two identical programs.
 */
export async function devnetGenesis(miners: MinerServer, tempo: number): Promise<{ genesis: Genesis; validators: number; late: { hotkey: string; text: string }[] }> {
  const g = await defaultGenesis();
  const s = g.subnets[0];
  s.tempo = tempo;
  s.weightsRateLimit = 1;
  // as on real subnets: weights go as timelocked commits, revealed by the chain one epoch later (the
  // devchain's own drand beacon publishes the rounds as its clock passes them)
  s.commitRevealEnabled = true;
  s.revealPeriodEpochs = 1;
  g.drand = { beacon: 'dev' };
  const validators = s.neurons.filter((n) => n.validatorPermit).length;
  const late: { hotkey: string; text: string }[] = [];
  DEVNET_MINERS.forEach((m, i) => {
    const n = s.neurons[validators + i];
    const text = `${miners.hashes[i]}:${miners.urls[i]}`;
    if (m.kind === 'renamed-copy') {
      delete n.commitment;
      late.push({ hotkey: devKeypair(devMinerSeed(i)).address, text });
    } else n.commitment = text;
  });
  return { genesis: g, validators, late };
}

/**
 * A CI-sized evaluator policy: the default model and checks, one CPU per container, and three timed
 * repetitions after one warm-up, so one preempted repetition on a loaded machine does not decide the median.
 */
export function devnetPolicy(): Record<string, unknown> {
  const p = loadPolicy() as unknown as Record<string, any>;
  return { ...p, repetitions: 4, warmupRepetitions: 1, sandbox: { ...p.sandbox, cpus: 1, timeoutSec: 240 } };
}

export function tomlString(v: string): string {
  return JSON.stringify(v);
}

export function writeValidatorConfig(x: {
  dir: string; index: number; walletPath: string; chainUrl: string; p2pPort: number; apiPort: number; bootstrap: string[];
  allowOrigin: string; policyFile: string; commitWindow: number; revealWindow: number; fault?: string; evaluationTimeoutS: number;
}): string {
  const toml = `# generated by conclave devnet for validator ${x.index}
[chain]
endpoint = ${tomlString(x.chainUrl)}
netuid = 1

[wallet]
name = "devnet"
hotkey = "validator${x.index}"
path = ${tomlString(x.walletPath)}

[node]
data_dir = ${tomlString(join(x.dir, 'data'))}
mode = "decentralized"
log_level = "info"

[p2p]
listen = "/ip4/127.0.0.1/tcp/${x.p2pPort}"
bootstrap = [${x.bootstrap.map(tomlString).join(', ')}]
announce_axon = false

[sandbox]
image = ${tomlString(CPU_IMAGE)}
docker_hosts = [{ url = "unix:///var/run/docker.sock", gpus = 1 }]
hardware_class = "cpu-2core"
policy_file = ${tomlString(x.policyFile)}
evaluation_timeout_s = ${x.evaluationTimeoutS}

[consensus]
burn_rate = 0.5
commit_window_blocks = ${x.commitWindow}
reveal_window_blocks = ${x.revealWindow}
consensus_timeout_s = 90
view_timeout_s = 8

[intake]
dev_allow_loopback_origins = [${tomlString(x.allowOrigin)}]
fetch_timeout_s = 10

[api]
listen = "127.0.0.1:${x.apiPort}"

[dev]
fault = ${tomlString(x.fault ?? '')}
`;
  mkdirSync(x.dir, { recursive: true });
  const path = join(x.dir, 'validator.toml');
  writeFileSync(path, toml);
  return path;
}
