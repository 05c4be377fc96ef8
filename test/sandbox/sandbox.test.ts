// The hardened container itself (no evaluator): what a process inside can and cannot do.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { SandboxRunner, hardenedHostConfig, reapSandboxContainers, type SandboxSpec } from '../../runtime/sandbox.ts';
import { DockerScheduler, DockerHostConfigError, validateHostConfig } from '../../runtime/docker-hosts.ts';
import { SECCOMP_PATH, seccompProfileText } from '../../runtime/sandbox-image.ts';
import { docker, session, testImage } from './helpers.ts';

const PROBE = String.raw`
import errno, json, os, socket
out = {}
out['uid'] = os.getuid()
st = dict(l.split(':\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\t' in l)
out['capEff'] = st['CapEff'].strip(); out['noNewPrivs'] = st['NoNewPrivs'].strip(); out['seccomp'] = st['Seccomp'].strip()
def err(f):
    try:
        f(); return 'ok'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
out['writeRoot'] = err(lambda: open('/etc/pwned', 'w'))
out['writeSubmission'] = err(lambda: open('/submission/x', 'w'))
out['readSubmission'] = open('/submission/train.py').read().strip()
def tmp_exec():
    open('/tmp/x.sh', 'w').write('#!/bin/sh\nexit 7\n'); os.chmod('/tmp/x.sh', 0o755)
    assert os.WEXITSTATUS(os.system('/tmp/x.sh')) == 7
out['tmpExec'] = err(tmp_exec)
out['inet'] = err(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
out['unix'] = err(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
out['netIfaces'] = sorted(os.listdir('/sys/class/net'))
pids, res = [], 'ok'
for _ in range(500):
    try:
        pid = os.fork()
    except OSError as e:
        res = errno.errorcode.get(e.errno); break
    if pid == 0:
        import time; time.sleep(30); os._exit(0)
    pids.append(pid)
out['forkBomb'] = res; out['forked'] = len(pids)
for p in pids: os.kill(p, 9)
for p in pids: os.waitpid(p, 0)
print(json.dumps(out))
`;

