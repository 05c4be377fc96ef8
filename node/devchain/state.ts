// Versioned key-value state: every key keeps its history of (block, value) so any past block can be read
// (reads pinned to a block hash) without copying the whole state per block. Keys are lowercase 0x-hex, so
// string order equals byte order and prefix iteration is a range scan over one sorted key list.

interface History {
  blocks: number[];
  values: (string | null)[];
}

export class VersionedState {
  private readonly hist = new Map<string, History>();
  private readonly sorted: string[] = [];

  get(key: string, block: number): string | null {
    const h = this.hist.get(key);
    if (!h) return null;
    // last entry with blocks[i] <= block
    let lo = 0;
    let hi = h.blocks.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (h.blocks[mid] <= block) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? null : h.values[found];
  }

  /** Records `value` (null = deleted) for `key` as of `block`; blocks must be written in increasing order. */
  set(key: string, value: string | null, block: number): void {
    let h = this.hist.get(key);
    if (!h) {
      if (value === null) return;
      h = { blocks: [], values: [] };
      this.hist.set(key, h);
      this.sorted.splice(lowerBound(this.sorted, key), 0, key);
    }
    const last = h.blocks.length - 1;
    if (last >= 0 && h.blocks[last] === block) h.values[last] = value;
    else if (last >= 0 && h.blocks[last] > block) throw new Error(`state write for block ${block} after block ${h.blocks[last]}`);
    else h.blocks.push(block), h.values.push(value);
  }

  /** Keys under `prefix` that exist at `block`, strictly after `startKey` when given, at most `count`. */
  keys(prefix: string, block: number, count = Infinity, startKey?: string): string[] {
    const out: string[] = [];
    let i = lowerBound(this.sorted, startKey && startKey > prefix ? startKey : prefix);
    for (; i < this.sorted.length && out.length < count; i++) {
      const k = this.sorted[i];
      if (!k.startsWith(prefix)) break;
      if (startKey !== undefined && k <= startKey) continue;
      if (this.get(k, block) !== null) out.push(k);
    }
    return out;
  }
}

function lowerBound(arr: string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
