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
  // branches and loops in a function with thousands of locals: each copies and merges every local
  many_locals_ifs: grow('\ndef _f(c):\n', '    if c:\n        z{i} = 1\n', 490_000),
  many_locals_loops: grow('\ndef _f(c):\n', '    for q in c:\n        z{i} = q\n', 490_000),
  raises: grow('\ndef _f(c):\n', '    try:\n        raise ValueError("x{i}" + "y" * {i})\n    except ValueError as e{i}:\n        z{i} = e{i}\n', 490_000),
  // lambdas applied per element (map, sorted(key=), functools.reduce are evaluated exactly)
  map_lambda: grow('\n_XS = [str(k) for k in range(64)]\ndef _f():\n', '    y{i} = list(map(lambda c: c + "a{i}", _XS))\n', 490_000),
  // instances of many local classes joined into one value, iterated, indexed, called, read through a property
  protocols: grow('\n' + Array.from({ length: 200 }, (_, k) => `class _C${k}:\n    def __iter__(self):\n        yield "a${k}"\n    def __getitem__(self, i):\n        return "b"\n    def __call__(self, x):\n        return x + "c"\n    @property\n    def p(self):\n        return "p"\n`).join('') +
    '\ndef _f(c):\n    o = _C0()\n' + Array.from({ length: 199 }, (_, k) => `    o = _C${k + 1}() if c else o\n`).join(''), '    for x in o:\n        s{i} = x + o[0] + o("q") + o.p\n', 330_000),
  dict_iter: grow('\n_D = {' + Array.from({ length: 60 }, (_, k) => `"k${k}": "v${k}"`).join(', ') + '}\ndef _f():\n    s = ""\n', '    for k in _D:\n        s = s + k + _D[k]\n', 380_000),
};
