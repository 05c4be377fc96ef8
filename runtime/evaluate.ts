// Orchestration of one evaluation: the run's reference pass (every repetition, computed once per run in a
// container where no submission code is ever imported, cached in memory and on disk), then the miner pass
// in a hardened container, then the checks — outside both containers, here. Every seed comes from the
// run's chain randomness (evaluate-seeds.ts); a worker learns its data seed only when its window opens.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptures, readSupervisorResult } from './evaluate-capture.ts';
import { ResultChannel } from './evaluate-channel.ts';
import { copySubmission, storeCompileCache, treeSha256 } from './evaluate-files.ts';
import { interpretMinerRun, type EvaluationStatus } from './evaluate-interpret.ts';
import { normaliseRandomness, runSeeds } from './evaluate-seeds.ts';
import { placeCacheEntry, pruneCacheDir, touchEntry, type PruneResult } from './cache-prune.ts';
import type { CheckResult, MfuStats, ReferenceData } from './evaluate-checks.ts';
import type { EvaluatorPolicy, HardwareClass } from './evaluator-policy.ts';
import { evaluatorPolicyHash } from './evaluator-policy.ts';
import { canonicalJson } from '../proto/canonical-json.ts';
import { sha256Hex } from '../proto/codec.ts';
import { SandboxRunner, type BindMount, type SandboxRun, type SandboxSpec } from './sandbox.ts';
import type { DockerScheduler, ScheduledHost } from './docker-hosts.ts';

export type { EvaluationStatus } from './evaluate-interpret.ts';

export interface EvaluationTimings {
  totalMs: number;
  /** the reference container's wall time; 0 when the run's reference was already cached */
  referenceMs: number;
  referenceCached: boolean;
  /** miner container wall time, create → exit */
  minerContainerMs: number;
  /** the timed windows of the timed repetitions, summed (supervisor clock) */
  minerWorkMs: number;
  /** every repetition's window (warm-up included), and the part of it the worker reports as the call itself:
   * the difference is data generation, capture and process exit inside the windows (worker-reported: a figure, not a check) */
  minerWindowsMs?: number;
  minerCallMs?: number;
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
  /** the run's chain randomness (block hash of its epoch start) every seed was derived from */
  randomness: string;
  codeSha256: string;
  hardwareClass: string;
  imageDigest: string;
  policyHash: string;
  nParams?: number;
  tokensPerRepetition?: number;
  /** values per tensor of the gradient/weight/logits sketches */
  sketchDim: number;
  detail?: string;
  output: { stdout: string; stderr: string; truncated: boolean };
}

/** Runs one container spec (the Docker runner, or the host-process runner of gpu-check). */
export interface ContainerRunner { run(spec: SandboxSpec): Promise<SandboxRun> }

export interface EvaluatorConfig {
  scheduler: DockerScheduler;
  image: string;
  imageDigest: string;
  hardwareClass: string;
  policy: EvaluatorPolicy;
  seccompProfile: string;
  /** host directory for the reference cache, compile caches and per-evaluation scratch dirs */
  cacheRoot: string;
  /** keep a torch.compile cache per (codeSha256, image digest, hardware class, policy hash); default true. The policy
   * is in the key because which repetitions are warm-up (and so may be in the snapshot) is the policy's: a cache
   * made where repetition r was warm-up must never be seeded where r is timed. */
  compileCache?: boolean;
  /** labels every container (tests use it to find their own) */
  runnerSession?: string;
  /** extra labels on every container (the node's `conclave.owner`, so a restart reaps only its own) */
  labels?: Record<string, string>;
  /** on-disk cache bounds (least recently used entries go first); DEFAULT_CACHE_LIMITS where unset */
  cacheLimits?: Partial<EvaluatorCacheLimits>;
  /** replaces the Docker runner (npm run gpu-check on a machine without Docker runs the supervisor as a process) */
  runnerFor?: (host: ScheduledHost) => ContainerRunner;
}

