// Intake benchmarks (JSON lines): static review throughput (host and Docker engines, one batch) and the
// bounded reviewer on 500 KB pathological sources (CPU per source, work units, verdict); ZIP reading of a
// typical project and seeded fuzzing (thousands of mutants: time per archive, refusal classes, and every
// accepted mutant checked against CPython's zipfile and a streaming reader); fingerprinting; fetch.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseEngine, reviewFiles } from '../runtime/review.ts';
import { codePrint, compare } from '../runtime/fingerprint.ts';
import { fetchSubmission } from '../runtime/fetch.ts';
import { readZipProject } from '../runtime/zip.ts';
import { buildZip } from '../test/intake/zip-writer.ts';
import { runZipFuzz } from '../test/intake/zip-fuzz.ts';
import { pythonRead, streamRead } from '../test/intake/zip-oracle.ts';
import { BASE, PATHOLOGICAL } from '../test/intake/pathological.ts';

const PATHOLOGICAL_ENTRY = 'import helpers\n' + BASE;

const here = dirname(fileURLToPath(import.meta.url));
const corpus = ['attacks', 'legit'].flatMap((d) => {
  const dir = join(here, '..', 'test', 'intake', d);
  return readdirSync(dir).filter((f) => f.endsWith('.py')).map((f) => ({ id: `${d}/${f}`, source: readFileSync(join(dir, f)) }));
});
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const only = process.env.INTAKE_BENCH?.split(',');
const want = (k: string) => !only || only.includes(k);

if (want('review')) {
  for (const engine of ['host', 'docker'] as const) {
    if (engine === 'docker') {
      try { await chooseEngine({ engine: 'docker' }); } catch (err) { emit({ bench: 'intake.review.docker', skipped: (err as Error).message }); continue; }
    }
    const t0 = performance.now();
    const b = await reviewFiles(corpus, { engine, fingerprint: true });
    const ms = performance.now() - t0;
    const cpu = b.results.map((r) => r.cpuMs ?? 0);
    emit({ bench: `intake.review.${engine}`, files: corpus.length, totalMs: Math.round(ms), msPerFile: +(ms / corpus.length).toFixed(2), cpuMsPerFileMax: Math.max(...cpu), workMax: Math.max(...b.results.map((r) => r.work ?? 0)), image: b.image ?? null });
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
}

if (want('bounded')) {
  // one reviewer process per source: its CPU time is the reviewer's, not the batch's
  for (const [id, source] of Object.entries(PATHOLOGICAL)) {
    const t0 = performance.now();
    const b = await reviewFiles([{ id, source }], { engine: 'host' });
    const r = b.results[0];
    emit({ bench: 'intake.review.bounded', source: id, bytes: source.length, verdict: r.verdict, rules: [...new Set(r.findings.map((f) => f.rule))], work: r.work ?? null, cpuMs: r.cpuMs ?? null, wallMs: Math.round(performance.now() - t0) });
  }
}

if (want('bounded-project')) {
  // the same sources as a module of a ZIP project (interpreted with the entrypoint as one program, one budget)
  for (const [id, source] of Object.entries(PATHOLOGICAL)) {
    const t0 = performance.now();
    const b = await reviewFiles([
      { id: 'train.py', source: PATHOLOGICAL_ENTRY, entrypoint: true, localModules: ['helpers'], project: 'p', module: 'train' },
      { id: 'helpers.py', source, entrypoint: false, localModules: ['train'], project: 'p', module: 'helpers' },
    ], { engine: 'host' });
    const r = b.results[1];
    emit({ bench: 'intake.review.bounded.project', source: id, bytes: source.length, verdict: r.verdict, rules: [...new Set(r.findings.map((f) => f.rule))], work: r.work ?? null, cpuMs: r.cpuMs ?? null, wallMs: Math.round(performance.now() - t0) });
  }
}

if (want('zip')) {
  const train = readFileSync(join(here, '..', 'test', 'intake', 'legit', '01_baseline.py'));
  const project = buildZip([{ name: 'train.py', data: train }, ...Array.from({ length: 20 }, (_, i) => ({ name: `pkg/m${i}.py`, data: train }))]);
  const runs = 200;
  const t = performance.now();
  for (let i = 0; i < runs; i++) readZipProject(project);
  emit({ bench: 'intake.zip.read', files: 21, archiveBytes: project.length, runs, msPerArchive: +((performance.now() - t) / runs).toFixed(3) });
  const count = Number(process.env.INTAKE_FUZZ ?? 5000);
  const seed = 0x19c0ffee;
  const f = runZipFuzz(seed, count);
  const py = pythonRead(f.accepted);
  let agree = 0;
  f.accepted.forEach((bytes, i) => {
    const ours = JSON.stringify(readZipProject(bytes).files.map((x) => [x.path, x.data.toString('base64')]).sort());
    const theirs = py[i].ok ? JSON.stringify(py[i].files!.map((x) => [x.name, x.data]).sort()) : 'refused';
    const stream = JSON.stringify(streamRead(bytes)?.map((x) => [x.name, x.data]).sort());
    if (ours === theirs && ours === stream) agree++;
  });
  emit({ bench: 'intake.zip.fuzz', seed, mutants: count, crashes: f.crashes.length, accepted: f.accepted.length, acceptedAgreeingWithCPythonAndStreaming: agree,
    msMean: +(f.ms.reduce((a, b) => a + b, 0) / f.ms.length).toFixed(3), msP99: +pct(f.ms, 0.99).toFixed(3), msMax: +Math.max(...f.ms).toFixed(3), refusals: f.codes });
}

if (want('fetch')) {
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
}
