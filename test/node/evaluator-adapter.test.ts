// The EvaluatorPort over runtime/ (node/validator/evaluator-adapter.ts) up to the sandbox: real HTTP on
// loopback, the real SSRF-safe fetch, the real static reviewer (host engine: fast, same ast rules),
// the real duplicate store (LevelDB). No container is started here: every case is decided before
// the sandbox. The devnet test covers the sandboxed outcomes.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseConfig } from '../../node/config.ts';
import { hopsOutsideAllowance, loopbackAllowance, SandboxEvaluatorPort } from '../../node/validator/evaluator-adapter.ts';
import { MINERS_DIR, requireDockerForTests } from './devnet-helpers.ts';
import { buildZip } from '../intake/zip-writer.ts';
import { jsonLogger } from '../../node/validator/ports.ts';
import type { RosterEntry } from '../../proto/roster.ts';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

describe('node/validator/evaluator-adapter (intake adapter: fetch → review → duplicates)', function () {
  this.timeout(120_000);
  let dir: string;
  let server: Server;
  let other: Server;
  let alias: Server | undefined;
  let origin: string;
  let port: SandboxEvaluatorPort;
  const files: Record<string, Buffer> = {};
  const ctx = (earlier: RosterEntry[] = []) => ({ runId: 7, randomness: '0x' + '7'.repeat(64), earlier, timeoutMs: 60_000, signal: new AbortController().signal });

  before(async function () {
    if (!(await requireDockerForTests())) this.skip();
    for (const f of ['faster.py', 'renamed-copy.py', 'timer-cheat.py']) files[f] = readFileSync(join(MINERS_DIR, f));
    // hostile and pathological submissions: each must end as a verdict, never as an error
    files['long-name.zip'] = buildZip([{ name: 'train.py', data: files['faster.py'] }, { name: '日'.repeat(90) + '.py', data: 'X = 1\n' }]);
    // `cat script.sh project.zip`: the offsets still count from the ZIP's start, so the records leave a gap
    files['polyglot.zip'] = Buffer.concat([Buffer.from('#!/bin/sh\n'), buildZip([{ name: 'train.py', data: files['faster.py'] }])]);
    files['shadow.zip'] = buildZip([{ name: 'train.py', data: files['faster.py'] }, { name: 'torch.py', data: 'X = 1\n' }]);
    files['branches.py'] = Buffer.from(files['faster.py'].toString() + '\n\ndef _f(c):\n    s = ""\n' +
      Array.from({ length: 4000 }, (_, i) => `    if c:\n        s = s + "a${i}"\n    else:\n        s = s + "b"\n`).join(''));
    other = createServer((_q, r) => r.end(files['faster.py']));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const otherPort = (other.address() as AddressInfo).port;
    server = createServer((req, res) => {
      const name = (req.url ?? '').slice(1);
      if (name === 'to-other-port') { res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/x.py` }); return res.end(); }
      if (name === 'to-other-address') { res.writeHead(302, { location: `http://127.0.0.2:${(server.address() as AddressInfo).port}/faster.py` }); return res.end(); }
      const body = files[name];
      if (!body) { res.writeHead(404); return res.end(); }
      res.writeHead(200, { 'content-type': 'text/x-python' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const p = (server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${p}`;
    // the same port on another loopback address: fetch.ts allows loopback by port, the node by exact origin
    alias = createServer((_q, r) => r.end(files['faster.py']));
    await new Promise<void>((r, j) => { alias!.once('error', j); alias!.listen(p, '127.0.0.2', () => r()); }).catch(() => { alias = undefined; });
    dir = mkdtempSync(join(tmpdir(), 'conclave-evadapter-'));
    const cfg = parseConfig(`[chain]\nendpoint = "ws://127.0.0.1:9"\n[node]\ndata_dir = "${dir}"\n[intake]\ndev_allow_loopback_origins = ["${origin}"]\n`, { env: {} });
    port = await SandboxEvaluatorPort.create(cfg, jsonLogger('error'), { reviewEngine: 'host' });
  });

  after(async () => {
    await port?.close();
    for (const s of [server, other, alias]) s?.closeAllConnections();
    await Promise.all([server, other, alias].filter(Boolean).map((s) => new Promise((r) => s!.close(r))));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const entry = (uid: number, name: string, path = name, commitBlock = 1): RosterEntry => ({ uid, minerHotkey: `5Miner${uid}`.padEnd(48, 'x'), codeSha256: sha(files[name]), url: `${origin}/${path}`, commitBlock });

  it('checks the first configured Docker host itself: a TCP+TLS host that does not answer is refused, not the local socket', async () => {
    const tls = mkdtempSync(join(tmpdir(), 'conclave-tls-'));
    try {
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(tls, f), 'not a certificate\n');
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
      const deadPort = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const cfg = parseConfig(`[node]\ndata_dir = "${join(tls, 'data')}"\n[sandbox]\ndocker_hosts = [{ url = "tcp://127.0.0.1:${deadPort}", gpus = 1, ca_file = "${join(tls, 'ca.pem')}", cert_file = "${join(tls, 'cert.pem')}", key_file = "${join(tls, 'key.pem')}" }]\n`, { env: {} });
      await assert.rejects(SandboxEvaluatorPort.create(cfg, jsonLogger('error'), { reviewEngine: 'host' }), new RegExp(`no Docker engine at tcp://127\\.0\\.0\\.1:${deadPort}`));
    } finally {
      rmSync(tls, { recursive: true, force: true });
    }
  });

  it('exact loopback origins only: another port or another loopback address is outside the allowance', () => {
    const a = loopbackAllowance(['http://127.0.0.1:8000'])!;
    assert.deepEqual(a.ports, [8000]);
    assert.equal(hopsOutsideAllowance([{ url: 'http://127.0.0.1:8000/a.py', address: '127.0.0.1' }], a.origins), null);
    assert.match(hopsOutsideAllowance([{ url: 'http://127.0.0.1:8000/a', address: '127.0.0.1' }, { url: 'http://127.0.0.2:8000/b', address: '127.0.0.2' }], a.origins)!, /outside the devnet allowance/);
    assert.equal(loopbackAllowance([]), undefined);
  });

  it('a URL redirecting to another loopback port is fetch-failed (blocked address)', async () => {
    const out = await port.evaluate(entry(10, 'faster.py', 'to-other-port'), ctx());
    assert.equal(out.status, 'fetch-failed');
    assert.equal(out.detail.code, 'blocked-address');
    assert.equal(out.score, 0);
  });

  it('a URL redirecting to another loopback address on the allowed port is fetch-failed too', async function () {
    if (!alias) this.skip();
    const out = await port.evaluate(entry(11, 'faster.py', 'to-other-address'), ctx());
    assert.equal(out.status, 'fetch-failed');
    assert.match(String(out.detail.reason), /outside the devnet allowance|blocked/);
  });

  it('bytes that do not hash to the commitment are fetch-failed (hash-mismatch)', async () => {
    const e = { ...entry(12, 'faster.py'), codeSha256: sha('something else') };
    const out = await port.evaluate(e, ctx());
    assert.equal(out.status, 'fetch-failed');
    assert.equal(out.detail.code, 'hash-mismatch');
  });

  it('a timer patch is rejected by the static review, with findings', async () => {
    const out = await port.evaluate(entry(13, 'timer-cheat.py'), ctx());
    assert.equal(out.status, 'rejected-static');
    assert.ok((out.detail.findings as { rule: string }[]).some((f) => /timer|monkey|forbidden/.test(f.rule)));
  });

  it('a hostile ZIP is a verdict (rejected-static with its refusal code), not an error: byte-long names, polyglots, shadowing', async () => {
    for (const [name, code] of [['long-name.zip', 'bad-name'], ['polyglot.zip', 'gap'], ['shadow.zip', 'shadowing']]) {
      const out = await port.evaluate(entry(30, name), ctx());
      assert.equal(out.status, 'rejected-static', name);
      assert.equal(out.detail.stage, 'zip');
      assert.equal(out.detail.code, code, name);
    }
  });

  it('a source over the reviewer\'s work budget is a too-complex verdict, decided in seconds', async () => {
    const t0 = Date.now();
    const out = await port.evaluate(entry(31, 'branches.py'), ctx());
    assert.equal(out.status, 'rejected-static');
    assert.ok((out.detail.findings as { rule: string }[]).some((f) => f.rule === 'too-complex'), JSON.stringify(out.detail));
    assert.ok(Date.now() - t0 < 120_000, `took ${Date.now() - t0} ms`);
  });

  it('a fault of the validator (the data directory broken) is retried with backoff, logged once, and never a verdict', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = jsonLogger('debug', {}, (l) => lines.push(JSON.parse(l)));
    const fdir = mkdtempSync(join(tmpdir(), 'conclave-evfault-'));
    const cfg = parseConfig(`[chain]\nendpoint = "ws://127.0.0.1:9"\n[node]\ndata_dir = "${fdir}"\n[intake]\ndev_allow_loopback_origins = ["${origin}"]\n`, { env: {} });
    const faulty = await SandboxEvaluatorPort.create(cfg, logger, { reviewEngine: 'host', faultBackoffMs: [20, 20] });
    try {
      rmSync(join(fdir, 'submissions'), { recursive: true, force: true });
      writeFileSync(join(fdir, 'submissions'), 'not a directory'); // every write of a submission now fails
      for (const uid of [40, 41]) {
        await assert.rejects(faulty.evaluate(entry(uid, 'faster.py'), ctx()), (err: Error & { logged?: boolean }) => {
          assert.equal(err.name, 'ValidatorFault');
          assert.equal(err.logged, true);
          return true;
        });
      }
      const faultLines = lines.filter((l) => /validator fault \(/.test(String(l.msg)));
      assert.equal(faultLines.length, 1, 'one log line for one cause, however many miners and attempts');
      rmSync(join(fdir, 'submissions'));
      mkdirSync(join(fdir, 'submissions'));
      const out = await faulty.evaluate(entry(42, 'timer-cheat.py'), ctx());
      assert.equal(out.status, 'rejected-static');
      assert.ok(lines.some((l) => l.msg === 'validator fault cleared'));
    } finally {
      await faulty.close();
      rmSync(fdir, { recursive: true, force: true });
    }
  });

  it('a renamed copy committed later is a duplicate of the original (the original is not)', async () => {
    const original = entry(20, 'faster.py', 'faster.py', 1);
    const copy = entry(21, 'renamed-copy.py', 'renamed-copy.py', 2);
    // evaluated copy-first: the adapter still takes the earlier commitment in first
    const out = await port.evaluate(copy, ctx([original]));
    assert.equal(out.status, 'duplicate');
    assert.equal((out.detail.of as { uid: number }).uid, 20);
  });
});

describe('devnet without a Docker engine', () => {
  it('stops at once and says how to get one', async () => {
    const { requireDocker, DevnetError } = await import('../../node/devnet/devnet.ts');
    const { default: Docker } = await import('dockerode');
    const t0 = Date.now();
    await assert.rejects(requireDocker(new Docker({ socketPath: '/nonexistent/docker.sock' })), (err: Error) => {
      assert.ok(err instanceof DevnetError);
      assert.match(err.message, /no Docker engine answers/);
      assert.match(err.message, /Install Docker Engine/);
      return true;
    });
    assert.ok(Date.now() - t0 < 6000);
  });
});