export interface EvaluatorCacheLimits {
  /** run references kept under cacheRoot/reference (and in memory) */
  referenceEntries: number;
  /** per-code compile caches kept under cacheRoot/compile, by count and by bytes together */
  compileEntries: number;
  compileBytes: number;
}
/** A run's reference is reused by every submission of that run: a few runs back is enough. One compile cache
 * is at most policy.sandbox.compileCacheBytes (512 MiB by default); 64 of them / 8 GiB together. */
export const DEFAULT_CACHE_LIMITS: EvaluatorCacheLimits = { referenceEntries: 4, compileEntries: 64, compileBytes: 8 * 2 ** 30 };

export function toScoreStatus(s: EvaluationStatus): 'scored' | 'rejected-runtime' | 'timeout' | 'not-evaluated' {
  return s === 'ok' ? 'scored' : s === 'timeout' ? 'timeout' : s === 'sandbox-error' ? 'not-evaluated' : 'rejected-runtime';
}

type RunKey = { runId: number; randomness: string };

export class SubmissionEvaluator {
  readonly cfg: EvaluatorConfig;
  readonly hw: HardwareClass;
  readonly policyHash: string;
  private refs = new Map<string, Promise<{ ref: ReferenceData; ms: number }>>();
  private runners = new Map<ScheduledHost, ContainerRunner>();
  private uid: number;
  private gid: number;
  readonly session: string | undefined;
  readonly limits: EvaluatorCacheLimits;

  constructor(cfg: EvaluatorConfig) {
    this.cfg = cfg;
    const hw = cfg.policy.hardwareClasses[cfg.hardwareClass];
    if (!hw) throw new Error(`hardware class ${JSON.stringify(cfg.hardwareClass)} is not in the evaluator policy (known: ${Object.keys(cfg.policy.hardwareClasses).join(', ')})`);
    this.hw = hw;
    this.policyHash = evaluatorPolicyHash(cfg.policy);
    [this.uid, this.gid] = cfg.policy.sandbox.user.split(':').map(Number);
    this.session = cfg.runnerSession;
    this.limits = { ...DEFAULT_CACHE_LIMITS, ...cfg.cacheLimits };
    mkdirSync(join(cfg.cacheRoot, 'scratch'), { recursive: true, mode: 0o700 });
  }

  private runner(host: ScheduledHost): ContainerRunner {
    let r = this.runners.get(host);
    if (!r) { r = this.cfg.runnerFor?.(host) ?? new SandboxRunner(host.docker, this.session); this.runners.set(host, r); }
    return r;
  }

  /** A directory the sandbox user can write (via its bind mount only: the parent stays 0700). */
  private sandboxDir(path: string): string {
    mkdirSync(path, { recursive: true });
    if (process.getuid?.() === 0) chownSync(path, this.uid, this.gid); else chmodSync(path, 0o777);
    return path;
  }

