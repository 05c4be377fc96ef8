// The devchain's JSON-RPC methods: the subset of a Substrate node's API that polkadot-js and
// Conclave use (chain_*, state_*, author_*, system_*), plus the dev_* admin methods. Each call
// returns its result and, for a subscription, what to send right after the reply.
import type { WebSocket } from 'ws';
import { blake2AsHex, encodeAddress, decodeAddress } from '@polkadot/util-crypto';
import { hexToU8a, u8aConcat, u8aToHex, compactToU8a } from '@polkadot/util';
import type { DevChain } from './devchain.ts';
import type { GenesisNeuron } from './genesis.ts';
import { RpcError } from './extrinsic.ts';
import { headerJson } from './blocks.ts';
import type { SubKind, Subscriptions } from './subscriptions.ts';

export const RPC_METHODS = [
  'author_pendingExtrinsics', 'author_submitAndWatchExtrinsic', 'author_submitExtrinsic', 'author_unwatchExtrinsic',
  'chain_getBlock', 'chain_getBlockHash', 'chain_getFinalisedHead', 'chain_getFinalizedHead', 'chain_getHead', 'chain_getHeader',
  'chain_subscribeAllHeads', 'chain_subscribeFinalisedHeads', 'chain_subscribeFinalizedHeads', 'chain_subscribeNewHead',
  'chain_subscribeNewHeads', 'chain_unsubscribeAllHeads', 'chain_unsubscribeFinalisedHeads', 'chain_unsubscribeFinalizedHeads',
  'chain_unsubscribeNewHead', 'chain_unsubscribeNewHeads', 'subscribe_newHead', 'unsubscribe_newHead',
  'dev_injectPulse', 'dev_newBlock', 'dev_registerNeuron', 'dev_setCommitment', 'dev_setStorage', 'dev_setRawStorage',
  'rpc_methods',
  'state_call', 'state_getKeys', 'state_getKeysPaged', 'state_getMetadata', 'state_getRuntimeVersion', 'state_getStorage',
  'state_getStorageAt', 'state_getStorageHash', 'state_getStorageSize', 'state_queryStorageAt', 'state_subscribeRuntimeVersion',
  'state_subscribeStorage', 'state_unsubscribeRuntimeVersion', 'state_unsubscribeStorage',
  'system_accountNextIndex', 'system_chain', 'system_chainType', 'system_health', 'system_name', 'system_peers',
  'system_properties', 'system_version',
];

/** The devchain's public side that the methods use. */
export type RpcChain = Pick<DevChain, 'meta' | 'head' | 'block' | 'getStorage' | 'accountNonce' | 'submit' | 'produceBlock' | 'setCommitment' | 'registerNeuron' | 'setStorage' | 'injectPulse' | 'setRawStorage'>;

/** What the methods need of the devchain beyond its public side. */
export interface RpcHost {
  chain: RpcChain;
  chainName(): string;
  hasHash(hash: string): boolean;
  /** block number of a block-hash parameter (head when absent); RpcError 4003 when unknown */
  at(hash: unknown): number;
  keys(prefix: string, at: number, count?: number, startKey?: string): string[];
  changes(keys: string[], at: number): [string, string | null][];
  /** the next nonce of `who`, counting its extrinsics in the pool */
  nextNonce(who: string): number;
  pending(): string[];
  subs: Subscriptions;
}

function stateCall(chain: RpcChain, method: string, data: string, at: number): string {
  // as a real node: the default metadata is V14; V15 and V16 on request
  if (method === 'Metadata_metadata_versions') return u8aToHex(chain.meta.registry.createType('Vec<u32>', [...chain.meta.served.keys()].sort()).toU8a());
  if (method === 'Metadata_metadata_at_version') {
    const bytes = chain.meta.served.get(chain.meta.registry.createType('u32', hexToU8a(data)).toNumber());
    return bytes ? u8aToHex(u8aConcat(Uint8Array.of(1), compactToU8a(bytes.length), bytes)) : '0x00';
  }
  if (method === 'Metadata_metadata') {
    const v14 = chain.meta.served.get(14)!;
    return u8aToHex(u8aConcat(compactToU8a(v14.length), v14));
  }
  if (method === 'Core_version') return u8aToHex(chain.meta.registry.createType('RuntimeVersion', chain.meta.runtimeVersion).toU8a());
  if (method === 'AccountNonceApi_account_nonce') {
    const who = encodeAddress(hexToU8a(data).subarray(0, 32), 42);
    return u8aToHex(chain.meta.registry.createType('u32', chain.accountNonce(who, at)).toU8a());
  }
  throw new RpcError(4003, `Client error: Execution failed: Other: Exported method ${method} is not found (the devchain implements Metadata_*, Core_version, AccountNonceApi_account_nonce)`);
}

