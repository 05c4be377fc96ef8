// A validator as the mesh's pure parts see it: an sr25519 hotkey, an ed25519 node key, and the v2
// binding between them (valid for an hour around `nowMs`, scoped to `scope`).
import { randomBytes } from 'node:crypto';
import { ed25519SignerFromSeed, sr25519SignerFromSeed, type Ed25519Signer, type Sr25519Signer } from '../../proto/signer.ts';
import { signBinding, type BindingRecord } from '../../proto/binding.ts';

export interface BoundValidator { hot: Sr25519Signer; node: Ed25519Signer; binding: BindingRecord }

export function boundValidator(scope: { genesisHash: string; netuid: number }, nowMs: number): BoundValidator {
  const hot = sr25519SignerFromSeed(randomBytes(32));
  const node = ed25519SignerFromSeed(randomBytes(32));
  const binding = signBinding({ ...scope, node, multiaddrs: ['/ip4/127.0.0.1/tcp/1'], issuedAt: nowMs - 1000, expiresAt: nowMs + 3600_000 }, hot);
  return { hot, node, binding };
}
