// Keeping a bulk import's peak RSS bounded. Parsing and archiving report after report makes
// short-lived garbage faster than V8 gives its young generation back, so a 64 MiB import of valid
// reports peaked near 400 MB although less than 40 MB was live (measured before batching by bytes). The caller reports how much it has
// processed; after every few MB, if RSS is above a threshold, a full collection is requested (V8
// then also shrinks the young generation). Small inputs never get there and pay nothing.
import v8 from 'node:v8';
import vm from 'node:vm';

const THRESHOLD = 140 * 1024 * 1024;
const CADENCE = 1 * 1024 * 1024;

let gc: (() => void) | null | undefined;
let since = 0;

function collector(): (() => void) | null {
  if (gc !== undefined) return gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  } catch {
    gc = null;
  }
  return gc;
}

/** Counts `processedBytes`; every ~4 MB, collects garbage if RSS is above 140 MB. */
export function relieveMemory(processedBytes: number): void {
  since += processedBytes;
  if (since < CADENCE) return;
  since = 0;
  if (process.memoryUsage.rss() > THRESHOLD) collector()?.();
}
