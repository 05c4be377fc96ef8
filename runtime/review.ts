// Static review of submissions. The verdict comes from CPython's own `ast` (docker/review/review.py, the
// driver, and its rule modules in docker/review/rules/), run inside the sandbox image with network none
// when a Docker engine and the image are present, otherwise (documented fallback) by the host's python3
// in isolated mode. Many files go to one Python process (batch mode) so reviewing a whole corpus costs
// one interpreter start. The reviewer travels as text, never as a mount: `python3 -I -S -B -c <review.py>
// <path> <source> ...` with the other modules as argument pairs, imported from memory by the driver, so
// the code that runs is exactly the code policyHash covers and the node's paths need not be visible to
// the Docker engine.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../proto/codec.ts';
import { canonicalJson as sharedCanonicalJson } from '../proto/canonical-json.ts';
import { CPU_IMAGE } from './sandbox-image.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const REVIEW_DIR = join(here, '..', 'docker', 'review');
/** The driver; the rule modules live beside it (docker/review/rules/). */
export const REVIEWER_PATH = join(REVIEW_DIR, 'review.py');
const DRIVER = 'review.py';
export const DEFAULT_POLICY_PATH = join(REVIEW_DIR, 'policy.v1.json');
/** Image tried first for the review container; `CONCLAVE_REVIEW_IMAGE` overrides it. */
export const DEFAULT_REVIEW_IMAGE = CPU_IMAGE;
/** Used when the evaluator image has not been built yet (it carries the same python3). */
export const FALLBACK_REVIEW_IMAGE = 'conclave-base:bookworm';

export interface ReviewPolicy {
  name: string;
  version: number;
  [key: string]: unknown;
}

export interface Finding { rule: string; line: number; col: number; message: string }
export type Verdict = 'accept' | 'reject';
export interface ReviewVerdict { verdict: Verdict; findings: Finding[]; policyHash: string }
/** Normalised token stream (identifiers, literals, comments, formatting removed) with source lines. */
export interface TokenStream { tokens: string[]; lines: number[] }
export interface FileReview extends ReviewVerdict {
  id: string;
  fingerprint?: TokenStream;
  /** Work units of the reviewer's budget this file used (deterministic) and its CPU time (informative). */
  work?: number;
  cpuMs?: number;
}

export interface ReviewInput {
  id: string;
  source: Uint8Array | string;
  /** The file must carry the `inner_steps` contract (default true). */
  entrypoint?: boolean;
  /** Module names of the other files of a ZIP project (importable; relative imports allowed). */
  localModules?: string[];
  /**
   * Files with the same `project` are the modules of one ZIP project and are analysed as one program
   * (the optimizer handed to a helper in another file is followed there); `module` is this file's dotted
   * module name ('helpers', 'pkg.util'). Each file still gets its own findings.
   */
  project?: string;
  module?: string;
}

export type ReviewEngine = 'auto' | 'docker' | 'host';

export interface ReviewOptions {
  policy?: ReviewPolicy;
  /** 'auto' (default): Docker when the engine and an image are present, else the host's python3. */
  engine?: ReviewEngine;
  /** Review image; default $CONCLAVE_REVIEW_IMAGE, else conclave-evaluator:cpu, else conclave-base:bookworm. */
  image?: string;
  /** Evaluator image digest that enters policyHash; default: the review image's digest, or 'none'. */
  imageDigest?: string;
  /** Return the normalised token streams (for duplicate detection). */
  fingerprint?: boolean;
  timeoutMs?: number;
  /** Host interpreter for the fallback (default python3). */
  python?: string;
}

export interface BatchReview {
  engine: 'docker' | 'host';
  image?: string;
  imageDigest: string;
  policyHash: string;
  python: string;
  results: FileReview[];
}

export class ReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReviewError';
  }
}

/** The review policy's canonical JSON (proto/canonical-json.ts); a non-finite number is refused. */
export function canonicalJson(value: unknown): string {
  return sharedCanonicalJson(value, () => { throw new ReviewError('policy contains a non-finite number'); });
}

/** One file of the reviewer: its path relative to docker/review ('/'-separated) and its text. */
export interface ReviewerFile { path: string; source: string }

/**
 * sha256 hex of the reviewer's code: over its files sorted by path, each contributing
 * `path || 0x0a || sha256 hex of its source || 0x0a`.
 */
