// Seeded mutation fuzzing of the ZIP reader, shared by the test (a few hundred cases) and
// `npm run bench -- intake` (thousands, with timings). Each mutant must end as a ZipRefusal or as an
// accepted project; anything else (an exception of another type, a hang) is a bug.
import { readZipProject, ZipRefusal } from '../../runtime/zip.ts';
import { buildZip } from './zip-writer.ts';
import { prng } from '../prng.ts';

const TRAIN = 'def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):\n    return None\n';

export function fuzzBases(): Buffer[] {
  return [
    buildZip([{ name: 'train.py', data: TRAIN }, { name: 'helpers.py', data: 'def f(x):\n    return x\n' }]),
    buildZip([{ name: 'pkg/' }, { name: 'train.py', data: TRAIN, descriptor: 'sig' }, { name: 'pkg/a.py', data: 'A = 1\n' }, { name: 'notes.md', data: 'hello '.repeat(50), store: true }]),
    buildZip([{ name: 'train.py', data: TRAIN, descriptor: 'nosig' }, { name: 'b.txt', data: 'x'.repeat(2000) }], { comment: Buffer.from('c') }),
  ];
}

const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0xffffffff];
/** Offsets of header fields relative to each record signature (u16 or u32). */
const FIELDS: Record<number, Array<[number, 2 | 4]>> = {
  0x04034b50: [[4, 2], [6, 2], [8, 2], [10, 2], [14, 4], [18, 4], [22, 4], [26, 2], [28, 2]],
  0x02014b50: [[4, 2], [6, 2], [8, 2], [10, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [34, 2], [38, 4], [42, 4]],
  0x06054b50: [[4, 2], [6, 2], [8, 2], [10, 2], [12, 4], [16, 4], [20, 2]],
  0x08074b50: [[4, 4], [8, 4], [12, 4]],
};

function signatures(b: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 4 <= b.length; i++) {
    if (b[i] !== 0x50 || b[i + 1] !== 0x4b) continue;
    const s = b.readUInt32LE(i);
    if (FIELDS[s]) out.push([i, s]);
  }
  return out;
}

export function mutate(base: Buffer, other: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(base);
  const int = (n: number) => Math.floor(rnd() * n);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const kind = int(9);
    if (kind <= 2) { // a header field set to an interesting or neighbouring value
      const sigs = signatures(b);
      if (!sigs.length) continue;
      const [at, sig] = sigs[int(sigs.length)];
      const [off, size] = FIELDS[sig][int(FIELDS[sig].length)];
      if (at + off + size > b.length) continue;
      const cur = size === 2 ? b.readUInt16LE(at + off) : b.readUInt32LE(at + off);
      const choice = rnd() < 0.5 ? INTERESTING[int(INTERESTING.length)] : cur + (rnd() < 0.5 ? 1 : -1) * (1 + int(40));
      const v = size === 2 ? (choice & 0xffff) : (choice >>> 0);
      if (size === 2) b.writeUInt16LE(v, at + off); else b.writeUInt32LE(v, at + off);
    } else if (kind === 3) { // flip bits
      for (let i = 0, n = 1 + int(4); i < n && b.length; i++) b[int(b.length)] ^= 1 << int(8);
    } else if (kind === 4) { // insert bytes
      const at = int(b.length + 1);
      const ins = rnd() < 0.5 ? Buffer.alloc(1 + int(32), int(256)) : other.subarray(int(other.length), int(other.length) + 64);
      b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    } else if (kind === 5) { // delete a range
      const at = int(b.length);
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(64)))]);
    } else if (kind === 6) { // duplicate a chunk elsewhere
      const at = int(b.length);
      const chunk = Buffer.from(b.subarray(at, at + 1 + int(96)));
      const to = int(b.length + 1);
      b = Buffer.concat([b.subarray(0, to), chunk, b.subarray(to)]);
    } else if (kind === 7) { // truncate or append
      b = rnd() < 0.5 ? b.subarray(0, int(b.length)) : Buffer.concat([b, rnd() < 0.5 ? other : Buffer.alloc(1 + int(64))]);
    } else { // splice two archives
      b = rnd() < 0.5 ? Buffer.concat([other, b]) : Buffer.concat([b.subarray(0, int(b.length)), other.subarray(int(other.length))]);
    }
  }
  return b;
}

export interface FuzzOutcome { codes: Record<string, number>; accepted: Buffer[]; crashes: Array<{ bytes: Buffer; error: string }>; ms: number[] }

export function runZipFuzz(seed: number, count: number): FuzzOutcome {
  const rnd = prng(seed);
  const bases = fuzzBases();
  const out: FuzzOutcome = { codes: {}, accepted: [], crashes: [], ms: [] };
  for (let i = 0; i < count; i++) {
    const bytes = mutate(bases[Math.floor(rnd() * bases.length)], bases[Math.floor(rnd() * bases.length)], rnd);
    const t = performance.now();
    try {
      readZipProject(bytes);
      out.accepted.push(bytes);
      out.codes.accepted = (out.codes.accepted ?? 0) + 1;
    } catch (err) {
      if (err instanceof ZipRefusal) out.codes[err.code] = (out.codes[err.code] ?? 0) + 1;
      else out.crashes.push({ bytes, error: String((err as Error)?.stack ?? err) });
    }
    out.ms.push(performance.now() - t);
  }
  return out;
}
