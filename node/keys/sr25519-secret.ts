// The two spellings of a 64-byte sr25519 secret key (32-byte scalar || 32-byte nonce):
//
// - canonical schnorrkel form (`SecretKey::to_bytes`): the scalar as a reduced little-endian integer.
//   bittensor-wallet (the library behind btcli) writes `privateKey` this way: hotkeys created with
//   `--uri`, restored with `regen-hotkey --json`, anything without a `secretSeed`.
// - "ed25519" form (`SecretKey::to_ed25519_bytes`): the scalar multiplied by the cofactor 8. polkadot-js,
//   @polkadot/wasm-crypto and subkey's JSON exports use it; wasm-crypto's sign() expects it.
//
// A keyfile does not say which one it holds, so both readings are tried against the public key it
// names: the one that signs for that key is the secret. Neither → the keyfile is inconsistent.
import { sr25519SignerFromSecretKey, type Sr25519Signer } from '../../proto/signer.ts';

export type SecretKeyForm = 'canonical' | 'ed25519';

function scalarLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

function scalarBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Canonical (schnorrkel `to_bytes`) → ed25519 form (scalar × 8); the nonce is unchanged. */
export function canonicalToEd25519Form(secret: Uint8Array): Uint8Array {
  if (secret.length !== 64) throw new Error(`sr25519 secret key: expected 64 bytes, got ${secret.length}`);
  const s = scalarLE(secret.subarray(0, 32));
  if (s >> 253n !== 0n) throw new Error('sr25519 secret key: the scalar is not in canonical form (too large)');
  const out = new Uint8Array(64);
  out.set(scalarBytes(s << 3n), 0);
  out.set(secret.subarray(32), 32);
  return out;
}

/** ed25519 form → canonical (scalar / 8); the nonce is unchanged. */
export function ed25519FormToCanonical(secret: Uint8Array): Uint8Array {
  if (secret.length !== 64) throw new Error(`sr25519 secret key: expected 64 bytes, got ${secret.length}`);
  const s = scalarLE(secret.subarray(0, 32));
  if ((s & 7n) !== 0n) throw new Error('sr25519 secret key: not in ed25519 form (the scalar is not a multiple of 8)');
  const out = new Uint8Array(64);
  out.set(scalarBytes(s >> 3n), 0);
  out.set(secret.subarray(32), 32);
  return out;
}

/**
 * Signer from a 64-byte secret in either form, checked against `publicKey` (sign-and-verify). Throws
 * when neither reading signs for that public key. Call `await cryptoReady()` first.
 */
export function signerFromSecretKey(secret: Uint8Array, publicKey: Uint8Array): { signer: Sr25519Signer; form: SecretKeyForm } {
  const tries: { form: SecretKeyForm; bytes: () => Uint8Array }[] = [
    { form: 'canonical', bytes: () => canonicalToEd25519Form(secret) },
    { form: 'ed25519', bytes: () => Uint8Array.from(secret) },
  ];
  for (const t of tries) {
    let ed: Uint8Array;
    try {
      ed = t.bytes();
    } catch {
      continue; // this reading is impossible for these bytes
    }
    try {
      return { signer: sr25519SignerFromSecretKey(ed, publicKey), form: t.form };
    } catch {
      // not this form
    } finally {
      ed.fill(0);
    }
  }
  throw new Error('the secret key does not match the public key in either sr25519 form (canonical schnorrkel as bittensor-wallet writes it, or ed25519 form as polkadot-js writes it)');
}
