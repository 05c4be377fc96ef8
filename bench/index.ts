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
  // the scale bench starts whole 64-validator networks (minutes each on a small, shared machine)
  const timeout = (f.startsWith('scale') ? 90 : 20) * 60_000;
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: ['ignore', 'inherit', 'inherit'], timeout });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(JSON.stringify({ bench: f, error: `exited with ${r.status ?? r.signal}` }) + '\n');
  }
}
process.exitCode = failed ? 1 : 0;