export function reviewerDigest(files: readonly ReviewerFile[]): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sha256Hex(sorted.map((f) => f.path + '\n' + sha256Hex(f.source) + '\n').join(''));
}

/**
 * sha256( canonical policy JSON || 0x0a || evaluator image digest || 0x0a || reviewerDigest(every .py
 * file of docker/review) ), lowercase hex. The reviewer's code is part of the hash: a change to the driver
 * or any rule module alters verdicts as much as a policy change does, and reports judged by different
 * reviewers must not be counted together.
 */
export function policyHash(policy: ReviewPolicy, imageDigest: string, reviewer: readonly ReviewerFile[] = reviewerFiles()): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson(policy) + '\n' + imageDigest + '\n' + reviewerDigest(reviewer)));
}

export function loadPolicy(path = DEFAULT_POLICY_PATH): ReviewPolicy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ReviewError(`cannot read review policy ${path}: ${(err as Error).message}; pass a valid policy JSON file`);
  }
  return validatePolicy(parsed, path);
}

const REQUIRED_POLICY_KEYS = ['entrypoint', 'allowedModules', 'forbiddenModules', 'forbiddenBuiltins', 'forbiddenAttributes',
  'allowedDunderAttributes', 'allowedDunderNames', 'forbiddenDunderDefs', 'privateAttributeAllowPrefixes',
  'privateAttributeAllowRoots', 'dangerousSubstrings'];

export function validatePolicy(value: unknown, where = 'policy'): ReviewPolicy {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ReviewError(`${where}: policy must be a JSON object`);
  const p = value as ReviewPolicy;
  if (typeof p.name !== 'string' || !Number.isSafeInteger(p.version)) {
    throw new ReviewError(`${where}: policy needs a string "name" and an integer "version"`);
  }
  for (const k of REQUIRED_POLICY_KEYS) if (!(k in p)) throw new ReviewError(`${where}: policy is missing "${k}"`);
  return p;
}

let cachedPolicy: ReviewPolicy | undefined;
function defaultPolicy(): ReviewPolicy {
  cachedPolicy ??= loadPolicy();
  return cachedPolicy;
}

/** Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN); keep every reviewer file well below. */
const MAX_REVIEWER_FILE_BYTES = 100 * 1024;

function listReviewerFiles(dir: string, prefix: string): ReviewerFile[] {
  const out: ReviewerFile[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + e.name;
    if (e.isDirectory() && e.name !== '__pycache__') out.push(...listReviewerFiles(join(dir, e.name), rel + '/'));
    else if (e.isFile() && e.name.endsWith('.py')) out.push({ path: rel, source: readFileSync(join(dir, e.name), 'utf8') });
  }
  return out;
}

let reviewerSources: ReviewerFile[] | undefined;
/** The reviewer's files (review.py and every other .py under docker/review), sorted by path; read once. */
export function reviewerFiles(): ReviewerFile[] {
  if (!reviewerSources) {
    const files = listReviewerFiles(REVIEW_DIR, '').sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (!files.some((f) => f.path === DRIVER)) throw new ReviewError(`the reviewer driver ${REVIEWER_PATH} is missing`);
    for (const f of files) {
      if (Buffer.byteLength(f.source) > MAX_REVIEWER_FILE_BYTES) {
        throw new ReviewError(`reviewer file ${f.path} is over ${MAX_REVIEWER_FILE_BYTES} bytes; split it (it travels as one process argument)`);
      }
    }
    reviewerSources = files;
  }
  return reviewerSources;
}

/** python3 arguments that run the reviewer: the driver as `-c`, the other files as (path, source) pairs. */
function reviewerArgs(files: readonly ReviewerFile[]): string[] {
  const driver = files.find((f) => f.path === DRIVER)!;
  return ['-I', '-S', '-B', '-c', driver.source, ...files.filter((f) => f !== driver).flatMap((f) => [f.path, f.source])];
}

/** stdout of a docker CLI call, or null when it fails; never blocks the event loop (intake runs in the node). */
function dockerCli(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('docker', args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout.trim()));
  });
}

/** The image's content digest (`docker image inspect`), or null when Docker or the image is absent. */
export async function dockerImageDigest(image: string): Promise<string | null> {
  const id = await dockerCli(['image', 'inspect', '--format', '{{.Id}}', image]);
  return id !== null && /^sha256:[0-9a-f]{64}$/.test(id) ? id : null;
}

