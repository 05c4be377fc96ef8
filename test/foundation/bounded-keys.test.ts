// Key and secret files are read like every other file a user names: regular files only, a small size
// cap checked before reading (a FIFO never blocks, /dev/zero or a 100 MB file is refused at once),
// with a message that says what the file should be — hotkey files, <hotkey>pub.txt, the node key,
// password files and the config's *_file secrets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoReady } from '../../proto/signer.ts';
import { readHotkeyFile, readHotkeyPub } from '../../node/keys/wallet.ts';
import { loadNodeKey, nodeKeyPath } from '../../node/keys/node-key.ts';
import { resolveHotkeyPassword } from '../../node/keys/password.ts';
import { readSecretFile } from '../../node/config.ts';

describe('foundation: bounded reads of key and secret files', function () {
  this.timeout(30_000);
  let tmp: string;
  let fifo: string;
  let huge: string;
  let zero: string;
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-keyfiles-'));
    fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]); // nobody ever writes to it: reading it would block forever
    huge = join(tmp, 'huge');
    writeFileSync(huge, '');
    truncateSync(huge, 100 * 1024 * 1024); // sparse: 100 MB that cost nothing to make
    chmodSync(huge, 0o600);
    zero = join(tmp, 'zero');
    symlinkSync('/dev/zero', zero);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs `f` and returns how long it took; each case must be refused well before any timeout. */
  async function quickly(f: () => Promise<unknown>, want: RegExp): Promise<void> {
    const t0 = Date.now();
    await assert.rejects(f(), want);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  }

  it('hotkey files and <hotkey>pub.txt', async () => {
    await quickly(() => readHotkeyFile(fifo), /hotkey file .*fifo is a FIFO \(named pipe\); give a regular file; a hotkey file is a small JSON or \$NACL file/);
    await quickly(() => readHotkeyFile(zero), /hotkey file .*zero is a character device/);
    await quickly(() => readHotkeyFile(huge), /hotkey file .*huge is 100 MiB, over the limit of 65536 bytes/);
    const wallet = join(tmp, 'wallets', 'w', 'hotkeys');
    mkdirSync(wallet, { recursive: true });
    symlinkSync(fifo, join(wallet, 'hpub.txt'));
    await quickly(() => readHotkeyPub({ walletPath: join(tmp, 'wallets'), wallet: 'w', hotkey: 'h' }), /hotkey public file .*hpub\.txt is a FIFO/);
  });

  it('the node key', async () => {
    for (const [target, want] of [[fifo, /is a FIFO/], [huge, /is 100 MiB, over the limit/]] as const) {
      const dataDir = mkdtempSync(join(tmp, 'data-'));
      symlinkSync(target, nodeKeyPath(dataDir));
      chmodSync(target, 0o600);
      await quickly(() => loadNodeKey(dataDir), new RegExp(`node key .*${want.source}.*move it away to generate a new one`));
    }
    const dataDir = mkdtempSync(join(tmp, 'data-'));
    symlinkSync(zero, nodeKeyPath(dataDir));
    await quickly(() => loadNodeKey(dataDir), /readable by other users|is a character device/); // /dev/zero is mode 666: refused before reading either way
  });

  it('password files and the config\'s secret files', async () => {
    const env = {};
    assert.throws(() => resolveHotkeyPassword({ flagFile: fifo, env }), /cannot read the hotkey password from --password-file .*fifo: is a FIFO/);
    assert.throws(() => resolveHotkeyPassword({ flagFile: huge, env }), /cannot read the hotkey password .*huge: is 100 MiB, over the limit/);
    assert.throws(() => readSecretFile(fifo, 'wallet.password_file'), (e: Error & { problems?: { reason: string }[] }) => /not a regular file/.test(JSON.stringify(e.problems ?? e.message)));
    assert.throws(() => readSecretFile(huge, 'wallet.password_file'), (e: Error & { problems?: { reason: string }[] }) => /larger than 64 KiB/.test(JSON.stringify(e.problems ?? e.message)));
    const pw = join(tmp, 'pw');
    writeFileSync(pw, 'hunter2\n', { mode: 0o600 });
    assert.equal(resolveHotkeyPassword({ flagFile: pw, env })?.value, 'hunter2');
    assert.equal(readSecretFile(pw, 'wallet.password_file'), 'hunter2');
  });
});
