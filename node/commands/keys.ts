// conclave keys new|show|node — hotkeys in the Bittensor wallet layout, and the node key.
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson } from '../cli-kit.ts';
import { createHotkey, DEFAULT_WALLET_PATH, MAX_KEYFILE_BYTES, hotkeyFilePath, loadHotkey, readHotkeyFile, readHotkeyPub, WalletError, type HotkeyRef } from '../keys/wallet.ts';
import { keyfileFormat } from '../keys/keyfile-format.ts';
import { PASSWORD_ENV } from '../keys/password.ts';
import { readBoundedFile } from '../bounded/file.ts';
import { loadOrCreateNodeKey } from '../keys/node-key.ts';
import { signBinding } from '../../proto/binding.ts';
import { toHex } from '../../proto/codec.ts';

const help = `Usage: conclave keys <new|show|node> [options]

Create or inspect the validator's identities.
  new    Create an sr25519 hotkey at <wallet-path>/<wallet>/hotkeys/<hotkey> and its <hotkey>pub.txt
         (btcli layout, unencrypted, mode 0600). Never overwrites an existing file. Prints the
         mnemonic ONCE.
  show   Print a hotkey's SS58 address and public key (never the secret). Reads btcli keyfiles:
         unencrypted, or encrypted with --use-password (NaCl; give the password with
         --password-file or ${PASSWORD_ENV}; the Argon2i key derivation takes 5-30 s). Without a
         password, an encrypted hotkey is shown from its <hotkey>pub.txt, unverified.
  node   Create (if missing) and print the ed25519 node key kept in --data-dir (libp2p peer id).
         With --bind, also print a binding record signed by the hotkey and countersigned by the
         node key, valid on one chain (--genesis) and one subnet (--netuid) only.

Options:
  --wallet NAME        Wallet name (default: default)
  --hotkey NAME        Hotkey name (default: default)
  --wallet-path DIR    Wallets directory (default: ${DEFAULT_WALLET_PATH})
  --password-file FILE show, node --bind: password of an encrypted hotkey (first line of FILE);
                       or set ${PASSWORD_ENV}
  --mnemonic "WORDS"   new: import this BIP39 phrase instead of generating one
  --data-dir DIR       node: data directory holding node-key.json (default: ./.conclave)
  --bind               node: sign a binding record of the node key with the hotkey
  --multiaddr ADDR     node --bind: a listen address to include (repeatable)
  --genesis HASH       node --bind: genesis hash of the chain (0x + 64 hex; required with --bind)
  --netuid N           node --bind: subnet (default: 1)
  --ttl-hours N        node --bind: binding validity in hours (default: 24)
  --json               Machine-readable output

Examples:
  conclave keys new --wallet owner --hotkey validator1
  conclave keys show --wallet owner --hotkey validator1 --wallet-path /tmp/wallets
  conclave keys node --data-dir ./data --bind --wallet owner --hotkey validator1 --multiaddr /ip4/127.0.0.1/tcp/30333 \
      --genesis 0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03 --netuid 1
`;

