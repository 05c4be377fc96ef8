// The hardened container runner (dockerode). One call = one container: created, attached (output
// captured with a size cap), started, waited for with a wall-clock timeout, inspected (OOMKilled), and
// ALWAYS removed in finally — AutoRemove is not used because a killed-on-timeout container must still
// be inspected and removed by us. Every container carries the conclave.sandbox=1 label.
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';

export const SANDBOX_LABEL = 'conclave.sandbox';
export const SESSION_LABEL = 'conclave.sandbox.session';
/** Set by the caller through `spec.labels` (stable across restarts): which validator started the container. */
export const OWNER_LABEL = 'conclave.owner';

export interface BindMount { host: string; container: string; readOnly: boolean }
export interface GpuRequest { count?: number; deviceIds?: string[] }

export interface SandboxSpec {
  image: string;
  /** Replaces the image's entrypoint when set (probes, benchmarks). */
  entrypoint?: string[];
  cmd?: string[];
  env?: Record<string, string>;
  user: string;
  binds: BindMount[];
  /** container path -> tmpfs options, e.g. {'/tmp': 'rw,exec,nosuid,size=256m'} */
  tmpfs: Record<string, string>;
  memoryBytes: number;
  shmBytes: number;
  pidsLimit: number;
  cpus: number;
  /** The seccomp profile's JSON text (Docker's API takes the content, not a path). */
  seccompProfile: string;
  gpus?: GpuRequest;
  timeoutMs: number;
  outputCapBytes: number;
  labels?: Record<string, string>;
  /** Replaces the capped stdout capture: the container's raw stdout goes here (the sink enforces its own cap). */
  stdoutSink?: Writable;
  /** Opens the container's stdin; called once attached with a writer the caller may use while it runs. */
  stdin?: (send: (data: Buffer) => void) => void;
}

export type SandboxOutcome = 'exited' | 'timeout' | 'oom' | 'sandbox-error';

export interface SandboxRun {
  outcome: SandboxOutcome;
  exitCode: number | null;
  oomKilled: boolean;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  /** create+attach+start until the container process runs (the sandbox's own overhead, part 1). */
  startMs: number;
  /** after exit: inspect + remove (overhead, part 2). */
  teardownMs: number;
  error?: string;
  containerId?: string;
}

/** The HostConfig every sandbox container gets. Pure, so the hardening is unit-testable. */
export function hardenedHostConfig(spec: SandboxSpec): Dockerode.HostConfig {
  const hc: Dockerode.HostConfig = {
    NetworkMode: 'none',
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges:true', `seccomp=${spec.seccompProfile}`],
    ReadonlyRootfs: true,
    PidsLimit: spec.pidsLimit,
    Memory: spec.memoryBytes,
    MemorySwap: spec.memoryBytes, // equal to Memory: no swap
    ShmSize: spec.shmBytes,
    NanoCpus: Math.round(spec.cpus * 1e9),
    Tmpfs: spec.tmpfs,
    Binds: spec.binds.map((b) => `${b.host}:${b.container}:${b.readOnly ? 'ro' : 'rw'}`),
    IpcMode: 'private',
    Privileged: false,
    AutoRemove: false,
    OomKillDisable: false,
    Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
    // output reaches us through attach (capped); no log driver copy on the host's disk
    LogConfig: { Type: 'none', Config: {} },
  };
  if (spec.gpus) {
    hc.DeviceRequests = [{
      Driver: 'nvidia',
      Count: spec.gpus.deviceIds ? undefined : (spec.gpus.count ?? -1),
      DeviceIDs: spec.gpus.deviceIds,
      Capabilities: [['gpu']],
    }];
  }
  return hc;
}

class CappedSink extends Writable {
  chunks: Buffer[] = [];
  size = 0;
  dropped = 0;
  cap: number;
  constructor(cap: number) { super(); this.cap = cap; }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const room = this.cap - this.size;
    if (room > 0) { const part = chunk.subarray(0, room); this.chunks.push(part); this.size += part.length; }
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0));
    cb();
  }
  text(): string { return Buffer.concat(this.chunks).toString('utf8'); }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

export class SandboxRunner {
  readonly docker: Dockerode;
  /** Labels every container of this runner: lets tests and the node find (and reap) their own leftovers. */
  readonly session: string;
  constructor(docker: Dockerode, session = randomBytes(8).toString('hex')) {
    this.docker = docker;
    this.session = session;
  }

