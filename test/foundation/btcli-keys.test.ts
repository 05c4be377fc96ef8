// Interop with bittensor-wallet (the library behind btcli): keyfiles written the way it writes them.
// - test/fixtures/keys/alice-uri: `btcli ... --uri //Alice` (derived key: canonical schnorrkel privateKey, no seed);
// - alice-uri.nacl: the same file encrypted with `--use-password` (NaCl format), made by libsodium itself
//   (PyNaCl: test/fixtures/keys/btwallet_nacl.py), password in alice-uri.password;
// - a fresh $NACL file from libsodium with a random password at test time (python3-nacl, installed by .ci/run);
// - legacy ansible-vault and Fernet files are recognised and refused with what to do.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEV_PHRASE } from '@polkadot/keyring';
import { keyExtractSuri, keyFromPath, mnemonicToMiniSecret, sr25519PairFromSeed } from '@polkadot/util-crypto';
import { cryptoReady, verifySr25519 } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';
import { createHotkey, hotkeyFileJson, loadHotkey, parseHotkeyJson, readHotkeyFile, readHotkeyPub } from '../../node/keys/wallet.ts';
import { canonicalToEd25519Form, ed25519FormToCanonical } from '../../node/keys/sr25519-secret.ts';
import { BTCLI_ARGON2I, deriveNaclKey, defaultArgon2Impl, NACL_SALT } from '../../node/keys/nacl-keyfile.ts';
import { resolveHotkeyPassword, PASSWORD_ENV } from '../../node/keys/password.ts';
import { devHotkeyFile } from '../../node/devnet/setup.ts';

const FIX = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));
const CLI = fileURLToPath(new URL('../../node/cli.ts', import.meta.url));
const ALICE_SS58 = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const ALICE_PUB = 'd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d';
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

/** A wallet dir holding `file` as hotkey `name` of wallet `w`. */
function walletWith(root: string, w: string, name: string, file: string, pub?: string): string {
  const dir = join(root, w, 'hotkeys');
  mkdirSync(dir, { recursive: true });
  copyFileSync(file, join(dir, name));
  chmodSync(join(dir, name), 0o600);
  if (pub) copyFileSync(pub, join(dir, `${name}pub.txt`));
  return root;
}

