// Bounded in-memory store of what this node can serve over the fetch protocol: accepted envelopes
// (keyed by content hash = sha256(payload), grouped by run) and raw content-addressed blobs.
// Runs other than the current and previous are pruned; beyond `capacity` the oldest entries go first.
import { sha256Hex } from '../../proto/codec.ts';
import type { FetchItem } from '../../proto/gossip.ts';

interface Entry {
  item: FetchItem;
  runId: number | null;
}

export class ContentStore {
  private readonly entries = new Map<string, Entry>();
  private readonly capacity: number;

  constructor(capacity = 4096) {
    this.capacity = capacity;
  }

  putEnvelope(hash: string, envelopeBytes: Uint8Array, runId: number): void {
    this.put(hash, { item: { kind: 'envelope', bytes: envelopeBytes }, runId });
  }

  /** Stores raw bytes under their sha256; refuses a hash that does not match. */
  putBlob(hash: string, bytes: Uint8Array): void {
    const actual = sha256Hex(bytes);
    if (actual !== hash) throw new Error(`provide: hash ${hash} does not match sha256 of the bytes (${actual})`);
    this.put(hash, { item: { kind: 'blob', bytes }, runId: null });
  }

  private put(hash: string, e: Entry): void {
    if (this.entries.has(hash)) this.entries.delete(hash);
    this.entries.set(hash, e);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  get(hash: string): FetchItem | undefined {
    return this.entries.get(hash)?.item;
  }

  has(hash: string): boolean {
    return this.entries.has(hash);
  }

  /** Content hashes of envelopes of one run, oldest first, at most `limit`. */
  inventory(runId: number, limit: number): string[] {
    const out: string[] = [];
    for (const [h, e] of this.entries) {
      if (e.runId === runId) out.push(h);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Drops envelopes of runs other than those kept (blobs stay until evicted by capacity). */
  pruneRuns(keep: Array<number | null>): void {
    const k = new Set(keep.filter((r): r is number => r !== null));
    if (k.size === 0) return;
    for (const [h, e] of this.entries) if (e.runId !== null && !k.has(e.runId)) this.entries.delete(h);
  }

  get size(): number {
    return this.entries.size;
  }
}
