// Bittensor wallets: hotkeys in the standard layout <walletPath>/<wallet>/hotkeys/<hotkey>, where
// walletPath defaults to ~/.bittensor/wallets (btcli's --wallet.path). A hotkey file is JSON, as
// bittensor-wallet writes it:
//   { accountId, publicKey, privateKey, secretPhrase, secretSeed, ss58Address }  (hex with 0x)
// `privateKey` is the 64-byte sr25519 secret in canonical schnorrkel form (bittensor-wallet) or in
// ed25519 form (polkadot-js tools); both are read (sr25519-secret.ts). A hotkey created with
// `--use-password` is the same JSON sealed in the "$NACL" format (nacl-keyfile.ts), decrypted with a
// password from --password-file, CONCLAVE_HOTKEY_PASSWORD or wallet.password_file (password.ts).
// Next to each hotkey btcli keeps `<hotkey>pub.txt` (public part only); `createHotkey` writes it too.
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mnemonicGenerate, mnemonicToMiniSecret, mnemonicValidate } from '@polkadot/util-crypto';
import { cryptoReady, hotkeyToPublicKey, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { bytesEqual } from '../../proto/codec.ts';
import { WalletError } from './wallet-error.ts';
import { readBoundedFile } from '../bounded/file.ts';
import { InputError } from '../bounded/input-error.ts';
import { decryptNaclKeyfile, NaclDecryptError, type Argon2Impl, type Argon2iParams } from './nacl-keyfile.ts';
import { keyfileFormat, unsupportedEncryptionMessage } from './keyfile-format.ts';
import { PASSWORD_ENV, resolveHotkeyPassword, type PasswordSources } from './password.ts';
import { ed25519FormToCanonical, signerFromSecretKey, type SecretKeyForm } from './sr25519-secret.ts';

export { WalletError };

export interface HotkeyRef {
  wallet: string;
  hotkey: string;
  /** Directory holding the wallets (btcli --wallet.path); default ~/.bittensor/wallets. */
  walletPath?: string;
}

export const DEFAULT_WALLET_PATH = '~/.bittensor/wallets';

export function resolveWalletPath(walletPath: string = DEFAULT_WALLET_PATH): string {
  if (walletPath === '~') return homedir();
  if (walletPath.startsWith('~/')) return join(homedir(), walletPath.slice(2));
  return resolve(walletPath);
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function checkName(name: string, what: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name === '.' || name === '..') {
    throw new WalletError(`${what} name ${JSON.stringify(name)} is invalid: use 1-64 characters of [A-Za-z0-9_.-]`);
  }
}

export function hotkeyFilePath(ref: HotkeyRef): string {
  checkName(ref.wallet, 'wallet');
  checkName(ref.hotkey, 'hotkey');
  return join(resolveWalletPath(ref.walletPath), ref.wallet, 'hotkeys', ref.hotkey);
}

/** btcli's public-only companion file: <walletPath>/<wallet>/hotkeys/<hotkey>pub.txt */
export function hotkeyPubFilePath(ref: HotkeyRef): string {
  return `${hotkeyFilePath(ref)}pub.txt`;
}

function hexField(o: Record<string, unknown>, key: string, len: number, path: string): Uint8Array | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !/^(0x)?[0-9a-fA-F]*$/.test(v)) throw new WalletError(`${path}: field '${key}' is not a hex string`);
  const hex = v.startsWith('0x') ? v.slice(2) : v;
  if (hex.length !== len * 2) throw new WalletError(`${path}: field '${key}' must be ${len} bytes, got ${hex.length / 2}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** What `parseHotkeyFile` read the key from (for `conclave keys show`). */
export type HotkeySecretSource = 'secretSeed' | 'secretPhrase' | `privateKey (${SecretKeyForm} form)`;

export interface LoadedHotkey {
  signer: Sr25519Signer;
  /** which keyfile field the secret came from */
  secretFrom: HotkeySecretSource;
  /** 'nacl' when the file was encrypted */
  encryption: 'none' | 'nacl';
}

/**
 * Parses the JSON of an (unencrypted or decrypted) hotkey keyfile: `secretSeed` when present, else
 * `secretPhrase`, else `privateKey` (either sr25519 form, checked against `publicKey`/`ss58Address`);
 * every public field present must agree with the secret. Call `await cryptoReady()` first.
 */
export function parseHotkeyJson(text: string, path = 'keyfile'): { signer: Sr25519Signer; secretFrom: HotkeySecretSource } {
  let o: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    o = parsed as Record<string, unknown>;
  } catch (err) {
    throw new WalletError(`${path} is not a Bittensor hotkey keyfile (expected JSON with secretSeed or privateKey, publicKey, ss58Address): ${(err as Error).message}`);
  }
  if ('encoded' in o || 'crypto' in o) {
    throw new WalletError(`${path} is a polkadot-js JSON keystore (an account export), not a btcli keyfile: import it with \`btcli wallet regen-hotkey --json ${path}\` and point Conclave at the hotkey btcli writes`);
  }
  const seed = hexField(o, 'secretSeed', 32, path);
  const privateKey = hexField(o, 'privateKey', 64, path);
  let publicKey = hexField(o, 'publicKey', 32, path) ?? hexField(o, 'accountId', 32, path);
  let ss58: Uint8Array | undefined;
  if (typeof o.ss58Address === 'string') {
    try {
      ss58 = hotkeyToPublicKey(o.ss58Address);
    } catch (err) {
      throw new WalletError(`${path}: ss58Address: ${(err as Error).message}`);
    }
  }
  let signer: Sr25519Signer;
  let secretFrom: HotkeySecretSource;
  try {
    if (seed) {
      signer = sr25519SignerFromSeed(seed);
      secretFrom = 'secretSeed';
    } else if (typeof o.secretPhrase === 'string' && o.secretPhrase.trim() !== '') {
      if (!mnemonicValidate(o.secretPhrase.trim())) throw new WalletError(`${path}: secretPhrase is not a valid BIP39 mnemonic`);
      signer = sr25519SignerFromSeed(mnemonicToMiniSecret(o.secretPhrase.trim()));
      secretFrom = 'secretPhrase';
    } else if (privateKey) {
      const pub = publicKey ?? ss58;
      if (!pub) throw new WalletError(`${path} has a privateKey but neither publicKey nor ss58Address to check it against`);
      let form: SecretKeyForm;
      try {
        ({ signer, form } = signerFromSecretKey(privateKey, pub));
      } catch (err) {
        throw new WalletError(`${path}: ${(err as Error).message}; the keyfile is inconsistent`);
      } finally {
        privateKey.fill(0);
      }
      secretFrom = `privateKey (${form} form)`;
      publicKey ??= pub;
    } else {
      throw new WalletError(`${path} has no secret: expected 'secretSeed', 'secretPhrase' or 'privateKey'. Is this a public-only key file (like <hotkey>pub.txt)?`);
    }
  } catch (err) {
    if (err instanceof WalletError) throw err;
    throw new WalletError(`${path}: ${(err as Error).message}`);
  } finally {
    seed?.fill(0);
  }
  if (publicKey && !bytesEqual(publicKey, signer.publicKey)) {
    throw new WalletError(`${path}: publicKey does not match the key derived from the secret; the keyfile is inconsistent`);
  }
  if (ss58 && !bytesEqual(ss58, signer.publicKey)) {
    throw new WalletError(`${path}: ss58Address ${o.ss58Address as string} does not match the key derived from the secret`);
  }
  return { signer, secretFrom };
}