  private job(mode: 'reference' | 'miner', run: RunKey, miner?: { cacheSeed: boolean; cacheReturn: boolean }): Record<string, unknown> {
    const p = this.cfg.policy;
    // a miner container has no host directory to write to: its results come back over the stdout channel
    const channel = miner ? {
      channel: 'stdout', outputCapBytes: p.sandbox.outputCapBytes, cacheSeed: miner.cacheSeed, cacheReturn: miner.cacheReturn,
      cacheMaxBytes: p.sandbox.compileCacheBytes,
    } : {};
    return {
      ...channel, mode, ...runSeeds(run.randomness, p.repetitions), repetitions: p.repetitions, warmupRepetitions: p.warmupRepetitions,
      threads: p.threads, device: this.hw.device, autocast: this.hw.autocast, model: p.model, data: p.data, optimizer: p.optimizer,
      sketchDim: p.capture.sketchDim, submission: '/submission/train.py', writablePrefixes: ['/tmp', '/cache'],
      allowedExecutables: p.sandbox.allowedExecutables, maxCaptureBytes: p.sandbox.maxCaptureBytes, memoryBytes: p.sandbox.memoryBytes,
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
  referenceKey(runId: number, randomness: string): string {
    const p = this.cfg.policy;
    const shape = canonicalJson({ model: p.model, data: p.data, optimizer: p.optimizer, threads: p.threads, repetitions: p.repetitions, capture: p.capture, autocast: this.hw.autocast });
    return sha256Hex(`${runId}|${normaliseRandomness(randomness)}|${shape}|${this.cfg.imageDigest}|${this.cfg.hardwareClass}`);
  }

  /** The run's reference pass (all repetitions): cached in memory and under cacheRoot/reference/<key>. */
  reference(runId: number, randomness: string): Promise<{ ref: ReferenceData; ms: number; cached: boolean }> {
    const key = this.referenceKey(runId, randomness);
    const have = this.refs.get(key);
    if (have) {
      this.refs.delete(key); this.refs.set(key, have); // most recently used last
      touchEntry(join(this.cfg.cacheRoot, 'reference', key));
      return have.then((r) => ({ ...r, ms: 0, cached: true }));
    }
    const p = this.computeReference({ runId, randomness }, key);
    this.refs.set(key, p);
    while (this.refs.size > this.limits.referenceEntries) this.refs.delete(this.refs.keys().next().value!);
    p.catch(() => this.refs.delete(key)); // a failed reference is retried next time
    return p.then((r) => ({ ...r, cached: r.ms === 0 }));
  }

  private async computeReference(run: RunKey, key: string): Promise<{ ref: ReferenceData; ms: number }> {
    const dir = join(this.cfg.cacheRoot, 'reference', key);
    const load = (): ReferenceData => ({ result: readSupervisorResult(dir), tensors: readCaptures(dir, this.cfg.policy.sandbox.maxCaptureBytes) });
    if (existsSync(join(dir, 'result.json'))) {
      try { const ref = load(); touchEntry(dir); return { ref, ms: 0 }; } catch { rmSync(dir, { recursive: true, force: true }); }
    }
    const scratch = mkdtempSync(join(this.cfg.cacheRoot, 'scratch', 'ref-'));
    try {
      const resultDir = this.sandboxDir(join(scratch, 'result'));
      const t0 = performance.now();
      const result = await this.cfg.scheduler.run((host) => this.runner(host).run(this.spec(this.job('reference', run),
        [{ host: resultDir, container: '/result', readOnly: false }], { '/cache': `rw,exec,nosuid,nodev,size=${this.cfg.policy.sandbox.compileCacheBytes}` },
        this.cfg.policy.sandbox.timeoutSec, host.config.gpus)));
      const ms = performance.now() - t0;
      if (result.outcome !== 'exited') throw new Error(`reference pass for run ${run.runId} ended with ${result.outcome}${result.error ? `: ${result.error}` : ''}; stderr: ${result.stderr.slice(-500)}`);
      const sup = readSupervisorResult(resultDir);
      if (sup.status !== 'completed') throw new Error(`reference pass for run ${run.runId} did not complete (${sup.status}): ${sup.error?.detail.slice(-800) ?? JSON.stringify(sup.violations)}`);
      const tensors = readCaptures(resultDir, this.cfg.policy.sandbox.maxCaptureBytes);
      mkdirSync(join(this.cfg.cacheRoot, 'reference'), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      placeCacheEntry(resultDir, dir);
      pruneCacheDir(join(this.cfg.cacheRoot, 'reference'), { maxEntries: this.limits.referenceEntries }, key);
      return { ref: { result: sup, tensors }, ms };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  compileCacheDir(codeSha256: string): string {
    return join(this.cfg.cacheRoot, 'compile', sha256Hex(`${codeSha256}|${this.cfg.imageDigest}|${this.cfg.hardwareClass}|${this.policyHash}`));
  }

  /** Applies the cache limits now (they are also applied after every write). */
  pruneCaches(): { reference: PruneResult; compile: PruneResult } {
    return {
      reference: pruneCacheDir(join(this.cfg.cacheRoot, 'reference'), { maxEntries: this.limits.referenceEntries }),
      compile: pruneCacheDir(join(this.cfg.cacheRoot, 'compile'), { maxEntries: this.limits.compileEntries, maxBytes: this.limits.compileBytes }),
    };
  }

  /** Evaluates one submission (a .py file, or a directory holding train.py) for a run whose chain randomness
   * is `randomness`. Never throws for anything the submission does; throws only when the validator itself
   * cannot evaluate. */
  async evaluate(req: { runId: number; randomness: string; submissionPath: string; codeSha256?: string; timeoutSec?: number }): Promise<EvaluationResult> {
    const t0 = performance.now();
    const randomness = normaliseRandomness(req.randomness);
    const st = statSync(req.submissionPath);
    const codeSha256 = req.codeSha256 ?? (st.isFile() ? sha256Hex(readFileSync(req.submissionPath)) : treeSha256(req.submissionPath));
    const { ref, ms: referenceMs, cached } = await this.reference(req.runId, randomness);
    const scratch = mkdtempSync(join(this.cfg.cacheRoot, 'scratch', 'eval-'));
    const base = { runId: req.runId, randomness, codeSha256, hardwareClass: this.cfg.hardwareClass, imageDigest: this.cfg.imageDigest, policyHash: this.policyHash, sketchDim: this.cfg.policy.capture.sketchDim };
    const s = this.cfg.policy.sandbox;
    try {
      // a private copy: the file cannot change under the evaluation, and the sandbox user can read it
      const code = copySubmission(req.submissionPath, scratch);
      // No writable host directory: /cache is a size-capped tmpfs, seeded from the per-code cache (read-only)
      // and returned through the capped result channel; /result does not exist for a miner.
      const binds: BindMount[] = [{ host: code, container: '/submission', readOnly: true }];
      const cacheOn = this.cfg.compileCache !== false;
      const cacheDir = this.compileCacheDir(codeSha256);
      const cacheSeed = cacheOn && existsSync(cacheDir);
      if (cacheSeed) { touchEntry(cacheDir); binds.push({ host: cacheDir, container: '/cache-seed', readOnly: true }); }
      const tmpfs = { '/cache': `rw,exec,nosuid,nodev,size=${s.compileCacheBytes},uid=${this.uid},gid=${this.gid},mode=0700` };
      const channel = new ResultChannel({
        maxTotalBytes: s.outputCapBytes * 2 + s.maxCaptureBytes + s.compileCacheBytes * 2 + (32 << 20),
        stdoutCapBytes: s.outputCapBytes, cacheMaxBytes: s.compileCacheBytes, cacheMaxFiles: 20_000,
      });
      const timeoutSec = req.timeoutSec ?? s.timeoutSec;
      const job = this.job('miner', { runId: req.runId, randomness }, { cacheSeed, cacheReturn: cacheOn });
      const run = await this.cfg.scheduler.run((host) => this.runner(host).run({ ...this.spec(job, binds, tmpfs, timeoutSec, host.config.gpus), stdoutSink: channel }));
      const tc = performance.now();
      const out = interpretMinerRun(run, channel, ref, this.cfg.policy, this.hw, timeoutSec);
      const compareMs = performance.now() - tc;
      if (cacheOn && out.miner?.status === 'completed' && channel.ended && !channel.error) {
        storeCompileCache(cacheDir, channel.cacheFiles, { maxEntries: this.limits.compileEntries, maxBytes: this.limits.compileBytes });
      }
      const reps = out.miner?.reps ?? [];
      const minerWorkMs = reps.slice(this.cfg.policy.warmupRepetitions).reduce((a, r) => a + (r.wall ?? 0) * 1000, 0);
      return {
        ...base, ...out.result,
        nParams: ref.result.meta?.nParams, tokensPerRepetition: this.cfg.policy.data.numSteps * this.cfg.policy.data.batchSize * this.cfg.policy.model.seqLen,
        output: { stdout: channel.stdout, stderr: run.stderr, truncated: run.truncated || channel.stdoutTruncated || Boolean(out.miner?.stdoutTruncated) },
        timings: {
          totalMs: performance.now() - t0, referenceMs, referenceCached: cached, minerContainerMs: run.durationMs, minerWorkMs,
          minerWindowsMs: reps.reduce((a, r) => a + (r.wall ?? 0) * 1000, 0),
          minerCallMs: reps.reduce((a, r) => a + ((r.obs?.clocks?.[0] ?? 0) * 1000), 0),
          sandboxOverheadMs: run.startMs + run.teardownMs, compareMs,
          minerCpuSec: out.miner?.cpuSeconds, referenceCpuSec: ref.result.cpuSeconds,
        },
      };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}
