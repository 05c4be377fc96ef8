// Chain benchmarks: load a 1,000-neuron metagraph from the devchain through SubtensorClient over
// WebSocket on 127.0.0.1 (target < 1 s), and the devchain's own start-up with that genesis.
import { createHash } from 'node:crypto';
import { cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';
import { DevChain } from '../node/devchain/devchain.ts';
import type { Genesis } from '../node/devchain/genesis.ts';
import { SubtensorClient } from '../node/chain/client.ts';

const N = 1000;
const RUNS = 7;

function hotkey(i: number): string {
  return encodeAddress(createHash('sha256').update(`bench-neuron-${i}`).digest(), 42);
}

await cryptoWaitReady();
const genesis: Genesis = {
  subnets: [{
    netuid: 1,
    maxAllowedUids: N,
    neurons: Array.from({ length: N }, (_, i) => ({
      hotkey: hotkey(i),
      stake: String(BigInt(1 + ((i * 7919) % 5000)) * 1_000_000_000n),
      validatorPermit: i < 64,
      ...(i % 4 === 0 ? { axon: { ip: `10.0.${i >> 8}.${i & 255}`, port: 30000 + i } } : {}),
    })),
  }],
};

const t0 = performance.now();
const dc = new DevChain({ genesis, blockMs: 0 });
await dc.start();
const startMs = performance.now() - t0;
const client = await SubtensorClient.connect({ endpoint: dc.url });
try {
  const times: number[] = [];
  let count = 0;
  for (let r = 0; r < RUNS; r++) {
    if (r > 0) dc.produceBlock(); // a fresh block each time: nothing served from a per-block cache
    const s = performance.now();
    const ns = await client.metagraph(1);
    times.push(performance.now() - s);
    count = ns.length;
    if (count !== N || ns[N - 1].hotkey !== hotkey(N - 1)) throw new Error(`metagraph returned ${count} neurons, wanted ${N}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(JSON.stringify({ bench: 'chain.metagraph_load', neurons: count, first_ms: round(times[0]), median_ms: round(sorted[RUNS >> 1]), max_ms: round(sorted[RUNS - 1]), runs: RUNS, target_ms: 1000, pass: sorted[RUNS >> 1] < 1000 && times[0] < 1000 }) + '\n');
  process.stdout.write(JSON.stringify({ bench: 'chain.devchain_start', neurons: N, ms: round(startMs) }) + '\n');
} finally {
  await client.close();
  await dc.stop();
}
