// From a finished miner container (its run outcome and result channel) to an evaluation status: timeout,
// sandbox-error (the validator could not evaluate), oom, crashed, rejected (+ the first failing check), ok.
import { CaptureError, parseCaptures, parseSupervisorResult, type SupervisorResult } from './evaluate-capture.ts';
import type { ResultChannel } from './evaluate-channel.ts';
import { runChecks, violationChecks, type CheckResult, type MfuStats, type ReferenceData } from './evaluate-checks.ts';
import type { EvaluatorPolicy, HardwareClass } from './evaluator-policy.ts';
import type { SandboxRun } from './sandbox.ts';

export type EvaluationStatus = 'ok' | 'rejected' | 'timeout' | 'oom' | 'crashed' | 'sandbox-error';

export interface Interpretation {
  status: EvaluationStatus;
  rejectedBy?: string;
  score?: number;
  mfu?: MfuStats;
  checks: CheckResult[];
  detail?: string;
}

export function interpretMinerRun(run: SandboxRun, channel: ResultChannel, ref: ReferenceData, policy: EvaluatorPolicy, hw: HardwareClass,
  timeoutSec: number): { result: Interpretation; miner?: SupervisorResult } {
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
  if (miner.status === 'violation') {
    const checks = violationChecks(miner);
    return { miner, result: { status: 'rejected', rejectedBy: checks[0]?.name, checks, detail: checks[0]?.detail } };
  }
  if (miner.status === 'oom' || run.outcome === 'oom') return { miner, result: { status: 'oom', checks: [], detail: `memory limit ${policy.sandbox.memoryBytes} bytes exceeded` } };
  if (miner.status === 'crashed') {
    if (miner.error?.type === 'ForkServerError' && miner.reps.length === 0) {
      return { miner, result: { status: 'sandbox-error', checks: [], detail: `evaluator: ${miner.error.detail.slice(-800)}` } };
    }
    return { miner, result: { status: 'crashed', checks: [], detail: miner.error ? `${miner.error.type}: ${miner.error.detail.slice(-1500)}` : `worker exited (code ${miner.worker.exitCode}, signal ${miner.worker.signal})` } };
  }
  let tensors;
  try {
    if (!channel.captures) throw new CaptureError('no captures frame');
    tensors = parseCaptures(channel.captures);
  } catch (e) {
    if (e instanceof CaptureError) return { miner, result: { status: 'rejected', rejectedBy: 'protocol', checks: [{ name: 'protocol', ok: false, detail: e.message }] } };
    throw e;
  }
  const { checks, mfu } = runChecks(miner, tensors, ref, policy, hw);
  const failed = checks.find((c) => !c.ok);
  if (failed) return { miner, result: { status: 'rejected', rejectedBy: failed.name, checks, mfu: mfu ?? undefined, detail: failed.detail } };
  return { miner, result: { status: 'ok', score: mfu!.median, mfu: mfu!, checks } };
}
