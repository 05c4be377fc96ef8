// Reading what an evaluator container produced: result.json (the supervisor's report) and captures.bin
// (float32 sketches: repN/grad/<step>/<param>, repN/weight/<param>, repN/logits, and for the reference
// repN/init/<param>). Both are untrusted-size input: lstat-checked regular files with size caps, parsed strictly.
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CaptureTensor { shape: number[]; data: Float32Array }
export type CaptureMap = Map<string, CaptureTensor>;

/** What one repetition's worker saw, as it reported it (untrusted: every number that matters is also
 * checked against the reference's sketches). Built inside the timed window by conclave_eval/worker.py. */
export interface RepObservation {
  wrapperIntact: boolean;
  /** optimizer.step() calls when inner_steps returned; calls before the window; calls by the time capture ended */
  optimizerSteps: number; stepsBeforeWindow: number; optimizerStepsAtCapture: number;
  hyperBefore: Record<string, unknown>[]; hyperAfter: Record<string, unknown>[];
  backendBefore: Record<string, unknown>; backendAfter: Record<string, unknown>;
  /** steps at which a backend setting differed from before the call */
  backendAtSteps: { step: number; keys: string[]; where?: string }[];
  /** steps at which a parameter or its gradient was not in the parameter's original dtype */
  dtypeChanges: { step: number; params: string[] }[];
  /** attributes of time/torch.cuda timers, and of torch/Tensor/functional/nn.Module/optim/autograd, replaced or deleted */
  timersReplaced: string[]; attributesReplaced: string[];
  /** per step: parameters without a gradient; steps with a non-finite gradient */
  missingGrads: string[][]; nonfiniteSteps: number[];
  batchesDrawn: number;
  /** the model's forward calls: how many, and the distinct (input shape, dtype, autocast dtype, parameter dtype) */
  forward: { calls: number; seen: ForwardCall[] };
  result: { problems: string[]; totalTokens: number | null; finalLoss: number | null; logitsShape: number[] | null };
  /** per parameter: coordinates that differ from the init */
  changed: Record<string, number>;
  /** perf_counter, monotonic, CLOCK_MONOTONIC_RAW over the call, read in the worker */
  clocks: number[] | null;
}
export interface ForwardCall { shape: number[]; dtype: string; autocast: string | null; paramDtype: string }
/** wall: the supervisor's timed window of that repetition (seeds written → worker gone), seconds */
export interface SupervisorRep { rep: number; wall: number | null; obs: RepObservation | null }
export interface SupervisorResult {
  version: 2; mode: 'reference' | 'miner'; status: 'completed' | 'violation' | 'oom' | 'crashed';
  violations: { check: string; detail: string }[];
  error: { type: string; detail: string } | null;
  /** from the worker of repetition 0 (the reference's is what the checks and the MFU use) */
  meta: { nParams: number; params: Record<string, number>; device: string; torch: string } | null;
  worker: { exitCode: number | null; signal: number | null };
  /** CPU seconds used in the container (supervisor + fork server + workers + any reaped descendants) */
  cpuSeconds?: number;
  reps: SupervisorRep[];
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
  if (!r || r.version !== 2 || !['completed', 'violation', 'oom', 'crashed'].includes(r.status) || !Array.isArray(r.reps) || !Array.isArray(r.violations)) {
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

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown) => v === null || isNum(v);
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A repetition's observation as the worker sent it, checked field by field: the worker is the submission's
 * process, so this is untrusted JSON. Returns the reason when it does not have the observation's shape. */
export function checkObservation(raw: unknown): string | null {
  if (!isObj(raw)) return 'not an object';
  const o = raw;
  const bad = (f: string) => `field ${f} is malformed`;
  if (typeof o.wrapperIntact !== 'boolean') return bad('wrapperIntact');
  for (const f of ['optimizerSteps', 'stepsBeforeWindow', 'optimizerStepsAtCapture', 'batchesDrawn']) if (!Number.isSafeInteger(o[f])) return bad(f);
  for (const f of ['hyperBefore', 'hyperAfter']) if (!Array.isArray(o[f]) || !(o[f] as unknown[]).every(isObj)) return bad(f);
  for (const f of ['backendBefore', 'backendAfter', 'changed']) if (!isObj(o[f])) return bad(f);
  if (!Object.values(o.changed as object).every(Number.isSafeInteger)) return bad('changed');
  if (!Array.isArray(o.backendAtSteps) || !o.backendAtSteps.every((x) => isObj(x) && Number.isSafeInteger(x.step) && isStrArr(x.keys))) return bad('backendAtSteps');
  if (!Array.isArray(o.dtypeChanges) || !o.dtypeChanges.every((x) => isObj(x) && Number.isSafeInteger(x.step) && isStrArr(x.params))) return bad('dtypeChanges');
  for (const f of ['timersReplaced', 'attributesReplaced']) if (!isStrArr(o[f])) return bad(f);
  if (!Array.isArray(o.missingGrads) || !o.missingGrads.every(isStrArr)) return bad('missingGrads');
  if (!Array.isArray(o.nonfiniteSteps) || !o.nonfiniteSteps.every(Number.isSafeInteger)) return bad('nonfiniteSteps');
  const fw = o.forward;
  if (!isObj(fw) || !Number.isSafeInteger(fw.calls) || !Array.isArray(fw.seen) || !fw.seen.every((c) => isObj(c) && Array.isArray(c.shape)
    && c.shape.every(Number.isSafeInteger) && typeof c.dtype === 'string' && (c.autocast === null || typeof c.autocast === 'string') && typeof c.paramDtype === 'string')) return bad('forward');
  const r = o.result;
  if (!isObj(r) || !isStrArr(r.problems) || !(r.totalTokens === null || Number.isSafeInteger(r.totalTokens)) || !isNumOrNull(r.finalLoss)
    || !(r.logitsShape === null || (Array.isArray(r.logitsShape) && r.logitsShape.every(Number.isSafeInteger)))) return bad('result');
  if (!(o.clocks === null || (Array.isArray(o.clocks) && o.clocks.every(isNum)))) return bad('clocks');
  return null;
}