/** True when a Docker engine answers. */
export async function dockerAvailable(): Promise<boolean> {
  return !!(await dockerCli(['version', '--format', '{{.Server.Version}}']));
}

function imageCandidates(opts: ReviewOptions): string[] {
  if (opts.image) return [opts.image];
  return [process.env.CONCLAVE_REVIEW_IMAGE || DEFAULT_REVIEW_IMAGE, FALLBACK_REVIEW_IMAGE];
}

interface EngineChoice { engine: 'docker' | 'host'; image?: string; digest?: string }

export async function chooseEngine(opts: ReviewOptions = {}): Promise<EngineChoice> {
  const want = opts.engine ?? 'auto';
  if (want === 'host') return { engine: 'host' };
  for (const image of imageCandidates(opts)) {
    const digest = await dockerImageDigest(image);
    if (digest) return { engine: 'docker', image, digest };
  }
  if (want === 'docker') {
    throw new ReviewError(`no Docker engine or none of the images ${imageCandidates(opts).join(', ')} is present; ` +
      'start dockerd and build the image with `npm run image`, or use the host engine');
  }
  return { engine: 'host' };
}

function runProcess(cmd: string, args: string[], input: string, timeoutMs: number, onTimeout?: () => void):
  Promise<ReviewerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      onTimeout?.();
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > 256 * 1024 * 1024) child.kill('SIGKILL');
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => { if (err.length < 64) err.push(b); });
    child.on('error', (e) => { clearTimeout(timer); reject(new ReviewError(`cannot start ${cmd}: ${e.message}`)); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin.on('error', () => { /* the child exited early; reported through close */ });
    child.stdin.end(input);
  });
}

/**
 * Default wall-clock limit of one reviewer process: only a backstop. The work budget bounds the CPU a
 * source can take (a few seconds for 500 KB); the limit stays far above it so that a loaded machine
 * does not turn a slow review into a verdict.
 */
export function defaultReviewTimeoutMs(files: number): number {
  return 120_000 + 15_000 * files;
}

/** How long one file may take when it is reviewed again alone after its run did not finish. */
export const SINGLE_FILE_TIMEOUT_MS = 240_000;

type ReviewerRun = { code: number | null; stdout: string; stderr: string; timedOut: boolean };

const STARTED = 'conclave-review: started';

/**
 * The reviewer process ended without an answer because of this input (time or memory), not a fault.
 * Only after the reviewer said it started: a container or interpreter that never came up is a fault.
 */
function exhausted(run: ReviewerRun, engine: 'docker' | 'host'): string | null {
  if (!run.stderr.includes(STARTED)) {
    if (run.timedOut) throw new ReviewError(`the reviewer did not start within the time limit (${engine} engine); check the Docker engine and the machine's load`);
    return null;
  }
  if (run.timedOut) return 'did not finish in time (twice)';
  if (run.code === null || (engine === 'docker' && run.code === 137)) return 'was killed (memory limit)';
  return null;
}

/**
 * Reviews many files in one reviewer process. A file's verdict never depends on the machine: the
 * reviewer's work is bounded by the policy's budget (rules/folding.py), and a file that still exhausts
 * the process (its batch timed out or was killed, then it timed out again alone) is rejected as
 * too-complex. Throws ReviewError only when the reviewer cannot run (no python3, Docker failing, garbage
 * output): a fault of the validator, not a verdict.
 */
export async function reviewFiles(files: ReviewInput[], opts: ReviewOptions = {}): Promise<BatchReview> {
  const policy = opts.policy ?? defaultPolicy();
  const choice = await chooseEngine(opts);
  const imageDigest = opts.imageDigest ?? choice.digest ?? 'none';
  const reviewer = reviewerFiles();
  const hash = policyHash(policy, imageDigest, reviewer);
  const timeoutMs = opts.timeoutMs ?? defaultReviewTimeoutMs(files.length);
  let results: FileReview[];
  const run = await runReviewer(files, policy, opts, choice, reviewer, timeoutMs);
  const why = exhausted(run, choice.engine);
  if (why === null) {
    results = parseResults(run, files, hash, choice.engine);
  } else {
    results = [];
    for (const f of files) {
      // once more, alone and with twice the time: a file is only judged too-complex on a run of its own
      const alone = await runReviewer([f], policy, opts, choice, reviewer, opts.timeoutMs !== undefined ? 2 * opts.timeoutMs : SINGLE_FILE_TIMEOUT_MS);
      const aloneWhy = exhausted(alone, choice.engine);
      if (aloneWhy === null) {
        results.push(...parseResults(alone, [f], hash, choice.engine));
      } else {
        results.push({
          id: f.id, verdict: 'reject', policyHash: hash,
          findings: [{ rule: 'too-complex', line: 0, col: 0, message: `the reviewer ${aloneWhy} on this source; simplify it` }],
        });
      }
    }
  }
  return { engine: choice.engine, image: choice.image, imageDigest, policyHash: hash, python: pythonOf(run), results };
}

