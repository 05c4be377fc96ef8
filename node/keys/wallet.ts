// Bittensor wallets: hotkeys in the standard layout <walletPath>/<wallet>/hotkeys/<hotkey>, where
// walletPath defaults to ~/.bittensor/wallets (btcli's --wallet.path). A hotkey file is JSON:
//   { accountId, publicKey, privateKey, secretPhrase, secretSeed, ss58Address }  (hex with 0x)
// btcli writes hotkeys unencrypted by default; encrypted keyfiles are refused with instructions.
import { mkdir, readFile, writeFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mnemonicGenerate, mnemonicToMiniSecret, mnemonicValidate } from '@polkadot/util-crypto';
import { cryptoReady, hotkeyToPublicKey, sr25519SignerFromSecretKey, sr25519SignerFromSeed, type Sr25519Signer } from '../../proto/signer.ts';
import { bytesEqual } from '../../proto/codec.ts';

export class WalletError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalletError';
  }
}

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

function hexField(o: Record<string, unknown>, key: string, len: number, path: string): Uint8Array | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !/^(0x)?[0-9a-fA-F]*$/.test(v)) throw new WalletError(`${path}: field '${key}' is not a hex string`);
  const hex = v.startsWith('0x') ? v.slice(2) : v;
  if (hex.length !== len * 2) throw new WalletError(`${path}: field '${key}' must be ${len} bytes, got ${hex.length / 2}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

function encryptedKind(text: string): string | undefined {
  const t = text.trimStart();
  if (t.startsWith('$NACL')) return 'NaCl (btcli --use-password)';
  if (t.startsWith('$BTWALLET')) return 'legacy bittensor (ansible/fernet)';
  if (t.startsWith('$ANSIBLE_VAULT')) return 'ansible vault';
  if (t.startsWith('gAAAAA')) return 'legacy fernet';
  return undefined;
}

/**
 * Parses the text of a hotkey keyfile. Uses `secretSeed` when present, else `privateKey` (64-byte
 * schnorrkel secret); cross-checks `publicKey` and `ss58Address`. Call `await cryptoReady()` first.
 */
export function parseHotkeyFile(text: string, path = 'keyfile'): Sr25519Signer {
  const enc = encryptedKind(text);
  if (enc) {
    throw new WalletError(
      `${path} is encrypted (${enc}). Conclave signs continuously and needs an unencrypted hotkey, as btcli creates by default. ` +
        'Re-create it without a password, e.g. `btcli wallet regen-hotkey --no-use-password` with the hotkey mnemonic, ' +
        'or `conclave keys new` for a fresh one. Never put a coldkey on a validator node.',
    );
  }
  let o: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    o = parsed as Record<string, unknown>;
  } catch (err) {
    throw new WalletError(`${path} is not a Bittensor hotkey keyfile (expected JSON with secretSeed, publicKey, ss58Address): ${(err as Error).message}`);
  }
  if ('crypto' in o || 'encoded' in o) {
    throw new WalletError(`${path} is a password-encrypted JSON keystore; export an unencrypted hotkey (btcli wallet regen-hotkey --no-use-password)`);
  }
  const seed = hexField(o, 'secretSeed', 32, path);
  const privateKey = hexField(o, 'privateKey', 64, path);
  const publicKey = hexField(o, 'publicKey', 32, path);
  let signer: Sr25519Signer;
  try {
    if (seed) signer = sr25519SignerFromSeed(seed);
    else if (privateKey && publicKey) signer = sr25519SignerFromSecretKey(privateKey, publicKey);
    else throw new WalletError(`${path} has no secret: expected 'secretSeed' (or 'privateKey' with 'publicKey'). Is this a public-only key file?`);
  } catch (err) {
    if (err instanceof WalletError) throw err;
    throw new WalletError(`${path}: ${(err as Error).message}`);
  }
  if (publicKey && !bytesEqual(publicKey, signer.publicKey)) {
    throw new WalletError(`${path}: publicKey does not match the key derived from the secret; the keyfile is inconsistent`);
  }
  if (typeof o.ss58Address === 'string') {
    let pk: Uint8Array;
    try {
      pk = hotkeyToPublicKey(o.ss58Address);
    } catch (err) {
      throw new WalletError(`${path}: ss58Address: ${(err as Error).message}`);
    }
    if (!bytesEqual(pk, signer.publicKey)) throw new WalletError(`${path}: ss58Address ${o.ss58Address} does not match the key derived from the secret`);
  }
  return signer;
}

export async function loadHotkeyFile(path: string): Promise<Sr25519Signer> {
  await cryptoReady();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WalletError(`no hotkey file at ${path}: create one with \`conclave keys new\` or point --wallet-path/--wallet/--hotkey at an existing one`);
    if (code === 'EACCES') throw new WalletError(`cannot read ${path}: permission denied (run as the wallet's owner)`);
    throw new WalletError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseHotkeyFile(text, path);
}

export async function loadHotkey(ref: HotkeyRef): Promise<Sr25519Signer> {
  return loadHotkeyFile(hotkeyFilePath(ref));
}

const hex0x = (b: Uint8Array) => '0x' + Buffer.from(b).toString('hex');

/** Keyfile JSON in btcli's layout for a mnemonic (the seed is bip39 mini-secret, like substrate-interface). */
export async function hotkeyFileJson(mnemonic: string): Promise<{ json: string; signer: Sr25519Signer }> {
  await cryptoReady();
  if (!mnemonicValidate(mnemonic)) throw new WalletError('the mnemonic is not a valid BIP39 phrase (check the words and their order)');
  const seed = mnemonicToMiniSecret(mnemonic);
  const signer = sr25519SignerFromSeed(seed);
  const doc = {
    accountId: hex0x(signer.publicKey),
    publicKey: hex0x(signer.publicKey),
    secretPhrase: mnemonic,
    secretSeed: hex0x(seed),
    ss58Address: signer.hotkey,
  };
  return { json: JSON.stringify(doc), signer };
}

/** Creates a hotkey file (mode 0600; refuses to overwrite). Generates a 12-word mnemonic unless one is given. */
export async function createHotkey(ref: HotkeyRef, opts: { mnemonic?: string } = {}): Promise<{ signer: Sr25519Signer; mnemonic: string; path: string }> {
  const path = hotkeyFilePath(ref);
  await cryptoReady();
  const mnemonic = opts.mnemonic ?? mnemonicGenerate(12);
  const { json, signer } = await hotkeyFileJson(mnemonic);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, json, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new WalletError(`${path} already exists; refusing to overwrite a key. Pick another --hotkey name or move the file away first.`);
    }
    throw new WalletError(`cannot write ${path}: ${(err as Error).message}`);
  }
  return { signer, mnemonic, path };
}

export async function hotkeyFileMode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}
