// Chain benchmarks: the timelock encryption of one commit-reveal v4 weights commit (tle over BLS12-381 +
// AES-GCM, the SCALE payload with the hotkey), for the weights a Conclave validator sets (winner + burn,
// 2 uids) and for a full 256-uid vector; and SubtensorClient's metagraph read over WebSocket on
// 127.0.0.1 from the devchain for 256 and 4,096 neurons (each read pinned to a fresh block), with the
// devchain's start-up for that genesis.
import { createHash, randomBytes } from 'node:crypto';
import { cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';
import { DevChain } from '../node/devchain/devchain.ts';
import type { Genesis } from '../node/devchain/genesis.ts';
import { SubtensorClient } from '../node/chain/client.ts';
import { encodeWeightsPayload } from '../node/chain/timelock/payload.ts';
import { tleEncrypt, tleDecrypt } from '../node/chain/timelock/tle.ts';
import { QUICKNET } from '../node/chain/timelock/drand.ts';

const round = (x: number) => Math.round(x * 10) / 10;
const stats = (times: number[]) => {
  const s = [...times].sort((a, b) => a - b);
  return { first_ms: round(times[0]), median_ms: round(s[s.length >> 1]), max_ms: round(s[s.length - 1]), runs: times.length };
};

function hotkey(i: number): string {
  return encodeAddress(createHash('sha256').update(`bench-neuron-${i}`).digest(), 42);
}

await cryptoWaitReady();

// ---- timelock encryption per commit (after a warm-up: the pairing code is JIT-compiled on first use)
const SIG1000 = Uint8Array.from(Buffer.from('b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39', 'hex'));
for (let w = 0; w < 3; w++) tleDecrypt(tleEncrypt(new Uint8Array(8), 1000, QUICKNET.publicKey), SIG1000);
for (const k of [2, 256]) {
  const payload = encodeWeightsPayload({ hotkey: randomBytes(32), uids: Array.from({ length: k }, (_, i) => i), values: Array.from({ length: k }, (_, i) => 1 + ((i * 7919) % 65535)), versionKey: 0n });
  const times: number[] = [];
  let bytes = 0;
  for (let r = 0; r < 12; r++) {
    const s = performance.now();
    const ct = tleEncrypt(payload, 1000, QUICKNET.publicKey);
    times.push(performance.now() - s);
    bytes = ct.length;
    if (r === 0 && tleDecrypt(ct, SIG1000).length !== payload.length) throw new Error('round trip failed');
  }
  const dec: number[] = [];
  const ct = tleEncrypt(payload, 1000, QUICKNET.publicKey);
  for (let r = 0; r < 6; r++) {
    const s = performance.now();
    tleDecrypt(ct, SIG1000);
    dec.push(performance.now() - s);
  }
  process.stdout.write(JSON.stringify({ bench: 'chain.timelock_encrypt', uids: k, payload_bytes: payload.length, commit_bytes: bytes, ...stats(times), decrypt_median_ms: stats(dec).median_ms }) + '\n');
}

// ---- metagraph reads
for (const N of [256, 4096]) {
  const genesis: Genesis = {
    subnets: [{
      netuid: 1,
      maxAllowedUids: N,
      neurons: Array.from({ length: N }, (_, i) => ({
        hotkey: hotkey(i),
        stake: String(BigInt(1 + ((i * 7919) % 5000)) * 1_000_000_000n),
        validatorPermit: i < 64,
        ...(i % 4 === 0 ? { axon: { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 30000 + (i % 30000) } } : {}),
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
    for (let r = 0; r < 7; r++) {
      if (r > 0) dc.produceBlock(); // a fresh block each time: nothing served from a per-block cache
      const s = performance.now();
      const ns = await client.metagraph(1);
      times.push(performance.now() - s);
      if (ns.length !== N || ns[N - 1].hotkey !== hotkey(N - 1)) throw new Error(`metagraph returned ${ns.length} neurons, wanted ${N}`);
    }
    const st = stats(times);
    process.stdout.write(JSON.stringify({ bench: 'chain.metagraph_load', neurons: N, ...st, target_ms: 1000, pass: st.median_ms < 1000 }) + '\n');
    process.stdout.write(JSON.stringify({ bench: 'chain.devchain_start', neurons: N, ms: round(startMs) }) + '\n');
  } finally {
    await client.close();
    await dc.stop();
  }
}
