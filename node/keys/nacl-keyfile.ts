// btcli's encrypted keyfiles ("$NACL" format of bittensor-wallet, `btcli ... --use-password`):
//
//   "$NACL" || nonce (24 bytes) || NaCl secretbox (XSalsa20-Poly1305: 16-byte tag || ciphertext)
//   key = Argon2i v1.3 (password, salt = NACL_SALT, opslimit 8, memlimit 512 MiB, 1 lane) → 32 bytes
//
// (libsodium's crypto_pwhash_argon2i with OPSLIMIT_SENSITIVE / MEMLIMIT_SENSITIVE, as bittensor-wallet
// calls it through sodiumoxide; the salt is the constant in its src/keyfile.rs.) The plaintext is the
// keyfile JSON. Wrong password ⇔ the Poly1305 tag does not verify.
//
// The KDF is the slow part by design: 512 MiB and 8 passes. Node ≥ 24.7 computes it natively
// (`crypto.argon2`, OpenSSL, off the event loop in the thread pool); older runtimes fall back to
// @noble/hashes (pure JS, yields to the event loop). Measured on this 2-core machine under load:
// libsodium 3–4.5 s, OpenSSL (node:crypto) ≈ 17 s, @noble/hashes ≈ 24 s. The node decrypts once at start.
import * as nodeCrypto from 'node:crypto';
import { argon2iAsync } from '@noble/hashes/argon2.js';
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js';

export const NACL_MAGIC = '$NACL';
export const NACL_SALT = Uint8Array.from([0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1]);
const NONCE_BYTES = 24;
const TAG_BYTES = 16;

export interface Argon2iParams {
  /** passes (libsodium opslimit) */
  t: number;
  /** memory in KiB (libsodium memlimit / 1024) */
  mKiB: number;
}

/** libsodium crypto_pwhash_argon2i OPSLIMIT_SENSITIVE / MEMLIMIT_SENSITIVE: what btcli uses. */
export const BTCLI_ARGON2I: Argon2iParams = { t: 8, mKiB: 524_288 };

export type Argon2Impl = 'native' | 'noble';

export class NaclDecryptError extends Error {
  readonly reason: 'wrong-password' | 'malformed';
  constructor(reason: 'wrong-password' | 'malformed', message: string) {
    super(message);
    this.name = 'NaclDecryptError';
    this.reason = reason;
  }
}

type NativeArgon2 = (algo: string, params: Record<string, unknown>, cb: (err: Error | null, key: Buffer) => void) => void;

/** Which implementation `deriveNaclKey` uses by default here. */
export function defaultArgon2Impl(): Argon2Impl {
  return typeof (nodeCrypto as unknown as { argon2?: NativeArgon2 }).argon2 === 'function' ? 'native' : 'noble';
}

/** The secretbox key for `password` (Argon2i v1.3, one lane, 32 bytes, NACL_SALT). */
export async function deriveNaclKey(password: Uint8Array, opts: { params?: Argon2iParams; impl?: Argon2Impl } = {}): Promise<Uint8Array> {
  const p = opts.params ?? BTCLI_ARGON2I;
  const impl = opts.impl ?? defaultArgon2Impl();
  if (impl === 'native') {
    const argon2 = (nodeCrypto as unknown as { argon2?: NativeArgon2 }).argon2;
    if (!argon2) throw new Error('node:crypto has no argon2 in this Node.js version (needs 24.7 or later)');
    const key = await new Promise<Buffer>((resolve, reject) =>
      argon2('argon2i', { message: password, nonce: NACL_SALT, parallelism: 1, tagLength: 32, memory: p.mKiB, passes: p.t }, (err, k) => (err ? reject(err) : resolve(k))),
    );
    const out = new Uint8Array(key);
    key.fill(0);
    return out;
  }
  return argon2iAsync(password, NACL_SALT, { t: p.t, m: p.mKiB, p: 1, dkLen: 32, version: 0x13, maxmem: (p.mKiB + 1024) * 1024, asyncTick: 20 });
}

export function isNaclKeyfile(data: Uint8Array): boolean {
  return data.length >= NACL_MAGIC.length && Buffer.from(data.subarray(0, NACL_MAGIC.length)).toString('latin1') === NACL_MAGIC;
}

/** Decrypts a "$NACL" keyfile; throws NaclDecryptError ('wrong-password' or 'malformed'). */
export async function decryptNaclKeyfile(data: Uint8Array, password: string, opts: { params?: Argon2iParams; impl?: Argon2Impl } = {}): Promise<Uint8Array> {
  if (!isNaclKeyfile(data)) throw new NaclDecryptError('malformed', 'not a $NACL keyfile');
  const body = data.subarray(NACL_MAGIC.length);
  if (body.length < NONCE_BYTES + TAG_BYTES) {
    throw new NaclDecryptError('malformed', `the $NACL keyfile is truncated (${data.length} bytes; at least ${NACL_MAGIC.length + NONCE_BYTES + TAG_BYTES} expected)`);
  }
  const nonce = body.subarray(0, NONCE_BYTES);
  const sealed = body.subarray(NONCE_BYTES);
  const pw = new TextEncoder().encode(password);
  const key = await deriveNaclKey(pw, opts);
  pw.fill(0);
  try {
    return xsalsa20poly1305(key, nonce).decrypt(sealed);
  } catch {
    throw new NaclDecryptError('wrong-password', 'wrong password: the keyfile does not authenticate with it');
  } finally {
    key.fill(0);
  }
}
