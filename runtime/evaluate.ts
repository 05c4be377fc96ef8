// Orchestration of one evaluation: the run's reference pass (computed once per run in a container
// where no submission code is ever imported, cached in memory and on disk), then the miner pass in a
// hardened container, then the checks — outside both containers, here.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptures, readSupervisorResult, CaptureError, type SupervisorResult } from './evaluate-capture.ts';
import { runChecks, violationChecks, type CheckResult, type MfuStats, type ReferenceData } from './evaluate-checks.ts';
import type { EvaluatorPolicy, HardwareClass } from './evaluator-policy.ts';
import { canonicalJson, evaluatorPolicyHash } from './evaluator-policy.ts';
import { SandboxRunner, type BindMount, type SandboxRun, type SandboxSpec } from './sandbox.ts';
import type { DockerScheduler, ScheduledHost } from './docker-hosts.ts';

export type EvaluationStatus = 'ok' | 'rejected' | 'timeout' | 'oom' | 'crashed' | 'sandbox-error';

export interface EvaluationTimings {
  totalMs: number;
  /** the reference container's wall time; 0 when the run's reference was already cached */
  referenceMs: number;
  referenceCached: boolean;
  /** miner container wall time, create → exit */
  minerContainerMs: number;
  /** the timed inner_steps calls, summed (supervisor clock) */
  minerWorkMs: number;
  /** container create/start + inspect/remove of the miner container */
  sandboxOverheadMs: number;
  compareMs: number;
  /** CPU seconds inside the miner container and inside the (possibly cached) reference container */
  minerCpuSec?: number;
  referenceCpuSec?: number;
}

export interface EvaluationResult {
  status: EvaluationStatus;
  /** the first failing check (CHECK_ORDER) when status is 'rejected' */
  rejectedBy?: string;
  /** median MFU over the timed repetitions, when status is 'ok' */
  score?: number;
  mfu?: MfuStats;
  checks: CheckResult[];
  timings: EvaluationTimings;
  runId: number;
  codeSha256: string;
  hardwareClass: string;
  imageDigest: string;
  policyHash: string;
  nParams?: number;
  tokensPerRepetition?: number;
  detail?: string;
  output: { stdout: string; stderr: string; truncated: boolean };
}

export interface EvaluatorConfig {
  scheduler: DockerScheduler;
  image: string;
  imageDigest: string;
  hardwareClass: string;
  policy: EvaluatorPolicy;
  seccompProfile: string;
  /** host directory for the reference cache, compile caches and per-evaluation scratch dirs */
  cacheRoot: string;
  /** keep a torch.compile cache per (codeSha256, image digest, hardware class); default true */
  compileCache?: boolean;
  /** labels every container (tests use it to find their own) */
  runnerSession?: string;
  /** extra labels on every container (the node's `conclave.owner`, so a restart reaps only its own) */
  labels?: Record<string, string>;
}

/** The seed all passes of a run share: derived from the run id, so every validator uses the same one. */
export function seedForRun(runId: number): number {
  return createHash('sha256').update(`conclave-seed:${runId}`).digest().readUInt32BE(0) & 0x7fffffff;
}

export function toScoreStatus(s: EvaluationStatus): 'scored' | 'rejected-runtime' | 'timeout' | 'not-evaluated' {
  return s === 'ok' ? 'scored' : s === 'timeout' ? 'timeout' : s === 'sandbox-error' ? 'not-evaluated' : 'rejected-runtime';
}

function sha256Hex(s: string | Buffer): string { return createHash('sha256').update(s).digest('hex'); }

export class SubmissionEvaluator {
  readonly cfg: EvaluatorConfig;
  readonly hw: HardwareClass;
  readonly policyHash: string;
  private refs = new Map<string, Promise<{ ref: ReferenceData; ms: number }>>();
  private runners = new Map<ScheduledHost, SandboxRunner>();
  private uid: number;
  private gid: number;
  readonly session: string | undefined;

