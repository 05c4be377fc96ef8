// Keeping a bulk import under a resident-memory budget. Decoding report after report makes
// short-lived garbage faster than V8 gives memory back: its young generation grows to tens of MB
// and freed pages stay resident, so a 32 MiB import of 4096-entry reports peaked near 245 MB while
// less than 40 MB was live. The import calls keepUnderBudget() after every item and every batch;
// when the process's RSS is over the budget it asks V8 for a memory-reducing full collection (the
// one V8 runs before giving up on an allocation: it also shrinks the young generation and returns
// free pages). Small inputs never reach the budget and pay nothing.
//
// The budget is checked, not hoped for: when even a reducing collection leaves RSS above it (a
// process whose own code and libraries take more), the budget moves to that floor plus a margin,
// so collections never run back to back without freeing anything.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Default budget of a bulk import's RSS, under the ~200 MB every input must stay below. */
export const IMPORT_RSS_BUDGET = 140 * 1024 * 1024;
const MARGIN = 16 * 1024 * 1024;

type Gc = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;
let gc: Gc | null | undefined;

function collector(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as Gc;
  } catch {
    gc = null;
  }
  return gc;
}

export class MemoryBudget {
  readonly budget: number;
  private limit: number;
  /** Memory-reducing collections run so far (for tests and benchmarks). */
  collections = 0;
  constructor(budget = IMPORT_RSS_BUDGET) {
    this.budget = budget;
    this.limit = budget;
  }

  /** Call after each unit of work: collects when RSS is over the budget. */
  check(): void {
    if (process.memoryUsage.rss() <= this.limit) return;
    const collect = collector();
    if (!collect) return;
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    this.collections++;
    const after = process.memoryUsage.rss();
    this.limit = Math.max(this.budget, after + MARGIN);
  }
}
