// EvaluatorPort over runtime/: fetch (SSRF-safe, hash-checked) → zip/py → static review →
// duplicates (QuarantineStore, PRISM prints) → sandbox evaluation (SubmissionEvaluator) → ScoreStatus.
//
// Verdicts vs faults. A submission only ever yields a verdict, which the run loop caches by code hash
// and reports like any other: fetch refused → 'fetch-failed'; ZIP refused (every ZipRefusal code) or
// review rejects (incl. 'too-complex') → 'rejected-static'; identical normalised code of an earlier
// commitment → 'duplicate'; near copy → 'quarantined'; sandbox → toScoreStatus (ok → 'scored' with
// round(MFU·1e6)). Only a fault of the validator itself (Docker down, disk full, the reviewer not
// starting, a sandbox error) is an error: retried with backoff (fault-retry.ts), logged once per cause,
// never cached, and the miner is not blamed.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fetchSubmission, FetchRefusal } from '../../runtime/fetch.ts';
import { reviewSource, loadPolicy as loadReviewPolicy, policyHash as reviewPolicyHash } from '../../runtime/review.ts';
import { reviewProject } from '../../runtime/review-project.ts';
import { extractZipProject, looksLikeZip, ZipRefusal } from '../../runtime/zip.ts';
import { IntakeFault } from '../../runtime/intake-fault.ts';
import { codePrint, type CodePrint } from '../../runtime/fingerprint.ts';
import { QuarantineStore } from '../../runtime/quarantine-store.ts';
import { SubmissionEvaluator, toScoreStatus, type EvaluationResult } from '../../runtime/evaluate.ts';
import { DockerScheduler, type DockerHostConfig, type ScheduledHost } from '../../runtime/docker-hosts.ts';
import { OWNER_LABEL, reapOwnedSandboxContainers } from '../../runtime/sandbox.ts';
import { loadPolicy as loadEvaluatorPolicy } from '../../runtime/evaluator-policy.ts';
import { seccompProfileText, CPU_IMAGE } from '../../runtime/sandbox-image.ts';
import { toScore, type ScoreStatus } from '../../proto/score-report.ts';
import type { RosterEntry } from '../../proto/roster.ts';
import { evaluationConcurrency, expandHome, type DockerHost, type NodeConfig } from '../config.ts';
import type { EvaluationOutcome, EvaluatorPort, Logger } from './ports.ts';
import { FaultLog, withFaultRetry } from './fault-retry.ts';

