// The import rules of docs/ARCHITECTURE.md, as enforced by tools/lint-imports.ts (run before mocha by
// `npm test`): the repository obeys them, and each kind of violation is caught (negative controls).
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkFile, checkRepository, importsOf } from '../../tools/lint-imports.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LINTER = fileURLToPath(new URL('../../tools/lint-imports.ts', import.meta.url));

describe('layout: import rules (tools/lint-imports.ts)', function () {
  it('the repository has no violation', function () {
    assert.deepEqual(checkRepository(ROOT), []);
  });

  it('finds static, type-only, re-export, side-effect, dynamic and require imports with their lines', function () {
    const src = [
      "import { a } from './a.ts';",
      "import type { B } from '../node/b.ts';",
      "export { c } from \"../runtime/c.ts\";",
      "import '../node/side.ts';",
      "const d = await import('../node/d.ts');",
      "const e = require('node:fs');",
      "// import { x } from '../node/commented.ts';",
      "/* import { y } from '../node/block.ts'; */",
      "const s = 'from ../node/not-an-import.ts';",
    ].join('\n');
    assert.deepEqual(importsOf(src).map((i) => `${i.line}:${i.specifier}`),
      ['1:./a.ts', '2:../node/b.ts', '3:../runtime/c.ts', '4:../node/side.ts', '5:../node/d.ts', '6:node:fs']);
  });

  it('refuses consensus/ or proto/ importing node/ or runtime/, and runtime/ importing node/', function () {
    const cases: [string, string, RegExp][] = [
      ['consensus/x.ts', "import { Archive } from '../node/archive.ts';", /consensus\/ may not import node\//],
      ['consensus/sim/x.ts', "import type { T } from '../../runtime/zip.ts';", /consensus\/ may not import runtime\//],
      ['proto/x.ts', "export * from '../runtime/fetch.ts';", /proto\/ may not import runtime\//],
      ['proto/x.ts', "const m = await import('../node/config.ts');", /proto\/ may not import node\//],
      ['proto/x.ts', "import { step } from '../consensus/pbft.ts';", /proto\/ may not import consensus\//],
      ['runtime/x.ts', "import { loadConfig } from '../node/config.ts';", /runtime\/ may not import node\//],
    ];
    for (const [file, src, re] of cases) {
      const v = checkFile(file, src);
      assert.equal(v.length, 1, `${file}: ${src}`);
      assert.match(v[0].rule, re);
    }
  });

  it('refuses I/O in the pure core but allows hashing', function () {
    assert.match(checkFile('consensus/x.ts', "import { readFileSync } from 'node:fs';")[0].rule, /may not import node:fs/);
    assert.match(checkFile('consensus/x.ts', "import { readFile } from 'node:fs/promises';")[0].rule, /node:fs\/promises/);
    assert.match(checkFile('consensus/x.ts', "import { createLibp2p } from 'libp2p';")[0].rule, /libp2p/);
    assert.match(checkFile('proto/x.ts', "import { spawn } from 'node:child_process';")[0].rule, /child_process/);
    assert.deepEqual(checkFile('consensus/x.ts', "import { createHash } from 'node:crypto';"), []);
    assert.deepEqual(checkFile('runtime/x.ts', "import { spawn } from 'node:child_process'; import { s } from '../proto/codec.ts';"), []);
    assert.deepEqual(checkFile('node/x.ts', "import { step } from '../consensus/pbft.ts'; import { f } from '../runtime/fetch.ts';"), []);
  });

  it('the command exits 1 and names file, line and rule on a repository that breaks a rule', function () {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-lint-'));
    try {
      mkdirSync(join(dir, 'consensus'));
      mkdirSync(join(dir, 'node'));
      writeFileSync(join(dir, 'node', 'clock.ts'), 'export const now = () => Date.now();\n');
      writeFileSync(join(dir, 'consensus', 'leak.ts'), "\nimport { now } from '../node/clock.ts';\nexport const t = now();\n");
      const bad = spawnSync(process.execPath, [LINTER, dir], { encoding: 'utf8' });
      assert.equal(bad.status, 1, bad.stderr);
      assert.match(bad.stderr, /consensus\/leak\.ts:2: consensus\/ may not import node\//);
      rmSync(join(dir, 'consensus', 'leak.ts'));
      const good = spawnSync(process.execPath, [LINTER, dir], { encoding: 'utf8' });
      assert.equal(good.status, 0, good.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