  constructor(cfg: EvaluatorConfig) {
    this.cfg = cfg;
    const hw = cfg.policy.hardwareClasses[cfg.hardwareClass];
    if (!hw) throw new Error(`hardware class ${JSON.stringify(cfg.hardwareClass)} is not in the evaluator policy (known: ${Object.keys(cfg.policy.hardwareClasses).join(', ')})`);
    this.hw = hw;
    this.policyHash = evaluatorPolicyHash(cfg.policy);
    [this.uid, this.gid] = cfg.policy.sandbox.user.split(':').map(Number);
    this.session = cfg.runnerSession;
    mkdirSync(join(cfg.cacheRoot, 'scratch'), { recursive: true, mode: 0o700 });
  }

  private runner(host: ScheduledHost): SandboxRunner {
    let r = this.runners.get(host);
    if (!r) { r = new SandboxRunner(host.docker, this.session); this.runners.set(host, r); }
    return r;
  }

  /** A directory the sandbox user can write (via its bind mount only: the parent stays 0700). */
  private sandboxDir(path: string): string {
    mkdirSync(path, { recursive: true });
    if (process.getuid?.() === 0) chownSync(path, this.uid, this.gid); else chmodSync(path, 0o777);
    return path;
  }

  private job(mode: 'reference' | 'miner', runId: number): Record<string, unknown> {
    const p = this.cfg.policy;
    return {
      mode, seed: seedForRun(runId), threads: p.threads, repetitions: mode === 'reference' ? 1 : p.repetitions,
      device: this.hw.device, model: p.model, data: p.data, optimizer: p.optimizer, submission: '/submission/train.py',
      writablePrefixes: ['/tmp', '/cache'], allowedExecutables: p.sandbox.allowedExecutables, maxCaptureBytes: p.sandbox.maxCaptureBytes,
      resultDir: '/result', memoryBytes: p.sandbox.memoryBytes,
    };
  }

