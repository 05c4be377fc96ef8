// Directories that only look like an archive (a stray NNNNNN.log, another program's LevelDB) are
// refused by every archive command before anything is written to them; a full disk and an unreadable
// file give messages that say so (exit 1), and nothing acknowledged is lost.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { Archive, inspectDir } from '../../node/archive.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';
import { writeV1Store } from '../fixtures/foundation/v1-store.ts';
import { REPAIRER, run } from '../fixtures/foundation/crash-kit.ts';
import { cliInProcess } from '../fixtures/cli-in-process.ts';

const CLI = fileURLToPath(new URL('../../node/cli.ts', import.meta.url));

const conclave = cliInProcess;

/** Every path under `dir` with inode, size, mtime and content hash. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir, { recursive: true }).map(String).sort()) {
    const st = statSync(join(dir, n));
    out.push(`${n} ino=${st.ino} size=${st.size} mtime=${st.mtimeMs}${st.isFile() ? ` ${createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')}` : '/'}`);
  }
  return out;
}

describe('foundation: archive commands on what is not an archive, full disks, unreadable files', function () {
  this.timeout(120_000);
  let tmp: string;
  let signedFile: string;
  let vs: ReturnType<typeof validatorSigner>[] = [];
  before(async () => {
    await cryptoReady();
    vs = [0, 1].map(validatorSigner);
    tmp = mkdtempSync(join(tmpdir(), 'conclave-foreign-'));
    signedFile = join(tmp, 'one.json');
    writeFileSync(signedFile, JSON.stringify([makeSigned(vs[0], 7), makeSigned(vs[1], 7)]));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('a directory with a stray 000123.log, or another program\'s LevelDB: every command refuses it and writes nothing', async () => {
    const stray = join(tmp, 'stray');
    mkdirSync(stray);
    writeFileSync(join(stray, '000123.log'), Buffer.alloc(5000, 7));
    writeFileSync(join(stray, 'notes.txt'), 'mine');
    const foreign = join(tmp, 'foreign');
    const db = new Level(foreign);
    await db.put('someone', 'else');
    await db.close();
    for (const dir of [stray, foreign]) {
      const before = fingerprint(dir);
      for (const args of [
        ['archive', 'put', '--db', dir, '--in', signedFile],
        ['archive', 'list', '--db', dir],
        ['archive', 'get', '--db', dir, '--run', '7', '--validator', vs[0].hotkey],
        ['archive', 'equivocations', '--db', dir],
        ['archive', 'repair', '--db', dir],
      ]) {
        const r = await conclave(args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /not a Conclave archive/, args.join(' '));
        assert.doesNotMatch(r.stderr, /conclave-archive-ro-|run `conclave archive repair/, 'no temp paths, no advice to repair what is not an archive');
        assert.deepEqual(fingerprint(dir), before, `${args.join(' ')} wrote to ${dir}`);
      }
      await assert.rejects(Archive.open(dir, { location: 'node.data_dir' }), /not a Conclave archive.*node\.data_dir/);
      assert.deepEqual(fingerprint(dir), before);
    }
  });

  it('an archive of the old layout written to by an older Conclave after a repair switched it to STORE is refused, not hidden', async () => {
    const dir = join(tmp, 'both');
    const reports = [makeSigned(vs[0], 20), makeSigned(vs[1], 20)];
    await writeV1Store(dir, { reports });
    const killed = await run(REPAIRER, [dir], { CONCLAVE_ARCHIVE_FAULT: 'repair:pointer' }); // committed, the old files not yet moved aside
    assert.equal(killed.signal, 'SIGKILL');
    const ro = await Archive.openReadOnly(dir); // stale leftovers (older than STORE) are ignored
    try {
      assert.equal((await ro.reportsOfRun({ netuid: 42, runId: 20 })).items.length, 2);
    } finally {
      await ro.close();
    }
    await new Promise((r) => setTimeout(r, 20));
    const old = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' }); // what an older Conclave opens
    await old.sublevel<string, Uint8Array>('reports', { keyEncoding: 'utf8', valueEncoding: 'view' }).put('written-after-the-switch', new Uint8Array([1]));
    await old.close();
    const before = fingerprint(dir);
    const want = /written after STORE switched it to "store-000001": a Conclave older than this layout wrote there/;
    await assert.rejects(Archive.open(dir), want);
    await assert.rejects(Archive.openReadOnly(dir), want);
    const rep = await conclave(['archive', 'repair', '--db', dir]);
    assert.equal(rep.code, 1);
    assert.match(rep.stderr, want);
    assert.deepEqual(fingerprint(dir), before, 'nothing moved aside or rewritten');
  });

  it('a full disk: a write that does not fit is refused with a message that says so (exit 1), everything before it stays', async function () {
    const mnt = join(tmp, 'mnt');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch {
      process.stderr.write('      skipped: cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)\n');
      this.skip();
    }
    try {
      const dir = join(mnt, 'archive');
      const a = await Archive.open(dir);
      const stored = [makeSigned(vs[0], 1), makeSigned(vs[1], 1)];
      await a.putReports(stored);
      // fill the disk, leaving less than one batch of large reports
      const fd = openSync(join(mnt, 'fill'), 'w');
      try {
        for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(fd);
      }
      const big = Array.from({ length: 8 }, (_, i) => makeSigned(vs[i % 2], 100 + i, { entries: 2000 }));
      await assert.rejects(a.putReports(big), /the disk holding archive .* is full .*this write was not stored, everything acknowledged before it is/);
      await a.close();
      rmSync(join(mnt, 'fill'));
      const ro = await Archive.openReadOnly(dir);
      try {
        for (const s of stored) assert.ok(await ro.getReport({ netuid: 42, runId: 1 }, s.report.validatorHotkey));
      } finally {
        await ro.close();
      }
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a file the reader may not read: a clear permission message, not a retry loop', async function () {
    let uid: string;
    try {
      uid = execFileSync('id', ['-u'], { encoding: 'utf8' }).trim();
      execFileSync('setpriv', ['--version'], { stdio: 'pipe' });
    } catch {
      this.skip();
    }
    if (uid! !== '0') this.skip(); // needs root to run the command as another user
    const dir = join(tmp, 'private');
    const a = await Archive.open(dir);
    await a.putReport(makeSigned(vs[0], 3));
    await a.close();
    const store = (inspectDir(dir) as { storeDir: string }).storeDir;
    execFileSync('chmod', ['-R', 'a+rX', tmp]);
    const log = readdirSync(store).find((n) => n.endsWith('.log'))!;
    execFileSync('chmod', ['600', join(store, log)]);
    const before = fingerprint(dir);
    let out = '';
    let code = 0;
    try {
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'archive', 'list', '--db', dir], { stdio: 'pipe', env: { ...process.env, HOME: tmp } });
    } catch (err) {
      code = (err as { status: number }).status;
      out = String((err as { stderr: Buffer }).stderr);
    }
    assert.equal(code, 1, out);
    assert.match(out, /cannot read archive .*permission denied on .*\.log.*run as a user that can read every file/);
    assert.deepEqual(fingerprint(dir), before);
  });
});