/** Parses an unencrypted keyfile's text (see parseHotkeyJson); an encrypted one is refused with the way to decrypt it. */
export function parseHotkeyFile(text: string, path = 'keyfile'): Sr25519Signer {
  const format = keyfileFormat(Buffer.from(text, 'latin1'));
  if (format === 'nacl') throw new WalletError(`${path} is encrypted (NaCl, btcli --use-password): load it with loadHotkeyFile and a password`);
  if (format !== 'json') throw new WalletError(unsupportedEncryptionMessage(path, format));
  return parseHotkeyJson(text, path).signer;
}

export interface LoadHotkeyOptions {
  /** where the password of an encrypted keyfile may come from (read only when the file is encrypted) */
  password?: PasswordSources;
  /** how this command lets the user give a password, for the "encrypted, no password" message */
  passwordHint?: string;
  /** how this command lets the user point at another hotkey, for the "no such file" message */
  locationHint?: string;
  /** Argon2 implementation / parameters (tests) */
  kdf?: { impl?: Argon2Impl; params?: Argon2iParams };
  /** told about a password file readable by other users (never about the password itself) */
  onWarning?: (message: string) => void;
}

const DEFAULT_PASSWORD_HINT = `--password-file FILE, or the environment variable ${PASSWORD_ENV}`;
const DEFAULT_LOCATION_HINT = '--wallet-path, --wallet and --hotkey';