/** Loopback origins a devnet may serve submissions from, exactly (scheme + host + port). */
export function loopbackAllowance(origins: string[]): { ports: number[]; origins: Set<string> } | undefined {
  if (origins.length === 0) return undefined;
  const set = new Set(origins.map((o) => new URL(o).origin));
  return { ports: [...new Set([...set].map((o) => Number(new URL(o).port)))], origins: set };
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/;

/** Every hop that went to a loopback host must be one of the allowed origins exactly (fetch.ts allows by port). */
export function hopsOutsideAllowance(hops: { url: string; address: string }[], allowed: Set<string>): string | null {
  for (const h of hops) {
    const u = new URL(h.url);
    const loop = LOOPBACK_HOST.test(u.hostname) || h.address.startsWith('127.') || h.address === '::1';
    if (loop && !allowed.has(u.origin)) return `${h.url} is a loopback address outside the devnet allowance (${[...allowed].join(', ')})`;
  }
  return null;
}

export function dockerHostConfigs(hosts: DockerHost[]): DockerHostConfig[] {
  return hosts.map((h, i) => {
    const name = `host${i}`;
    if (h.url.startsWith('unix://')) return { name, socketPath: h.url.slice('unix://'.length), concurrency: h.gpus };
    const u = new URL(h.url.replace(/^tcp:/, 'http:'));
    return {
      name, host: u.hostname, port: Number(u.port), concurrency: h.gpus,
      tls: h.caFile && h.certFile && h.keyFile ? { ca: expandHome(h.caFile), cert: expandHome(h.certFile), key: expandHome(h.keyFile) } : undefined,
    };
  });
}

type Intake =
  | { ok: true; path: string; print: CodePrint | null; reviewPolicyHash: string; bytes: number; finalUrl: string }
  | { ok: false; outcome: EvaluationOutcome };

const fail = (status: ScoreStatus, detail: Record<string, unknown>): Intake => ({ ok: false, outcome: { status, score: 0, detail } });

export interface SandboxEvaluatorOptions {
  /** Review engine override (tests); default auto (Docker when the image is there, else host python3). */
  reviewEngine?: 'auto' | 'docker' | 'host';
  /** Label for the sandbox containers (tests find and reap their own). */
  runnerSession?: string;
  /**
   * `conclave.owner` label of every sandbox container this validator starts (see `sandboxOwner`). At
   * create, containers with this owner left by an earlier process (killed mid-evaluation) are removed on
   * every Docker host; other validators' containers on a shared engine are not touched.
   */
  owner?: string;
  /** Delays between retries of a validator fault (default 1 s, 2 s, 4 s). */
  faultBackoffMs?: number[];
}

/**
 * The owner id of a validator's sandbox containers: hotkey + a hash of the data directory. The data
 * directory is held by one process at a time (LevelDB lock), so when `conclave start` holds it, no
 * live process owns containers with this id: everything found under it is a leftover.
 */
export function sandboxOwner(hotkey: string, dataDir: string): string {
  return `${hotkey}.${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`;
}

/** Removes `owner`'s leftover sandbox containers on every configured Docker host; returns how many. */
export async function reapOwnLeftovers(hosts: ScheduledHost[], owner: string, log: Logger): Promise<number> {
  let total = 0;
  for (const { config: h, docker } of hosts) {
    try {
      const n = await reapOwnedSandboxContainers(docker, owner);
      if (n > 0) log.warn('removed sandbox containers left by an earlier run of this validator', { host: h.name, containers: n, owner });
      total += n;
    } catch (err) {
      log.warn('could not list leftover sandbox containers', { host: h.name, error: (err as Error).message, fix: `docker rm -f $(docker ps -aq --filter label=${OWNER_LABEL}=${owner})` });
    }
  }
  return total;
}

export class SandboxEvaluatorPort implements EvaluatorPort {
  private readonly cfg: NodeConfig;
  private readonly log: Logger;
  private readonly evaluator: SubmissionEvaluator;
  private readonly quarantine: QuarantineStore;
  private readonly imageDigest: string;
  private readonly combinedHash: string;
  private readonly dir: string;
  private readonly allowance: ReturnType<typeof loopbackAllowance>;
  private readonly opts: SandboxEvaluatorOptions;
  private readonly faults: FaultLog;
  private intakes = new Map<string, Promise<Intake>>();
  private decisions = new Map<string, Promise<EvaluationOutcome | null>>();
  private storeLock: Promise<unknown> = Promise.resolve();

  private constructor(x: { cfg: NodeConfig; log: Logger; evaluator: SubmissionEvaluator; quarantine: QuarantineStore; imageDigest: string; reviewHash: string; opts: SandboxEvaluatorOptions }) {
    this.cfg = x.cfg;
    this.log = x.log;
    this.evaluator = x.evaluator;
    this.quarantine = x.quarantine;
    this.imageDigest = x.imageDigest;
    this.opts = x.opts;
    this.faults = new FaultLog(x.log);
    this.dir = join(x.cfg.node.dataDir, 'submissions');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.allowance = loopbackAllowance(x.cfg.intake.devAllowLoopbackOrigins);
    this.combinedHash = createHash('sha256').update(`conclave/policy/v1|evaluator:${x.evaluator.policyHash}|review:${x.reviewHash}|image:${x.imageDigest}|class:${x.cfg.sandbox.hardwareClass}`).digest('hex');
  }

  static async create(cfg: NodeConfig, log: Logger, opts: SandboxEvaluatorOptions = {}): Promise<SandboxEvaluatorPort> {
    const hosts = dockerHostConfigs(cfg.sandbox.dockerHosts);
    const scheduler = DockerScheduler.fromConfig(hosts);
    const first = scheduler.hosts()[0].docker; // the first configured host, socket or TCP+TLS
    try {
      await first.ping();
    } catch (err) {
      throw new Error(`no Docker engine at ${cfg.sandbox.dockerHosts[0].url} (${(err as Error).message}); start dockerd or fix sandbox.docker_hosts`);
    }
    const tag = cfg.sandbox.image || CPU_IMAGE;
    let digest: string;
    try {
      digest = (await first.getImage(tag).inspect()).Id;
    } catch {
      throw new Error(`the evaluator image ${tag} is missing on ${cfg.sandbox.dockerHosts[0].url}; build it with \`conclave image\` (npm run image) and start again`);
    }
    const policy = loadEvaluatorPolicy(cfg.sandbox.policyFile ? expandHome(cfg.sandbox.policyFile) : undefined);
    if (!policy.hardwareClasses[cfg.sandbox.hardwareClass]) {
      throw new Error(`sandbox.hardware_class '${cfg.sandbox.hardwareClass}' is not in the evaluator policy (known: ${Object.keys(policy.hardwareClasses).join(', ')}); fix the config`);
    }
    const evaluator = new SubmissionEvaluator({
      scheduler, image: tag, imageDigest: digest, hardwareClass: cfg.sandbox.hardwareClass, policy, seccompProfile: seccompProfileText(),
      cacheRoot: join(cfg.node.dataDir, 'sandbox-cache'), runnerSession: opts.runnerSession,
      labels: opts.owner ? { [OWNER_LABEL]: opts.owner } : undefined,
    });
    if (opts.owner) await reapOwnLeftovers(scheduler.hosts(), opts.owner, log);
    const quarantine = await QuarantineStore.open(join(cfg.node.dataDir, 'intake'));
    const reviewHash = reviewPolicyHash(loadReviewPolicy(), digest);
    log.info('evaluator ready', { image: tag, digest: digest.slice(0, 19), hardwareClass: cfg.sandbox.hardwareClass, slots: evaluationConcurrency(cfg) });
    return new SandboxEvaluatorPort({ cfg, log, evaluator, quarantine, imageDigest: digest, reviewHash, opts });
  }

  async policyHash(): Promise<string> {
    return this.combinedHash;
  }

  concurrency(): number {
    return evaluationConcurrency(this.cfg);
  }

  async close(): Promise<void> {
    await this.quarantine.close().catch(() => undefined);
  }

  async evaluate(entry: RosterEntry, ctx: { runId: number; randomness: string; earlier: RosterEntry[]; timeoutMs: number; signal: AbortSignal }): Promise<EvaluationOutcome> {
    return withFaultRetry(() => this.evaluateOnce(entry, ctx), this.faults, { backoffMs: this.opts.faultBackoffMs, signal: ctx.signal });
  }

  private async evaluateOnce(entry: RosterEntry, ctx: { runId: number; randomness: string; earlier: RosterEntry[]; timeoutMs: number; signal: AbortSignal }): Promise<EvaluationOutcome> {
    const intake = await this.intake(entry);
    if (!intake.ok) return intake.outcome;
    const dup = await this.classify(entry, ctx.earlier);
    if (dup) return dup;
    if (ctx.signal.aborted) throw new Error('evaluation aborted: the run is out of time');
    let res: EvaluationResult;
    res = await this.evaluator.evaluate({ runId: ctx.runId, randomness: ctx.randomness, submissionPath: intake.path, codeSha256: entry.codeSha256, timeoutSec: Math.max(1, Math.round(ctx.timeoutMs / 1000)) });
    if (res.status === 'sandbox-error') throw new Error(`sandbox error evaluating uid ${entry.uid}: ${res.detail ?? 'unknown'}`);
    const status = toScoreStatus(res.status);
    return {
      status,
      score: status === 'scored' && typeof res.score === 'number' ? toScore(res.score) : 0,
      detail: {
        stage: 'sandbox', evaluatorStatus: res.status, rejectedBy: res.rejectedBy ?? null, mfu: res.score ?? null, detail: res.detail?.slice(-1500) ?? null,
        checks: res.checks.map((c) => ({ name: c.name, ok: c.ok, value: c.value ?? null, limit: c.limit ?? null })),
        timings: res.timings, imageDigest: res.imageDigest, evaluatorPolicyHash: res.policyHash, hardwareClass: res.hardwareClass, randomness: res.randomness,
      },
    };
  }

  /** Fetch + static review, once per (code, url); the file stays under <data_dir>/submissions. */
  private intake(entry: RosterEntry): Promise<Intake> {
    const key = `${entry.codeSha256}|${entry.url}`;
    let p = this.intakes.get(key);
    if (!p) {
      p = this.doIntake(entry);
      this.intakes.set(key, p);
      p.catch(() => this.intakes.delete(key)); // a validator-side failure is retried
    }
    return p;
  }

  private async doIntake(entry: RosterEntry): Promise<Intake> {
    const c = this.cfg.intake;
    let fetched;
    try {
      const u = new URL(entry.url);
      if (this.allowance && LOOPBACK_HOST.test(u.hostname) && !this.allowance.origins.has(u.origin)) {
        throw new FetchRefusal('blocked-address', entry.url, `${entry.url} is a loopback origin other than the allowed devnet origin(s)`);
      }
      fetched = await fetchSubmission(entry.url, {
        sha256: entry.codeSha256, maxBytes: c.maxSubmissionBytes, totalTimeoutMs: c.fetchTimeoutS * 1000,
        allowLoopbackForTests: this.allowance ? { ports: this.allowance.ports } : undefined,
      });
      const outside = this.allowance ? hopsOutsideAllowance(fetched.hops, this.allowance.origins) : null;
      if (outside) throw new FetchRefusal('blocked-address', fetched.finalUrl, outside);
    } catch (err) {
      if (err instanceof FetchRefusal) {
        this.log.info('fetch refused', { uid: entry.uid, code: err.code, reason: err.message });
        return fail('fetch-failed', { stage: 'fetch', code: err.code, reason: err.message });
      }
      if (err instanceof TypeError) return fail('fetch-failed', { stage: 'fetch', code: 'bad-url', reason: err.message });
      throw err;
    }
    const reviewOpts = { imageDigest: this.imageDigest, fingerprint: true, engine: this.opts.reviewEngine };
    if (looksLikeZip(fetched.bytes)) {
      const parent = join(this.dir, entry.codeSha256);
      try {
        rmSync(parent, { recursive: true, force: true });
        mkdirSync(parent, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new IntakeFault((err as { code?: string }).code ?? 'fs', `cannot prepare ${parent}: ${(err as Error).message}`);
      }
      let project;
      try {
        project = await extractZipProject(fetched.bytes, { parent });
      } catch (err) {
        if (err instanceof ZipRefusal) return fail('rejected-static', { stage: 'zip', code: err.code, reason: err.message });
        throw err;
      }
      const r = await reviewProject(project, reviewOpts);
      if (r.verdict !== 'accept') return fail('rejected-static', { stage: 'review', findings: r.findings.slice(0, 20) });
      return { ok: true, path: project.dir, print: r.fingerprint ? codePrint(r.fingerprint) : null, reviewPolicyHash: r.policyHash, bytes: fetched.bytes.length, finalUrl: fetched.finalUrl };
    }
    const r = await reviewSource(fetched.bytes, reviewOpts);
    if (r.verdict !== 'accept') return fail('rejected-static', { stage: 'review', findings: r.findings.slice(0, 20) });
    const path = join(this.dir, `${entry.codeSha256}.py`);
    try {
      writeFileSync(path, fetched.bytes, { mode: 0o600 });
    } catch (err) {
      throw new IntakeFault((err as { code?: string }).code ?? 'fs', `cannot store the submission at ${path}: ${(err as Error).message}`);
    }
    return { ok: true, path, print: r.fingerprint ? codePrint(r.fingerprint) : null, reviewPolicyHash: r.policyHash, bytes: fetched.bytes.length, finalUrl: fetched.finalUrl };
  }

  /**
   * Duplicate decision against every earlier commitment. Earlier entries are taken in through the same
   * memo first (in commitment order), so the decision does not depend on evaluation order.
   */
  private classify(entry: RosterEntry, earlier: RosterEntry[]): Promise<EvaluationOutcome | null> {
    const key = `${entry.uid}|${entry.codeSha256}`;
    let p = this.decisions.get(key);
    if (!p) {
      p = this.doClassify(entry, earlier);
      this.decisions.set(key, p);
      p.catch(() => this.decisions.delete(key));
    }
    return p;
  }

  private async doClassify(entry: RosterEntry, earlier: RosterEntry[]): Promise<EvaluationOutcome | null> {
    const sorted = [...earlier].sort((a, b) => a.commitBlock - b.commitBlock || a.uid - b.uid);
    for (const [i, e] of sorted.entries()) {
      const x = await this.intake(e).catch(() => null);
      if (x?.ok) await this.classify(e, sorted.slice(0, i));
    }
    const mine = await this.intake(entry);
    if (!mine.ok || !mine.print) return null;
    const candidate = { uid: entry.uid, minerHotkey: entry.minerHotkey, codeSha256: entry.codeSha256, commitBlock: entry.commitBlock, print: mine.print };
    const run = this.storeLock.then(() => this.quarantine.intake(candidate));
    this.storeLock = run.catch(() => undefined);
    const d = await run;
    if (d.status === 'duplicate') return { status: 'duplicate', score: 0, detail: { stage: 'duplicates', of: d.of, reason: d.reason } };
    if (d.status === 'quarantined') return { status: 'quarantined', score: 0, detail: { stage: 'duplicates', of: d.of, similarity: d.similarity } };
    return null;
  }
}

export async function sandboxEvaluator(cfg: NodeConfig, log: Logger, opts: SandboxEvaluatorOptions = {}): Promise<SandboxEvaluatorPort> {
  return SandboxEvaluatorPort.create(cfg, log, opts);
}
