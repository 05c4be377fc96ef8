// Sketch mode, host side: the CountSketch the trusted sketcher (docker/evaluator/sketcher.py) applies to
// the miner's tensors, applied here to the cached reference with the same per-evaluation seed. The seed
// is drawn by the host and handed to the container only after every submission process is dead.
// Linear, so relative errors of sketches estimate relative errors of the tensors (exactly for scaling).
import { createHash } from 'node:crypto';
import type { CaptureMap } from './evaluate-capture.ts';

const C = 0x45d9f3b;

/** The two u32 salts of one tensor key (its parameter name, or "logits") under a seed. */
export function sketchSalts(seed: string, key: string): [number, number] {
  const d = createHash('sha256').update(`conclave-sketch:${seed}:${key}`).digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

/** k = min(dim, n) buckets; float64 accumulation, float32 result (as the sketcher sends it). */
export function countSketch(values: Float32Array, seed: string, key: string, dim: number): Float32Array {
  const n = values.length;
  const k = Math.min(dim, n);
  const [a, b] = sketchSalts(seed, key);
  const acc = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    let x = (i ^ a) >>> 0;
    x = Math.imul(x ^ (x >>> 16), C) >>> 0;
    x = Math.imul(x ^ (x >>> 16), C) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = (x ^ b) >>> 0;
    x = Math.imul(x ^ (x >>> 16), C) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    const v = values[i];
    acc[x % k] += x >>> 31 ? -v : v;
  }
  return Float32Array.from(acc);
}

/** The projection key of a capture name: the parameter name for init/, repN/grad/, repN/weight/; "logits". */
export function sketchKey(captureName: string): string | null {
  const m = /^(?:init|rep\d+\/(?:grad|weight))\/(.+)$/.exec(captureName);
  if (m) return m[1];
  return /^rep\d+\/logits$/.test(captureName) ? 'logits' : null;
}

/** The reference captures projected with the evaluation's seed (names unchanged). */
export function sketchCaptures(full: CaptureMap, seed: string, dim: number): CaptureMap {
  const out: CaptureMap = new Map();
  for (const [name, t] of full) {
    const key = sketchKey(name);
    if (key === null) continue;
    const data = countSketch(t.data, seed, key, dim);
    out.set(name, { shape: [data.length], data });
  }
  return out;
}
