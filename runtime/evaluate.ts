// Orchestration of one evaluation: the run's reference pass (computed once per run in a container
// where no submission code is ever imported, cached in memory and on disk), then the miner pass in a
// hardened container, then the checks — outside both containers, here.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseCaptures, parseSupervisorResult, readCaptures, readSupervisorResult, CaptureError, type SupervisorResult } from './evaluate-capture.ts';
import { ResultChannel } from './evaluate-channel.ts';
import { sketchCaptures } from './evaluate-sketch.ts';
import { placeCacheEntry, pruneCacheDir, touchEntry, type PruneResult } from './cache-prune.ts';
import { runChecks, violationChecks, type CheckResult, type MfuStats, type ReferenceData } from './evaluate-checks.ts';
import type { EvaluatorPolicy, HardwareClass } from './evaluator-policy.ts';
import { evaluatorPolicyHash } from './evaluator-policy.ts';
import { canonicalJson } from '../proto/canonical-json.ts';
import { sha256Hex } from '../proto/codec.ts';
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
  /** sketch mode (policy.sketch.minParams exceeded): the CountSketch size and the seed drawn after the miner pass */
  sketch?: { dim: number; seed: string };
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
  /** on-disk cache bounds (least recently used entries go first); DEFAULT_CACHE_LIMITS where unset */
  cacheLimits?: Partial<EvaluatorCacheLimits>;
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

/** The seed all passes of a run share: derived from the run id, so every validator uses the same one. */
export function seedForRun(runId: number): number {
  return createHash('sha256').update(`conclave-seed:${runId}`).digest().readUInt32BE(0) & 0x7fffffff;
}

export function toScoreStatus(s: EvaluationStatus): 'scored' | 'rejected-runtime' | 'timeout' | 'not-evaluated' {
  return s === 'ok' ? 'scored' : s === 'timeout' ? 'timeout' : s === 'sandbox-error' ? 'not-evaluated' : 'rejected-runtime';
}


export class SubmissionEvaluator {
  readonly cfg: EvaluatorConfig;
  readonly hw: HardwareClass;
  readonly policyHash: string;
  private refs = new Map<string, Promise<{ ref: ReferenceData; ms: number }>>();
  private runners = new Map<ScheduledHost, SandboxRunner>();
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

