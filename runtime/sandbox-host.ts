// Runs the evaluator's supervisor as a plain process on this machine instead of in a container: for
// `npm run gpu-check` on a GPU machine without Docker. Same supervisor, fork server and workers, same
// protocol and result channel; what it does NOT have is the container: no seccomp profile, no read-only
// root, no network namespace, no memory or pids limit, no separate user. It is a measurement tool for code
// you trust to run on the machine (your own or our attack fixtures), never a sandbox for miners' code.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import type { ContainerRunner } from './evaluate.ts';
import type { SandboxRun, SandboxSpec } from './sandbox.ts';

export const SUPERVISOR_PATH = fileURLToPath(new URL('../docker/evaluator/supervisor.py', import.meta.url));

export interface HostRunnerOptions {
  /** command that runs Python with torch (default ['python3']); the supervisor path and -I follow it */
  python?: string[];
  /** where the per-run directories go (default: the OS temp dir) */
  scratch?: string;
  /** extra environment for the supervisor (e.g. CUDA_VISIBLE_DEVICES); PATH, LD_LIBRARY_PATH and CUDA_* pass through */
  env?: Record<string, string>;
}

class Capped extends Writable {
  chunks: Buffer[] = [];
  size = 0;
  dropped = 0;
  cap: number;
  constructor(cap: number) { super(); this.cap = cap; }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    const room = this.cap - this.size;
    if (room > 0) { this.chunks.push(chunk.subarray(0, room)); this.size += Math.min(room, chunk.length); }
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0));
    cb();
  }
  text(): string { return Buffer.concat(this.chunks).toString('utf8'); }
}

/** The container paths of a spec mapped to host directories (binds as given, tmpfs mounts as fresh dirs). */
function mapPaths(spec: SandboxSpec, root: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const b of spec.binds) map.set(b.container, b.host);
  for (const t of Object.keys(spec.tmpfs)) {
    const dir = join(root, t.replace(/\//g, '_'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    map.set(t, dir);
  }
  return map;
}

function hostPath(map: Map<string, string>, p: string): string {
  for (const [c, h] of map) if (p === c || p.startsWith(c + '/')) return h + p.slice(c.length);
  return p;
}

export class HostProcessRunner implements ContainerRunner {
  readonly opts: HostRunnerOptions;
  constructor(opts: HostRunnerOptions = {}) { this.opts = opts; }

  async run(spec: SandboxSpec): Promise<SandboxRun> {
    const t0 = performance.now();
    const root = mkdtempSync(join(this.opts.scratch ?? tmpdir(), 'conclave-host-run-'));
    chmodSync(root, 0o755);
    const out = new Capped(spec.outputCapBytes);
    const err = new Capped(spec.outputCapBytes);
    const base = { exitCode: null, oomKilled: false, stdout: '', stderr: '', truncated: false, startMs: 0, teardownMs: 0 };
    try {
      const map = mapPaths(spec, root);
      if (!map.has('/result')) map.set('/result', join(root, '_result_unused'));
      const job = JSON.parse(spec.env?.CONCLAVE_JOB ?? '{}') as Record<string, unknown>;
      job.submission = hostPath(map, String(job.submission ?? '/submission/train.py'));
      job.writablePrefixes = (job.writablePrefixes as string[] ?? ['/tmp', '/cache']).map((p) => hostPath(map, p));
      job.paths = { tmp: hostPath(map, '/tmp'), cache: hostPath(map, '/cache'), cacheSeed: hostPath(map, '/cache-seed'), result: hostPath(map, '/result') };
      delete job.memoryBytes; // the supervisor's watchdog reads the container's cgroup: here that would be the whole machine's
      const pass = Object.fromEntries(Object.entries(process.env).filter(([k]) => k === 'PATH' || k === 'LD_LIBRARY_PATH' || k.startsWith('CUDA_') || k.startsWith('NVIDIA_')));
      const env = { ...pass, ...this.opts.env, CONCLAVE_JOB: JSON.stringify(job) } as NodeJS.ProcessEnv;
      const [cmd, ...pre] = this.opts.python ?? ['python3'];
      const child = spawn(cmd, [...pre, '-I', SUPERVISOR_PATH], { cwd: hostPath(map, '/tmp'), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pipe(spec.stdoutSink ?? out);
      child.stderr.pipe(err);
      const startMs = performance.now() - t0;
      let timer: NodeJS.Timeout | undefined;
      let timedOut = false;
      const done = new Promise<{ code: number | null; error?: Error }>((res) => {
        child.once('error', (e) => res({ code: null, error: e }));
        child.once('close', (code) => res({ code }));
      });
      timer = setTimeout(() => { timedOut = true; try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, spec.timeoutMs);
      const { code, error } = await done;
      clearTimeout(timer);
      const runEnd = performance.now();
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* the group is gone */ }
      if (error) return { ...base, outcome: 'sandbox-error', durationMs: runEnd - t0, error: `cannot start ${cmd}: ${error.message}`, stderr: err.text() };
      return {
        ...base, outcome: timedOut ? 'timeout' : 'exited', exitCode: timedOut ? null : code, stdout: out.text(), stderr: err.text(),
        truncated: out.dropped + err.dropped > 0, durationMs: runEnd - t0, startMs, teardownMs: performance.now() - runEnd,
      };
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
}
