// `npm run bench [-- FILTER...]`: runs every bench/*.bench.ts in its own process, in name order.
// Each benchmark prints JSON lines ({"bench": ..., ...}) on stdout; this runner passes them through.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const f of files) {
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60_000 });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(JSON.stringify({ bench: f, error: `exited with ${r.status ?? r.signal}` }) + '\n');
  }
}
process.exitCode = failed ? 1 : 0;
