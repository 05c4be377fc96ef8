// Read-only access and the layout around the LevelDB: snapshots beside a live writer, a backup on a
// read-only mount (a real `mount -o bind,ro`: root ignores chmod), the v1 → v2 migration of an
// archive written before netuid/chain keys and the marker file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Archive, ArchiveError } from '../../node/archive.ts';
import { scoreReportHash } from '../../proto/score-report.ts';
import { cryptoReady } from '../../proto/signer.ts';
import { makeSigned, validatorSigner } from '../fixtures/foundation/reports.ts';
import { certificateFor, writeV1Store } from '../fixtures/foundation/v1-store.ts';
import { cliInProcess } from '../fixtures/cli-in-process.ts';

const conclave = cliInProcess;

/** Every path under `dir` with its size, mtime and content hash: equal before and after means nothing was written. */
function fingerprint(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) { lines.push(`${p}/ ${st.mtimeMs}`); walk(p); } else lines.push(`${p} ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return lines.join('\n');
}

/** Bind-mounts `src` read-only at `dst`; returns an unmount function, or null where mounting is impossible. */
function mountReadOnly(src: string, dst: string): (() => void) | null {
  mkdirSync(dst, { recursive: true });
  try {
    execFileSync('mount', ['--bind', src, dst], { stdio: 'pipe' });
  } catch {
    return null;
  }
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', dst], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', [dst]);
    return null;
  }
  return () => execFileSync('umount', [dst]);
}

describe('foundation: archive read-only access, layout and migration', function () {
  this.timeout(60_000);
  let tmp: string;
  let vs: ReturnType<typeof validatorSigner>[] = [];
  before(async () => {
    await cryptoReady();
    vs = [0, 1, 2].map(validatorSigner);
    tmp = mkdtempSync(join(tmpdir(), 'conclave-archive-ro-test-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  async function filled(name: string): Promise<string> {
    const dir = join(tmp, name);
    const a = await Archive.open(dir);
    await a.putReports([5, 6].flatMap((run) => vs.map((v) => makeSigned(v, run))));
    assert.equal((await a.putReport(makeSigned(vs[0], 5, { salt: 7 }))).status, 'equivocation');
    await a.close();
    return dir;
  }

  it('a new archive has the marker, the STORE pointer and one store; foreign and missing directories are refused', async () => {
    const dir = await filled('layout');
    assert.deepEqual(readdirSync(dir).sort(), ['CONCLAVE-ARCHIVE', 'STORE', 'conclave-lock', 'store-000001']);
    assert.equal(JSON.parse(readFileSync(join(dir, 'CONCLAVE-ARCHIVE'), 'utf8')).format, 'conclave-archive');
    assert.equal(readFileSync(join(dir, 'STORE'), 'utf8').trim(), 'store-000001');
    await assert.rejects(Archive.openReadOnly(join(tmp, 'nope')), /no archive at/);
    assert.equal(existsSync(join(tmp, 'nope')), false, 'a read-only open creates nothing');
  });

  it('get/list/equivocations read a snapshot beside a live writer; a second writer is refused', async () => {
    const dir = await filled('live');
    const live = await Archive.open(dir);
    try {
      await live.putReport(makeSigned(vs[1], 7));
      const list = await conclave(['archive', 'list', '--db', dir, '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout).map((r: { runId: number; reports: number }) => [r.runId, r.reports]), [[5, 3], [6, 3], [7, 1]]);
      const got = await conclave(['archive', 'get', '--db', dir, '--run', '7', '--validator', vs[1].hotkey]);
      assert.equal(got.code, 0, got.stderr);
      const eq = await conclave(['archive', 'equivocations', '--db', dir, '--json']);
      assert.equal(JSON.parse(eq.stdout).items.length, 1);
      const put = await conclave(['archive', 'put', '--db', dir, '--in', '/dev/null']);
      assert.equal(put.code, 1);
      const ro = await Archive.openReadOnly(dir);
      try {
        assert.equal(ro.readOnly, true);
        await assert.rejects(ro.putReports([makeSigned(vs[2], 9)]), /opened read-only/);
        await assert.rejects(ro.kv('x').put('a', 1), /opened read-only/);
      } finally {
        await ro.close();
      }
      await assert.rejects(Archive.open(dir), (e: Error) => e instanceof ArchiveError && /in use by another process/.test(e.message));
      await assert.rejects(conclave(['archive', 'repair', '--db', dir]).then((r) => { if (r.code !== 0) throw new Error(r.stderr); }), /in use by another process/);
    } finally {
      await live.close();
    }
    assert.equal(readdirSync(tmpdir()).filter((n) => n.startsWith(`conclave-archive-ro-${process.pid}-`)).length, 0, 'snapshots are removed on close');
  });

  it('a backup on a read-only mount can be listed and read; writes and repair are refused; nothing is written', async function () {
    const dir = await filled('backup');
    const mnt = join(tmp, 'mnt');
    const umount = mountReadOnly(dir, mnt);
    if (!umount) {
      // chmod cannot test this as root (root ignores it): a real read-only mount needs CAP_SYS_ADMIN
      process.stderr.write('      skipped: cannot `mount --bind -o ro` here (needs root with CAP_SYS_ADMIN)\n');
      this.skip();
    }
    try {
      const before = fingerprint(dir);
      const list = await conclave(['archive', 'list', '--db', mnt, '--run', '5', '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.equal(JSON.parse(list.stdout).reports.length, 3);
      const got = await conclave(['archive', 'get', '--db', mnt, '--run', '6', '--validator', vs[2].hotkey, '--verify']);
      assert.equal(got.code, 0, got.stderr);
      const eq = await conclave(['archive', 'equivocations', '--db', mnt, '--json']);
      assert.equal(eq.code, 0);
      assert.equal(JSON.parse(eq.stdout).items.length, 1);
      const put = await conclave(['archive', 'put', '--db', mnt, '--in', '/dev/null']);
      assert.equal(put.code, 1);
      const signed = join(tmp, 'one.json');
      execFileSync('sh', ['-c', `cat > ${signed}`], { input: JSON.stringify(makeSigned(vs[1], 99)) });
      const put2 = await conclave(['archive', 'put', '--db', mnt, '--in', signed]);
      assert.equal(put2.code, 1);
      assert.match(put2.stderr, /cannot write to archive .*read-only/i);
      const rep = await conclave(['archive', 'repair', '--db', mnt]);
      assert.equal(rep.code, 1);
      assert.equal(fingerprint(dir), before, 'the archive is byte-for-byte unchanged');
    } finally {
      umount();
    }
  });

  it('migrates a v1 archive (no marker, LevelDB in the directory) on the first read-write open; read-only opens leave it untouched', async () => {
    const dir = join(tmp, 'v1');
    const first = makeSigned(vs[0], 40, { netuid: 1 });
    const otherSubnet = makeSigned(vs[0], 40, { netuid: 2, salt: 3 }); // v1 filed this as an equivocation of `first`
    const realSecond = makeSigned(vs[0], 40, { netuid: 1, salt: 4 });
    const cert = certificateFor(2, 40);
    await writeV1Store(dir, { reports: [first, makeSigned(vs[1], 40, { netuid: 1 }), makeSigned(vs[2], 41, { netuid: 1 })], seconds: [otherSubnet, realSecond], certificates: [[40, cert], [41, new Uint8Array([9, 9])]], runs: [[40, { note: 'x' }]] });
    const pristine = fingerprint(dir);

    const ro = await Archive.openReadOnly(dir);
    try {
      assert.equal((await ro.equivocations()).items.length, 1, 'read through a migrated snapshot');
    } finally {
      await ro.close();
    }
    const cli = await conclave(['archive', 'list', '--db', dir, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(fingerprint(dir), pristine, 'read-only commands do not migrate or mark the original');

    const a = await Archive.open(dir, { chain: 'ab'.repeat(32) });
    try {
      assert.ok(existsSync(join(dir, 'CONCLAVE-ARCHIVE')), 'marker adopted once the keys showed an archive');
      assert.deepEqual((await a.runs()).map((r) => [r.netuid, r.runId]), [[1, 40], [1, 41], [2, 40]]);
      assert.equal(scoreReportHash((await a.getReport({ netuid: 2, runId: 40 }, vs[0].hotkey))!.report), scoreReportHash(otherSubnet.report), 'the false proof is the first report of its own subnet');
      const proofs = await a.equivocations();
      assert.equal(proofs.items.length, 1);
      assert.equal(scoreReportHash(proofs.items[0].second.report), scoreReportHash(realSecond.report));
      assert.equal(proofs.items[0].netuid, 1);
      assert.deepEqual(await a.getCertificate({ netuid: 2, runId: 40 }), cert, 'certificate filed under its decision\'s subnet');
      assert.equal((await a.kv('legacy-certificates').entries()).items.length, 1, 'an undecodable v1 certificate is kept aside');
      assert.equal((await a.kv('legacy-run-meta').get('v1/0000000000000040')) !== undefined, true);
    } finally {
      await a.close();
    }
    const again = await Archive.open(dir);
    try {
      assert.equal((await again.reportsOfRun({ netuid: 1, runId: 40 })).items.length, 2);
    } finally {
      await again.close();
    }
  });
});
