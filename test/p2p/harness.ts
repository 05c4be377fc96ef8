// Drives real `node node/cli.ts mesh` processes over their JSON-lines control channel (loopback only).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cryptoReady, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { Mesh } from '../../node/p2p/mesh.ts';
import { STANDALONE_GENESIS } from '../../node/commands/mesh.ts';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node', 'cli.ts');

export interface Identity {
  hotkeySeed: string;
  nodeSeed: string;
  hotkey: string;
}

export async function makeIdentity(): Promise<Identity> {
  await cryptoReady();
  const hotkeySeed = randomBytes(32).toString('hex');
  return { hotkeySeed, nodeSeed: randomBytes(32).toString('hex'), hotkey: sr25519SignerFromSeed(Buffer.from(hotkeySeed, 'hex')).hotkey };
}

export type Event = Record<string, any> & { event: string };

/** Fast timings for tests (production defaults are in node/p2p/mesh-types.ts). */
export const FAST_FLAGS = ['--heartbeat-ms', '150', '--maintain-ms', '500', '--grace-ms', '8000', '--announce-ms', '2000', '--publish-wait-ms', '3000', '--strike-limit', '3',
  // the tests and the p2p bench publish many reports per member in one run (a validator publishes one)
  '--reports-per-author', '100000'];

export class Member {
  readonly id: Identity;
  readonly proc: ChildProcess;
  readonly events: Event[] = [];
  peerId = '';
  multiaddr = '';
  private waiters: Array<{ pred: (e: Event) => boolean; resolve: (e: Event) => void }> = [];
  private nextId = 1;
  private exited: Promise<number | null>;
  stderr = '';

  constructor(id: Identity, args: string[]) {
    this.id = id;
    this.proc = spawn(process.execPath, [CLI, 'mesh', '--hotkey-seed', id.hotkeySeed, '--node-seed', id.nodeSeed, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((res) => this.proc.once('exit', (code) => res(code)));
    this.proc.stderr!.on('data', (d) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let e: Event;
      try {
        e = JSON.parse(line);
      } catch {
        return;
      }
      this.events.push(e);
      for (const w of [...this.waiters]) if (w.pred(e)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(e);
      }
    });
  }

  static async start(id: Identity, args: string[]): Promise<Member> {
    const m = new Member(id, args);
    let ready: Event;
    try {
      ready = await m.waitFor((e) => e.event === 'ready', 90_000, 'ready');
    } catch (err) {
      m.proc.kill('SIGKILL'); // never leave a half-started process behind
      throw err;
    }
    m.peerId = ready.peerId;
    m.multiaddr = ready.multiaddrs.find((a: string) => a.includes('/ip4/127.0.0.1/')) ?? ready.multiaddrs[0];
    return m;
  }

  /** Resolves with the first past or future event matching `pred`. */
  waitFor(pred: (e: Event) => boolean, timeoutMs: number, what: string, fromIndex = 0): Promise<Event> {
    const past = this.events.slice(fromIndex).find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: Event) => { clearTimeout(t); resolve(e); } };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`member ${this.peerId.slice(-6)}: no '${what}' within ${timeoutMs} ms; stderr: ${this.stderr.slice(-800)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async cmd(c: Record<string, unknown>, timeoutMs = 15_000): Promise<Event> {
    const id = this.nextId++;
    this.proc.stdin!.write(JSON.stringify({ ...c, id }) + '\n');
    const r = await this.waitFor((e) => e.event === 'reply' && e.id === id, timeoutMs, `reply to ${String(c.cmd)}`);
    if (!r.ok) throw new Error(`member ${this.peerId.slice(-6)}: ${String(c.cmd)} failed: ${r.error}`);
    return r;
  }

  reports(): Event[] {
    return this.events.filter((e) => e.event === 'report');
  }

  async admittedPeers(): Promise<string[]> {
    const r = await this.cmd({ cmd: 'peers' });
    return r.peers.filter((p: any) => p.admitted).map((p: any) => p.peerId);
  }

  kill(): Promise<number | null> {
    this.proc.kill('SIGKILL');
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Polls `check` until it returns true or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, stepMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

export function validatorsJson(ids: Identity[]): string {
  return JSON.stringify(ids.map((i) => ({ hotkey: i.hotkey, stake: '1000000000' })));
}

/**
 * `n` validators of equal stake as in-process meshes over loopback TCP (no DHT, fast timers, strikes
 * out of the way), all admitted to each other and subscribed. `wire` attaches handlers before start.
 * The meshes are pushed into `meshes` as they start, so the caller's `after` stops them even when
 * this fails half-way.
 */
export async function startMeshes(meshes: Mesh[], n: number, runId: number, wire: (m: Mesh, i: number) => void = () => undefined): Promise<{ hotkeys: Sr25519Signer[]; nodeSeeds: Uint8Array[] }> {
  await cryptoReady();
  const hotkeys = Array.from({ length: n }, () => sr25519SignerFromSeed(randomBytes(32)));
  const nodeSeeds = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
  const set = hotkeys.map((h) => ({ hotkey: h.hotkey, stake: 1_000_000_000n }));
  for (let i = 0; i < n; i++) {
    const m = new Mesh({ netuid: 1, genesisHash: STANDALONE_GENESIS, hotkey: hotkeys[i], nodeKeySeed: nodeSeeds[i], listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i === 0 ? [] : [meshes[0].multiaddrs()[0]], dht: false, heartbeatMs: 200, maintainMs: 500, publishWaitMs: 3000, strikeLimit: 1000 });
    wire(m, i);
    m.setValidatorSet(set);
    m.setCurrentRun(runId);
    await m.start();
    meshes.push(m);
  }
  await until(() => meshes.every((m) => m.metrics().admittedPeers === n - 1), 60_000, 'full mesh', 100);
  await until(() => meshes.every((m) => m.metrics().reportSubscribers === n - 1), 30_000, 'subscriptions', 100);
  return { hotkeys, nodeSeeds };
}
