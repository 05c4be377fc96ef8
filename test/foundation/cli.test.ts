import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliInProcess } from '../fixtures/cli-in-process.ts';

const launcher = fileURLToPath(new URL('../../bin/conclave', import.meta.url));

const conclave = cliInProcess;

describe('foundation: CLI (keys, report, archive)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'conclave-cli-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('keys new → report example/sign/verify → archive put/list/get/equivocations, with exit codes', async () => {
    const w = ['--wallet-path', join(tmp, 'wallets'), '--wallet', 'owner', '--hotkey', 'v1'];
    const created = await conclave(['keys', 'new', ...w, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { hotkey, path } = JSON.parse(created.stdout);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = await conclave(['keys', 'new', ...w]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /refusing to overwrite/);
    assert.equal(JSON.parse((await conclave(['keys', 'show', ...w, '--json'])).stdout).hotkey, hotkey);

    const example = await conclave(['report', 'example', '--validator', hotkey]);
    const reportPath = join(tmp, 'report.json');
    writeFileSync(reportPath, example.stdout);
    const signedPath = join(tmp, 'signed.json');
    const signed = await conclave(['report', 'sign', '--in', reportPath, ...w, '--out', signedPath]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /^canonical {2}[0-9a-f]+\nsha256 {5}[0-9a-f]{64}\nsignature {2}[0-9a-f]{128}\n/);

    const ok = await conclave(['report', 'verify', '--in', signedPath]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^valid: report of /);
    const doc = JSON.parse(readFileSync(signedPath, 'utf8'));
    doc.report.entries[0].score += 1;
    const tamperedPath = join(tmp, 'tampered.json');
    writeFileSync(tamperedPath, JSON.stringify(doc));
    const bad = await conclave(['report', 'verify', '--in', tamperedPath]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^invalid: signature does not verify/);
    writeFileSync(join(tmp, 'junk.json'), '{"report": 1');
    assert.equal((await conclave(['report', 'verify', '--in', join(tmp, 'junk.json')])).code, 1);

    const db = join(tmp, 'db');
    const put = await conclave(['archive', 'put', '--db', db, '--in', signedPath]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^stored /);
    // A different report for the same run, signed by the same hotkey → equivocation.
    const other = JSON.parse(example.stdout);
    other.entries[0].score = 1;
    writeFileSync(reportPath, JSON.stringify(other));
    await conclave(['report', 'sign', '--in', reportPath, ...w, '--out', join(tmp, 'signed2.json')]);
    const put2 = await conclave(['archive', 'put', '--db', db, '--in', join(tmp, 'signed2.json')]);
    assert.match(put2.stdout, /^equivocation /);
    assert.equal((await conclave(['archive', 'put', '--db', db, '--in', tamperedPath])).code, 1);

    const list = await conclave(['archive', 'list', '--db', db, '--json']);
    assert.deepEqual(JSON.parse(list.stdout), [{ chain: '0'.repeat(64), netuid: 1, runId: 4200000, reports: 1 }]);
    const got = await conclave(['archive', 'get', '--db', db, '--run', '4200000', '--validator', hotkey, '--verify']);
    assert.equal(got.code, 0);
    assert.equal(JSON.parse(got.stdout).signature, JSON.parse(readFileSync(signedPath, 'utf8')).signature);
    assert.equal((await conclave(['archive', 'get', '--db', db, '--run', '1', '--validator', hotkey])).code, 1);
    const eq = JSON.parse((await conclave(['archive', 'equivocations', '--db', db, '--json'])).stdout);
    assert.equal(eq.items.length, 1);
    assert.equal(eq.items[0].validatorHotkey, hotkey);
  });

  it('the bin/conclave launcher runs the CLI as a real process', async () => {
    const h = await new Promise<string>((resolve, reject) => execFile(launcher, ['--help'], { timeout: 30_000 }, (e, stdout) => (e ? reject(e) : resolve(stdout))));
    assert.match(h, /Usage: conclave <command>/);
    assert.match(h, /keys +Create or inspect/);
  });

  it('help reads like btcli and bad usage exits 2 naming the problem', async () => {
    for (const cmd of ['keys', 'report', 'archive']) {
      const h = await conclave([cmd, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, new RegExp(`^Usage: conclave ${cmd} `));
      assert.match(h.stdout, /Options:/);
      assert.match(h.stdout, /Examples:/);
    }
    const u = await conclave(['archive', 'list']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /missing required flag --db/);
    const k = await conclave(['keys', 'show', '--wallet-path', join(tmp, 'none')]);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /no hotkey file at .*conclave keys new/);
  });
});