const options = {
  wallet: { type: 'string', default: 'default' },
  hotkey: { type: 'string', default: 'default' },
  'wallet-path': { type: 'string', default: DEFAULT_WALLET_PATH },
  'password-file': { type: 'string' },
  mnemonic: { type: 'string' },
  'data-dir': { type: 'string', default: './.conclave' },
  bind: { type: 'boolean', default: false },
  multiaddr: { type: 'string', multiple: true },
  'ttl-hours': { type: 'string', default: '24' },
  genesis: { type: 'string' },
  netuid: { type: 'string', default: '1' },
  json: { type: 'boolean', default: false },
} as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, options);
  const [sub, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const ref: HotkeyRef = { wallet: values.wallet, hotkey: values.hotkey, walletPath: values['wallet-path'] };
  const loadOpts = {
    password: { flagFile: values['password-file'] },
    onWarning: (m: string) => process.stderr.write(`warning: ${m}\n`),
  };
  switch (sub) {
    case 'new': {
      const { signer, mnemonic, path, pubPath } = await createHotkey(ref, { mnemonic: values.mnemonic });
      if (values.json) {
        printJson({ path, pubPath, hotkey: signer.hotkey, publicKey: toHex(signer.publicKey), mnemonic });
      } else {
        process.stdout.write(`created hotkey ${values.wallet}/${values.hotkey}\n  path       ${path}\n  public     ${pubPath}\n  ss58       ${signer.hotkey}\n  publicKey  0x${toHex(signer.publicKey)}\n`);
        if (!values.mnemonic) {
          process.stdout.write(`\nmnemonic (shown once; anyone with it controls this hotkey — store it offline):\n  ${mnemonic}\n`);
        }
      }
      return 0;
    }
    case 'show': {
      const path = hotkeyFilePath(ref);
      const shown = await showHotkey(ref, path, values['password-file'], loadOpts);
      if (values.json) printJson({ path, ...shown });
      else {
        process.stdout.write(`hotkey ${values.wallet}/${values.hotkey}\n  path       ${path}\n  ss58       ${shown.hotkey}\n  publicKey  0x${shown.publicKey}\n  keyfile    ${shown.keyfile}\n`);
        if (shown.note) process.stdout.write(`  note       ${shown.note}\n`);
      }
      return 0;
    }
    case 'node': {
      const key = await loadOrCreateNodeKey(values['data-dir']);
      let binding;
      if (values.bind) {
        const ttl = Number(values['ttl-hours']);
        if (!Number.isFinite(ttl) || ttl <= 0 || ttl > 24 * 30) throw new UsageError('--ttl-hours must be a number in (0, 720]');
        if (!values.genesis || !/^(0x)?[0-9a-fA-F]{64}$/.test(values.genesis)) throw new UsageError('--bind needs --genesis 0x<64 hex>: the genesis hash of the chain the binding is for (bindings are scoped to one chain)');
        const netuid = Number(values.netuid);
        if (!Number.isInteger(netuid) || netuid < 0 || netuid > 0xffff) throw new UsageError('--netuid must be an integer 0..65535');
        const signer = await loadHotkey(ref, loadOpts);
        const now = Date.now();
        binding = signBinding({ genesisHash: values.genesis.toLowerCase(), netuid, node: key.signer, multiaddrs: values.multiaddr ?? [], issuedAt: now, expiresAt: now + Math.round(ttl * 3600_000) }, signer);
      }
      if (values.json) {
        printJson({ path: key.path, created: key.created, publicKey: key.publicKeyHex, peerId: key.peerId, ...(binding ? { binding } : {}) });
      } else {
        process.stdout.write(`node key ${key.created ? '(created)' : ''}\n  path       ${key.path}\n  publicKey  ${key.publicKeyHex}\n  peerId     ${key.peerId}\n`);
        if (binding) process.stdout.write(`binding\n${JSON.stringify(binding, null, 2)}\n`);
      }
      return 0;
    }
    case undefined:
      throw new UsageError('missing subcommand: new, show or node');
    default:
      throw new UsageError(`unknown subcommand '${sub}' (expected new, show or node)`);
  }
}

/**
 * What `keys show` prints. An encrypted hotkey is decrypted when a password is given; without one,
 * its <hotkey>pub.txt (btcli's public companion) is shown and marked as not verified against the secret.
 */
async function showHotkey(ref: HotkeyRef, path: string, passwordFile: string | undefined, loadOpts: Parameters<typeof readHotkeyFile>[1]) {
  const havePassword = Boolean(passwordFile) || Boolean(process.env[PASSWORD_ENV]);
  if (!havePassword) {
    let head: Uint8Array | null = null;
    try {
      head = await readBoundedFile(path, { maxBytes: MAX_KEYFILE_BYTES, what: 'hotkey file' });
    } catch {
      head = null; // readHotkeyFile below says what is wrong with the path
    }
    if (head && keyfileFormat(head) === 'nacl') {
      const pub = await readHotkeyPub(ref);
      if (!pub) throw new WalletError(`${path} is encrypted (NaCl, btcli --use-password) and there is no ${path}pub.txt to show instead: give the password with --password-file FILE or ${PASSWORD_ENV}`);
      return { hotkey: pub.hotkey, publicKey: toHex(pub.publicKey), keyfile: 'encrypted (NaCl), not decrypted', secretFrom: null, verified: false, note: `address read from ${pub.path}; give --password-file FILE or ${PASSWORD_ENV} to decrypt and check the key itself` };
    }
  }
  const k = await readHotkeyFile(path, loadOpts);
  const pub = await readHotkeyPub(ref).catch(() => null);
  const mismatch = pub && pub.hotkey !== k.signer.hotkey ? `${pub.path} names another key (${pub.hotkey}): it is stale; btcli and Conclave sign with ${k.signer.hotkey}` : null;
  return {
    hotkey: k.signer.hotkey,
    publicKey: toHex(k.signer.publicKey),
    keyfile: `${k.encryption === 'nacl' ? 'encrypted (NaCl), decrypted' : 'unencrypted'}; secret from ${k.secretFrom}`,
    secretFrom: k.secretFrom,
    verified: true,
    note: mismatch,
  };
}

const command: Command = { name: 'keys', help, run };
export default command;
