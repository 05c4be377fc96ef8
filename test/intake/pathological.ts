// Sources that stress the reviewer's analysis (string growth, branches, interprocedural flows, loops
// unrolled over known sequences, long exact strings, ...), each close to the 500 KB fetch cap. Shared
// by test/intake/review-bounds.test.ts and `npm run bench -- intake`.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BASE = readFileSync(join(here, 'legit', '01_baseline.py'), 'utf8');

/** BASE plus `line` repeated (with {i} replaced) up to about `bytes`. */
export function grow(head: string, line: string, bytes: number): string {
  const out = [BASE, head];
  let n = BASE.length + head.length;
  for (let i = 0; n < bytes; i++) {
    const l = line.replaceAll('{i}', String(i));
    out.push(l);
    n += l.length;
  }
  return out.join('');
}

export const PATHOLOGICAL: Record<string, string> = {
  augassign: grow('\ndef _f():\n    s = ""\n', '    s += "x"\n', 490_000),
  branches: grow('\ndef _f(c):\n    s = ""\n', '    if c:\n        s = s + "a{i}"\n    else:\n        s = s + "b"\n', 490_000),
  calls: grow('\ndef _g0(a, b):\n    return a + b\n', 'def _g{i}(a, b):\n    return _g{i}(b, a + "z") + _g0(a, "k{i}")\n', 490_000),
  unroll: grow('\ndef _f():\n    s = ""\n', '    for c in "abcdefghijklmnopqrstuvwxyz0123456789":\n        s = s + c\n', 490_000),
  replace: grow('\ndef _f():\n    s = "abcabc"\n', '    s = s.replace("a", "aa")\n', 490_000),
  appends: grow('\ndef _f():\n    parts = []\n', '    parts.append("x{i}")\n    s = "".join(parts)\n', 490_000),
  fstrings: grow('\ndef _f(c):\n' + Array.from({ length: 6 }, (_, k) => `    v${k} = "a" if c else "b${k}"\n`).join(''), '    w{i} = f"{v0}{v1}{v2}{v3}{v4}{v5}"\n', 490_000),
  two_vars: grow('\ndef _f():\n    a = "x"\n    b = "y"\n', '    a, b = b + a, a + "q"\n', 490_000),
  nested_loops: grow('\ndef _f(n):\n    s = ""\n', '    for i in n:\n        for j in n:\n            for k in range(3):\n                s = s + str(k) + "x{i}"\n', 490_000),
  dict_grow: grow('\ndef _f():\n    d = {}\n', '    d["k{i}"] = d.get("k", "") + "v"\n', 490_000),
  call_chain: BASE + '\ndef _f(a):\n    return a' + '.b()'.repeat(100_000) + '\n',
  closures: grow('\ndef _f():\n    s = "a"\n', '    def g{i}():\n        return s + "b"\n', 490_000),
};
