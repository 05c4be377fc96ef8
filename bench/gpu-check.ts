// `npm run gpu-check [-- --evaluations N] [--launcher auto|docker|host] [--python CMD]`: the evaluation protocol on
// a CUDA device, through the same supervisor / fork server / worker code as every validator: a ~0.5B-parameter
// policy model under bf16 autocast, 20 steps; an honest submission evaluated N times (MFU per evaluation and its
// coefficient of variation) and three attacks that must be rejected. On a machine with CUDA in the host's Python
// it runs the supervisor as a process (no Docker needed: runtime/sandbox-host.ts); with no CUDA it runs the CPU
// form: the CI-size model on the CPU class, 20 steps, in the evaluator image (Docker). Prints JSON lines; exits
// non-zero when the honest submission is not accepted every time or an attack is not rejected.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Dockerode from 'dockerode';
import { ensureEvaluatorImage, seccompProfileText } from '../runtime/sandbox-image.ts';
import { loadPolicy, type EvaluatorPolicy } from '../runtime/evaluator-policy.ts';
import { SubmissionEvaluator, type ContainerRunner, type EvaluationResult } from '../runtime/evaluate.ts';
import { DockerScheduler } from '../runtime/docker-hosts.ts';
import { HostProcessRunner } from '../runtime/sandbox-host.ts';
import { reapSandboxContainers } from '../runtime/sandbox.ts';

const FIXTURES = fileURLToPath(new URL('../test/sandbox/fixtures/', import.meta.url));
export const GPU_CHECK_ATTACKS: [string, string][] = [
  ['fork_finish', 'process-spawn'], ['replay_repetition', 'gradient-error'], ['background_thread', 'optimizer-steps'],
];

export interface GpuCheckOptions {
  evaluations: number;
  launcher: 'auto' | 'docker' | 'host';
  /** the host Python (host launcher), e.g. ['python3'] */
  python: string[];
  log?: (line: Record<string, unknown>) => void;
}

export interface GpuCheckReport {
  device: 'cuda' | 'cpu';
  deviceName: string;
  launcher: 'docker' | 'host';
  hardwareClass: string;
  nParams: number;
  steps: number;
  honest: { statuses: string[]; mfu: number[]; mean: number; cv: number; rejections: string[] };
  attacks: { fixture: string; expected: string; status: string; rejectedBy?: string; ok: boolean }[];
  ok: boolean;
}