describe('btcli keys: bittensor-wallet keyfiles, encrypted ($NACL) and legacy', function () {
  this.timeout(600_000);
  let tmp: string;
  before(async () => {
    await cryptoReady();
    tmp = mkdtempSync(join(tmpdir(), 'conclave-btcli-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('the //Alice fixture is what bittensor-wallet writes for --uri //Alice: canonical schnorrkel privateKey, no seed', () => {
    const doc = JSON.parse(readFileSync(join(FIX, 'alice-uri'), 'utf8'));
    assert.deepEqual(Object.keys(doc).sort(), ['accountId', 'privateKey', 'publicKey', 'ss58Address']);
    // independent derivation of //Alice (polkadot-js, ed25519 form) gives the same key once divided by the cofactor
    const pair = keyFromPath(sr25519PairFromSeed(mnemonicToMiniSecret(DEV_PHRASE)), keyExtractSuri(`${DEV_PHRASE}//Alice`).path, 'sr25519');
    assert.equal(toHex(pair.publicKey), ALICE_PUB);
    assert.equal(doc.privateKey, '0x' + toHex(ed25519FormToCanonical(pair.secretKey)));
    assert.equal(toHex(canonicalToEd25519Form(ed25519FormToCanonical(pair.secretKey))), toHex(pair.secretKey));
  });

  it('loads the canonical form (bittensor-wallet) and the ed25519 form (polkadot-js) of one key; the key signs', async () => {
    const canonical = readFileSync(join(FIX, 'alice-uri'), 'utf8');
    const a = parseHotkeyJson(canonical, 'alice');
    assert.equal(a.signer.hotkey, ALICE_SS58);
    assert.equal(toHex(a.signer.publicKey), ALICE_PUB);
    assert.equal(a.secretFrom, 'privateKey (canonical form)');
    const msg = new TextEncoder().encode('conclave btcli interop');
    assert.ok(verifySr25519(msg, a.signer.sign(msg), ALICE_SS58));

    const doc = JSON.parse(canonical);
    const edForm = { ...doc, privateKey: '0x' + toHex(canonicalToEd25519Form(Buffer.from(doc.privateKey.slice(2), 'hex'))) };
    const b = parseHotkeyJson(JSON.stringify(edForm), 'alice-ed');
    assert.equal(b.signer.hotkey, ALICE_SS58);
    assert.equal(b.secretFrom, 'privateKey (ed25519 form)');

    // through the real loader from a btcli wallet layout
    const root = walletWith(join(tmp, 'w1'), 'default', 'alice', join(FIX, 'alice-uri'));
    assert.equal((await loadHotkey({ walletPath: root, wallet: 'default', hotkey: 'alice' })).hotkey, ALICE_SS58);

    // the devnet writes its hotkeys the same way now
    const dev = JSON.parse((await devHotkeyFile('//Alice')).json);
    assert.equal(dev.privateKey, doc.privateKey);
  });

  it('refuses a privateKey that signs for neither reading of the public key, and a keyfile without a public key to check', () => {
    const doc = JSON.parse(readFileSync(join(FIX, 'alice-uri'), 'utf8'));
    const bad = Buffer.from(doc.privateKey.slice(2), 'hex');
    bad[5] ^= 1;
    assert.throws(() => parseHotkeyJson(JSON.stringify({ ...doc, privateKey: '0x' + bad.toString('hex') }), 'k'), /does not match the public key in either sr25519 form.*inconsistent/);
    assert.throws(() => parseHotkeyJson(JSON.stringify({ privateKey: doc.privateKey }), 'k'), /neither publicKey nor ss58Address/);
    // only the ss58Address: enough to check against
    assert.equal(parseHotkeyJson(JSON.stringify({ privateKey: doc.privateKey, ss58Address: ALICE_SS58 }), 'k').signer.hotkey, ALICE_SS58);
  });

  it('a mnemonic keyfile as btcli writes it (secretPhrase, secretSeed, canonical privateKey) is consistent in every field', async () => {
    const { json, signer } = await hotkeyFileJson(DEV_PHRASE);
    const doc = JSON.parse(json);
    assert.equal(parseHotkeyJson(JSON.stringify({ privateKey: doc.privateKey, publicKey: doc.publicKey }), 'k').signer.hotkey, signer.hotkey);
    assert.equal(parseHotkeyJson(JSON.stringify({ secretPhrase: doc.secretPhrase, ss58Address: doc.ss58Address }), 'k').secretFrom, 'secretPhrase');
    assert.equal(parseHotkeyJson(json, 'k').secretFrom, 'secretSeed');
  });

  it('`conclave keys new` writes <hotkey>pub.txt next to the key (mode 0600, public fields only)', async () => {
    const ref = { walletPath: join(tmp, 'w2'), wallet: 'owner', hotkey: 'v1' };
    const created = await createHotkey(ref);
    assert.equal(created.pubPath, join(tmp, 'w2', 'owner', 'hotkeys', 'v1pub.txt'));
    assert.equal(statSync(created.pubPath).mode & 0o777, 0o600);
    const pub = JSON.parse(readFileSync(created.pubPath, 'utf8'));
    assert.deepEqual(pub, { accountId: '0x' + toHex(created.signer.publicKey), publicKey: '0x' + toHex(created.signer.publicKey), ss58Address: created.signer.hotkey });
    assert.equal((await readHotkeyPub(ref))!.hotkey, created.signer.hotkey);
  });

  it('derives the NaCl key like libsodium: Argon2i v1.3 with btcli\'s salt; node:crypto and @noble/hashes agree', async () => {
    assert.deepEqual(BTCLI_ARGON2I, { t: 8, mKiB: 524_288 });
    const params = spawnSync(PYTHON, [join(FIX, 'btwallet_nacl.py'), 'params'], { encoding: 'utf8' });
    assert.equal(params.status, 0, `python3-nacl (libsodium) is needed for this test (apt-get install python3-nacl): ${params.stderr}`);
    assert.equal(params.stdout.trim(), `8 536870912 ${toHex(NACL_SALT)}`, 'OPSLIMIT/MEMLIMIT_SENSITIVE and the salt as libsodium/bittensor-wallet use them');
    // small parameters: the two implementations agree (the full-size run is in bench/keys.bench.ts)
    const pw = new TextEncoder().encode('pw');
    const small = { t: 2, mKiB: 256 };
    if (defaultArgon2Impl() === 'native') {
      assert.deepEqual(await deriveNaclKey(pw, { params: small, impl: 'native' }), await deriveNaclKey(pw, { params: small, impl: 'noble' }));
    }
  });

  it('decrypts libsodium $NACL keyfiles: fixture via --password-file, a fresh one via the environment; wrong password and legacy formats are clear errors', async () => {
    const rootA = walletWith(join(tmp, 'w3'), 'default', 'alice', join(FIX, 'alice-uri.nacl'), join(FIX, 'alice-uripub.txt'));
    // a fresh file sealed by libsodium right now, with a random password
    const password = randomBytes(12).toString('base64url');
    const pwFile = join(tmp, 'fresh.pw');
    writeFileSync(pwFile, password + '\n', { mode: 0o600 });
    const sealed = spawnSync(PYTHON, [join(FIX, 'btwallet_nacl.py'), 'encrypt', pwFile], { input: readFileSync(join(FIX, 'alice-uri')) });
    assert.equal(sealed.status, 0, String(sealed.stderr));
    const freshPath = join(tmp, 'fresh.nacl');
    writeFileSync(freshPath, sealed.stdout);
    const wrongFile = join(tmp, 'wrong.pw');
    writeFileSync(wrongFile, 'not the password\n', { mode: 0o600 });

    const base = ['keys', 'show', '--wallet-path', rootA, '--wallet', 'default', '--hotkey', 'alice'];
    const fixturePw = join(tmp, 'alice.password');
    writeFileSync(fixturePw, readFileSync(join(FIX, 'alice-uri.password')), { mode: 0o600 });
    // one 512 MiB key derivation at a time: this machine's cores are shared
    const ok = await run([...base, '--password-file', fixturePw, '--json'], { [PASSWORD_ENV]: '' });
    const wrong = await run([...base, '--password-file', wrongFile], { [PASSWORD_ENV]: '' });
    const noPw = await run([...base, '--json'], { [PASSWORD_ENV]: '' });
    const fresh = await readHotkeyFile(freshPath, { password: { env: { [PASSWORD_ENV]: password } } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '', 'no warning for a 0600 password file');
    const shown = JSON.parse(ok.stdout);
    assert.equal(shown.hotkey, ALICE_SS58);
    assert.equal(shown.verified, true);
    assert.match(shown.keyfile, /encrypted \(NaCl\), decrypted; secret from privateKey \(canonical form\)/);

    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /wrong password for the encrypted hotkey .*alice \(password from --password-file .*wrong\.pw\)/);
    assert.doesNotMatch(wrong.stderr + wrong.stdout, /not the password/, 'the password is never printed');
    assert.doesNotMatch(wrong.stderr, /\n\s+at /, 'no stack trace');

    // no password: btcli's pub.txt is shown instead, marked unverified
    assert.equal(noPw.code, 0, noPw.stderr);
    assert.equal(JSON.parse(noPw.stdout).hotkey, ALICE_SS58);
    assert.equal(JSON.parse(noPw.stdout).verified, false);

    assert.equal(fresh.signer.hotkey, ALICE_SS58);
    assert.equal(fresh.encryption, 'nacl');
    assert.doesNotMatch(ok.stdout + ok.stderr, /correct horse/, 'the password is never printed');

    // encrypted, no password, no pub.txt: says how to give one
    const rootB = walletWith(join(tmp, 'w4'), 'default', 'alice', join(FIX, 'alice-uri.nacl'));
    await assert.rejects(loadHotkey({ walletPath: rootB, wallet: 'default', hotkey: 'alice' }, { password: { env: {} } }), /is encrypted \(NaCl.*no password was given: give it with --password-file FILE, or the environment variable CONCLAVE_HOTKEY_PASSWORD/);
    // legacy encryptions: recognised, refused with what to do
    for (const f of ['legacy-ansible-vault', 'legacy-fernet']) {
      const root = walletWith(join(tmp, `w-${f}`), 'default', 'k', join(FIX, f));
      await assert.rejects(loadHotkey({ walletPath: root, wallet: 'default', hotkey: 'k' }, { password: { env: { [PASSWORD_ENV]: 'x' } } }), (err: Error) => {
        assert.match(err.message, f === 'legacy-fernet' ? /legacy Fernet format/ : /legacy ansible-vault format/);
        assert.match(err.message, /not supported by Conclave.*btcli wallet regen-hotkey/);
        return true;
      });
    }
  });

  it('password sources: --password-file beats CONCLAVE_HOTKEY_PASSWORD beats wallet.password_file; the variable leaves the environment', () => {
    const f1 = join(tmp, 'p1');
    const f2 = join(tmp, 'p2');
    writeFileSync(f1, 'from-flag\r\n', { mode: 0o600 });
    writeFileSync(f2, 'from-config\n', { mode: 0o644 });
    const env: Record<string, string | undefined> = { [PASSWORD_ENV]: 'from-env' };
    assert.equal(resolveHotkeyPassword({ flagFile: f1, configFile: f2, env })!.value, 'from-flag');
    assert.equal(env[PASSWORD_ENV], 'from-env', 'not read, not touched');
    const e = resolveHotkeyPassword({ configFile: f2, env })!;
    assert.equal(e.value, 'from-env');
    assert.equal(e.source, `the environment variable ${PASSWORD_ENV}`);
    assert.equal(env[PASSWORD_ENV], undefined, 'removed once read: child processes do not inherit it');
    const c = resolveHotkeyPassword({ configFile: f2, env })!;
    assert.equal(c.value, 'from-config');
    assert.match(c.warning!, /readable by other users \(mode 644\): chmod 600/);
    assert.equal(resolveHotkeyPassword({ env: {} }), null);
    writeFileSync(join(tmp, 'empty'), '\n');
    assert.throws(() => resolveHotkeyPassword({ flagFile: join(tmp, 'empty') }), /password file .*empty.* is empty/);
    assert.throws(() => resolveHotkeyPassword({ configFile: join(tmp, 'missing') }), /cannot read the hotkey password from wallet\.password_file .*missing: no such file/);
  });
});
