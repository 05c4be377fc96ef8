"""The interpreter's operators on values (a mixin of interp.Interp): building strings (exact up to
long_limit, else a LongStr keeping both ends; every one reported to hooks.produced with its join
window), `+ * %` on candidates and containers, f-strings, subscripts and slices, and the elements of
a value when they are known.
"""
import ast

from .calls import WIDE_FORMAT, propagated, taint_cloud
from .values import UNKNOWN, LongStr, V, const, join, join_all, seq


class OperatorRules:
    # ---- strings -----------------------------------------------------------------------------
    def make_text(self, value, node, parts=None):
        """A built string or bytes: exact up to long_limit, else a LongStr; reported to the hooks."""
        if isinstance(value, (str, bytes)) and len(value) > self.long_limit:
            value = LongStr(value[:64], value[-64:], len(value))
        self.budget.charge(4 + (len(value) if isinstance(value, (str, bytes)) else 128) // 32)  # ~ its cost: build, scan, dedupe
        self.hooks.produced(node, value, parts)
        return value

    def concat(self, a, b, node):
        if isinstance(a, LongStr) or isinstance(b, LongStr):
            if type(a.head if isinstance(a, LongStr) else a) is not type(b.head if isinstance(b, LongStr) else b):
                return None
            ah, at, an = (a.head, a.tail, a.n) if isinstance(a, LongStr) else (a[:64], a[-64:], len(a))
            bh, bt, bn = (b.head, b.tail, b.n) if isinstance(b, LongStr) else (b[:64], b[-64:], len(b))
            head = ah if an >= 64 else (ah + bh)[:64]
            tail = bt if bn >= 64 else (at + bt)[-64:]
            return self.make_text(LongStr(head, tail, an + bn), node, (at, bh))
        if type(a) is not type(b):
            return None
        if len(a) + len(b) > self.long_limit:
            return self.make_text(LongStr((a + b[:64])[:64], (a[-64:] + b)[-64:], len(a) + len(b)), node, (a[-64:], b[:64]))
        return self.make_text(a + b, node, (a, b))

    def texts(self, v):
        return [c for c in (v.consts or ()) if isinstance(c, (str, bytes))]

    def products(self, lists):
        combos = [()]
        for options in lists:
            if not options:
                return []
            combos = [c + (o,) for c in combos for o in options][: self.cap]
        return combos

    # ---- binary operators --------------------------------------------------------------------
    def binop(self, op, a, b, node):
        labels = propagated(a.deep_labels() | b.deep_labels())
        if isinstance(op, ast.Add) and (a.items is not None or b.items is not None or a._elem is not None or b._elem is not None) \
                and a.consts is None and b.consts is None:
            ia, ib = self.as_items(a), self.as_items(b)
            if ia is not None and ib is not None:
                return seq(list(ia) + list(ib))
            return V(elem=join(a.elem, b.elem), labels=labels)
        rights = b.consts
        if isinstance(op, ast.Mod) and a.consts and b.items is not None:
            rights = tuple(self.products([list(x.consts or ()) for x in b.items]))  # "%s%s" % (a, b)
        elif isinstance(op, ast.Mod) and a.consts and b.keys is not None and len(b.keys) <= 16:
            names = list(b.keys)
            rights = tuple(dict(zip(names, combo)) for combo in self.products([list(b.keys[k].consts or ()) for k in names]))  # "%(a)s" % d
        if isinstance(op, ast.Mult) and a.items is not None and b.consts is not None and len(b.consts) == 1 and \
                isinstance(b.consts[0], int) and not isinstance(b.consts[0], bool) and 0 <= b.consts[0] * len(a.items) <= 64:
            return seq(list(a.items) * b.consts[0])
        if not a.consts or not rights:
            if any(x.items is not None or x.keys is not None or x._elem is not None for x in (a, b)):
                return V(elem=join(a.elem, b.elem), labels=labels)  # a container built from containers
            return taint_cloud(labels)  # e.g. (optimizer,) * 2: may contain what the operands carried
        out = []
        for x in a.consts:
            for y in rights:
                self.budget.charge(1)
                r = self.binop_const(op, x, y, node)
                if r is not None:
                    out.append(r)
                if len(out) >= self.cap:
                    break
            if len(out) >= self.cap:
                break
        return V(consts=tuple(dict.fromkeys(out))[: self.cap], labels=labels) if out else UNKNOWN

    def binop_const(self, op, x, y, node):
        small = lambda n: isinstance(n, int) and not isinstance(n, bool) and abs(n) < 1 << 64
        try:
            if isinstance(op, ast.Add):
                if small(x) and small(y):
                    return x + y
                if isinstance(x, (str, bytes, LongStr)) and isinstance(y, (str, bytes, LongStr)):
                    return self.concat(x, y, node)
            elif isinstance(op, ast.Sub) and small(x) and small(y):
                return x - y
            elif isinstance(op, (ast.BitXor, ast.BitOr, ast.BitAnd)) and small(x) and small(y):
                return x ^ y if isinstance(op, ast.BitXor) else x | y if isinstance(op, ast.BitOr) else x & y
            elif isinstance(op, (ast.LShift, ast.RShift)) and small(x) and small(y) and 0 <= y <= 64:
                r = x << y if isinstance(op, ast.LShift) else x >> y
                return r if small(r) else None
            elif isinstance(op, ast.FloorDiv) and small(x) and small(y) and y != 0:
                return x // y
            elif isinstance(op, ast.Mult):
                if small(x) and small(y):
                    r = x * y
                    return r if small(r) else None
                s, n = (x, y) if small(y) else (y, x)
                if isinstance(s, (str, bytes)) and small(n):
                    if n <= 0:
                        return self.make_text(s[:0], node)
                    if len(s) * n <= self.long_limit:
                        return self.make_text(s * n, node, (s, s) if n > 1 else None)
                    return self.make_text(LongStr((s * (64 // max(1, len(s)) + 1))[:64], (s * (64 // max(1, len(s)) + 1))[-64:], len(s) * n), node, (s[-64:], s[:64]))
            elif isinstance(op, ast.Mod):
                if isinstance(x, (str, bytes)) and not WIDE_FORMAT.search(x if isinstance(x, str) else x.decode("latin-1")):
                    r = x % y
                    return self.make_text(r, node) if len(r) <= 4 * self.long_limit else None
                if small(x) and small(y) and y != 0:
                    return x % y
        except (TypeError, ValueError, OverflowError, KeyError, IndexError, ZeroDivisionError, UnicodeError, MemoryError):
            return None
        return None

    # ---- f-strings ---------------------------------------------------------------------------
    def formatted(self, node, env, scope):
        v = self.eval(node.value, env, scope)
        spec = ""
        if node.format_spec is not None:
            sv = self.eval(node.format_spec, env, scope)
            specs = self.texts(sv)
            if len(specs) != 1 or not isinstance(specs[0], str) or WIDE_FORMAT.search(specs[0]):
                return UNKNOWN
            spec = specs[0]
        conv = {115: str, 114: repr, 97: ascii}.get(node.conversion)
        out = []
        for c in (v.consts or ()):
            if isinstance(c, LongStr):
                continue
            try:
                out.append(format(conv(c) if conv else c, spec))
            except (TypeError, ValueError):
                pass
        return V(consts=tuple(dict.fromkeys(out))[: self.cap]) if out else UNKNOWN

    def joined(self, node, env, scope):
        parts = []
        for p in node.values:
            v = self.eval(p, env, scope)
            opts = [c for c in (v.consts or ()) if isinstance(c, str)]
            if not opts:
                return UNKNOWN
            parts.append(opts)
        out = []
        for combo in self.products(parts):
            total = sum(len(x) for x in combo)
            out.append(self.make_text("".join(combo), node) if total <= self.long_limit else None)
        out = [x for x in out if x is not None]
        return V(consts=tuple(dict.fromkeys(out))) if out else UNKNOWN

    # ---- containers --------------------------------------------------------------------------
    def as_items(self, v):
        """The elements of v in order, when known (a literal list/tuple, or a short string)."""
        if v.items is not None:
            return list(v.items)
        if v.keys is not None and v.consts is None:
            return [const(k) for k in v.keys]  # iterating a dict yields its keys, in insertion order
        if v.consts is not None and len(v.consts) == 1 and isinstance(v.consts[0], (str, bytes)) and len(v.consts[0]) <= 64:
            s = v.consts[0]
            return [const(s[i:i + 1] if isinstance(s, bytes) else s[i]) if isinstance(s, str) else const(s[i]) for i in range(len(s))]
        return None

    def subscript(self, recv, sl, env, scope, node):
        out = self.plain_subscript(recv, sl, env, scope, node)
        if any(isinstance(x, tuple) and x[0] == "inst" for x in recv.labels):
            got = self.indexed(recv, self.values.get(sl, UNKNOWN) if not isinstance(sl, ast.Slice) else UNKNOWN)
            if got is not None:
                out = join(out, got)
        return out

    def plain_subscript(self, recv, sl, env, scope, node):
        keep = frozenset(x for x in recv.labels if x in ("model", "data")) | propagated(recv.labels)
        if isinstance(sl, ast.Slice):
            bounds = []
            for part in (sl.lower, sl.upper, sl.step):
                if part is None:
                    bounds.append([None])
                else:
                    bounds.append([c for c in (self.eval(part, env, scope).consts or ()) if isinstance(c, int) and not isinstance(c, bool)])
            out = []
            for s in self.texts(recv):
                for lo in bounds[0]:
                    for hi in bounds[1]:
                        for st in bounds[2]:
                            if st != 0:
                                out.append(self.make_text(s[lo:hi:st], node))
            if out:
                return V(consts=tuple(dict.fromkeys(out))[: self.cap])
            if recv.items is not None and all(len(b) == 1 for b in bounds) and bounds[2][0] != 0:
                return seq(list(recv.items)[bounds[0][0]:bounds[1][0]:bounds[2][0]])
            return V(elem=recv.elem, labels=keep) if (recv.items is not None or recv._elem is not None) else V(labels=keep)
        idx = self.eval(sl, env, scope)
        out = []
        ks = [c for c in (idx.consts or ()) if not isinstance(c, LongStr)]
        for s in self.texts(recv):
            for i in ks:
                if isinstance(i, int) and not isinstance(i, bool) and -len(s) <= i < len(s):
                    out.append(self.make_text(s[i:i + 1] if isinstance(s, bytes) else s[i], node) if isinstance(s, str) else s[i])
        if out:
            return V(consts=tuple(dict.fromkeys(out))[: self.cap])
        if idx.consts is not None and len(ks) == len(idx.consts) and ks:
            found = []
            for k in ks:
                if recv.keys is not None and k in recv.keys:
                    found.append(recv.keys[k])
                elif recv.items is not None and isinstance(k, int) and not isinstance(k, bool) and -len(recv.items) <= k < len(recv.items):
                    found.append(recv.items[k])
                else:
                    found = None
                    break
            if found:
                return join_all(found)
        if recv.items is not None or recv.keys is not None or recv._elem is not None:
            return join(recv.elem, V(labels=keep)) if keep else recv.elem
        return V(labels=keep) if keep else UNKNOWN