  private job(mode: 'reference' | 'miner', runId: number, miner?: { cacheSeed: boolean; cacheReturn: boolean; sketchDim?: number }): Record<string, unknown> {
    const p = this.cfg.policy;
    // a miner container has no host directory to write to: its results come back over the stdout channel
    const channel = miner ? {
      channel: 'stdout', outputCapBytes: p.sandbox.outputCapBytes, cacheSeed: miner.cacheSeed, cacheReturn: miner.cacheReturn,
      cacheMaxBytes: p.sandbox.compileCacheBytes, ...(miner.sketchDim ? { sketch: { dim: miner.sketchDim } } : {}),
    } : {};
    return {
      ...channel,
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
    if (have) {
      this.refs.delete(key); this.refs.set(key, have); // most recently used last
      touchEntry(join(this.cfg.cacheRoot, 'reference', key));
      return have.then((r) => ({ ...r, ms: 0, cached: true }));
    }
    const p = this.computeReference(runId, key);
    this.refs.set(key, p);
    while (this.refs.size > this.limits.referenceEntries) this.refs.delete(this.refs.keys().next().value!);
    p.catch(() => this.refs.delete(key)); // a failed reference is retried next time
    return p.then((r) => ({ ...r, cached: r.ms === 0 }));
  }

  private async computeReference(runId: number, key: string): Promise<{ ref: ReferenceData; ms: number }> {
    const dir = join(this.cfg.cacheRoot, 'reference', key);
    const load = (): ReferenceData => ({ result: readSupervisorResult(dir), tensors: readCaptures(dir, this.cfg.policy.sandbox.maxCaptureBytes) });
    if (existsSync(join(dir, 'result.json'))) {
      try { const ref = load(); touchEntry(dir); return { ref, ms: 0 }; } catch { rmSync(dir, { recursive: true, force: true }); }
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
      placeCacheEntry(resultDir, dir);
      pruneCacheDir(join(this.cfg.cacheRoot, 'reference'), { maxEntries: this.limits.referenceEntries }, key);
      return { ref: { result, tensors }, ms };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  compileCacheDir(codeSha256: string): string {
    return join(this.cfg.cacheRoot, 'compile', sha256Hex(`${codeSha256}|${this.cfg.imageDigest}|${this.cfg.hardwareClass}`));
  }

  /** Applies the cache limits now (they are also applied after every write). */
  pruneCaches(): { reference: PruneResult; compile: PruneResult } {
    return {
      reference: pruneCacheDir(join(this.cfg.cacheRoot, 'reference'), { maxEntries: this.limits.referenceEntries }),
      compile: pruneCacheDir(join(this.cfg.cacheRoot, 'compile'), { maxEntries: this.limits.compileEntries, maxBytes: this.limits.compileBytes }),
    };
  }

  /** Sketch mode is on when the policy has a sketch section and the model is above its parameter threshold. */
  sketchDimFor(nParams: number | undefined): number | undefined {
    const sk = this.cfg.policy.sketch;
    return sk && nParams !== undefined && nParams > sk.minParams ? sk.dim : undefined;
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
    const s = this.cfg.policy.sandbox;
    try {
      // a private copy: the file cannot change under the evaluation, and the sandbox user can read it
      const code = join(scratch, 'submission');
      mkdirSync(code, { mode: 0o755 });
      if (st.isFile()) cpSync(req.submissionPath, join(code, 'train.py'));
      else cpSync(req.submissionPath, code, { recursive: true, dereference: false, verbatimSymlinks: true });
      if (!existsSync(join(code, 'train.py'))) throw new Error(`${req.submissionPath}: a project directory must contain train.py`);
      chmodTree(code);
      // No writable host directory: /cache is a size-capped tmpfs, seeded from the per-code cache (read-only)
      // and returned through the capped result channel; /result does not exist for a miner.
      const binds: BindMount[] = [{ host: code, container: '/submission', readOnly: true }];
      const cacheOn = this.cfg.compileCache !== false;
      const cacheDir = this.compileCacheDir(codeSha256);
      const cacheSeed = cacheOn && existsSync(cacheDir);
      if (cacheSeed) { touchEntry(cacheDir); binds.push({ host: cacheDir, container: '/cache-seed', readOnly: true }); }
      const tmpfs = { '/cache': `rw,exec,nosuid,nodev,size=${s.compileCacheBytes},uid=${this.uid},gid=${this.gid},mode=0700` };
      const sketchDim = this.sketchDimFor(ref.result.meta?.nParams);
      const sketchSeed = sketchDim ? randomBytes(16).toString('hex') : undefined;
      const channel = new ResultChannel({
        maxTotalBytes: s.outputCapBytes * 2 + s.maxCaptureBytes + s.compileCacheBytes * 2 + (32 << 20),
        stdoutCapBytes: s.outputCapBytes, cacheMaxBytes: s.compileCacheBytes, cacheMaxFiles: 20_000,
      });
      let sendStdin: ((b: Buffer) => void) | undefined;
      // the seed exists only on the host until the supervisor reports the submission's processes dead
      if (sketchSeed) channel.onNeedSeed = () => sendStdin?.(Buffer.from(sketchSeed + '\n'));
      const timeoutSec = req.timeoutSec ?? s.timeoutSec;
      const job = this.job('miner', req.runId, { cacheSeed, cacheReturn: cacheOn, sketchDim });
      const run = await this.cfg.scheduler.run((host) => this.runner(host).run({
        ...this.spec(job, binds, tmpfs, timeoutSec, host.config.gpus),
        stdoutSink: channel, stdin: sketchSeed ? (send) => { sendStdin = send; } : undefined,
      }));
      const tc = performance.now();
      const out = this.interpret(run, channel, ref, timeoutSec, sketchSeed && sketchDim ? { seed: sketchSeed, dim: sketchDim } : undefined);
      const compareMs = performance.now() - tc;
      if (cacheOn && out.miner?.status === 'completed' && channel.ended && !channel.error) this.storeCompileCache(cacheDir, channel);
      const minerWorkMs = (out.miner?.reps ?? []).reduce((a, r) => a + (r.wall ?? 0) * 1000, 0);
      return {
        ...base, ...out.result,
        nParams: out.miner?.meta?.nParams, tokensPerRepetition: out.miner?.meta?.expectedTokens,
        ...(sketchSeed && sketchDim ? { sketch: { dim: sketchDim, seed: sketchSeed } } : {}),
        output: { stdout: channel.stdout, stderr: run.stderr, truncated: run.truncated || channel.stdoutTruncated || Boolean(out.miner?.stdoutTruncated) },
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

  /** Writes the returned compile cache beside the old one, swaps it in, then applies the cache limits. */
  private storeCompileCache(cacheDir: string, channel: ResultChannel): void {
    const parent = dirname(cacheDir);
    mkdirSync(parent, { recursive: true });
    const fresh = mkdtempSync(join(parent, `.${basename(cacheDir)}-`));
    try {
      for (const f of channel.cacheFiles) {
        const p = join(fresh, f.path);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.data, { mode: f.mode | 0o600, flag: 'wx' });
      }
      chmodTree(fresh, true);
      rmSync(cacheDir, { recursive: true, force: true });
      placeCacheEntry(fresh, cacheDir);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    pruneCacheDir(parent, { maxEntries: this.limits.compileEntries, maxBytes: this.limits.compileBytes }, basename(cacheDir));
  }

  private interpret(run: SandboxRun, channel: ResultChannel, ref: ReferenceData, timeoutSec: number, sketch?: { seed: string; dim: number }): { result: Pick<EvaluationResult, 'status' | 'rejectedBy' | 'score' | 'mfu' | 'checks' | 'detail'>; miner?: SupervisorResult } {
    if (run.outcome === 'timeout') return { result: { status: 'timeout', checks: [], detail: `killed after the ${timeoutSec}s wall-clock limit` } };
    if (run.outcome === 'sandbox-error') return { result: { status: 'sandbox-error', checks: [], detail: run.error } };
    let miner: SupervisorResult;
    try {
      if (channel.error) throw new CaptureError(channel.error);
      if (!channel.result) throw new CaptureError('no result frame');
      miner = parseSupervisorResult(channel.result);
    } catch (e) {
      if (run.oomKilled || run.exitCode === 137) return { result: { status: 'oom', checks: [], detail: 'the container was OOM-killed' } };
      return { result: { status: 'sandbox-error', checks: [], detail: `the evaluator left no result (exit ${run.exitCode}): ${(e as Error).message}; stderr: ${run.stderr.slice(-300)}` } };
    }
    if (miner.infraError) return { miner, result: { status: 'sandbox-error', checks: [], detail: `evaluator: ${miner.infraError}` } };
    if (miner.status === 'violation') {
      const checks = violationChecks(miner);
      return { miner, result: { status: 'rejected', rejectedBy: checks[0]?.name, checks, detail: checks[0]?.detail } };
    }
    if (miner.status === 'oom' || run.outcome === 'oom') return { miner, result: { status: 'oom', checks: [], detail: `memory limit ${this.cfg.policy.sandbox.memoryBytes} bytes exceeded` } };
    if (miner.status === 'crashed') {
      return { miner, result: { status: 'crashed', checks: [], detail: miner.error ? `${miner.error.type}: ${miner.error.detail.slice(-1500)}` : `worker exited (code ${miner.worker.exitCode}, signal ${miner.worker.signal})` } };
    }
    let tensors;
    try {
      if (!channel.captures) throw new CaptureError('no captures frame');
      if (sketch && miner.sketch?.dim !== sketch.dim) throw new CaptureError('the result carries no sketch of the requested size');
      tensors = parseCaptures(channel.captures);
    } catch (e) {
      if (e instanceof CaptureError) return { miner, result: { status: 'rejected', rejectedBy: 'protocol', checks: [{ name: 'protocol', ok: false, detail: e.message }] } };
      throw e;
    }
    const sketched = sketch ? sketchCaptures(ref.tensors, sketch.seed, sketch.dim) : undefined;
    const { checks, mfu } = runChecks(miner, tensors, ref, this.cfg.policy, this.hw, { sketched });
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

/** World-readable (the sandbox user reads it through a read-only mount); `keepExec` keeps files' x bits. */
function chmodTree(dir: string, keepExec = false): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    const s = lstatSync(p);
    if (s.isSymbolicLink()) throw new Error(`${p}: links are not allowed in a submission project`);
    if (s.isDirectory()) chmodTree(p, keepExec); else chmodSync(p, keepExec && s.mode & 0o100 ? 0o755 : 0o644);
  }
}
