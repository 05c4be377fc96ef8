// Intake benchmarks: static review throughput (host and Docker engines, one batch), fingerprinting,
// and fetch of a 100 KB submission from a loopback server.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseEngine, reviewFiles } from '../runtime/review.ts';
import { codePrint, compare } from '../runtime/fingerprint.ts';
import { fetchSubmission } from '../runtime/fetch.ts';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = ['attacks', 'legit'].flatMap((d) => {
  const dir = join(here, '..', 'test', 'intake', d);
  return readdirSync(dir).filter((f) => f.endsWith('.py')).map((f) => ({ id: `${d}/${f}`, source: readFileSync(join(dir, f)) }));
});
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

for (const engine of ['host', 'docker'] as const) {
  if (engine === 'docker') {
    try { await chooseEngine({ engine: 'docker' }); } catch (err) { emit({ bench: 'intake.review.docker', skipped: (err as Error).message }); continue; }
  }
  const t0 = performance.now();
  const b = await reviewFiles(corpus, { engine, fingerprint: true });
  const ms = performance.now() - t0;
  emit({ bench: `intake.review.${engine}`, files: corpus.length, totalMs: Math.round(ms), msPerFile: +(ms / corpus.length).toFixed(2), image: b.image ?? null });
  if (engine === 'host') {
    const streams = b.results.filter((r) => r.fingerprint).map((r) => r.fingerprint!);
    const t1 = performance.now();
    const prints = streams.map((s) => codePrint(s));
    const t2 = performance.now();
    let pairs = 0;
    for (const a of prints) for (const c of prints) { compare(a, c); pairs++; }
    const t3 = performance.now();
    emit({ bench: 'intake.fingerprint', files: prints.length, printMsPerFile: +((t2 - t1) / prints.length).toFixed(3), comparePairs: pairs, compareUsPerPair: +(((t3 - t2) * 1000) / pairs).toFixed(1) });
  }
}

const body = Buffer.alloc(100 * 1024, 'x');
const sha256 = createHash('sha256').update(body).digest('hex');
const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(body); });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const runs = 50;
const t = performance.now();
for (let i = 0; i < runs; i++) await fetchSubmission(`http://127.0.0.1:${port}/s.py`, { sha256, allowLoopbackForTests: { ports: [port] } });
emit({ bench: 'intake.fetch.100KB', runs, msPerFetch: +((performance.now() - t) / runs).toFixed(2) });
server.close();
