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
export interface HardwareClass { peakFlops: number; devices: number; device: 'cpu' | 'cuda'; note?: string }
export interface SandboxLimits {
  user: string; memoryBytes: number; shmBytes: number; pidsLimit: number; cpus: number; tmpBytes: number;
  compileCacheBytes: number; outputCapBytes: number; timeoutSec: number; maxCaptureBytes: number;
  allowedExecutables: string[];
}
/** Sketch mode: models with more than minParams parameters ship CountSketches of `dim` values per tensor
 * (projection seed chosen after the submission returned) instead of full gradients/weights/logits. */
export interface SketchPolicy { minParams: number; dim: number }
export interface EvaluatorPolicy {
  version: 1;
  model: ModelSpec;
  data: { batchSize: number; numSteps: number };
  optimizer: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  repetitions: number;
  warmupRepetitions: number;
  threads: number;
  thresholds: Thresholds;
  hardwareClasses: Record<string, HardwareClass>;
  sandbox: SandboxLimits;
  sketch?: SketchPolicy;
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
  if (!p || typeof p !== 'object' || p.version !== 1) throw new PolicyError('evaluator policy: expected an object with "version": 1');
  for (const k of ['vocab', 'dModel', 'nHeads', 'nLayers', 'dFF', 'seqLen'] as const) positive(p.model?.[k], `model.${k}`);
  if (p.model.dModel % p.model.nHeads !== 0) throw new PolicyError('evaluator policy: model.dModel must be divisible by model.nHeads');
  positive(p.data?.batchSize, 'data.batchSize'); positive(p.data?.numSteps, 'data.numSteps');
  positive(p.optimizer?.lr, 'optimizer.lr');
  positive(p.repetitions, 'repetitions'); positive(p.threads, 'threads');
  if (!(p.warmupRepetitions >= 0 && p.warmupRepetitions < p.repetitions)) throw new PolicyError('evaluator policy: warmupRepetitions must be >= 0 and < repetitions');
  const thresholdKeys: (keyof Thresholds)[] = ['lossAbsDiff', 'gradRelError', 'weightUpdateRelError', 'logitsRelError', 'changedShareMin', 'timerRelTolerance', 'timerAbsToleranceSec', 'mfuMax'];
  for (const k of thresholdKeys) positive(p.thresholds?.[k], `thresholds.${k}`);
  const unknown = Object.keys(p.thresholds).filter((k) => !(thresholdKeys as string[]).includes(k));
  if (unknown.length) throw new PolicyError(`evaluator policy: unknown thresholds ${unknown.join(', ')} (known: ${thresholdKeys.join(', ')}); a policy from another Conclave version?`);
  if (!p.hardwareClasses || Object.keys(p.hardwareClasses).length === 0) throw new PolicyError('evaluator policy: hardwareClasses is empty');
  for (const [k, v] of Object.entries(p.hardwareClasses)) { positive(v.peakFlops, `hardwareClasses.${k}.peakFlops`); positive(v.devices, `hardwareClasses.${k}.devices`); }
  for (const k of ['memoryBytes', 'shmBytes', 'pidsLimit', 'cpus', 'tmpBytes', 'compileCacheBytes', 'outputCapBytes', 'timeoutSec', 'maxCaptureBytes'] as const) positive(p.sandbox?.[k], `sandbox.${k}`);
  if (!Array.isArray(p.sandbox.allowedExecutables)) throw new PolicyError('evaluator policy: sandbox.allowedExecutables must be an array');
  if (p.sketch !== undefined) {
    if (!Number.isSafeInteger(p.sketch?.minParams) || p.sketch.minParams < 0) throw new PolicyError('evaluator policy: sketch.minParams must be an integer >= 0');
    if (!Number.isSafeInteger(p.sketch.dim) || p.sketch.dim < 16 || p.sketch.dim > 1 << 20) throw new PolicyError('evaluator policy: sketch.dim must be an integer in 16..1048576');
  }
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
