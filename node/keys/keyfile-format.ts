// What kind of keyfile a file is, from its first bytes (as bittensor-wallet tells them apart):
//   "$NACL"            NaCl secretbox + Argon2i (btcli --use-password today)      → decrypted (nacl-keyfile.ts)
//   "$ANSIBLE_VAULT"   ansible-vault (bittensor before the NaCl format)            → not supported, say how to convert
//   "gAAAAA"           Fernet token (the oldest bittensor "legacy" encryption)     → not supported, say how to convert
//   "{" with `encoded` polkadot-js JSON keystore (an export, not a btcli keyfile) → use `btcli wallet regen-hotkey --json`
//   "{"                a plain btcli keyfile                                        → read
import { NACL_MAGIC } from './nacl-keyfile.ts';

export type KeyfileFormat = 'nacl' | 'ansible-vault' | 'legacy-fernet' | 'json';

export function keyfileFormat(data: Uint8Array): KeyfileFormat {
  const head = Buffer.from(data.subarray(0, 32)).toString('latin1').trimStart();
  if (head.startsWith(NACL_MAGIC)) return 'nacl';
  if (head.startsWith('$ANSIBLE_VAULT')) return 'ansible-vault';
  if (head.startsWith('gAAAAA')) return 'legacy-fernet';
  return 'json';
}

/** Why a legacy-encrypted keyfile is refused, and what to do instead. */
export function unsupportedEncryptionMessage(path: string, format: 'ansible-vault' | 'legacy-fernet'): string {
  const what = format === 'ansible-vault' ? 'the legacy ansible-vault format' : 'the legacy Fernet format (the oldest bittensor encryption)';
  return `${path} is encrypted with ${what}: not supported by Conclave. Re-create the hotkey with current btcli, which ` +
    'writes the NaCl format Conclave decrypts (or an unencrypted file): `btcli wallet regen-hotkey` with the hotkey\'s mnemonic ' +
    '(with a password if you want it encrypted), then give that password to Conclave as its help says (password file or CONCLAVE_HOTKEY_PASSWORD).';
}