  async run(spec: SandboxSpec): Promise<SandboxRun> {
    const t0 = performance.now();
    const out = new CappedSink(spec.outputCapBytes);
    const err = new CappedSink(spec.outputCapBytes);
    let container: Dockerode.Container | undefined;
    let attached: (NodeJS.ReadWriteStream & { destroy?: () => void }) | undefined;
    const base = { exitCode: null, oomKilled: false, stdout: '', stderr: '', truncated: false, startMs: 0, teardownMs: 0 };
    let ret: SandboxRun | undefined;
    let runEnd = 0;
    try {
      container = await this.docker.createContainer({
        Image: spec.image,
        Entrypoint: spec.entrypoint,
        Cmd: spec.cmd,
        Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
        User: spec.user,
        WorkingDir: '/tmp',
        NetworkDisabled: true,
        AttachStdout: true,
        AttachStdin: Boolean(spec.stdin),
        OpenStdin: Boolean(spec.stdin),
        StdinOnce: false,
        AttachStderr: true,
        Tty: false,
        StopSignal: 'SIGKILL',
        Labels: { ...spec.labels, [SANDBOX_LABEL]: '1', [SESSION_LABEL]: this.session },
        HostConfig: hardenedHostConfig(spec),
      });
      const stream = await container.attach({ stream: true, stdout: true, stderr: true, stdin: Boolean(spec.stdin), hijack: Boolean(spec.stdin) });
      attached = stream;
      this.docker.modem.demuxStream(stream, spec.stdoutSink ?? out, err);
      if (spec.stdin) spec.stdin((data) => { try { stream.write(data); } catch { /* container gone */ } });
      const waited = container.wait({ condition: 'next-exit' });
      await container.start();
      const startMs = performance.now() - t0;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), spec.timeoutMs); });
      const first = await Promise.race([waited.then(() => 'exited' as const), timeout]);
      clearTimeout(timer);
      if (first === 'timeout') {
        timedOut = true;
        await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
        await withTimeout(waited, 15_000, 'container wait after kill').catch(() => undefined);
      }
      runEnd = performance.now();
      const info = await withTimeout(container.inspect(), 15_000, 'container inspect');
      // let the attach stream drain what was written just before exit
      await withTimeout(new Promise<void>((res) => { stream.once('end', () => res()); stream.once('close', () => res()); }), 2_000, 'output drain').catch(() => undefined);
      const oomKilled = Boolean(info.State?.OOMKilled);
      const outcome: SandboxOutcome = timedOut ? 'timeout' : oomKilled ? 'oom' : 'exited';
      ret = {
        ...base, outcome, exitCode: timedOut ? null : (info.State?.ExitCode ?? null), oomKilled,
        stdout: out.text(), stderr: err.text(), truncated: out.dropped + err.dropped > 0,
        durationMs: runEnd - t0, startMs, teardownMs: 0, containerId: container.id,
      };
      return ret;
    } catch (e) {
      return { ...base, outcome: 'sandbox-error', stdout: out.text(), stderr: err.text(), durationMs: performance.now() - t0, error: `docker: ${(e as Error).message}`, containerId: container?.id };
    } finally {
      attached?.destroy?.(); // a hijacked (stdin) connection stays open otherwise
      if (container) await removeContainer(container);
      if (ret) ret.teardownMs = performance.now() - runEnd;
    }
  }

  /** Containers of this runner's session still present (should always be none after run() returns). */
  async leftovers(): Promise<string[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${SESSION_LABEL}=${this.session}`] } });
    return list.map((c) => c.Id);
  }
}

async function removeContainer(c: Dockerode.Container): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await withTimeout(c.remove({ force: true, v: true }), 20_000, 'container remove');
      return;
    } catch (e) {
      const code = (e as { statusCode?: number }).statusCode;
      if (code === 404) return; // already gone
      if (code === 409 && /already in progress/.test((e as Error).message)) { await new Promise((r) => setTimeout(r, 200)); continue; }
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }
  process.emitWarning(`conclave sandbox: could not remove container ${c.id}; remove it with \`docker rm -f ${c.id}\``);
}

/** Removes every container labelled conclave.sandbox=1 (optionally of one session): startup hygiene. */
export async function reapSandboxContainers(docker: Dockerode, session?: string): Promise<number> {
  const label = session ? `${SESSION_LABEL}=${session}` : `${SANDBOX_LABEL}=1`;
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  for (const c of list) await removeContainer(docker.getContainer(c.Id));
  return list.length;
}

/**
 * Removes the sandbox containers of one owner (`conclave.owner=<owner>`): what a validator killed
 * mid-evaluation left behind. Other owners' containers on a shared engine are not touched.
 */
export async function reapOwnedSandboxContainers(docker: Dockerode, owner: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${SANDBOX_LABEL}=1`, `${OWNER_LABEL}=${owner}`] } });
  for (const c of list) await removeContainer(docker.getContainer(c.Id));
  return list.length;
}
