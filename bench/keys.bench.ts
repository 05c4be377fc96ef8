// btcli $NACL keyfile decryption cost: the Argon2i key derivation at btcli's parameters (8 passes,
// 512 MiB) with node:crypto (OpenSSL) and @noble/hashes (pure JS), and libsodium (PyNaCl) for reference
// when python3-nacl is installed. Prints one JSON line per implementation.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BTCLI_ARGON2I, deriveNaclKey, defaultArgon2Impl } from '../node/keys/nacl-keyfile.ts';

const pw = new TextEncoder().encode('thisisafakepassword');
const keys: Record<string, string> = {};
const impls = defaultArgon2Impl() === 'native' ? (['native', 'noble'] as const) : (['noble'] as const);
for (const impl of impls) {
  const t = performance.now();
  const key = await deriveNaclKey(pw, { impl });
  const ms = performance.now() - t;
  keys[impl] = Buffer.from(key).toString('hex');
  process.stdout.write(JSON.stringify({ bench: 'keys.nacl-argon2i', impl: impl === 'native' ? 'node:crypto (OpenSSL)' : '@noble/hashes (pure JS)', t: BTCLI_ARGON2I.t, mKiB: BTCLI_ARGON2I.mKiB, ms: Math.round(ms), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) }) + '\n');
}
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const script = `import time,nacl.pwhash as p,nacl.secret as s
t=time.time();k=p.argon2i.kdf(32,b"thisisafakepassword",bytes.fromhex("137183dff15a09bc9c90b5518739e9b1"),opslimit=p.argon2i.OPSLIMIT_SENSITIVE,memlimit=p.argon2i.MEMLIMIT_SENSITIVE)
print(round((time.time()-t)*1000), k.hex())`;
const r = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 120_000 });
if (r.status === 0) {
  const [ms, hex] = r.stdout.trim().split(' ');
  const same = Object.values(keys).every((k) => k === hex);
  process.stdout.write(JSON.stringify({ bench: 'keys.nacl-argon2i', impl: 'libsodium (PyNaCl, reference)', ms: Number(ms), sameKeyAsConclave: same }) + '\n');
  if (!same) process.exitCode = 1;
} else {
  process.stdout.write(JSON.stringify({ bench: 'keys.nacl-argon2i', impl: 'libsodium (PyNaCl, reference)', skipped: 'python3-nacl not installed' }) + '\n');
}