describe('hardened sandbox container (real Docker)', function () {
  this.timeout(120_000);
  let runner: SandboxRunner;
  let image: string;
  let spec: (over: Partial<SandboxSpec>) => SandboxSpec;
  const dir = mkdtempSync(join(tmpdir(), 'conclave-sbx-'));

  before(async function () {
    this.timeout(300_000);
    image = (await testImage()).tag;
    runner = new SandboxRunner(docker, session);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'train.py'), 'SUBMISSION\n', { mode: 0o644 });
    spec = (over) => ({
      image, entrypoint: ['python3', '-I', '-c'], cmd: ['print(1)'], user: '10001:10001',
      binds: [{ host: dir, container: '/submission', readOnly: true }], tmpfs: { '/tmp': 'rw,exec,nosuid,nodev,size=16m' },
      memoryBytes: 256 << 20, shmBytes: 16 << 20, pidsLimit: 32, cpus: 1, seccompProfile: seccompProfileText(),
      timeoutMs: 60_000, outputCapBytes: 64 << 10, ...over,
    });
  });
  after(async function () {
    this.timeout(60_000);
    await reapSandboxContainers(docker, session);
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the HostConfig with every hardening option', () => {
    const hc = hardenedHostConfig({ ...spec({}), gpus: { count: 2 } });
    assert.equal(hc.NetworkMode, 'none');
    assert.deepEqual(hc.CapDrop, ['ALL']);
    assert.ok(hc.SecurityOpt!.includes('no-new-privileges:true'));
    assert.ok(hc.SecurityOpt!.some((o: string) => o.startsWith('seccomp={')));
    assert.equal(hc.ReadonlyRootfs, true);
    assert.equal(hc.PidsLimit, 32);
    assert.equal(hc.Memory, hc.MemorySwap);
    assert.match(hc.Tmpfs!['/tmp'], /exec/);
    assert.deepEqual(hc.Binds, [`${dir}:/submission:ro`]);
    assert.equal(hc.DeviceRequests![0].Count, 2);
    assert.equal(hardenedHostConfig(spec({})).DeviceRequests, undefined);
  });

  it('ships a seccomp profile denying the required syscalls', () => {
    const prof = JSON.parse(readFileSync(SECCOMP_PATH, 'utf8'));
    const denied = new Set<string>(prof.syscalls.filter((s: { action: string; args?: unknown[] }) => s.action !== 'SCMP_ACT_ALLOW' && !s.args).flatMap((s: { names: string[] }) => s.names));
    for (const n of ['ptrace', 'mount', 'umount2', 'unshare', 'setns', 'keyctl', 'add_key', 'bpf', 'perf_event_open', 'userfaultfd',
      'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'process_vm_readv', 'process_vm_writev']) assert.ok(denied.has(n), n);
  });

  it('runs as a non-root user without capabilities, network, writable root or unbounded pids', async () => {
    const r = await runner.run(spec({ cmd: [PROBE] }));
    assert.equal(r.outcome, 'exited', r.error ?? r.stderr);
    assert.equal(r.exitCode, 0, r.stderr);
    const p = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(p.uid, 10001);
    assert.equal(p.capEff, '0000000000000000');
    assert.equal(p.noNewPrivs, '1');
    assert.equal(p.seccomp, '2');
    assert.equal(p.writeRoot, 'EROFS');
    assert.equal(p.writeSubmission, 'EROFS');
    assert.equal(p.readSubmission, 'SUBMISSION');
    assert.equal(p.tmpExec, 'ok');
    assert.equal(p.inet, 'EACCES');
    assert.equal(p.unix, 'ok');
    assert.deepEqual(p.netIfaces, ['lo']);
    assert.equal(p.forkBomb, 'EAGAIN');
    assert.ok(p.forked < 32);
  });

  it('kills a process calling a denied syscall (unshare) with SIGSYS', async () => {
    const r = await runner.run(spec({ cmd: ['import ctypes; ctypes.CDLL(None).unshare(0x10000000); print("survived")'] }));
    assert.equal(r.exitCode, 128 + 31);
    assert.doesNotMatch(r.stdout, /survived/);
  });

  it('reports a container past its memory limit as oom', async () => {
    const r = await runner.run(spec({ cmd: ['x = [bytearray(16 << 20) for _ in range(64)]'] }));
    assert.equal(r.outcome, 'oom');
    assert.equal(r.oomKilled, true);
  });

  it('kills a container past its wall-clock timeout and removes it', async () => {
    const t0 = performance.now();
    const r = await runner.run(spec({ cmd: ['import time; time.sleep(600)'], timeoutMs: 2_000 }));
    assert.equal(r.outcome, 'timeout');
    assert.equal(r.exitCode, null);
    assert.ok(performance.now() - t0 < 45_000);
    assert.deepEqual(await runner.leftovers(), []);
  });

  it('the worker reads its three clocks together even when preempted between two reads', async () => {
    // mono stalls 30 ms on its first three calls, as a preemption between perf_counter and monotonic would
    const probe = [
      'import sys, time, json; sys.path.insert(0, "/opt/conclave/evaluator")',
      'from conclave_eval import refs as w',
      'real = w.mono; n = [0]',
      'def stalled():\n    n[0] += 1\n    if n[0] <= 3: time.sleep(0.03)\n    return real()',
      'w.mono = stalled; perf, mono, raw = w.read_clocks(); tight = [n[0], abs(mono - perf)]',
      'w.mono = lambda: (time.sleep(0.005), real())[1]; n[0] = 0',
      't0 = time.perf_counter(); w.read_clocks(); bounded = time.perf_counter() - t0',
      'print(json.dumps({"tries": tight[0], "gap": tight[1], "bounded": bounded}))',
    ].join('\n');
    const r = await runner.run(spec({ cmd: [probe], memoryBytes: 1 << 30, pidsLimit: 64 }));
    assert.equal(r.exitCode, 0, r.stderr);
    const p = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.ok(p.tries >= 4, `three stalled readings were retried (${p.tries} tries)`);
    assert.ok(p.gap < 0.005, `perf_counter and monotonic read ${p.gap}s apart`);
    assert.ok(p.bounded < 1, `a host that always stalls still gets a reading after a bounded number of tries (${p.bounded}s)`);
  });

  it('the capture sketch is linear (a scaled tensor has an exactly scaled sketch), keeps norms, and depends on seed and key', async () => {
    const probe = [
      'import sys, json, math; sys.path.insert(0, "/opt/conclave/evaluator")',
      'import torch; from conclave_eval.capture import Sketcher',
      'def vals(s, t, key):\n    b, k = s.sketch(t, key)\n    return torch.frombuffer(bytearray(b), dtype=torch.float32)[:k]',
      'x = torch.sin(torch.arange(50003, dtype=torch.float32) * 0.37)',
      's = Sketcher("aa" * 16, 256, torch.device("cpu"))',
      'a, half = vals(s, x, "w"), vals(s, x * 0.5, "w")',
      'out = {"k": a.numel(), "scale": float((half - 0.5 * a).abs().max() / a.abs().max())}',
      'out["norm"] = float(a.norm() / x.norm())',
      'out["seed"] = bool(torch.equal(a, vals(Sketcher("ab" * 16, 256, torch.device("cpu")), x, "w")))',
      'out["key"] = bool(torch.equal(a, vals(s, x, "v")))',
      'out["small"] = vals(s, x[:10], "w").numel()',
      'print(json.dumps(out))',
    ].join('\n');
    const r = await runner.run(spec({ cmd: [probe], memoryBytes: 1 << 30, pidsLimit: 64 }));
    assert.equal(r.exitCode, 0, r.stderr);
    const p = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(p.k, 256);
    assert.ok(p.scale < 1e-6, `sketch(0.5 x) - 0.5 sketch(x): ${p.scale}`);
    assert.ok(p.norm > 0.7 && p.norm < 1.3, `norm ratio ${p.norm}`);
    assert.equal(p.seed, false, 'another seed, another projection');
    assert.equal(p.key, false, 'another tensor key, another projection');
    assert.equal(p.small, 10, 'a tensor smaller than the sketch keeps its size');
  });

  it('caps captured output', async () => {
    const r = await runner.run(spec({ cmd: ['import sys; sys.stdout.write("x" * 300000); sys.stderr.write("e")'], outputCapBytes: 1000 }));
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.length, 1000);
    assert.equal(r.stderr, 'e');
    assert.equal(r.truncated, true);
  });

  it('reports a missing image as sandbox-error and leaves nothing behind', async () => {
    const r = await runner.run(spec({ image: 'conclave-no-such-image:none' }));
    assert.equal(r.outcome, 'sandbox-error');
    assert.match(r.error!, /docker/);
  });

  it('leaves no container of ours behind', async () => {
    assert.deepEqual(await runner.leftovers(), []);
  });
});