  private spec(job: Record<string, unknown>, binds: BindMount[], tmpfs: Record<string, string>, timeoutSec: number, gpus: ScheduledHost['config']['gpus']): SandboxSpec {
    const s = this.cfg.policy.sandbox;
    return {
      image: this.cfg.image, user: s.user, env: { CONCLAVE_JOB: JSON.stringify(job) }, binds,
      tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${s.tmpBytes}`, ...tmpfs },
      memoryBytes: s.memoryBytes, shmBytes: s.shmBytes, pidsLimit: s.pidsLimit, cpus: s.cpus,
      seccompProfile: this.cfg.seccompProfile, timeoutMs: timeoutSec * 1000, outputCapBytes: s.outputCapBytes,
      gpus: this.hw.device === 'cuda' ? (gpus === 'all' || !gpus ? { count: this.hw.devices } : { deviceIds: gpus }) : undefined,
      labels: { ...this.cfg.labels, 'conclave.sandbox.mode': String(job.mode) },
    };
  }

  /** Only what shapes the reference pass enters the key: threshold changes keep the cached reference. */
  referenceKey(runId: number): string {
    const p = this.cfg.policy;
    const shape = canonicalJson({ model: p.model, data: p.data, optimizer: p.optimizer, threads: p.threads, seed: seedForRun(runId) });
    return sha256Hex(`${runId}|${shape}|${this.cfg.imageDigest}|${this.cfg.hardwareClass}`);
  }

  /** The run's reference pass: cached in memory and under cacheRoot/reference/<key>. */
  reference(runId: number): Promise<{ ref: ReferenceData; ms: number; cached: boolean }> {
    const key = this.referenceKey(runId);
    const have = this.refs.get(key);
    if (have) return have.then((r) => ({ ...r, ms: 0, cached: true }));
    const p = this.computeReference(runId, key);
    this.refs.set(key, p);
    p.catch(() => this.refs.delete(key)); // a failed reference is retried next time
    return p.then((r) => ({ ...r, cached: r.ms === 0 }));
  }

  private async computeReference(runId: number, key: string): Promise<{ ref: ReferenceData; ms: number }> {
    const dir = join(this.cfg.cacheRoot, 'reference', key);
    const load = (): ReferenceData => ({ result: readSupervisorResult(dir), tensors: readCaptures(dir, this.cfg.policy.sandbox.maxCaptureBytes) });
    if (existsSync(join(dir, 'result.json'))) {
      try { return { ref: load(), ms: 0 }; } catch { rmSync(dir, { recursive: true, force: true }); }
    }
    const scratch = mkdtempSync(join(this.cfg.cacheRoot, 'scratch', 'ref-'));
    try {
      const resultDir = this.sandboxDir(join(scratch, 'result'));
      const t0 = performance.now();
      const run = await this.cfg.scheduler.run((host) => this.runner(host).run(this.spec(this.job('reference', runId),
        [{ host: resultDir, container: '/result', readOnly: false }], { '/cache': `rw,exec,nosuid,nodev,size=${this.cfg.policy.sandbox.compileCacheBytes}` },
        this.cfg.policy.sandbox.timeoutSec, host.config.gpus)));
      const ms = performance.now() - t0;
      if (run.outcome !== 'exited') throw new Error(`reference pass for run ${runId} ended with ${run.outcome}${run.error ? `: ${run.error}` : ''}; stderr: ${run.stderr.slice(-500)}`);
      const result = readSupervisorResult(resultDir);
      if (result.status !== 'completed') throw new Error(`reference pass for run ${runId} did not complete (${result.status}): ${result.error?.detail.slice(-800) ?? JSON.stringify(result.violations)}`);
      const tensors = readCaptures(resultDir, this.cfg.policy.sandbox.maxCaptureBytes);
      mkdirSync(join(this.cfg.cacheRoot, 'reference'), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      renameSync(resultDir, dir);
      return { ref: { result, tensors }, ms };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  compileCacheDir(codeSha256: string): string {
    return join(this.cfg.cacheRoot, 'compile', sha256Hex(`${codeSha256}|${this.cfg.imageDigest}|${this.cfg.hardwareClass}`));
  }

  /** Evaluates one submission (a .py file, or a directory holding train.py) for a run. Never throws
   * for anything the submission does; throws only when the validator itself cannot evaluate. */
  async evaluate(req: { runId: number; submissionPath: string; codeSha256?: string; timeoutSec?: number }): Promise<EvaluationResult> {
    const t0 = performance.now();
    const st = statSync(req.submissionPath);
    const codeSha256 = req.codeSha256 ?? (st.isFile() ? sha256Hex(readFileSync(req.submissionPath)) : treeSha256(req.submissionPath));
    const { ref, ms: referenceMs, cached } = await this.reference(req.runId);
    const scratch = mkdtempSync(join(this.cfg.cacheRoot, 'scratch', 'eval-'));
    const base = { runId: req.runId, codeSha256, hardwareClass: this.cfg.hardwareClass, imageDigest: this.cfg.imageDigest, policyHash: this.policyHash };
    try {
      // a private copy: the file cannot change under the evaluation, and the sandbox user can read it
      const code = join(scratch, 'submission');
      mkdirSync(code, { mode: 0o755 });
      if (st.isFile()) cpSync(req.submissionPath, join(code, 'train.py'));
      else cpSync(req.submissionPath, code, { recursive: true, dereference: false, verbatimSymlinks: true });
      if (!existsSync(join(code, 'train.py'))) throw new Error(`${req.submissionPath}: a project directory must contain train.py`);
      chmodTree(code);
      const resultDir = this.sandboxDir(join(scratch, 'result'));
      const binds: BindMount[] = [{ host: code, container: '/submission', readOnly: true }, { host: resultDir, container: '/result', readOnly: false }];
      const tmpfs: Record<string, string> = {};
      if (this.cfg.compileCache !== false) binds.push({ host: this.sandboxDir(this.compileCacheDir(codeSha256)), container: '/cache', readOnly: false });
      else tmpfs['/cache'] = `rw,exec,nosuid,nodev,size=${this.cfg.policy.sandbox.compileCacheBytes}`;
      const timeoutSec = req.timeoutSec ?? this.cfg.policy.sandbox.timeoutSec;
      const run = await this.cfg.scheduler.run((host) => this.runner(host).run(this.spec(this.job('miner', req.runId), binds, tmpfs, timeoutSec, host.config.gpus)));
      const tc = performance.now();
      const out = this.interpret(run, resultDir, ref);
      const compareMs = performance.now() - tc;
      const minerWorkMs = (out.miner?.reps ?? []).reduce((a, r) => a + (r.wall ?? 0) * 1000, 0);
      return {
        ...base, ...out.result,
        nParams: out.miner?.meta?.nParams, tokensPerRepetition: out.miner?.meta?.expectedTokens,
        output: { stdout: run.stdout, stderr: run.stderr, truncated: run.truncated },
        timings: {
          totalMs: performance.now() - t0, referenceMs, referenceCached: cached, minerContainerMs: run.durationMs, minerWorkMs,
          sandboxOverheadMs: run.startMs + run.teardownMs, compareMs,
          minerCpuSec: out.miner?.cpuSeconds, referenceCpuSec: ref.result.cpuSeconds,
        },
      };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  private interpret(run: SandboxRun, resultDir: string, ref: ReferenceData): { result: Pick<EvaluationResult, 'status' | 'rejectedBy' | 'score' | 'mfu' | 'checks' | 'detail'>; miner?: SupervisorResult } {
    if (run.outcome === 'timeout') return { result: { status: 'timeout', checks: [], detail: `killed after the ${this.cfg.policy.sandbox.timeoutSec}s wall-clock limit` } };
    if (run.outcome === 'sandbox-error') return { result: { status: 'sandbox-error', checks: [], detail: run.error } };
    let miner: SupervisorResult;
    try {
      miner = readSupervisorResult(resultDir);
    } catch (e) {
      if (run.oomKilled || run.exitCode === 137) return { result: { status: 'oom', checks: [], detail: 'the container was OOM-killed' } };
      return { result: { status: 'sandbox-error', checks: [], detail: `the evaluator left no result (exit ${run.exitCode}): ${(e as Error).message}; stderr: ${run.stderr.slice(-300)}` } };
    }
    if (miner.status === 'violation') {
      const checks = violationChecks(miner);
      return { miner, result: { status: 'rejected', rejectedBy: checks[0]?.name, checks, detail: checks[0]?.detail } };
    }
    if (miner.status === 'oom' || run.outcome === 'oom') return { miner, result: { status: 'oom', checks: [], detail: `memory limit ${this.cfg.policy.sandbox.memoryBytes} bytes exceeded` } };
    if (miner.status === 'crashed') {
      return { miner, result: { status: 'crashed', checks: [], detail: miner.error ? `${miner.error.type}: ${miner.error.detail.slice(-1500)}` : `worker exited (code ${miner.worker.exitCode}, signal ${miner.worker.signal})` } };
    }
    let tensors;
    try { tensors = readCaptures(resultDir, this.cfg.policy.sandbox.maxCaptureBytes); } catch (e) {
      if (e instanceof CaptureError) return { miner, result: { status: 'rejected', rejectedBy: 'protocol', checks: [{ name: 'protocol', ok: false, detail: e.message }] } };
      throw e;
    }
    const { checks, mfu } = runChecks(miner, tensors, ref, this.cfg.policy, this.hw);
    const failed = checks.find((c) => !c.ok);
    if (failed) return { miner, result: { status: 'rejected', rejectedBy: failed.name, checks, mfu: mfu ?? undefined, detail: failed.detail } };
    return { miner, result: { status: 'ok', score: mfu!.median, mfu: mfu!, checks } };
  }
}

/** sha256 over (relative path, length, bytes) of every file of a project directory, in path order. */
function treeSha256(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p, rel + name + '/');
      else if (s.isFile()) { const b = readFileSync(p); h.update(`${rel}${name}\0${b.length}\0`).update(b); }
    }
  };
  walk(root, '');
  return h.digest('hex');
}

function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    const s = lstatSync(p);
    if (s.isSymbolicLink()) throw new Error(`${p}: links are not allowed in a submission project`);
    if (s.isDirectory()) chmodTree(p); else chmodSync(p, 0o644);
  }
}
