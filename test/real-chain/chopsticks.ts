// A real subtensor runtime under @acala-network/chopsticks, offline: spawns the chopsticks CLI on a raw
// chain spec from test/fixtures/real-runtime (loopback only, blocks built on demand) and gives tests the
// admin RPCs they need. Pitfalls measured on these runtimes (test/fixtures/real-runtime/README.md): spec 300
// needs --allow-unresolved-imports; a block that is a session change may be built without the pending
// extrinsic (buildUntilIncluded retries); nonces are read from state; falsy values go through raw storage.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { SUBTENSOR_SIGNED_EXTENSIONS } from '../../node/chain/extensions.ts';
import { freePorts } from '../../node/devnet/setup.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'real-runtime');
export const SPEC218 = join(FIXTURES, 'subtensor-spec218-raonet.raw.json');
export const SPEC300 = join(FIXTURES, 'subtensor-spec300-babe.raw.json');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

export interface Chopsticks {
  url: string;
  api: ApiPromise;
  log: () => string;
  newBlock(count?: number): Promise<number>;
  /** raw [key, scaleHex] pairs (falsy values survive, unlike chopsticks' object form) */
  setRaw(pairs: [string, string | null][]): Promise<void>;
  /**
   * Builds a block whenever the pool holds an extrinsic (for clients that submit and wait, like
   * SubtensorClient), and builds a session-change block at once while the pool is empty, so no extrinsic
   * is ever offered to a block that would drop it. Returns the stop function.
   */
  pump(): () => Promise<void>;
  /** signs `tx` by `pair` with the state nonce, builds blocks until it is included, returns its events */
  send(pair: KeyringPair, tx: Dyn, what: string): Promise<{ block: number; events: Dyn[]; error: string | null }>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startChopsticks(genesis: string, timeoutMs = 180_000): Promise<Chopsticks> {
  await cryptoWaitReady();
  const [port] = await freePorts(1);
  const bin = join(ROOT, 'node_modules', '@acala-network', 'chopsticks', 'chopsticks.cjs');
  const proc: ChildProcess = spawn(process.execPath, [bin, `--genesis=${genesis}`, '--host=127.0.0.1', `--port=${port}`, '--allow-unresolved-imports', '--build-block-mode=Manual'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' },
  });
  let out = '';
  let listening = false;
  const onOut = (d: Buffer) => {
    out = (out + d).slice(-20_000);
    if (/RPC listening on/.test(out)) listening = true;
  };
  proc.stdout!.on('data', onOut);
  proc.stderr!.on('data', onOut);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `ws://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (!listening && Date.now() < deadline && proc.exitCode === null) await sleep(200);
  let api: ApiPromise | undefined;
  if (listening) {
    const provider = new WsProvider(url, 1000);
    try {
      api = await Promise.race([
        ApiPromise.create({ provider, signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS, noInitWarn: true }),
        sleep(Math.max(10_000, deadline - Date.now())).then(() => { throw new Error('metadata did not load'); }),
      ]);
    } catch {
      await provider.disconnect().catch(() => undefined);
    }
  }
  if (!api) {
    proc.kill('SIGKILL');
    throw new Error(`chopsticks did not serve ${genesis} within ${timeoutMs} ms:\n${out.slice(-3000)}`);
  }
  const a = api;
  const newBlock = async (count = 1): Promise<number> => {
    await a.rpc('dev_newBlock' as never, { count } as never);
    return (await a.rpc.chain.getHeader()).number.toNumber();
  };
  /** true when the next block starts a BABE epoch (a session change on spec 300) */
  const nextIsSessionChange = async (): Promise<boolean> => {
    const q = a.query as Dyn;
    if (!q.babe?.currentSlot) return false;
    const [slot, genesis, idx] = await Promise.all([q.babe.currentSlot(), q.babe.genesisSlot(), q.babe.epochIndex()]);
    const len = Number((a.consts as Dyn).babe.epochDuration.toString());
    return BigInt(slot.toString()) + 1n >= BigInt(genesis.toString()) + (BigInt(idx.toString()) + 1n) * BigInt(len);
  };
  return {
    url,
    api: a,
    log: () => out,
    newBlock,
    pump: () => {
      let on = true;
      const loop = (async () => {
        while (on) {
          try {
            if (await nextIsSessionChange()) await newBlock();
            const pending = (await a.rpc.author.pendingExtrinsics()).length;
            if (pending > 0) {
              if (await nextIsSessionChange()) await newBlock();
              await newBlock();
            } else await sleep(50);
          } catch {
            await sleep(100);
          }
        }
      })();
      return async () => {
        on = false;
        await loop;
      };
    },
    setRaw: async (pairs) => {
      await a.rpc('dev_setStorage' as never, pairs as never);
    },
    send: async (pair, tx, what) => {
      for (let attempt = 0; attempt < 4; attempt++) {
        if (await nextIsSessionChange()) await newBlock();
        const nonce = ((await a.query.system.account(pair.address)) as Dyn).nonce.toNumber();
        const signed = await tx.signAsync(pair, { nonce, era: 0 });
        const hash = signed.hash.toHex();
        await a.rpc.author.submitExtrinsic(signed);
        const block = await newBlock();
        const body = await a.rpc.chain.getBlock();
        const idx = body.block.extrinsics.findIndex((x) => x.hash.toHex() === hash);
        if (idx < 0) continue; // a session-change block was built without it: submit again
        const events = ((await (await a.at(body.block.header.hash)).query.system.events()) as unknown as Dyn[]).filter((r: Dyn) => r.phase.isApplyExtrinsic && r.phase.asApplyExtrinsic.toNumber() === idx);
        const failed = events.find((r: Dyn) => r.event.section === 'system' && r.event.method === 'ExtrinsicFailed');
        let error: string | null = null;
        if (failed) {
          const de = failed.event.data[0];
          error = de.isModule ? (({ section, name }) => `${section}.${name}`)(a.registry.findMetaError(de.asModule)) : de.toString();
        }
        const sudid = events.find((r: Dyn) => r.event.section === 'sudo' && r.event.method === 'Sudid');
        if (!error && sudid && sudid.event.data[0].isErr) {
          const de = sudid.event.data[0].asErr;
          error = de.isModule ? (({ section, name }) => `${section}.${name}`)(a.registry.findMetaError(de.asModule)) : de.toString();
        }
        return { block, events, error };
      }
      throw new Error(`${what}: not included after 4 blocks`);
    },
    stop: async () => {
      await a.disconnect().catch(() => undefined);
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

export function devPair(uri: string): KeyringPair {
  return new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(uri);
}

export { u8aToHex };