export function rpcCall(h: RpcHost, ws: WebSocket, method: string, p: unknown[]): { result: unknown; after?: () => void } {
  const chain = h.chain;
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string') throw new RpcError(-32602, `Invalid params: ${what} must be a string`);
    return v;
  };
  switch (method) {
    case 'rpc_methods': return { result: { version: 1, methods: RPC_METHODS } };
    case 'system_chain': return { result: h.chainName() };
    case 'system_name': return { result: 'conclave-devchain' };
    case 'system_version': return { result: '0.1.0' };
    case 'system_chainType': return { result: 'Development' };
    case 'system_properties': return { result: { ss58Format: 42, tokenDecimals: 9, tokenSymbol: 'TAO' } };
    case 'system_health': return { result: { peers: 0, isSyncing: false, shouldHavePeers: false } };
    case 'system_peers': return { result: [] };
    case 'system_accountNextIndex': {
      const who = encodeAddress(decodeAddress(str(p[0], 'account')), 42);
      return { result: h.nextNonce(who) };
    }
    case 'chain_getBlockHash': {
      const n = p[0] === undefined || p[0] === null ? chain.head : Number(p[0]);
      return { result: chain.block(n)?.hash ?? null };
    }
    case 'chain_getHead':
    case 'chain_getFinalizedHead':
    case 'chain_getFinalisedHead': return { result: chain.block(chain.head)!.hash };
    case 'chain_getHeader': {
      if (p[0] !== undefined && p[0] !== null && !h.hasHash(String(p[0]).toLowerCase())) return { result: null };
      return { result: headerJson(chain.block(h.at(p[0]))!) };
    }
    case 'chain_getBlock': {
      if (p[0] !== undefined && p[0] !== null && !h.hasHash(String(p[0]).toLowerCase())) return { result: null };
      const b = chain.block(h.at(p[0]))!;
      return { result: { block: { header: headerJson(b), extrinsics: b.extrinsics }, justifications: null } };
    }
    case 'chain_subscribeNewHeads':
    case 'chain_subscribeNewHead':
    case 'subscribe_newHead':
    case 'chain_subscribeFinalizedHeads':
    case 'chain_subscribeFinalisedHeads':
    case 'chain_subscribeAllHeads': {
      const kind: SubKind = /new/i.test(method) ? 'newHead' : method.includes('All') ? 'allHead' : 'finalizedHead';
      const id = h.subs.subscribe(ws, kind);
      return { result: id, after: () => h.subs.notify(id, headerJson(chain.block(chain.head)!)) };
    }
    case 'state_subscribeRuntimeVersion': {
      const id = h.subs.subscribe(ws, 'runtimeVersion');
      return { result: id, after: () => h.subs.notify(id, chain.meta.runtimeVersion) };
    }
    case 'state_subscribeStorage': {
      const keys = (Array.isArray(p[0]) ? p[0] : []).map((k) => str(k, 'key'));
      const id = h.subs.subscribe(ws, 'storage', keys);
      return { result: id, after: () => h.subs.notify(id, { block: chain.block(chain.head)!.hash, changes: h.changes(keys, chain.head) }) };
    }
    case 'chain_unsubscribeNewHeads':
    case 'chain_unsubscribeNewHead':
    case 'unsubscribe_newHead':
    case 'chain_unsubscribeFinalizedHeads':
    case 'chain_unsubscribeFinalisedHeads':
    case 'chain_unsubscribeAllHeads':
    case 'state_unsubscribeRuntimeVersion':
    case 'state_unsubscribeStorage':
    case 'author_unwatchExtrinsic':
      return { result: h.subs.unsubscribe(str(p[0], 'subscription id')) };
    case 'state_getMetadata': h.at(p[0]); return { result: u8aToHex(chain.meta.served.get(14)!) };
    case 'state_getRuntimeVersion': h.at(p[0]); return { result: chain.meta.runtimeVersion };
    case 'state_call': return { result: stateCall(chain, str(p[0], 'method'), str(p[1] ?? '0x', 'data'), h.at(p[2])) };
    case 'state_getStorage':
    case 'state_getStorageAt': return { result: chain.getStorage(str(p[0], 'key').toLowerCase(), h.at(p[1])) };
    case 'state_getStorageHash': {
      const v = chain.getStorage(str(p[0], 'key').toLowerCase(), h.at(p[1]));
      return { result: v === null ? null : blake2AsHex(hexToU8a(v), 256) };
    }
    case 'state_getStorageSize': {
      const v = chain.getStorage(str(p[0], 'key').toLowerCase(), h.at(p[1]));
      return { result: v === null ? null : hexToU8a(v).length };
    }
    case 'state_getKeys': return { result: h.keys(str(p[0], 'prefix').toLowerCase(), h.at(p[1])) };
    case 'state_getKeysPaged': {
      const count = Number(p[1]);
      if (!Number.isInteger(count) || count < 0 || count > 1000) throw new RpcError(-32602, 'Invalid params: count must be an integer in 0..=1000');
      const start = p[2] === undefined || p[2] === null ? undefined : str(p[2], 'startKey').toLowerCase();
      return { result: h.keys(str(p[0] ?? '0x', 'prefix').toLowerCase(), h.at(p[3]), count, start) };
    }
    case 'state_queryStorageAt': {
      const keys = (Array.isArray(p[0]) ? p[0] : []).map((k) => str(k, 'key'));
      const n = h.at(p[1]);
      return { result: [{ block: chain.block(n)!.hash, changes: h.changes(keys, n) }] };
    }
    case 'author_submitExtrinsic': return { result: chain.submit(str(p[0], 'extrinsic')).hash };
    case 'author_submitAndWatchExtrinsic': {
      const tx = chain.submit(str(p[0], 'extrinsic'));
      const id = h.subs.subscribe(ws, 'extrinsic');
      h.subs.watch(tx.hash, id);
      return { result: id, after: () => h.subs.notify(id, 'ready') };
    }
    case 'author_pendingExtrinsics': return { result: h.pending() };
    case 'dev_newBlock': {
      const b = chain.produceBlock();
      return { result: { number: b.number, hash: b.hash } };
    }
    case 'dev_setCommitment': {
      chain.setCommitment(Number(p[0]), str(p[1], 'hotkey'), str(p[2], 'text'));
      return { result: true };
    }
    case 'dev_registerNeuron': {
      try {
        return { result: chain.registerNeuron(Number(p[0]), (p[1] ?? {}) as GenesisNeuron) };
      } catch (err) {
        throw new RpcError(-32602, `Invalid params: ${(err as Error).message}`);
      }
    }
    case 'dev_setStorage': {
      const o = (p[0] ?? {}) as { pallet?: string; item?: string; args?: unknown[]; value?: unknown };
      if (!o.pallet || !o.item) throw new RpcError(-32602, 'Invalid params: dev_setStorage wants {pallet, item, args, value}');
      try {
        chain.setStorage(o.pallet, o.item, o.args ?? [], o.value ?? null);
      } catch (err) {
        throw new RpcError(-32602, `Invalid params: ${(err as Error).message}`);
      }
      return { result: true };
    }
    case 'dev_injectPulse': {
      try {
        chain.injectPulse(Number(p[0]), str(p[1], 'signature'));
      } catch (err) {
        throw new RpcError(-32602, `Invalid params: ${(err as Error).message}`);
      }
      return { result: true };
    }
    case 'dev_setRawStorage': {
      for (const pair of (Array.isArray(p[0]) ? p[0] : []) as [string, string | null][]) chain.setRawStorage(str(pair[0], 'key').toLowerCase(), pair[1]);
      return { result: true };
    }
    default:
      throw new RpcError(-32601, `Method not found: ${method}`);
  }
}
