// Seeded fuzzing of the ZIP reader (more, with timings, in `npm run bench -- intake`): every mutant of a
// valid project is refused with a code or accepted; an accepted mutant reads the same in CPython's
// zipfile and in a streaming reader (no parser differential), and extraction leaves nothing behind.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractZipProject, readZipProject, ZipRefusal } from '../../runtime/zip.ts';
import { fuzzBases, mutate, runZipFuzz } from './zip-fuzz.ts';
import { prng } from '../prng.ts';
import { pythonRead, streamRead } from './zip-oracle.ts';

describe('intake: ZIP fuzzing (seeded)', function () {
  this.timeout(120_000);
  const SEED = 0x19c0ffee;
  const COUNT = 400;

  it(`${COUNT} mutants: each one is a ZipRefusal with a code or an accepted project, quickly`, () => {
    const r = runZipFuzz(SEED, COUNT);
    assert.deepEqual(r.crashes.map((c) => c.error), [], 'a mutant raised something other than a ZipRefusal');
    assert.ok(Object.keys(r.codes).length >= 8, `the mutations reach few refusal classes: ${JSON.stringify(r.codes)}`);
    assert.ok(Math.max(...r.ms) < 2000, `slowest mutant took ${Math.max(...r.ms)} ms`);
    // accepted mutants: the same files and bytes in CPython's zipfile and a streaming reader
    const py = pythonRead(r.accepted);
    r.accepted.forEach((bytes, i) => {
      const ours = readZipProject(bytes).files.map((f) => [f.path, f.data.toString('base64')]).sort();
      assert.ok(py[i].ok, `CPython refuses an archive we accept: ${py[i].error}`);
      assert.deepEqual(py[i].files!.map((f) => [f.name, f.data]).sort(), ours, 'CPython reads other files');
      assert.deepEqual(streamRead(bytes)?.map((f) => [f.name, f.data]).sort(), ours, 'a streaming reader reads other files');
    });
  });

  it('extraction of mutants leaves nothing behind on refusal', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'conclave-zipfuzz-'));
    try {
      const rnd = prng(SEED + 1);
      const bases = fuzzBases();
      let refused = 0;
      for (let i = 0; i < 60; i++) {
        const bytes = mutate(bases[i % bases.length], bases[(i + 1) % bases.length], rnd);
        try {
          const p = await extractZipProject(bytes, { parent });
          rmSync(p.dir, { recursive: true, force: true });
        } catch (err) {
          assert.ok(err instanceof ZipRefusal, String(err));
          refused++;
        }
        assert.deepEqual(readdirSync(parent), []);
      }
      assert.ok(refused > 30);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
