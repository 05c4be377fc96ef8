// The node key: an ed25519 key persisted in the data dir. It is the libp2p identity (peer id) and
// signs high-volume protocol messages; the hotkey vouches for it through a BindingRecord.
// File: <dataDir>/node-key.json, mode 0600, {"version":1,"type":"ed25519","seed":hex,"publicKey":hex,"peerId":...}
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { ed25519SignerFromSeed, randomEd25519Seed, type Ed25519Signer } from '../../proto/signer.ts';
import { toHex } from '../../proto/codec.ts';
import { readBoundedFile } from '../bounded/file.ts';
import { InputError } from '../bounded/input-error.ts';

/** Largest node-key file read (the real one is about 250 bytes). */
const MAX_NODE_KEY_BYTES = 64 * 1024;

export const NODE_KEY_FILE = 'node-key.json';

export class NodeKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeKeyError';
  }
}

export interface NodeKey {
  /** Signs protocol messages (verifyEd25519 with `publicKey`). */
  signer: Ed25519Signer;
  publicKey: Uint8Array;
  publicKeyHex: string;
  /** The 32-byte ed25519 seed (secret): what the mesh derives its libp2p identity from. */
  seed: Uint8Array;
  /** Pass as `privateKey` to createLibp2p so the peer id derives from this key. */
  libp2pPrivateKey: Ed25519PrivateKey;
  peerId: string;
  path?: string;
}

export async function nodeKeyFromSeed(seed: Uint8Array, path?: string): Promise<NodeKey> {
  const signer = ed25519SignerFromSeed(seed);
  const libp2pPrivateKey = await generateKeyPairFromSeed('Ed25519', seed);
  if (toHex(libp2pPrivateKey.publicKey.raw) !== toHex(signer.publicKey)) {
    throw new NodeKeyError('libp2p and node crypto derived different ed25519 public keys from one seed');
  }
  return {
    signer,
    seed,
    publicKey: signer.publicKey,
    publicKeyHex: toHex(signer.publicKey),
    libp2pPrivateKey,
    peerId: peerIdFromPrivateKey(libp2pPrivateKey).toString(),
    path,
  };
}

export function nodeKeyPath(dataDir: string): string {
  return join(dataDir, NODE_KEY_FILE);
}

/** Loads the node key; refuses a missing, malformed or group/world-readable file. */
export async function loadNodeKey(dataDir: string): Promise<NodeKey> {
  const path = nodeKeyPath(dataDir);
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) {
      throw new NodeKeyError(`${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``);
    }
    text = (await readBoundedFile(path, { maxBytes: MAX_NODE_KEY_BYTES, what: 'node key' })).toString('utf8');
  } catch (err) {
    if (err instanceof NodeKeyError) throw err;
    if (err instanceof InputError && err.code !== 'ENOENT') throw new NodeKeyError(`${err.message}; move it away to generate a new one (the peer id will change)`);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NodeKeyError(`no node key at ${path}: create one with \`conclave keys node --data-dir ${dataDir}\``);
    throw new NodeKeyError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let seedHex: unknown;
  let pubHex: unknown;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o.version !== 1 || o.type !== 'ed25519') throw new Error(`unsupported version/type ${String(o.version)}/${String(o.type)}`);
    seedHex = o.seed;
    pubHex = o.publicKey;
    if (typeof seedHex !== 'string' || !/^[0-9a-f]{64}$/.test(seedHex)) throw new Error('seed must be 32 bytes of lowercase hex');
  } catch (err) {
    throw new NodeKeyError(`${path} is not a valid node key (${(err as Error).message}); move it away to generate a new one (the peer id will change)`);
  }
  const key = await nodeKeyFromSeed(new Uint8Array(Buffer.from(seedHex as string, 'hex')), path);
  if (pubHex !== undefined && pubHex !== key.publicKeyHex) throw new NodeKeyError(`${path}: publicKey does not match the seed; the file is inconsistent`);
  return key;
}

/**
 * Loads <dataDir>/node-key.json or creates it atomically (temp file + link, so a crash never leaves
 * a half-written key and two concurrent starters end up with the same key).
 */
export async function loadOrCreateNodeKey(dataDir: string): Promise<NodeKey & { created: boolean }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = nodeKeyPath(dataDir);
  try {
    return { ...(await loadNodeKey(dataDir)), created: false };
  } catch (err) {
    if (!(err instanceof NodeKeyError) || !/no node key at/.test(err.message)) throw err;
  }
  const seed = randomEd25519Seed();
  const key = await nodeKeyFromSeed(seed, path);
  const doc = JSON.stringify({ version: 1, type: 'ed25519', seed: toHex(seed), publicKey: key.publicKeyHex, peerId: key.peerId }) + '\n';
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(doc);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new NodeKeyError(`cannot create ${path}: ${(err as Error).message}`);
    // Another process created it first: use theirs.
    await unlink(tmp).catch(() => {});
    return { ...(await loadNodeKey(dataDir)), created: false };
  }
  await unlink(tmp).catch(() => {});
  return { ...key, created: true };
}