/** Largest hotkey (or pub.txt) file read: btcli's are well under 1 KiB, encrypted ones a few KiB. */
export const MAX_KEYFILE_BYTES = 64 * 1024;

export async function readHotkeyFile(path: string, opts: LoadHotkeyOptions = {}): Promise<LoadedHotkey> {
  await cryptoReady();
  let data: Buffer;
  try {
    data = await readBoundedFile(path, { maxBytes: MAX_KEYFILE_BYTES, what: 'hotkey file' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WalletError(`no hotkey file at ${path}: create one with \`conclave keys new\` (or btcli) or point ${opts.locationHint ?? DEFAULT_LOCATION_HINT} at an existing one`);
    if (code === 'EACCES') throw new WalletError(`cannot read ${path}: permission denied (run as the wallet's owner)`);
    if (code === 'EISDIR') throw new WalletError(`${path} is a directory, not a hotkey file`);
    // not a regular file (a FIFO, a device) or larger than any keyfile: refused before reading it
    if (err instanceof InputError) throw new WalletError(`${err.message}; a hotkey file is a small JSON or $NACL file`);
    throw new WalletError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const format = keyfileFormat(data);
    if (format === 'json') {
      // an unencrypted key: a password in the environment is not needed, and no child process should inherit it
      delete (opts.password?.env ?? process.env)[PASSWORD_ENV];
      return { ...parseHotkeyJson(data.toString('utf8'), path), encryption: 'none' };
    }
    if (format !== 'nacl') throw new WalletError(unsupportedEncryptionMessage(path, format));
    const pw = resolveHotkeyPassword(opts.password ?? {});
    if (!pw) {
      throw new WalletError(`${path} is encrypted (NaCl: btcli created it with a password) and no password was given: give it with ${opts.passwordHint ?? DEFAULT_PASSWORD_HINT}`);
    }
    if (pw.warning) opts.onWarning?.(pw.warning);
    let plain: Uint8Array;
    try {
      plain = await decryptNaclKeyfile(data, pw.value, opts.kdf);
    } catch (err) {
      if (err instanceof NaclDecryptError && err.reason === 'wrong-password') {
        throw new WalletError(`wrong password for the encrypted hotkey ${path} (password from ${pw.source}): the keyfile does not decrypt with it`);
      }
      throw new WalletError(`${path}: ${(err as Error).message}`);
    } finally {
      pw.value = '';
    }
    try {
      return { ...parseHotkeyJson(Buffer.from(plain).toString('utf8'), `${path} (decrypted)`), encryption: 'nacl' };
    } finally {
      plain.fill(0);
    }
  } finally {
    data.fill(0);
  }
}

export async function loadHotkeyFile(path: string, opts: LoadHotkeyOptions = {}): Promise<Sr25519Signer> {
  return (await readHotkeyFile(path, opts)).signer;
}

export async function loadHotkey(ref: HotkeyRef, opts: LoadHotkeyOptions = {}): Promise<Sr25519Signer> {
  return loadHotkeyFile(hotkeyFilePath(ref), opts);
}

/** The public key in `<hotkey>pub.txt`, or null when there is no such file. */
export async function readHotkeyPub(ref: HotkeyRef): Promise<{ path: string; hotkey: string; publicKey: Uint8Array } | null> {
  const path = hotkeyPubFilePath(ref);
  let text: string;
  try {
    text = (await readBoundedFile(path, { maxBytes: MAX_KEYFILE_BYTES, what: 'hotkey public file' })).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new WalletError(err instanceof InputError ? err.message : `cannot read ${path}: ${(err as Error).message}`);
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new WalletError(`${path} is not JSON: ${(err as Error).message}`);
  }
  const pk = hexField(o, 'publicKey', 32, path) ?? (typeof o.ss58Address === 'string' ? hotkeyToPublicKey(o.ss58Address) : undefined);
  if (!pk) throw new WalletError(`${path} names no publicKey or ss58Address`);
  const { publicKeyToHotkey } = await import('../../proto/signer.ts');
  return { path, hotkey: publicKeyToHotkey(pk), publicKey: pk };
}

const hex0x = (b: Uint8Array) => '0x' + Buffer.from(b).toString('hex');

/** The public-only JSON of `<hotkey>pub.txt`, as bittensor-wallet writes it. */
export function hotkeyPubJson(signer: Sr25519Signer): string {
  return JSON.stringify({ accountId: hex0x(signer.publicKey), publicKey: hex0x(signer.publicKey), ss58Address: signer.hotkey });
}

/**
 * Keyfile JSON in bittensor-wallet's layout for a mnemonic: the seed is the bip39 mini-secret (like
 * substrate / btcli), `privateKey` the canonical schnorrkel secret, as `Keypair.private_key` gives it.
 */
export async function hotkeyFileJson(mnemonic: string): Promise<{ json: string; signer: Sr25519Signer }> {
  await cryptoReady();
  if (!mnemonicValidate(mnemonic)) throw new WalletError('the mnemonic is not a valid BIP39 phrase (check the words and their order)');
  const seed = mnemonicToMiniSecret(mnemonic);
  const signer = sr25519SignerFromSeed(seed);
  const { sr25519KeypairFromSeed } = await import('@polkadot/wasm-crypto');
  const kp = sr25519KeypairFromSeed(seed);
  const canonical = ed25519FormToCanonical(kp.subarray(0, 64));
  const doc = {
    accountId: hex0x(signer.publicKey),
    publicKey: hex0x(signer.publicKey),
    privateKey: hex0x(canonical),
    secretPhrase: mnemonic,
    secretSeed: hex0x(seed),
    ss58Address: signer.hotkey,
  };
  kp.fill(0);
  canonical.fill(0);
  return { json: JSON.stringify(doc), signer };
}

/** Writes `text` to `path` (mode 0600) through a temp file + rename, so a reader never sees half a file. */
async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Creates a hotkey file (mode 0600; refuses to overwrite) and its `<hotkey>pub.txt`, as btcli does.
 * Generates a 12-word mnemonic unless one is given.
 */
export async function createHotkey(ref: HotkeyRef, opts: { mnemonic?: string } = {}): Promise<{ signer: Sr25519Signer; mnemonic: string; path: string; pubPath: string }> {
  const path = hotkeyFilePath(ref);
  const pubPath = hotkeyPubFilePath(ref);
  await cryptoReady();
  const mnemonic = opts.mnemonic ?? mnemonicGenerate(12);
  const { json, signer } = await hotkeyFileJson(mnemonic);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const fh = await open(path, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') {
      throw new WalletError(`${path} already exists; refusing to overwrite a key. Pick another --hotkey name or move the file away first.`);
    }
    throw new WalletError(`cannot write ${path}: ${err.message}`);
  });
  try {
    await fh.writeFile(json);
    await fh.sync();
  } finally {
    await fh.close();
  }
  // the public file is derived from the new key: a stale one from an earlier key must not survive
  try {
    await writeFileAtomic(pubPath, hotkeyPubJson(signer));
  } catch (err) {
    throw new WalletError(`created ${path} but could not write ${pubPath}: ${(err as Error).message}`);
  }
  return { signer, mnemonic, path, pubPath };
}

export async function hotkeyFileMode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}