function pythonOf(run: ReviewerRun): string {
  try {
    return String((JSON.parse(run.stdout) as { python?: unknown }).python ?? '');
  } catch {
    return '';
  }
}

async function runReviewer(files: ReviewInput[], policy: ReviewPolicy, opts: ReviewOptions, choice: EngineChoice,
  reviewer: ReviewerFile[], timeoutMs: number): Promise<ReviewerRun> {
  const request = JSON.stringify({
    policy,
    fingerprint: opts.fingerprint ?? false,
    files: files.map((f) => ({
      id: f.id,
      source_b64: Buffer.from(typeof f.source === 'string' ? new TextEncoder().encode(f.source) : f.source).toString('base64'),
      entrypoint: f.entrypoint ?? true,
      localModules: f.localModules ?? [],
      ...(f.project !== undefined && f.module !== undefined ? { project: f.project, module: f.module } : {}),
    })),
  });
  if (choice.engine === 'docker') {
    const name = `conclave-review-${randomBytes(6).toString('hex')}`;
    return runProcess('docker', ['run', '--rm', '-i', '--name', name, '--network', 'none', '--read-only',
      '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--pids-limit', '32', '--memory', '1g',
      '--cpus', '1', '--user', '65534:65534', '--tmpfs', '/tmp:size=8m', '--log-driver', 'none',
      '--entrypoint', 'python3', choice.image!, ...reviewerArgs(reviewer)], request, timeoutMs,
    () => { spawnSync('docker', ['rm', '-f', name], { timeout: 10_000 }); });
  }
  return runProcess(opts.python ?? 'python3', reviewerArgs(reviewer), request, timeoutMs);
}

function parseResults(run: ReviewerRun, files: ReviewInput[], hash: string, engine: 'docker' | 'host'): FileReview[] {
  if (run.code !== 0) {
    throw new ReviewError(`the reviewer failed (${engine} engine, exit ${run.code}): ${run.stderr.trim().slice(-400) || 'no output'}`);
  }
  let parsed: { python?: unknown; results?: unknown };
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    throw new ReviewError('the reviewer printed something that is not JSON');
  }
  if (!Array.isArray(parsed.results) || parsed.results.length !== files.length) {
    throw new ReviewError('the reviewer returned a result list of the wrong length');
  }
  return (parsed.results as Array<Record<string, unknown>>).map((r, i): FileReview => {
    if (r.id !== files[i].id || (r.verdict !== 'accept' && r.verdict !== 'reject') || !Array.isArray(r.findings)) {
      throw new ReviewError(`the reviewer's result ${i} is malformed`);
    }
    const findings = (r.findings as Finding[]).map((f) => ({ rule: String(f.rule), line: Number(f.line) | 0, col: Number(f.col) | 0, message: String(f.message) }));
    // A verdict of accept with findings would be a reviewer bug; never let it through.
    const verdict: Verdict = findings.length === 0 && r.verdict === 'accept' ? 'accept' : 'reject';
    const out: FileReview = { id: files[i].id, verdict, findings, policyHash: hash };
    if (typeof r.work === 'number') out.work = r.work;
    const stats = r.stats as { cpuMs?: unknown } | undefined;
    if (stats && typeof stats.cpuMs === 'number') out.cpuMs = stats.cpuMs;
    const fp = r.fingerprint as TokenStream | undefined;
    if (fp && Array.isArray(fp.tokens) && Array.isArray(fp.lines) && fp.tokens.length === fp.lines.length) out.fingerprint = fp;
    return out;
  });
}

/** Reviews one source; see reviewFiles. */
export async function reviewSource(source: Uint8Array | string, opts: ReviewOptions & { entrypoint?: boolean } = {}): Promise<FileReview> {
  const batch = await reviewFiles([{ id: 'submission', source, entrypoint: opts.entrypoint }], opts);
  return batch.results[0];
}
