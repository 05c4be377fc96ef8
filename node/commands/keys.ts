// conclave keys new|show|node — hotkeys in the Bittensor wallet layout, and the node key.
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson } from '../cli-kit.ts';
import { createHotkey, DEFAULT_WALLET_PATH, hotkeyFilePath, loadHotkey, type HotkeyRef } from '../keys/wallet.ts';
import { loadOrCreateNodeKey } from '../keys/node-key.ts';
import { signBinding } from '../../proto/binding.ts';
import { toHex } from '../../proto/codec.ts';

const help = `Usage: conclave keys <new|show|node> [options]

Create or inspect the validator's identities.
  new    Create an sr25519 hotkey at <wallet-path>/<wallet>/hotkeys/<hotkey> (btcli layout,
         unencrypted, mode 0600). Never overwrites an existing file. Prints the mnemonic ONCE.
  show   Print a hotkey's SS58 address and public key (never the secret).
  node   Create (if missing) and print the ed25519 node key kept in --data-dir (libp2p peer id).
         With --bind, also print a binding record signed by the hotkey.

Options:
  --wallet NAME        Wallet name (default: default)
  --hotkey NAME        Hotkey name (default: default)
  --wallet-path DIR    Wallets directory (default: ${DEFAULT_WALLET_PATH})
  --mnemonic "WORDS"   new: import this BIP39 phrase instead of generating one
  --data-dir DIR       node: data directory holding node-key.json (default: ./.conclave)
  --bind               node: sign a binding record of the node key with the hotkey
  --multiaddr ADDR     node --bind: a listen address to include (repeatable)
  --ttl-hours N        node --bind: binding validity in hours (default: 24)
  --json               Machine-readable output

Examples:
  conclave keys new --wallet owner --hotkey validator1
  conclave keys show --wallet owner --hotkey validator1 --wallet-path /tmp/wallets
  conclave keys node --data-dir ./data --bind --wallet owner --hotkey validator1 --multiaddr /ip4/127.0.0.1/tcp/30333
`;

const options = {
  wallet: { type: 'string', default: 'default' },
  hotkey: { type: 'string', default: 'default' },
  'wallet-path': { type: 'string', default: DEFAULT_WALLET_PATH },
  mnemonic: { type: 'string' },
  'data-dir': { type: 'string', default: './.conclave' },
  bind: { type: 'boolean', default: false },
  multiaddr: { type: 'string', multiple: true },
  'ttl-hours': { type: 'string', default: '24' },
  json: { type: 'boolean', default: false },
} as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, options);
  const [sub, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const ref: HotkeyRef = { wallet: values.wallet, hotkey: values.hotkey, walletPath: values['wallet-path'] };
  switch (sub) {
    case 'new': {
      const { signer, mnemonic, path } = await createHotkey(ref, { mnemonic: values.mnemonic });
      if (values.json) {
        printJson({ path, hotkey: signer.hotkey, publicKey: toHex(signer.publicKey), mnemonic });
      } else {
        process.stdout.write(`created hotkey ${values.wallet}/${values.hotkey}\n  path       ${path}\n  ss58       ${signer.hotkey}\n  publicKey  0x${toHex(signer.publicKey)}\n`);
        if (!values.mnemonic) {
          process.stdout.write(`\nmnemonic (shown once; anyone with it controls this hotkey — store it offline):\n  ${mnemonic}\n`);
        }
      }
      return 0;
    }
    case 'show': {
      const signer = await loadHotkey(ref);
      if (values.json) printJson({ path: hotkeyFilePath(ref), hotkey: signer.hotkey, publicKey: toHex(signer.publicKey) });
      else process.stdout.write(`hotkey ${values.wallet}/${values.hotkey}\n  path       ${hotkeyFilePath(ref)}\n  ss58       ${signer.hotkey}\n  publicKey  0x${toHex(signer.publicKey)}\n`);
      return 0;
    }
    case 'node': {
      const key = await loadOrCreateNodeKey(values['data-dir']);
      let binding;
      if (values.bind) {
        const ttl = Number(values['ttl-hours']);
        if (!Number.isFinite(ttl) || ttl <= 0 || ttl > 24 * 30) throw new UsageError('--ttl-hours must be a number in (0, 720]');
        const signer = await loadHotkey(ref);
        const now = Date.now();
        binding = signBinding({ nodePublicKey: key.publicKey, multiaddrs: values.multiaddr ?? [], issuedAt: now, expiresAt: now + Math.round(ttl * 3600_000) }, signer);
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

const command: Command = { name: 'keys', help, run };
export default command;
