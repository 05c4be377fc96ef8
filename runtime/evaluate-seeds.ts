// The seeds of a run's evaluations, all derived from the run's chain randomness (the hash of the run's
// epoch start block): the same on every validator, unknown to a miner when it committed its code.
// Per run: the model's init seed (the same initial weights for every repetition and submission: not secret,
// nothing can be trained without the data) and the sketch seed; per repetition r: the data seed. A worker
// learns its data and sketch seeds only when its timed window opens (docker/evaluator/conclave_eval/repetition.py).
import { createHash } from 'node:crypto';

export interface RunSeeds {
  /** 31-bit torch.manual_seed of the run's initial weights */
  initSeed: number;
  /** 128-bit hex seed of repetition r's batches */
  dataSeeds: string[];
  /** 128-bit hex seed of the sketch projection */
  sketchSeed: string;
}

export class RandomnessError extends Error {
  constructor(message: string) { super(message); this.name = 'RandomnessError'; }
}

/** A block hash as 0x-prefixed or bare hex of 16..64 bytes, normalised to lowercase bare hex. */
export function normaliseRandomness(randomness: string): string {
  const hex = randomness.startsWith('0x') ? randomness.slice(2) : randomness;
  if (!/^[0-9a-fA-F]{32,128}$/.test(hex) || hex.length % 2) {
    throw new RandomnessError(`chain randomness must be a block hash (hex, 16..64 bytes), got ${JSON.stringify(randomness.slice(0, 80))}`);
  }
  return hex.toLowerCase();
}

function h(label: string, randomness: string, r?: number): Buffer {
  return createHash('sha256').update(`conclave/${label}:${randomness}${r === undefined ? '' : `:${r}`}`).digest();
}

export function runSeeds(randomness: string, repetitions: number): RunSeeds {
  const rnd = normaliseRandomness(randomness);
  const reps = Array.from({ length: repetitions }, (_, r) => r);
  return {
    initSeed: h('init', rnd).readUInt32BE(0) & 0x7fffffff,
    dataSeeds: reps.map((r) => h('data', rnd, r).subarray(0, 16).toString('hex')),
    sketchSeed: h('sketch', rnd).subarray(0, 16).toString('hex'),
  };
}

/** Randomness for local use only (`conclave evaluate` without --randomness): predictable from the run id. */
export function localRandomness(runId: number): string {
  return createHash('sha256').update(`conclave-local-randomness:${runId}`).digest('hex');
}
