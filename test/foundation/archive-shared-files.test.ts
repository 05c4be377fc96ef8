// Read-only snapshots and a repair's before-listing share table files with the original store by
// hard links. A LevelDB opened on such a copy creates files with fopen("w"), which truncates an
// existing name — through a hard link, the original's inode. The tables it may create are numbered
// from the manifest's next-file number; a table at or above it exists in a live store while its
// writer is compacting (the output is not in the manifest yet) or after it died in a compaction. Only
// tables below it are shared (node/archive/manifest.ts). These tests put such tables in a store and
// check that nothing in the archive directory changes, and run snapshots beside a compacting writer.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { Archive, inspectDir, repairArchive } from '../../node/archive.ts';
import { crc32c, manifestNextFile } from '../../node/archive/manifest.ts';
import { snapshotArchive } from '../../node/archive/snapshot.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';
import { assertAcked, writer } from '../fixtures/foundation/crash-kit.ts';
import { cliInProcess } from '../fixtures/cli-in-process.ts';

/** Every path under `dir` (relative) with its inode, size, mtime and content hash. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const st = statSync(join(d, n));
      if (st.isDirectory()) {
        out.push(`${rel}${n}/ ino=${st.ino} mtime=${st.mtimeMs}`);
        walk(join(d, n), `${rel}${n}/`);
      } else {
        out.push(`${rel}${n} ino=${st.ino} size=${st.size} mtime=${st.mtimeMs} sha256=${createHash('sha256').update(readFileSync(join(d, n))).digest('hex')}`);
      }
    }
  };
  walk(dir, '');
  return out;
}

const quiet = async (args: string[]): Promise<number> => (await cliInProcess(args)).code;

const storeOf = (dir: string) => (inspectDir(dir) as { storeDir: string }).storeDir;
const num = (n: number) => String(n).padStart(6, '0');

describe('foundation: archive copies never write through shared files', function () {
  this.timeout(180_000);
  let tmp: string;
  const vs = () => [0, 1, 2, 3].map(validatorSigner);
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-shared-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** An archive whose store has tables and a log, reopened twice (several manifests' worth of edits). */
  async function filled(name: string): Promise<string> {
    const dir = join(tmp, name);
    for (let round = 0; round < 3; round++) {
      const a = await Archive.open(dir);
      for (let b = 0; b < 12; b++) await a.putReports(vs().map((v, i) => makeSigned(v, 1000 * round + 10 * b + i, { entries: 300 })), { verified: true });
      await a.close();
    }
    return dir;
  }

  it('reads the next-file number LevelDB recovers: every file a LevelDB creates in a copy is numbered at or above it', async () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'CRC-32C check value');
    const dir = await filled('manifest');
    const store = storeOf(dir);
    const next = manifestNextFile(store);
    const numbers = readdirSync(store).map((n) => /^(\d+)\.(ldb|sst|log)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
    assert.ok(numbers.some((x) => x < next), 'the store has files below the next-file number');
    const copy = join(tmp, 'manifest-copy');
    cpSync(store, copy, { recursive: true });
    const before = new Set(readdirSync(copy));
    const db = new Level(copy);
    await db.open();
    for (let i = 0; i < 2000; i++) await db.put(`k${i}`, 'x'.repeat(2000)); // force a flush and compactions in the copy
    await db.close();
    const created = readdirSync(copy).filter((n) => !before.has(n)).map((n) => /^(?:MANIFEST-)?(\d+)\.?(?:ldb|sst|log)?$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
    assert.ok(created.length >= 2, `the copy created files: ${created}`);
    for (const c of created) assert.ok(c >= next, `LevelDB created file ${c} below the next-file number ${next}`);
    assert.equal(manifestNextFile(join(tmp, 'nowhere')), 0, 'no manifest: nothing may be shared');
  });

  it('read-only commands beside tables a writer has not recorded yet change nothing in the archive directory', async () => {
    const dir = await filled('orphans');
    const store = storeOf(dir);
    const next = manifestNextFile(store);
    // what a live writer's compaction output looks like before it is in the manifest
    for (let k = 0; k < 8; k++) writeFileSync(join(store, `${num(next + k)}.ldb`), `in-progress table ${k}\n`.repeat(50));
    const before = fingerprint(dir);
    assert.equal(await quiet(['archive', 'list', '--db', dir]), 0);
    assert.equal(await quiet(['archive', 'list', '--db', dir, '--run', '1010', '--verify']), 0);
    assert.equal(await quiet(['archive', 'get', '--db', dir, '--run', '2031', '--validator', vs()[1].hotkey]), 0);
    assert.equal(await quiet(['archive', 'equivocations', '--db', dir]), 0);
    const ro = await Archive.openReadOnly(dir);
    try {
      let n = 0;
      for (const r of await ro.runs()) n += (await ro.reportsOfRun(r)).items.length;
      assert.equal(n, 3 * 12 * 4);
    } finally {
      await ro.close();
    }
    const snap = snapshotArchive(dir)!;
    assert.ok(snap.linked > 0, 'recorded tables are still shared, not copied');
    snap.remove();
    assert.deepEqual(fingerprint(dir), before, 'no file of the archive changed (inode, size, mtime, content)');
  });

  it('a repair with such tables leaves every file of the original store as it was', async () => {
    const dir = await filled('orphans-repair');
    const store = storeOf(dir);
    const next = manifestNextFile(store);
    for (let k = 0; k < 8; k++) writeFileSync(join(store, `${num(next + k)}.ldb`), `in-progress table ${k}\n`.repeat(50));
    const before = fingerprint(store).filter((l) => !/^(LOCK|LOG|LOG\.old) /.test(l));
    const r = await repairArchive(dir);
    assert.ok(r.after.reports >= 3 * 12 * 4);
    const after = fingerprint(r.supersededDir).filter((l) => !/^(LOCK|LOG|LOG\.old) /.test(l));
    assert.deepEqual(after, before, 'the superseded store is the original, byte for byte');
  });

  it('snapshots taken while a writer flushes and compacts never damage the live store', async () => {
    const dir = join(tmp, 'live');
    const running = writer(dir, 1600, Infinity, 200);
    let snapshots = 0;
    let done = false;
    running.then(() => (done = true));
    const deadline = Date.now() + 90_000;
    while (!done && Date.now() < deadline) {
      try {
        const ro = await Archive.openReadOnly(dir);
        try {
          for (const r of await ro.runs()) await ro.reportCount(r);
          snapshots++;
        } finally {
          await ro.close();
        }
      } catch (err) {
        if (!/no archive at|holds no store|in use|consistent snapshot/.test((err as Error).message)) throw err; // the writer is still creating it
      }
    }
    const { acked } = await running;
    assert.equal(acked.size, 1600);
    assert.ok(snapshots >= 3, `only ${snapshots} snapshots were taken while the writer ran`);
    await assertAcked(dir, acked, 'after snapshots beside a compacting writer');
    const a = await Archive.open(dir);
    try {
      let corrupt = 0;
      for (const r of await a.runs()) corrupt += (await a.reportsOfRun(r, { verify: true })).corrupt.length;
      assert.equal(corrupt, 0);
    } finally {
      await a.close();
    }
  });
});
