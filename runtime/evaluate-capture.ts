// Reading what an evaluator container left in its result directory: result.json (the supervisor's
// report) and captures.bin (float32 tensors). Both are untrusted-size input: lstat-checked regular files
// with size caps, parsed strictly.
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CaptureTensor { shape: number[]; data: Float32Array }
export type CaptureMap = Map<string, CaptureTensor>;

export interface RepObservation {
  wrapperIntact: boolean; optimizerSteps: number;
  hyperBefore: Record<string, unknown>[]; hyperAfter: Record<string, unknown>[];
  backendBefore: Record<string, unknown>; backendAfter: Record<string, unknown>;
  timersReplaced: string[]; missingGrads: string[][]; nonfiniteGrads: string[][];
  batchesDrawn: number; seqShapes: (number[] | null)[]; forwardCalls: number;
  resultFields: Record<string, boolean>; logitsShape: number[] | null; totalTokens: number | null; finalLoss: number | null;
}
export interface SupervisorRep { rep: number; wall: number | null; clocks: number[] | null; obs: RepObservation | null }
export interface SupervisorResult {
  version: 1; mode: 'reference' | 'miner'; status: 'completed' | 'violation' | 'oom' | 'crashed';
  violations: { check: string; detail: string }[];
  error: { type: string; detail: string } | null;
  meta: { nParams: number; expectedTokens: number; device: string; torch: string } | null;
  worker: { exitCode: number | null; signal: number | null };
  /** CPU seconds used in the container (supervisor + worker + any reaped descendants) */
  cpuSeconds?: number;
  reps: SupervisorRep[];
  /** sketch mode: the sketch dimension and, per `repN/weight/<name>`, how many coordinates differ from init */
  sketch?: { dim: number; changed: Record<string, number> };
  /** the supervisor could not finish for a reason of the validator's (sketch seed, sketcher) */
  infraError?: string;
  stdoutTruncated?: boolean;
}

export class CaptureError extends Error {
  constructor(message: string) { super(message); this.name = 'CaptureError'; }
}

function readRegular(path: string, maxBytes: number): Buffer {
  let st;
  try { st = lstatSync(path); } catch { throw new CaptureError(`missing ${path}`); }
  if (!st.isFile()) throw new CaptureError(`${path} is not a regular file`);
  if (st.size > maxBytes) throw new CaptureError(`${path} is ${st.size} bytes, above the cap of ${maxBytes}`);
  return readFileSync(path);
}

export function readSupervisorResult(dir: string): SupervisorResult {
  return parseSupervisorResult(readRegular(join(dir, 'result.json'), 8 << 20));
}

export function parseSupervisorResult(raw: Buffer): SupervisorResult {
  if (raw.length > 8 << 20) throw new CaptureError(`result.json is ${raw.length} bytes, above the cap of ${8 << 20}`);
  let r: SupervisorResult;
  try { r = JSON.parse(raw.toString('utf8')); } catch (e) { throw new CaptureError(`result.json is not JSON: ${(e as Error).message}`); }
  if (!r || r.version !== 1 || !['completed', 'violation', 'oom', 'crashed'].includes(r.status) || !Array.isArray(r.reps) || !Array.isArray(r.violations)) {
    throw new CaptureError('result.json does not have the supervisor result shape');
  }
  return r;
}

export function parseCaptures(buf: Buffer): CaptureMap {
  const magic = 'CCAP1\n';
  if (buf.length < 10 || buf.subarray(0, 6).toString('latin1') !== magic) throw new CaptureError('captures.bin: bad magic');
  const hl = buf.readUInt32LE(6);
  if (10 + hl > buf.length) throw new CaptureError('captures.bin: header runs past the end');
  let head: { tensors: { name: string; shape: number[]; offset: number; length: number }[] };
  try { head = JSON.parse(buf.subarray(10, 10 + hl).toString('utf8')); } catch { throw new CaptureError('captures.bin: header is not JSON'); }
  const base = 10 + hl;
  const out: CaptureMap = new Map();
  for (const t of head.tensors ?? []) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(t.offset) || t.length !== n * 4 || base + t.offset + t.length > buf.length || out.has(t.name)) {
      throw new CaptureError(`captures.bin: tensor ${JSON.stringify(t.name)} has an inconsistent entry`);
    }
    // copy: Float32Array needs 4-byte alignment and must not alias the file buffer
    const data = new Float32Array(n);
    Buffer.from(data.buffer).set(buf.subarray(base + t.offset, base + t.offset + t.length));
    out.set(t.name, { shape: t.shape, data });
  }
  return out;
}

export function readCaptures(dir: string, maxBytes: number): CaptureMap {
  return parseCaptures(readRegular(join(dir, 'captures.bin'), maxBytes + (16 << 20)));
}
