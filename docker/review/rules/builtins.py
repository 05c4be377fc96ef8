"""The interpreter's builtins and str/bytes methods (a mixin of interp.Interp): what `chr`, `str`,
`bytes`, `int`, `list`, `map`, `range`, `zip`, `next`, `getattr`, `type`, ... and `join`, `format`,
`replace`, `lower`, `encode`/`decode` (safe codecs only), `split`, ... give for the candidates of their
arguments. Sizes are guarded before anything is built (widths, repeat counts, replace growth), so no
operation can allocate more than a few times long_limit.
"""
import ast

from .calls import FOREIGN_CLASS, OPAQUE, SAFE_CODECS, WIDE_FORMAT, propagated, taint_cloud
from .values import UNKNOWN, LongStr, V, const, join, join_all, mapping, seq


def small_int(n):
    return isinstance(n, int) and not isinstance(n, bool) and abs(n) < 1 << 64


class BuiltinRules:
    def consts_of(self, v, kinds):
        return [c for c in (v.consts or ()) if isinstance(c, kinds) and not isinstance(c, bool) or (bool in kinds and isinstance(c, bool))]

    def sequences(self, v):
        """Possible element sequences of an iterable value, each a list of candidate tuples (capped)."""
        items = self.as_items(v)
        if items is None:
            return []
        return self.products([list(x.consts or ()) for x in items])

    def texts_out(self, values, node):
        out = []
        for x in values:
            if isinstance(x, (str, bytes)):
                out.append(self.make_text(x, node))
            elif x is not None:
                out.append(x)
        return V(consts=tuple(dict.fromkeys(out))[: self.cap]) if out else UNKNOWN

    def builtin(self, name, node, args, kws, starred, env, scope):
        a0 = args[0] if args else None
        if name == "len" and a0 is not None and len(args) == 1:
            n = len(a0.items) if a0.items is not None else len(a0.keys) if a0.keys is not None else None
            if n is None and a0.consts is not None and len(a0.consts) == 1 and isinstance(a0.consts[0], (str, bytes, LongStr)):
                n = len(a0.consts[0])
            return const(n) if n is not None else UNKNOWN
        if name in OPAQUE:
            if name in ("hasattr",) and len(args) >= 2:
                self.hook_getattr(node, args)
            return UNKNOWN
        if name == "chr" and a0 is not None:
            return self.texts_out([chr(c) for c in self.consts_of(a0, (int,)) if 0 <= c < 0x110000], node)
        if name == "ord" and a0 is not None:
            return V(consts=tuple(ord(c) for c in self.texts(a0) if len(c) == 1 and not isinstance(c, LongStr))[: self.cap]) or UNKNOWN
        if name in ("str", "repr", "ascii") and len(args) <= 1 and not kws:
            if a0 is None:
                return const("")
            conv = {"str": str, "repr": repr, "ascii": ascii}[name]
            vals = [c if (name == "str" and isinstance(c, str)) else conv(c) for c in (a0.consts or ()) if not isinstance(c, LongStr)]
            return self.texts_out(vals, node)
        if name in ("str",) and len(args) >= 2:
            return self.codec("decode", args[0], args[1:2], node)
        if name in ("bytes", "bytearray"):
            if a0 is None:
                return const(b"")
            if len(args) >= 2:
                return self.codec("encode", a0, args[1:2], node)
            out = []
            for c in (a0.consts or ()):
                if isinstance(c, str):
                    continue  # bytes("x") without an encoding raises
                if small_int(c) and 0 <= c <= self.long_limit:
                    out.append(bytes(c))
                elif isinstance(c, bytes):
                    out.append(c)
            for s in self.sequences(a0):
                if all(small_int(x) and 0 <= x < 256 for x in s):
                    out.append(bytes(s))
            return self.texts_out(out, node)
        if name == "int" and a0 is not None:
            bases = [10] if len(args) < 2 else self.consts_of(args[1], (int,))
            out = []
            for c in (a0.consts or ()):
                for b in bases:
                    try:
                        if isinstance(c, (str, bytes)) and len(c) <= 64:
                            out.append(int(c, b))
                        elif small_int(c) and b == 10:
                            out.append(c)
                    except (ValueError, TypeError):
                        pass
            return V(consts=tuple(dict.fromkeys(out))[: self.cap]) if out else UNKNOWN
        if name in ("list", "tuple", "sorted", "reversed", "iter"):
            if a0 is None:
                return seq([])
            items = self.as_items(a0)
            if items is None:
                return V(elem=self.iterated(a0), labels=propagated(a0.labels))
            if name == "reversed":
                items = items[::-1]
            elif name == "sorted":
                ordered = self.sort_known(items, kws, node, env, scope)
                if ordered is None:
                    return V(elem=a0.elem)
                items = ordered
            return seq(items)
        if name in ("set", "frozenset"):
            return V(elem=a0.elem) if a0 is not None else V(elem=UNKNOWN)
        if name == "dict":
            d = {}
            if a0 is not None and a0.keys is not None:
                d.update(a0.keys)
            elif a0 is not None:
                return V(elem=join_all([a0.elem.elem] + [v for _, v in kws]))
            for k, v in kws:
                if k is None:
                    return V(elem=join_all(list(d.values()) + [v for _, v in kws]))
                d[k] = v
            return mapping(d)
        if name == "map" and len(args) >= 2:
            return self.map_call(node, args, env, scope)
        if name == "filter" and len(args) >= 2:
            items = self.as_items(args[1])
            if items is not None and args[0].consts == (None,):
                return seq([x for x in items if not (x.consts and len(x.consts) == 1 and not x.consts[0])])
            self.feed_callable(args[0], [args[1].elem])
            return V(elem=args[1].elem, labels=propagated(args[1].deep_labels()))
        if name == "range":
            bounds = [self.consts_of(a, (int,)) for a in args]
            if all(len(b) == 1 for b in bounds) and 1 <= len(bounds) <= 3:
                try:
                    r = range(*[b[0] for b in bounds])
                except (ValueError, TypeError):
                    return UNKNOWN
                if len(r) <= 64:
                    return seq([const(i) for i in r])
                return V(elem=V(consts=(r[0], r[-1])) if len(r) else UNKNOWN)
            return V(elem=UNKNOWN)
        if name == "next" and a0 is not None:
            items = self.as_items(a0)
            # an iterator's position is not tracked: any element may come next
            first = join_all(items) if items else self.iterated(a0)
            return join(first, args[1]) if len(args) > 1 else first
        if name in ("min", "max"):
            if len(args) == 1:
                if "key" in [k for k, _ in kws]:
                    self.feed_callable(dict(kws)["key"], [a0.elem])
                return a0.elem
            return join_all(args) if args else UNKNOWN
        if name == "zip":
            seqs = [self.as_items(a) for a in args]
            if args and all(s is not None for s in seqs):
                n = min(len(s) for s in seqs)
                return seq([seq([s[i] for s in seqs]) for i in range(n)])
            return V(elem=seq([a.elem for a in args]))
        if name == "enumerate" and a0 is not None:
            items = self.as_items(a0)
            if items is not None:
                return seq([seq([const(i), x]) for i, x in enumerate(items)])
            return V(elem=seq([UNKNOWN, a0.elem]))
        if name == "getattr" and len(args) >= 2:
            names = [c for c in (args[1].consts or ()) if isinstance(c, str)]
            out = None
            for attr in names:
                probe = ast.Attribute(value=node.args[0], attr=attr, ctx=ast.Load())
                ast.copy_location(probe, node)
                self.hooks.on_attribute(probe, args[0], "load", None)
                out = join(out, self.attribute_value(args[0], attr))
            if out is None:
                return self.unknown_result(args)
            return join(out, args[2]) if len(args) > 2 else out
        if name == "type" and len(args) == 1:
            classes = [lab[1] for lab in a0.deep_labels() if isinstance(lab, tuple) and lab[0] in ("inst", "class")]
            if classes:
                return V(labels=frozenset(("class", c) for c in classes), funcs=frozenset(("class", c) for c in classes))
            return V(labels=frozenset({FOREIGN_CLASS}))  # a class the submission did not define
        if name == "format" and a0 is not None:
            specs = [s for s in self.texts(args[1])] if len(args) > 1 else [""]
            out = []
            for c in (a0.consts or ()):
                for s in specs:
                    if isinstance(s, str) and not WIDE_FORMAT.search(s) and not isinstance(c, LongStr):
                        try:
                            out.append(format(c, s))
                        except (TypeError, ValueError):
                            pass
            return self.texts_out(out, node)
        if name in ("staticmethod", "classmethod", "property") and a0 is not None:
            return a0
        return None

    def hook_getattr(self, node, args):
        for attr in [c for c in (args[1].consts or ()) if isinstance(c, str)]:
            probe = ast.Attribute(value=node.args[0], attr=attr, ctx=ast.Load())
            ast.copy_location(probe, node)
            self.hooks.on_attribute(probe, args[0], "load", None)

    def feed_callable(self, fv, arg_values):
        """A local function handed to a builtin that calls it with elements of its iterables."""
        for fn in fv.funcs:
            if fn[0] in ("def", "method"):
                self.call_local(fn[1], None, arg_values, [], None)

    def map_call(self, node, args, env, scope):
        fv = args[0]
        iters = [self.as_items(a) for a in args[1:]]
        if len(args) == 2 and iters[0] is not None:
            per = [self.call_value(fv, [x], node, env, scope) for x in iters[0]]
            if all(r is not None for r in per):
                return seq(per)
        self.feed_callable(fv, [a.elem for a in args[1:]])
        results = [self.return_of(fn[1]) for fn in fv.funcs if fn[0] in ("def", "method")]
        return V(elem=join_all(results) if results else UNKNOWN)

    def codec(self, op, v, enc_args, node):
        encs = [e for e in self.texts(enc_args[0])] if enc_args else ["utf-8"]
        out = []
        for enc in encs:
            if not isinstance(enc, str) or enc.lower().replace(" ", "") not in SAFE_CODECS:
                continue
            for c in self.texts(v):
                if isinstance(c, LongStr):
                    continue
                try:
                    if op == "decode" and isinstance(c, bytes):
                        out.append(c.decode(enc, "replace"))
                    elif op == "encode" and isinstance(c, str):
                        out.append(c.encode(enc, "replace"))
                except (LookupError, ValueError, UnicodeError):
                    pass
        return self.texts_out(out, node)

    def int_method(self, m, recv, args, kws, node):
        out = []
        for n in (recv.consts or ()):
            if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 1 << 512:
                continue
            if m == "bit_length":
                out.append(n.bit_length())
                continue
            lengths = self.consts_of(args[0], (int,)) if args else [1]
            orders = [c for c in self.texts(args[1])] if len(args) > 1 else [v for k, v in kws if k == "byteorder"][:1] or ["big"]
            orders = [o for o in orders if o in ("big", "little")] if all(isinstance(o, str) for o in orders) else \
                [o for x in orders for o in self.texts(x) if o in ("big", "little")]
            for ln in lengths:
                for order in orders or ["big"]:
                    if 0 <= ln <= 64:
                        try:
                            out.append(n.to_bytes(ln, order))
                        except OverflowError:
                            pass
        return self.texts_out(out, node)

    def str_method(self, m, recv, args, kws, node):
        if m == "from_bytes":  # int.from_bytes(b, order)
            out = []
            for b in self.texts(recv):
                if isinstance(b, bytes) and len(b) <= 64:
                    for order in ([c for c in self.texts(args[0]) if c in ("big", "little")] if args else ["big"]):
                        out.append(int.from_bytes(b, order))
            return V(consts=tuple(dict.fromkeys(out))[: self.cap]) if out else UNKNOWN
        if m == "maketrans":
            return self.maketrans(recv, args)
        bases = [b for b in self.texts(recv) if not isinstance(b, LongStr)]
        if not bases:
            return UNKNOWN
        if m == "translate" and args:
            table = self.table_of(args[0])
            if table is None:
                return UNKNOWN
            return self.texts_out([b.translate(table) for b in bases if isinstance(b, str)], node)
        if m == "format_map" and args:
            if args[0].keys is None:
                return UNKNOWN
            kws = [(k, v) for k, v in args[0].keys.items() if isinstance(k, str)]
            args = []
            m = "format"
        if m in ("encode", "decode"):
            return self.codec(m, recv, args[:1] or [v for k, v in kws if k == "encoding"][:1], node)
        if m == "fromhex":
            return self.texts_out([bytes.fromhex(b) for b in bases if isinstance(b, str) and self._hexok(b)], node)
        if m == "join" and args:
            out = []
            for sep in bases:
                for s in self.sequences(args[0]):
                    if all(type(x) is type(sep) for x in s) and sum(len(x) for x in s) + len(sep) * len(s) <= self.long_limit:
                        out.append(sep.join(s))
            return self.texts_out(out, node)
        if m == "format":
            argc = self.products([list(a.consts or ()) for a in args]) if args else [()]
            kw = {}
            for k, v in kws:
                if k is None or not v.consts:
                    return UNKNOWN
                kw[k] = v.consts[0]
            out = []
            for b in bases:
                if not isinstance(b, str) or WIDE_FORMAT.search(b):
                    continue
                for a in argc:
                    try:
                        r = b.format(*a, **kw)
                    except (IndexError, KeyError, ValueError, TypeError, AttributeError):
                        continue
                    if len(r) <= 4 * self.long_limit:
                        out.append(r)
            return self.texts_out(out, node)
        argc = self.products([list(a.consts or ()) for a in args]) if args else [()]
        out = []
        for b in bases:
            for a in argc:
                if any(isinstance(x, LongStr) for x in a):
                    continue
                if m in ("zfill", "center", "ljust", "rjust", "expandtabs") and any(small_int(x) and x > self.long_limit for x in a):
                    continue
                if m == "replace" and len(a) >= 2 and isinstance(a[0], type(b)) and isinstance(a[1], type(b)):
                    grow = (len(a[1]) - len(a[0])) * (b.count(a[0]) if a[0] else len(b) + 1)
                    if len(b) + grow > self.long_limit:
                        continue
                try:
                    r = getattr(b, m)(*a)
                except (TypeError, ValueError, AttributeError, OverflowError):
                    continue
                if isinstance(r, (list, tuple)):
                    if len(r) <= 64:
                        return seq([self.texts_out([x], node) for x in r])
                    continue
                out.append(r)
        return self.texts_out(out, node)

    def maketrans(self, a, args):
        """str.maketrans(x, y[, z]) with constant strings: the table as a mapping of code points."""
        srcs = [x for x in self.texts(a) if isinstance(x, str)]
        dsts = [x for x in self.texts(args[0]) if isinstance(x, str)] if args else []
        dels = [x for x in self.texts(args[1]) if isinstance(x, str)] if len(args) > 1 else [""]
        if len(srcs) != 1 or len(dsts) != 1 or len(dels) != 1 or len(srcs[0]) != len(dsts[0]) or len(srcs[0]) > 256:
            return UNKNOWN
        table = {ord(x): const(ord(y)) for x, y in zip(srcs[0], dsts[0])}
        table.update({ord(x): const(None) for x in dels[0]})
        return mapping(table)

    def table_of(self, v):
        if v.keys is None:
            return None
        table = {}
        for k, x in v.keys.items():
            if not small_int(k) or x.consts is None or len(x.consts) != 1:
                return None
            table[k] = x.consts[0]
        return table

    @staticmethod
    def _hexok(s):
        try:
            bytes.fromhex(s)
            return True
        except ValueError:
            return False