describe('docker host scheduling', () => {
  const fake = (name: string, concurrency: number) => ({ config: { name, socketPath: `/nonexistent/${name}.sock`, concurrency }, docker: new Dockerode({ socketPath: `/nonexistent/${name}.sock` }) });

  it('never runs more jobs on a host than its concurrency and spreads load to the freest host', async () => {
    const s = new DockerScheduler([fake('a', 2), fake('b', 1)]);
    const busy = new Map<string, number>(); const peak = new Map<string, number>(); const used: string[] = [];
    await Promise.all(Array.from({ length: 12 }, (_, i) => s.run(async (h) => {
      const n = (busy.get(h.config.name) ?? 0) + 1;
      busy.set(h.config.name, n); peak.set(h.config.name, Math.max(peak.get(h.config.name) ?? 0, n)); used.push(h.config.name);
      await new Promise((r) => setTimeout(r, 5 + (i % 3) * 3));
      busy.set(h.config.name, busy.get(h.config.name)! - 1);
    })));
    assert.equal(peak.get('a'), 2);
    assert.equal(peak.get('b'), 1);
    assert.ok(used.includes('b'));
    assert.deepEqual(s.load(), [['a', 0, 2], ['b', 0, 1]]);
  });

  it('releases the slot when a job throws', async () => {
    const s = new DockerScheduler([fake('a', 1)]);
    await assert.rejects(s.run(async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await s.run(async () => 7), 7);
  });

  it('refuses unsafe or inconsistent host entries', () => {
    assert.throws(() => validateHostConfig({ name: 'x', host: '10.0.0.5', port: 2375, concurrency: 1 }), DockerHostConfigError);
    assert.throws(() => validateHostConfig({ name: 'x', socketPath: '/s', host: 'h', concurrency: 1 }), /exactly one/);
    assert.throws(() => validateHostConfig({ name: 'x', socketPath: '/s', concurrency: 0 }), /concurrency/);
    assert.throws(() => new DockerScheduler([]), /empty/);
  });
});
