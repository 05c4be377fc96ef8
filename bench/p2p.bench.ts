// P2P mesh benchmark: 16 real `conclave mesh` processes on loopback TCP.
// Prints JSON lines: formation time, delivery latency p50/p99, messages/s, RSS per node.
import { readFileSync } from 'node:fs';
import { FAST_FLAGS, Member, makeIdentity, until, validatorsJson } from '../test/p2p/harness.ts';

const N = Number(process.env.P2P_BENCH_NODES ?? 16);
const BURST = Number(process.env.P2P_BENCH_BURST ?? 200);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function rssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const ids = await Promise.all(Array.from({ length: N }, () => makeIdentity()));
const common = ['--validators', validatorsJson(ids), '--run', '1', ...FAST_FLAGS, '--grace-ms', '30000'];
const members: Member[] = [];
try {
  const t0 = Date.now();
  members.push(await Member.start(ids[0], common));
  // Start in batches of 4: 15 Node processes loading libp2p at once starve a small machine.
  for (let i = 1; i < N; i += 4) {
    const batch = await Promise.allSettled(ids.slice(i, i + 4).map((id) => Member.start(id, [...common, '--bootstrap', members[0].multiaddr])));
    for (const r of batch) if (r.status === 'fulfilled') members.push(r.value);
    const failed = batch.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
  const allReady = Date.now();
  await until(async () => (await Promise.all(members.map((m) => m.admittedPeers()))).every((a) => a.length === N - 1), 180_000, 'full mesh', 500);
  const formed = Date.now();
  process.stdout.write(JSON.stringify({ bench: 'p2p.mesh_formation', nodes: N, startup_ms: allReady - t0, formation_ms_after_ready: formed - allReady }) + '\n');

  // Latency: every member publishes one report; latency = receive time - report issuedAt (same host clock).
  const marks = members.map((m) => m.events.length);
  await Promise.all(members.map((m, i) => m.cmd({ cmd: 'report', tag: `lat-${i}` })));
  await until(() => members.every((m, i) => m.events.slice(marks[i]).filter((e) => e.event === 'report').length >= N - 1), 60_000, 'latency round delivered');
  const lat: number[] = [];
  members.forEach((m, i) => { for (const e of m.events.slice(marks[i])) if (e.event === 'report') lat.push(e.at - e.issuedAt); });
  process.stdout.write(JSON.stringify({ bench: 'p2p.delivery_latency', nodes: N, samples: lat.length, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99), max_ms: Math.max(...lat) }) + '\n');

  // Throughput: one member publishes BURST reports back to back; count deliveries at every other member.
  const before = members.map((m) => m.reports().length);
  const start = Date.now();
  await members[0].cmd({ cmd: 'burst', count: BURST }, 120_000);
  await until(() => members.slice(1).every((m, i) => m.reports().length - before[i + 1] >= BURST), 120_000, 'burst delivered', 200);
  const secs = (Date.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ bench: 'p2p.throughput', nodes: N, messages: BURST, seconds: secs, messages_per_s: BURST / secs, deliveries_per_s: (BURST * (N - 1)) / secs }) + '\n');

  const rss = members.map((m) => rssMiB(m.proc.pid));
  process.stdout.write(JSON.stringify({ bench: 'p2p.memory', nodes: N, rss_mib_mean: rss.reduce((a, b) => a + b, 0) / rss.length, rss_mib_max: Math.max(...rss) }) + '\n');
} finally {
  await Promise.all(members.map((m) => m.stop()));
}
