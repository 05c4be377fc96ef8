// JSON-RPC subscriptions of the devchain: heads, runtime version, storage keys and watched
// extrinsics, each tied to its WebSocket; notifications for a new block (headers, changed keys,
// inclusion or drop of watched extrinsics).
import type { WebSocket } from 'ws';
import type { CheckedExtrinsic } from './extrinsic.ts';

export type SubKind = 'newHead' | 'finalizedHead' | 'allHead' | 'runtimeVersion' | 'storage' | 'extrinsic';
interface Sub {
  kind: SubKind;
  ws: WebSocket;
  keys?: string[];
}

const NOTIFY_METHOD: Record<SubKind, string> = {
  newHead: 'chain_newHead',
  finalizedHead: 'chain_finalizedHead',
  allHead: 'chain_allHead',
  runtimeVersion: 'state_runtimeVersion',
  storage: 'state_storage',
  extrinsic: 'author_extrinsicUpdate',
};

/** `keys` with their values at block `at` (the state_storage / state_queryStorageAt change list). */
export function storageChanges(get: (key: string, at: number) => string | null, keys: string[], at: number): [string, string | null][] {
  return keys.map((k) => [k, get(k.toLowerCase(), at)]);
}

export class Subscriptions {
  private readonly subs = new Map<string, Sub>();
  private readonly watchers = new Map<string, string>(); // extrinsic hash -> sub id
  private nextSubId = 1;

  subscribe(ws: WebSocket, kind: SubKind, keys?: string[]): string {
    const id = `dev-sub-${this.nextSubId++}`;
    this.subs.set(id, { kind, ws, keys });
    return id;
  }

  /** Watches extrinsic `txHash` under subscription `subId` until it is included or dropped. */
  watch(txHash: string, subId: string): void {
    this.watchers.set(txHash, subId);
  }

  unsubscribe(subId: string): boolean {
    return this.subs.delete(subId);
  }

  /** Forgets every subscription of a closed socket. */
  dropSocket(ws: WebSocket): void {
    for (const [id, s] of this.subs) if (s.ws === ws) this.subs.delete(id);
  }

  clear(): void {
    this.subs.clear();
    this.watchers.clear();
  }

  notify(subId: string, result: unknown): void {
    const s = this.subs.get(subId);
    if (!s || s.ws.readyState !== s.ws.OPEN) return;
    s.ws.send(JSON.stringify({ jsonrpc: '2.0', method: NOTIFY_METHOD[s.kind], params: { subscription: subId, result } }));
  }

  /**
   * A new block: its header to head subscribers, the changed keys to storage subscribers,
   * inBlock + finalized (or invalid) to the watchers of included (or dropped) extrinsics.
   */
  notifyBlock(
    block: { hash: string; number: number },
    header: unknown,
    included: CheckedExtrinsic[],
    dropped: CheckedExtrinsic[],
    changed: Set<string>,
    changesAt: (keys: string[], at: number) => [string, string | null][],
  ): void {
    for (const [id, s] of this.subs) {
      if (s.kind === 'newHead' || s.kind === 'finalizedHead' || s.kind === 'allHead') this.notify(id, header);
      else if (s.kind === 'storage') {
        const keys = (s.keys ?? []).filter((k) => changed.has(k.toLowerCase()));
        if (keys.length) this.notify(id, { block: block.hash, changes: changesAt(keys, block.number) });
      }
    }
    for (const tx of included) {
      const sub = this.watchers.get(tx.hash);
      if (!sub) continue;
      this.notify(sub, { inBlock: block.hash });
      this.notify(sub, { finalized: block.hash });
      this.watchers.delete(tx.hash);
      this.subs.delete(sub);
    }
    for (const tx of dropped) {
      const sub = this.watchers.get(tx.hash);
      if (!sub) continue;
      this.notify(sub, 'invalid');
      this.watchers.delete(tx.hash);
      this.subs.delete(sub);
    }
  }
}
