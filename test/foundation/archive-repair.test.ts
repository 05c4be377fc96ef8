// `conclave archive repair`: refuses what is not an archive, a store in use and a disk without room,
// and, when it repairs, leaves every entry that was readable before readable after.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { Archive, inspectDir, repairArchive } from '../../node/archive.ts';
import { encodeSignedScoreReport, type SignedScoreReport } from '../../proto/score-report.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';
import { makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';
import { writeV1Store } from '../fixtures/foundation/v1-store.ts';
import { cliInProcess } from '../fixtures/cli-in-process.ts';

const conclave = cliInProcess;

/** Names, sizes and content hashes under `dir` (the archive's own lock store excluded: taking the lock touches it). */
function fingerprint(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      if (n === 'conclave-lock') continue;
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) { lines.push(`${p}/`); walk(p); } else lines.push(`${p} ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return lines.join('\n');
}

/** Every report of the archive, read through a read-only snapshot: slot → signed bytes hex. */
async function allReports(dir: string): Promise<Map<string, string>> {
  const a = await Archive.openReadOnly(dir);
  try {
    const out = new Map<string, string>();
    for (const r of await a.runs({ chain: 'any' })) {
      const res = await a.reportsOfRun(r);
      assert.deepEqual(res.corrupt, []);
      for (const s of res.items) out.set(`${r.netuid}/${r.runId}/${s.report.validatorHotkey}`, toHex(encodeSignedScoreReport(s)));
    }
    return out;
  } finally {
    await a.close();
  }
}

describe('foundation: archive repair', function () {
  this.timeout(60_000);
  let tmp: string;
  let n = 0;
  const fresh = () => join(tmp, `a${n++}`);
  let reports: SignedScoreReport[] = [];
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-repair-'));
    const vs = [0, 1, 2, 3].map(validatorSigner);
    for (let run = 0; run < 60; run++) reports.push(...vs.map((v) => makeSigned(v, 500 + run, { netuid: 1 + (run % 2) })));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  async function filled(): Promise<string> {
    const dir = fresh();
    const a = await Archive.open(dir);
    for (let i = 0; i < reports.length; i += 40) await a.putReports(reports.slice(i, i + 40));
    await a.close();
    return dir;
  }

  it('refuses a missing directory (creating nothing), an unrelated directory and a foreign LevelDB, touching nothing', async () => {
    const missing = fresh();
    const r1 = await conclave(['archive', 'repair', '--db', missing]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /no archive at .*nothing to repair/);
    assert.equal(existsSync(missing), false);

    const unrelated = fresh();
    mkdirSync(unrelated);
    writeFileSync(join(unrelated, 'notes.txt'), 'mine');
    writeFileSync(join(unrelated, '000005.log'), 'not a leveldb log but named like one');
    const fpU = fingerprint(unrelated);
    const r2 = await conclave(['archive', 'repair', '--db', unrelated]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /not a Conclave archive .*refusing to touch it/);
    assert.equal(fingerprint(unrelated), fpU);
    assert.deepEqual(readdirSync(unrelated).sort(), ['000005.log', 'notes.txt'], 'no lock, no lost/, no new LevelDB');

    const foreign = fresh();
    const db = new Level(foreign);
    await db.put('someone', 'else');
    await db.close();
    const fpF = fingerprint(foreign);
    const before = readdirSync(foreign).sort();
    const r3 = await conclave(['archive', 'repair', '--db', foreign]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /not a Conclave archive/);
    assert.equal(fingerprint(foreign), fpF);
    assert.deepEqual(readdirSync(foreign).sort(), before);

    const empty = fresh();
    mkdirSync(empty);
    assert.equal((await conclave(['archive', 'repair', '--db', empty])).code, 1);
    assert.deepEqual(readdirSync(empty), []);
  });

  it('refuses while a writer holds the archive; the store is unchanged', async () => {
    const dir = await filled();
    const want = await allReports(dir);
    const live = await Archive.open(dir);
    try {
      const r = await conclave(['archive', 'repair', '--db', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /in use by another process/);
    } finally {
      await live.close();
    }
    assert.deepEqual(await allReports(dir), want);
  });

  it('refuses while only the store\'s own LevelDB LOCK is held (a writer that predates the archive lock)', async function () {
    if (!existsSync('/proc/locks')) this.skip(); // the LevelDB LOCK is checked through /proc/locks (Linux)
    const dir = await filled();
    const want = await allReports(dir);
    const old = new Level((inspectDir(dir) as { storeDir: string }).storeDir); // like an older Conclave: the store, no archive lock
    await old.open();
    try {
      const r = await conclave(['archive', 'repair', '--db', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is open in another process \(an older Conclave node\?\)/);
    } finally {
      await old.close();
    }
    assert.deepEqual(await allReports(dir), want);
    assert.equal(readFileSync(join(dir, 'STORE'), 'utf8').trim(), 'store-000001');
  });

  it('checks free space first: a disk without room for the copy is refused before anything is copied', async () => {
    const dir = await filled();
    const fp = fingerprint(dir);
    process.env.CONCLAVE_ARCHIVE_TEST_FREE_BYTES = String(1024 * 1024);
    try {
      const r = await conclave(['archive', 'repair', '--db', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not enough free space to repair .* needs about .* 1 MiB are free.*Nothing was changed/);
    } finally {
      delete process.env.CONCLAVE_ARCHIVE_TEST_FREE_BYTES;
    }
    assert.equal(fingerprint(dir), fp);
  });

  it('on a really full disk (tmpfs): refused up front, and a disk that fills up mid-copy loses nothing', async function () {
    const mnt = fresh();
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch {
      process.stderr.write('      skipped: cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)\n');
      this.skip();
    }
    try {
      const dir = join(mnt, 'archive');
      const a = await Archive.open(dir);
      for (let i = 0; i < reports.length; i += 40) await a.putReports(reports.slice(i, i + 40));
      await a.close();
      const want = await allReports(dir);
      // fill the disk, leaving less than the store's size free
      const storeBytes = readdirSync((inspectDir(dir) as { storeDir: string }).storeDir).reduce((s, f) => s + statSync(join((inspectDir(dir) as { storeDir: string }).storeDir, f)).size, 0);
      const free = () => { const s = execFileSync('df', ['-B1', '--output=avail', mnt]).toString().trim().split('\n')[1]; return Number(s); };
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(Math.max(0, free() - Math.floor(storeBytes / 2))));
      const r1 = await conclave(['archive', 'repair', '--db', dir]);
      assert.equal(r1.code, 1);
      assert.match(r1.stderr, /not enough free space/);
      // lie about the free space: the copy then runs into ENOSPC for real
      process.env.CONCLAVE_ARCHIVE_TEST_FREE_BYTES = String(2 ** 40);
      let r2;
      try {
        r2 = await conclave(['archive', 'repair', '--db', dir]);
      } finally {
        delete process.env.CONCLAVE_ARCHIVE_TEST_FREE_BYTES;
      }
      assert.equal(r2.code, 1, r2.stderr);
      assert.match(r2.stderr, /repair failed \(ENOSPC: the disk filled up\); the archive was left exactly as it was/);
      assert.equal(existsSync(join(dir, 'repair-tmp')), false, 'the work area is removed');
      unlinkSync(join(mnt, 'filler'));
      assert.deepEqual(await allReports(dir), want, 'every report survives a repair that ran out of space');
      const r3 = await conclave(['archive', 'repair', '--db', dir]);
      assert.equal(r3.code, 0, r3.stderr);
      assert.deepEqual(await allReports(dir), want);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('repairs a store whose CURRENT and MANIFEST are gone (it no longer opens) without losing a report', async () => {
    const dir = await filled();
    const want = await allReports(dir);
    const store = (inspectDir(dir) as { storeDir: string }).storeDir;
    for (const f of readdirSync(store)) if (f === 'CURRENT' || f.startsWith('MANIFEST-')) unlinkSync(join(store, f));
    await assert.rejects(Archive.open(dir), /damaged LevelDB files .*conclave archive repair --db/);
    const r = await repairArchive(dir);
    assert.equal(r.before.opened, false);
    assert.ok(r.after.reports >= reports.length);
    assert.deepEqual(await allReports(dir), want);
    assert.ok(existsSync(r.supersededDir), 'the damaged store is kept');
    assert.equal(readFileSync(join(dir, 'STORE'), 'utf8').trim(), 'store-000002');
    // the node goes on writing into the repaired store
    const a = await Archive.open(dir);
    try {
      assert.equal((await a.putReport(makeSigned(validatorSigner(9), 9999))).status, 'stored');
    } finally {
      await a.close();
    }
  });

  it('repairs a store with a corrupted table: every entry readable before is readable after, and more is salvaged', async () => {
    const dir = await filled();
    const a = await Archive.open(dir);
    await a.close(); // reopen flushes the log into a table
    const store = (inspectDir(dir) as { storeDir: string }).storeDir;
    const table = readdirSync(store).find((f) => f.endsWith('.ldb'));
    assert.ok(table, 'a table file');
    const path = join(store, table!);
    const bytes = readFileSync(path);
    bytes.fill(0x5a, Math.floor(bytes.length / 3), Math.floor(bytes.length / 3) + 64);
    writeFileSync(path, bytes);
    // What LevelDB can read before the repair, independently of the repair's own check: raw entries of a copy, up to the damage.
    const rawEntries = async (storeDir: string) => {
      const copy = mkdtempSync(join(tmp, 'raw-'));
      for (const f of readdirSync(storeDir)) if (statSync(join(storeDir, f)).isFile() && f !== 'LOCK') writeFileSync(join(copy, f), readFileSync(join(storeDir, f)));
      const db = new Level<Uint8Array, Uint8Array>(copy, { keyEncoding: 'view', valueEncoding: 'view' });
      const out = new Map<string, string>();
      try {
        await db.open({ createIfMissing: false });
        for await (const [k, v] of db.iterator()) out.set(toHex(k), toHex(v));
      } catch {
        // stops at the damaged block
      } finally {
        await db.close().catch(() => {});
        rmSync(copy, { recursive: true, force: true });
      }
      return out;
    };
    const before = await rawEntries(store);
    assert.ok(before.size > 0 && before.size < reports.length, `the damage hides part of the store (${before.size} readable)`);
    const r = await conclave(['archive', 'repair', '--db', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.before.complete, false);
    const after = await rawEntries((inspectDir(dir) as { storeDir: string }).storeDir);
    for (const [k, v] of before) assert.equal(after.get(k), v, `entry ${Buffer.from(k, 'hex').toString().slice(0, 60)} readable before is lost or changed`);
    assert.ok(after.size > before.size, 'entries past the damaged block are salvaged');
    assert.equal(report.salvaged, after.size - before.size);
  });

  it('moves an archive of the old layout (LevelDB in the directory, v1 keys, no marker) to the STORE layout', async () => {
    const dir = fresh();
    const some = reports.slice(0, 40);
    await writeV1Store(dir, { reports: some });
    const r = await conclave(['archive', 'repair', '--db', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'CONCLAVE-ARCHIVE')), 'identified by its format key, then marked');
    assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('superseded-')).sort(), ['CONCLAVE-ARCHIVE', 'STORE', 'conclave-lock', 'store-000001']);
    const got = await allReports(dir);
    assert.equal(got.size, some.length);
    for (const s of some) assert.equal(got.get(`${s.report.netuid}/${s.report.runId}/${s.report.validatorHotkey}`), toHex(encodeSignedScoreReport(s)));
  });
});