/** What the host Python sees: torch and CUDA (null when it has no torch). */
export function probeHostCuda(python: string[]): { cuda: boolean; name: string; capability: number[] } | null {
  try {
    const out = execFileSync(python[0], [...python.slice(1), '-c', 'import json, torch; c = torch.cuda.is_available(); '
      + 'print(json.dumps({"cuda": c, "name": torch.cuda.get_device_name(0) if c else "cpu", "capability": list(torch.cuda.get_device_capability(0)) if c else []}))'],
    { timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(out.toString().trim().split('\n').pop()!);
  } catch {
    return null;
  }
}

/** The policy of the check: ~0.5B parameters, bf16 class, on CUDA; the CI model on the CPU class otherwise. 20 steps. */
export function gpuCheckPolicy(base: EvaluatorPolicy, cuda: boolean): EvaluatorPolicy {
  if (!cuda) return { ...base, data: { ...base.data, numSteps: 20 }, repetitions: 2, warmupRepetitions: 1 };
  return {
    ...base,
    // 2 * 32000 * 1536 (embedding + head) + 16 layers * 12 * 1536^2 + norms/biases/positions ~ 0.55e9 parameters
    model: { vocab: 32000, dModel: 1536, nHeads: 12, nLayers: 16, dFF: 6144, seqLen: 1024 },
    data: { batchSize: 8, numSteps: 20 },
    repetitions: 2, warmupRepetitions: 1, threads: 4,
    sandbox: { ...base.sandbox, memoryBytes: 64 * 2 ** 30, shmBytes: 8 * 2 ** 30, tmpBytes: 16 * 2 ** 30, timeoutSec: 1800 },
  };
}

export async function runGpuCheck(opts: GpuCheckOptions): Promise<GpuCheckReport> {
  const log = opts.log ?? (() => undefined);
  const probe = opts.launcher === 'docker' ? null : probeHostCuda(opts.python);
  const cuda = Boolean(probe?.cuda);
  const launcher: 'docker' | 'host' = opts.launcher === 'auto' ? (cuda ? 'host' : 'docker') : opts.launcher;
  if (launcher === 'host' && !probe) throw new Error(`--launcher host needs torch in ${opts.python.join(' ')}`);
  const hardwareClass = cuda ? (/H200/i.test(probe!.name) ? 'h200' : 'h100-sxm') : 'cpu-2core';
  const policy = gpuCheckPolicy(loadPolicy(), cuda);
  const cacheRoot = mkdtempSync(join(tmpdir(), 'conclave-gpu-check-'));
  const docker = new Dockerode();
  const session = 'gpu-check-' + process.pid;
  log({ check: 'gpu-check.start', device: cuda ? 'cuda' : 'cpu', deviceName: probe?.name ?? 'cpu', launcher, hardwareClass, steps: policy.data.numSteps, model: policy.model });
  try {
    let image = 'host-process'; let digest = 'host-process';
    let runnerFor: (() => ContainerRunner) | undefined;
    if (launcher === 'docker') {
      const img = await ensureEvaluatorImage({ docker });
      image = img.tag; digest = img.digest;
    } else {
      const runner = new HostProcessRunner({ python: opts.python });
      runnerFor = () => runner;
    }
    const evaluator = new SubmissionEvaluator({
      scheduler: new DockerScheduler([{ config: { name: 'local', socketPath: '/var/run/docker.sock', concurrency: 1 }, docker }]),
      image, imageDigest: digest, hardwareClass, policy, seccompProfile: seccompProfileText(), cacheRoot, runnerSession: session, runnerFor,
    });
    const randomness = createHash('sha256').update(`gpu-check:${Date.now()}`).digest('hex');
    const evaluate = (f: string) => evaluator.evaluate({ runId: 1, randomness, submissionPath: join(FIXTURES, f + '.py'), timeoutSec: policy.sandbox.timeoutSec });
    const honest: EvaluationResult[] = [];
    for (let i = 0; i < opts.evaluations; i++) {
      const r = await evaluate('honest_autocast');
      honest.push(r);
      log({ check: 'gpu-check.honest', evaluation: i + 1, status: r.status, rejectedBy: r.rejectedBy, mfu: r.score, detail: r.status === 'ok' ? undefined : r.detail?.slice(-300) });
    }
    const attacks = [];
    for (const [fixture, expected] of GPU_CHECK_ATTACKS) {
      const r = await evaluate(fixture);
      const ok = r.status === 'rejected' && r.checks.some((c) => c.name === expected && !c.ok);
      attacks.push({ fixture, expected, status: r.status, rejectedBy: r.rejectedBy, ok });
      log({ check: 'gpu-check.attack', fixture, expected, status: r.status, rejectedBy: r.rejectedBy, ok });
    }
    const mfu = honest.filter((r) => r.status === 'ok').map((r) => r.score!);
    const mean = mfu.reduce((a, b) => a + b, 0) / Math.max(1, mfu.length);
    const sd = mfu.length > 1 ? Math.sqrt(mfu.reduce((a, b) => a + (b - mean) ** 2, 0) / (mfu.length - 1)) : 0;
    return {
      device: cuda ? 'cuda' : 'cpu', deviceName: probe?.name ?? 'cpu', launcher, hardwareClass, nParams: honest[0]?.nParams ?? 0, steps: policy.data.numSteps,
      honest: { statuses: honest.map((r) => r.status), mfu, mean, cv: mean > 0 ? sd / mean : NaN, rejections: honest.filter((r) => r.status !== 'ok').map((r) => `${r.rejectedBy}: ${r.detail?.slice(-200)}`) },
      attacks, ok: mfu.length === opts.evaluations && attacks.every((a) => a.ok),
    };
  } finally {
    if (launcher === 'docker') await reapSandboxContainers(docker, session).catch(() => undefined);
    rmSync(cacheRoot, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { evaluations: { type: 'string', default: '5' }, launcher: { type: 'string', default: 'auto' }, python: { type: 'string', default: 'python3' } } });
  const launcher = values.launcher as GpuCheckOptions['launcher'];
  if (!['auto', 'docker', 'host'].includes(launcher)) { process.stderr.write('gpu-check: --launcher must be auto, docker or host\n'); process.exit(2); }
  const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
  const report = await runGpuCheck({ evaluations: Math.max(2, Number(values.evaluations)), launcher, python: values.python!.split(' '), log: emit });
  emit({ check: 'gpu-check.summary', ...report, note: report.device === 'cpu' ? 'no CUDA device: the CPU form ran (CI model, CPU class, same supervisor/worker code in the evaluator image)' : undefined });
  process.exitCode = report.ok ? 0 : 1;
}
