// `conclave evaluate FILE`: static review + sandbox + evaluator for one submission on the CPU image.
import { readFileSync, statSync } from 'node:fs';
import Dockerode from 'dockerode';
import { parseFlags, printJson, UsageError, type Command, intFlag } from '../cli-kit.ts';
import { ensureEvaluatorImage, seccompProfileText } from '../../runtime/sandbox-image.ts';
import { loadPolicy, DEFAULT_POLICY_PATH } from '../../runtime/evaluator-policy.ts';
import { SubmissionEvaluator, type EvaluationResult } from '../../runtime/evaluate.ts';
import { DockerScheduler } from '../../runtime/docker-hosts.ts';
import { localRandomness, normaliseRandomness } from '../../runtime/evaluate-seeds.ts';

const help = `Usage: conclave evaluate FILE [--json] [--timeout SECONDS] [options]

Review, sandbox and evaluate one submission (a Python file defining inner_steps, or a project
directory with train.py) on the CPU evaluator image, building the image first if it is missing.
Runs the run's reference pass (cached per run under --cache), then the submission in a hardened
container (network none, read-only root, cap-drop ALL, seccomp), then the anti-cheat checks,
and prints status, MFU, checks and timings.

Exit codes: 0 the submission passes, 1 it is rejected or fails (rejected, timeout, oom,
crashed), 2 the validator itself could not evaluate it (usage, Docker, image, review engine).

Options:
  --json                 print the full EvaluationResult as JSON
  --timeout SECONDS      wall-clock limit of the submission's container (default: policy, 120)
  --run-id N             run id (default: 1)
  --randomness HEX       the run's chain randomness (hash of its epoch start block) every seed is
                         derived from; default: a local value derived from --run-id (predictable:
                         fine for trying code, not for scoring)
  --hardware-class NAME  peak-FLOP/s class from the policy (default: cpu-2core)
  --policy PATH          evaluator policy JSON (default: ${DEFAULT_POLICY_PATH})
  --cache DIR            reference/compile cache root (default: /var/tmp/conclave/cache); bounded:
                         4 run references, 64 compile caches / 8 GiB, least recently used removed first
  --image TAG            evaluator image (default: conclave-evaluator:cpu, built when missing)
  --no-review            skip the static review (debugging only: the sandbox still applies)

Examples:
  conclave evaluate train.py
  conclave evaluate train.py --json --timeout 60
  conclave evaluate ./project/ --run-id 4200 --randomness 0x5f3c…(the block hash of block 4200)
`;

type ReviewModule = { reviewSource: (src: Uint8Array, opts: { imageDigest?: string }) => Promise<{ verdict: string; findings: { rule: string; line: number; col: number; message: string }[] }> };

async function staticReview(file: string, imageDigest: string): Promise<{ verdict: string; findings: unknown[] } | 'skipped'> {
  let mod: ReviewModule;
  try {
    mod = (await import('../../runtime/review.ts')) as unknown as ReviewModule;
  } catch {
    process.stderr.write('conclave evaluate: warning: runtime/review.ts is not available; the static review is skipped\n');
    return 'skipped';
  }
  if (statSync(file).isDirectory()) {
    process.stderr.write('conclave evaluate: warning: project directories are reviewed by the intake pipeline; only the sandbox runs here\n');
    return 'skipped';
  }
  return mod.reviewSource(readFileSync(file), { imageDigest });
}

function summary(r: EvaluationResult): string {
  const lines = [`status: ${r.status}${r.rejectedBy ? ` (check: ${r.rejectedBy})` : ''}`];
  if (r.mfu) lines.push(`MFU: ${r.mfu.median.toFixed(6)} (median of ${r.mfu.perRep.length}, spread ${(r.mfu.spread * 100).toFixed(1)}%, range ${r.mfu.min.toFixed(6)}..${r.mfu.max.toFixed(6)})`);
  lines.push(`run ${r.runId}, randomness ${r.randomness.slice(0, 16)}…, ${r.sketchDim}-value sketches per tensor`);
  if (r.detail) lines.push(`detail: ${r.detail.split('\n').slice(-3).join(' | ')}`);
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.value !== undefined ? ` = ${typeof c.value === 'number' ? c.value.toPrecision(4) : c.value}` : ''}${c.limit !== undefined ? ` (limit ${c.limit})` : ''}${!c.ok && c.detail ? ` — ${c.detail}` : ''}`);
  const t = r.timings;
  lines.push(`timings: total ${t.totalMs.toFixed(0)} ms, reference ${t.referenceCached ? 'cached' : `${t.referenceMs.toFixed(0)} ms`}, miner container ${t.minerContainerMs.toFixed(0)} ms (timed work ${t.minerWorkMs.toFixed(0)} ms, sandbox overhead ${t.sandboxOverheadMs.toFixed(0)} ms)`);
  return lines.join('\n') + '\n';
}

const command: Command = {
  name: 'evaluate',
  help,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      json: { type: 'boolean' }, timeout: { type: 'string' }, 'run-id': { type: 'string' }, 'hardware-class': { type: 'string' },
      policy: { type: 'string' }, cache: { type: 'string' }, image: { type: 'string' }, 'no-review': { type: 'boolean' }, randomness: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const file = positionals[0];
    try { statSync(file); } catch { throw new UsageError(`cannot read ${file}`); }
    const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0 && timeout <= 3600)) throw new UsageError('--timeout must be a number of seconds in (0, 3600]');
    const runId = intFlag(values['run-id'], 'run-id', 1);
    let randomness: string;
    try { randomness = normaliseRandomness(values.randomness ?? localRandomness(runId)); } catch (e) { throw new UsageError((e as Error).message); }

    const policy = loadPolicy(values.policy);
    const docker = new Dockerode();
    try { await docker.ping(); } catch (e) {
      process.stderr.write(`conclave evaluate: no Docker engine reachable (${(e as Error).message}). Start dockerd or set DOCKER_HOST.\n`);
      return 2;
    }
    const image = await ensureEvaluatorImage({ docker, tag: values.image, log: (l) => process.stderr.write(l + '\n') });
    if (!values['no-review']) {
      const review = await staticReview(file, image.digest);
      if (review !== 'skipped' && review.verdict !== 'accept') {
        if (values.json) printJson({ status: 'rejected', rejectedBy: 'static-review', review });
        else process.stdout.write(`status: rejected (static review)\n${review.findings.map((f) => `  ${JSON.stringify(f)}`).join('\n')}\n`);
        return 1;
      }
    }
    const evaluator = new SubmissionEvaluator({
      scheduler: new DockerScheduler([{ config: { name: 'local', socketPath: '/var/run/docker.sock', concurrency: 1 }, docker }]),
      image: image.tag, imageDigest: image.digest, hardwareClass: values['hardware-class'] ?? 'cpu-2core', policy,
      seccompProfile: seccompProfileText(), cacheRoot: values.cache ?? '/var/tmp/conclave/cache',
    });
    const result = await evaluator.evaluate({ runId, randomness, submissionPath: file, timeoutSec: timeout });
    if (values.json) printJson(result); else process.stdout.write(summary(result));
    if (result.status === 'ok') return 0;
    return result.status === 'sandbox-error' ? 2 : 1;
  },
};

export default command;
