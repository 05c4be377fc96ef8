// Devchain blocks: the header and its hash, the roots, and the JSON-lines log of blocks with their
// state changes that --data keeps (chain.jsonl), replayed at start.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blake2AsHex } from '@polkadot/util-crypto';
import { hexToU8a, u8aConcat, u8aToHex, compactToU8a } from '@polkadot/util';
import type { ChainMeta, EpochModel } from './metadata.ts';

export interface BlockInfo {
  number: number;
  hash: string;
  parentHash: string;
  stateRoot: string;
  extrinsicsRoot: string;
  extrinsics: string[];
}

/** One line of chain.jsonl: the block and its sorted state changes; block 0 also carries the chain's genesis settings. */
export interface PersistedBlock extends BlockInfo {
  changes: [string, string | null][];
  chainName?: string;
  model?: EpochModel;
  beaconSeed?: string | null;
}

export const CHAIN_LOG = 'chain.jsonl';

export function headerOf(meta: ChainMeta, b: { number: number; parentHash: string; stateRoot: string; extrinsicsRoot: string }) {
  return meta.registry.createType('Header', { parentHash: b.parentHash, number: b.number, stateRoot: b.stateRoot, extrinsicsRoot: b.extrinsicsRoot, digest: { logs: [] } });
}

/** The header as JSON-RPC serves it. */
export function headerJson(b: BlockInfo) {
  return { parentHash: b.parentHash, number: '0x' + b.number.toString(16), stateRoot: b.stateRoot, extrinsicsRoot: b.extrinsicsRoot, digest: { logs: [] } };
}

/** Block `n` over `parent` with these (sorted) changes and extrinsics: roots and hash. */
export function sealBlock(meta: ChainMeta, parent: BlockInfo | undefined, n: number, changes: [string, string | null][], extrinsics: string[]): BlockInfo {
  const parentHash = parent ? parent.hash : u8aToHex(new Uint8Array(32));
  // Not a trie root: a running blake2-256 over the parent root and this block's sorted changes.
  const stateRoot = blake2AsHex(u8aConcat(hexToU8a(parent ? parent.stateRoot : '0x'), ...changes.map(([k, v]) => u8aConcat(hexToU8a(k), hexToU8a(v ?? '0x')))), 256);
  const extrinsicsRoot = blake2AsHex(u8aConcat(compactToU8a(extrinsics.length), ...extrinsics.map((e) => hexToU8a(e))), 256);
  const hash = headerOf(meta, { number: n, parentHash, stateRoot, extrinsicsRoot }).hash.toHex();
  return { number: n, hash, parentHash, stateRoot, extrinsicsRoot, extrinsics };
}

export function appendBlock(dataDir: string, rec: PersistedBlock): void {
  appendFileSync(join(dataDir, CHAIN_LOG), JSON.stringify(rec) + '\n');
}

/**
 * The records of a chain log in order, parsed one at a time; a torn last line (a crash mid-write)
 * ends the log, any other line that is not JSON throws.
 */
export function* readChainLog(file: string): Generator<{ line: number; block: PersistedBlock }> {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  for (const [i, line] of lines.entries()) {
    let b: PersistedBlock;
    try {
      b = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) break; // torn last write: drop it
      throw new Error(`${file}: line ${i + 1} is not valid JSON; the data dir is corrupt (move it away to start fresh)`);
    }
    yield { line: i + 1, block: b };
  }
}
