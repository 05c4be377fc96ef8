// Writes runtime/zip/python-modules.json from the evaluator image's Python (the modules a ZIP project
// may not shadow), or with --check compares the shipped file with the image and exits 1 on a difference.
//   node tools/python-modules.ts [--check] [--image IMAGE]   (default $CONCLAVE_EVALUATOR_IMAGE or conclave-evaluator:cpu)
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PYTHON_MODULES_PATH, PYTHON_MODULES_PROBE, shippedPythonModules } from '../runtime/zip/shadowing.ts';
import { CPU_IMAGE } from '../runtime/sandbox-image.ts';

const args = process.argv.slice(2);
const check = args.includes('--check');
const i = args.indexOf('--image');
const image = i >= 0 ? args[i + 1] : CPU_IMAGE;
const r = spawnSync('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'python3', image, '-I', '-c', PYTHON_MODULES_PROBE], { encoding: 'utf8', timeout: 120_000 });
if (r.status !== 0) {
  process.stderr.write(`cannot run python3 in ${image}: ${r.stderr || r.error?.message}\nbuild it with \`npm run image\` first\n`);
  process.exit(2);
}
const found = JSON.parse(r.stdout);
if (check) {
  const same = JSON.stringify(shippedPythonModules()) === JSON.stringify(found);
  process.stdout.write(same ? `python-modules.json matches ${image}\n` : `python-modules.json differs from ${image}; run node tools/python-modules.ts\n`);
  process.exit(same ? 0 : 1);
}
writeFileSync(PYTHON_MODULES_PATH, JSON.stringify(found, null, 1) + '\n');
process.stdout.write(`wrote ${PYTHON_MODULES_PATH} (python ${found.python}: ${found.stdlib.length} stdlib, ${found.sitePackages.length} site-packages modules)\n`);
