"""Constant folding: the strings (and bytes, ints) an expression can take at run time when it is built
only from constants: `+`, `*`, `%`, `.format`, f-strings, `join` over lists/tuples/`map(chr, ...)`/
generator expressions, slicing, `bytes(...)`/`bytes.fromhex`, `.decode()`/`.encode()` with safe codecs,
`chr`, `str`/`int`, str methods, and names assigned constants (incl. `+=` accumulation, loop targets and
parameter defaults). No findings of its own: forbidden-string (strings.py) scans what it produces.
Candidate counts and lengths are capped by the policy's limits (maxFoldCandidates, maxFoldLength).
"""
import ast

from .base import Unknown

SAFE_CODECS = {"utf-8", "utf8", "utf_8", "ascii", "latin-1", "latin1", "iso-8859-1", "unicode_escape",
               "raw_unicode_escape", "utf-16", "utf-32", "cp437", "utf_16", "utf_32"}
STR_METHODS = {"replace", "lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize",
               "casefold", "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust"}


class ConstantFolding:
    def cap(self, values):
        out = []
        for v in values:
            if isinstance(v, (str, bytes)) and len(v) > self.max_len:
                continue
            if v not in out:
                out.append(v)
            if len(out) >= self.max_cands:
                break
        return out

    def collect_env(self):
        for _ in range(3):
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            self.bind(t.id, self.fold_safe(node.value))
                        elif isinstance(t, (ast.Tuple, ast.List)) and isinstance(node.value, (ast.Tuple, ast.List)):
                            for tt, vv in zip(t.elts, node.value.elts):
                                if isinstance(tt, ast.Name):
                                    self.bind(tt.id, self.fold_safe(vv))
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                    if isinstance(node.target, ast.Name):
                        self.bind(node.target.id, self.fold_safe(node.value))
                elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                    prev = self.env.get(node.target.id, [])
                    vals = self.fold_safe(node.value)
                    combos = []
                    for a in prev:
                        for b in vals:
                            try:
                                combos.append(self.binop(node.op, a, b))
                            except Unknown:
                                pass
                    self.bind(node.target.id, combos + vals)
                elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
                    for seq in self.fold_iter_safe(node.iter):
                        self.bind(node.target.id, list(seq))
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    # Parameter defaults are constants too.
                    args = node.args.posonlyargs + node.args.args
                    for a, d in zip(args[len(args) - len(node.args.defaults):], node.args.defaults):
                        self.bind(a.arg, self.fold_safe(d))

    def bind(self, name, values):
        if values:
            self.env[name] = self.cap(self.env.get(name, []) + list(values))

    def fold_safe(self, node):
        try:
            return self.cap(self.fold(node, 0))
        except (Unknown, RecursionError, ValueError, TypeError, OverflowError, MemoryError, UnicodeError,
                IndexError, KeyError, AttributeError):
            return []

    def fold_iter_safe(self, node):
        try:
            return self.fold_iter(node, 0)
        except (Unknown, RecursionError, ValueError, TypeError, OverflowError, MemoryError, UnicodeError,
                IndexError, KeyError, AttributeError):
            return []

    def binop(self, op, a, b):
        if isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (str, bytes, int)):
            return a + b
        if isinstance(op, ast.Mult):
            if isinstance(a, (str, bytes)) and isinstance(b, int) and 0 <= b <= 64:
                return a * b
            if isinstance(b, (str, bytes)) and isinstance(a, int) and 0 <= a <= 64:
                return a * b
            if isinstance(a, int) and isinstance(b, int):
                return a * b
        if isinstance(op, ast.Mod) and isinstance(a, (str, bytes)):
            return a % b
        if isinstance(op, ast.Sub) and isinstance(a, int) and isinstance(b, int):
            return a - b
        raise Unknown()

    def product(self, lists):
        combos = [[]]
        for options in lists:
            if not options:
                raise Unknown()
            combos = [c + [o] for c in combos for o in options][: self.max_cands]
        return combos

    def fold(self, node, depth):
        if depth > 40:
            raise Unknown()
        d = depth + 1
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bytes, int)) and not isinstance(node.value, bool):
                return [node.value]
            raise Unknown()
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return list(self.env[node.id])
            raise Unknown()
        if isinstance(node, ast.BinOp):
            left = self.fold(node.left, d)
            if isinstance(node.op, ast.Mod) and isinstance(node.right, ast.Tuple):
                rights = [tuple(c) for c in self.product([self.fold(e, d) for e in node.right.elts])]
            else:
                rights = self.fold(node.right, d)
            out = []
            for a in left:
                for b in rights:
                    try:
                        out.append(self.binop(node.op, a, b))
                    except (Unknown, TypeError, ValueError):
                        pass
            if not out:
                raise Unknown()
            return self.cap(out)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append([str(v.value)])
                elif isinstance(v, ast.FormattedValue):
                    conv = {115: str, 114: repr, 97: ascii}.get(v.conversion, str)
                    parts.append([conv(x) for x in self.fold(v.value, d)])
                else:
                    raise Unknown()
            return self.cap(["".join(c) for c in self.product(parts)])
        if isinstance(node, ast.Subscript):
            values = self.fold(node.value, d)
            sl = node.slice
            out = []
            if isinstance(sl, ast.Slice):
                def bound(x):
                    if x is None:
                        return [None]
                    return [v for v in self.fold(x, d) if isinstance(v, int)]
                for v in values:
                    for lo in bound(sl.lower):
                        for hi in bound(sl.upper):
                            for st in bound(sl.step):
                                if st == 0:
                                    continue
                                out.append(v[lo:hi:st])
            else:
                for v in values:
                    for i in self.fold(sl, d):
                        if isinstance(i, int) and isinstance(v, (str, bytes)):
                            r = v[i]
                            out.append(r)
            return self.cap(out)
        if isinstance(node, ast.Call):
            return self.cap(self.fold_call(node, d))
        raise Unknown()

    def fold_call(self, node, d):
        f = node.func
        args = node.args
        if isinstance(f, ast.Attribute):
            if f.attr == "join" and len(args) == 1:
                seps = self.fold(f.value, d)
                out = []
                for sep in seps:
                    for seq in self.fold_iter(args[0], d):
                        if isinstance(sep, str) and all(isinstance(x, str) for x in seq):
                            out.append(sep.join(seq))
                        elif isinstance(sep, bytes) and all(isinstance(x, bytes) for x in seq):
                            out.append(sep.join(seq))
                return out
            if f.attr == "format":
                bases = self.fold(f.value, d)
                argc = self.product([self.fold(a, d) for a in args]) if args else [[]]
                kw = {}
                for k in node.keywords:
                    if k.arg is None:
                        raise Unknown()
                    kw[k.arg] = self.fold(k.value, d)[0]
                return [b.format(*a, **kw) for b in bases for a in argc if isinstance(b, str)]
            if f.attr in ("decode", "encode"):
                enc = "utf-8"
                if args:
                    e = self.fold(args[0], d)[0]
                    if not isinstance(e, str):
                        raise Unknown()
                    enc = e
                if enc.lower().replace(" ", "") not in SAFE_CODECS:
                    raise Unknown()
                out = []
                for v in self.fold(f.value, d):
                    if f.attr == "decode" and isinstance(v, bytes):
                        out.append(v.decode(enc, "replace"))
                    elif f.attr == "encode" and isinstance(v, str):
                        out.append(v.encode(enc, "replace"))
                return out
            if f.attr == "fromhex" and isinstance(f.value, ast.Name) and f.value.id in ("bytes", "bytearray") and args:
                return [bytes.fromhex(v) for v in self.fold(args[0], d) if isinstance(v, str)]
            if f.attr in STR_METHODS:
                bases = self.fold(f.value, d)
                argc = self.product([self.fold(a, d) for a in args]) if args else [[]]
                return [getattr(b, f.attr)(*a) for b in bases for a in argc if isinstance(b, (str, bytes))]
            raise Unknown()
        if isinstance(f, ast.Name):
            if f.id == "chr" and len(args) == 1:
                return [chr(v) for v in self.fold(args[0], d) if isinstance(v, int)]
            if f.id == "str" and len(args) == 1:
                return [v if isinstance(v, str) else str(v) for v in self.fold(args[0], d)]
            if f.id in ("bytes", "bytearray") and args:
                if len(args) >= 2 or isinstance(args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    vals = self.fold(args[0], d)
                    enc = self.fold(args[1], d)[0] if len(args) >= 2 else "utf-8"
                    if isinstance(enc, str) and enc.lower() in SAFE_CODECS:
                        return [v.encode(enc) if isinstance(v, str) else bytes(v) for v in vals]
                    raise Unknown()
                return [bytes(seq) for seq in self.fold_iter(args[0], d)
                        if all(isinstance(x, int) and 0 <= x < 256 for x in seq)]
            if f.id == "int" and args:
                base = self.fold(args[1], d)[0] if len(args) > 1 else 10
                return [int(v, base) for v in self.fold(args[0], d) if isinstance(v, str)]
        raise Unknown()

    def fold_iter(self, node, d):
        """Possible element sequences of an iterable expression."""
        if d > 40:
            raise Unknown()
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return self.product([self.fold(e, d + 1) for e in node.elts])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fid = node.func.id
            if fid in ("list", "tuple", "reversed", "sorted") and len(node.args) == 1:
                seqs = self.fold_iter(node.args[0], d + 1)
                if fid == "reversed":
                    return [list(reversed(s)) for s in seqs]
                if fid == "sorted":
                    return [sorted(s) for s in seqs]
                return seqs
            if fid == "map" and len(node.args) == 2 and isinstance(node.args[0], ast.Name):
                fn = {"chr": chr, "str": str, "ord": ord}.get(node.args[0].id)
                if fn is None:
                    raise Unknown()
                return [[fn(x) for x in s] for s in self.fold_iter(node.args[1], d + 1)]
            if fid == "range":
                bounds = [self.fold(a, d + 1)[0] for a in node.args]
                r = range(*bounds)
                if len(r) > 4096:
                    raise Unknown()
                return [list(r)]
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) == 1:
            gen = node.generators[0]
            if gen.ifs or not isinstance(gen.target, ast.Name):
                raise Unknown()
            out = []
            for seq in self.fold_iter(gen.iter, d + 1):
                saved = self.env.get(gen.target.id)
                items = []
                try:
                    for x in seq:
                        self.env[gen.target.id] = [x]
                        vals = self.fold(node.elt, d + 1)
                        items.append(vals[0])
                finally:
                    if saved is None:
                        self.env.pop(gen.target.id, None)
                    else:
                        self.env[gen.target.id] = saved
                out.append(items)
            return out
        vals = self.fold(node, d + 1)
        return [list(v) for v in vals if isinstance(v, (str, bytes))]
