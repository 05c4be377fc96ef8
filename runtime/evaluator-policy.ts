// The evaluator policy: model, data, optimizer, repetitions, check thresholds, hardware classes and
// sandbox limits. Data, not code: its canonical hash goes into policyHash (with the image digest).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '../proto/canonical-json.ts';

export interface ModelSpec { vocab: number; dModel: number; nHeads: number; nLayers: number; dFF: number; seqLen: number }
export interface Thresholds {
  lossAbsDiff: number; gradRelError: number; weightUpdateRelError: number; logitsRelError: number;
  changedShareMin: number; timerRelTolerance: number; timerAbsToleranceSec: number;
  mfuMax: number;
}
/** autocast: the dtype the reference loop's forward and loss run under on this class (null: fp32), the
 * Crusades reference's bf16 on GPU classes; thresholds: overrides of the policy's for this class. */
export interface HardwareClass {
  peakFlops: number; devices: number; device: 'cpu' | 'cuda'; autocast: 'bfloat16' | 'float16' | null;
  thresholds?: Partial<Thresholds>; note?: string;
}
export interface SandboxLimits {
  user: string; memoryBytes: number; shmBytes: number; pidsLimit: number; cpus: number; tmpBytes: number;
  compileCacheBytes: number; outputCapBytes: number; timeoutSec: number; maxCaptureBytes: number;
  allowedExecutables: string[];
}
/** Capture: gradients (every step), final weights and logits are compared as linear sketches of at most
 * `sketchDim` values per tensor (conclave_eval/capture.py), computed alike in the reference and miner passes. */
export interface CapturePolicy { sketchDim: number }
export interface EvaluatorPolicy {
  version: 2;
  model: ModelSpec;
  data: { batchSize: number; numSteps: number };
  optimizer: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  repetitions: number;
  warmupRepetitions: number;
  threads: number;
  thresholds: Thresholds;
  hardwareClasses: Record<string, HardwareClass>;
  sandbox: SandboxLimits;
  capture: CapturePolicy;
}

export const DEFAULT_POLICY_PATH = fileURLToPath(new URL('./evaluator-policy.json', import.meta.url));

export class PolicyError extends Error {
  constructor(message: string) { super(message); this.name = 'PolicyError'; }
}

function positive(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new PolicyError(`evaluator policy: ${where} must be a positive number (got ${JSON.stringify(v)})`);
  return v;
}

/** Validates the shape and the numbers that would make an evaluation meaningless if wrong. */
export function parsePolicy(raw: unknown): EvaluatorPolicy {
  const p = raw as EvaluatorPolicy;
  if (!p || typeof p !== 'object' || p.version !== 2) throw new PolicyError('evaluator policy: expected an object with "version": 2 (version 1 policies predate chain-seeded repetitions and sketch capture; start from runtime/evaluator-policy.json)');
  for (const k of ['vocab', 'dModel', 'nHeads', 'nLayers', 'dFF', 'seqLen'] as const) positive(p.model?.[k], `model.${k}`);
  if (p.model.dModel % p.model.nHeads !== 0) throw new PolicyError('evaluator policy: model.dModel must be divisible by model.nHeads');
  positive(p.data?.batchSize, 'data.batchSize'); positive(p.data?.numSteps, 'data.numSteps');
  positive(p.optimizer?.lr, 'optimizer.lr');
  positive(p.repetitions, 'repetitions'); positive(p.threads, 'threads');
  if (!(p.warmupRepetitions >= 0 && p.warmupRepetitions < p.repetitions)) throw new PolicyError('evaluator policy: warmupRepetitions must be >= 0 and < repetitions');
  const thresholdKeys: (keyof Thresholds)[] = ['lossAbsDiff', 'gradRelError', 'weightUpdateRelError', 'logitsRelError', 'changedShareMin', 'timerRelTolerance', 'timerAbsToleranceSec', 'mfuMax'];
  const checkThresholds = (t: Partial<Thresholds> | undefined, where: string, all: boolean) => {
    if (!t || typeof t !== 'object') throw new PolicyError(`evaluator policy: ${where} must be an object`);
    for (const k of thresholdKeys) if (all || t[k] !== undefined) positive(t[k], `${where}.${k}`);
    const unknown = Object.keys(t).filter((k) => !(thresholdKeys as string[]).includes(k));
    if (unknown.length) throw new PolicyError(`evaluator policy: unknown ${where} ${unknown.join(', ')} (known: ${thresholdKeys.join(', ')}); a policy from another Conclave version?`);
  };
  checkThresholds(p.thresholds, 'thresholds', true);
  if (!p.hardwareClasses || Object.keys(p.hardwareClasses).length === 0) throw new PolicyError('evaluator policy: hardwareClasses is empty');
  for (const [k, v] of Object.entries(p.hardwareClasses)) {
    positive(v.peakFlops, `hardwareClasses.${k}.peakFlops`); positive(v.devices, `hardwareClasses.${k}.devices`);
    if (v.device !== 'cpu' && v.device !== 'cuda') throw new PolicyError(`evaluator policy: hardwareClasses.${k}.device must be "cpu" or "cuda"`);
    if (v.autocast !== null && v.autocast !== 'bfloat16' && v.autocast !== 'float16') throw new PolicyError(`evaluator policy: hardwareClasses.${k}.autocast must be null, "bfloat16" or "float16"`);
    if (v.thresholds !== undefined) checkThresholds(v.thresholds, `hardwareClasses.${k}.thresholds`, false);
  }
  for (const k of ['memoryBytes', 'shmBytes', 'pidsLimit', 'cpus', 'tmpBytes', 'compileCacheBytes', 'outputCapBytes', 'timeoutSec', 'maxCaptureBytes'] as const) positive(p.sandbox?.[k], `sandbox.${k}`);
  if (!Array.isArray(p.sandbox.allowedExecutables)) throw new PolicyError('evaluator policy: sandbox.allowedExecutables must be an array');
  const dim = p.capture?.sketchDim;
  if (!Number.isSafeInteger(dim) || dim < 16 || dim > 16384) throw new PolicyError('evaluator policy: capture.sketchDim must be an integer in 16..16384 (one sketch travels in one 64 KiB message)');
  return p;
}

export function loadPolicy(path = DEFAULT_POLICY_PATH): EvaluatorPolicy {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new PolicyError(`evaluator policy: cannot read ${path}: ${(e as Error).message}`); }
  try { return parsePolicy(JSON.parse(text)); } catch (e) {
    if (e instanceof PolicyError) throw e;
    throw new PolicyError(`evaluator policy: ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function evaluatorPolicyHash(policy: EvaluatorPolicy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex');
}

/** The thresholds that apply on a hardware class: the policy's, overridden by the class's own. */
export function thresholdsFor(policy: EvaluatorPolicy, hw: HardwareClass): Thresholds {
  return { ...policy.thresholds, ...hw.thresholds };
}
