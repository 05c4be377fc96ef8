"""The interpreter's operations on values (a mixin of interp.Interp): attributes, subscripts, binary
operators, f-strings, calls of builtins, str/bytes methods (bound, unbound like `str.join(sep, xs)`,
or held in a variable), local functions, methods and classes, container mutators, and the result of
calls it cannot follow (their result may be anything their arguments were: the optimizer's and the
local classes' labels pass through). Every string it builds goes to hooks.produced; the length limit
keeps strings exact up to long_limit characters and beyond that a LongStr (both ends).
"""
import ast
import re

from .scopes import decorator_names
from .values import UNKNOWN, LongStr, V, const, fkey, join, join_all, mapping, seq

SAFE_CODECS = {"utf-8", "utf8", "utf_8", "ascii", "latin-1", "latin1", "iso-8859-1", "iso8859-1", "unicode_escape",
               "raw_unicode_escape", "utf-16", "utf-32", "cp437", "utf_16", "utf_32"}
STR_METHODS = {"replace", "lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize", "casefold",
               "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust", "join", "format", "encode", "decode",
               "split", "rsplit", "partition", "rpartition", "splitlines", "hex", "expandtabs"}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft"}
DISORDER = {"pop", "remove", "sort", "reverse", "clear", "popitem", "discard", "rotate", "popleft"}
OPAQUE = {"len", "isinstance", "issubclass", "id", "hash", "print", "bool", "float", "abs", "round", "sum", "any", "all",
          "callable", "hasattr", "divmod", "pow", "hex", "oct", "bin", "slice", "complex", "object", "super"}
PROPAGATED = ("opt",)
WIDE_FORMAT = re.compile(r"\d{5,}")


def propagated(labels):
    return frozenset(x for x in labels if x in PROPAGATED or (isinstance(x, tuple) and x[0] in ("class", "inst")))


class CallRules:
    # ---- strings -----------------------------------------------------------------------------
    def make_text(self, value, node, parts=None):
        """A built string or bytes: exact up to long_limit, else a LongStr; reported to the hooks."""
        if isinstance(value, (str, bytes)) and len(value) > self.long_limit:
            value = LongStr(value[:64], value[-64:], len(value))
        self.budget.charge(1 + (len(value) if isinstance(value, (str, bytes)) else 128) // 32)
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
        if not a.consts or not rights:
            return V(labels=labels) if labels else UNKNOWN
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
        if v.consts is not None and len(v.consts) == 1 and isinstance(v.consts[0], (str, bytes)) and len(v.consts[0]) <= 64:
            s = v.consts[0]
            return [const(s[i:i + 1] if isinstance(s, bytes) else s[i]) if isinstance(s, str) else const(s[i]) for i in range(len(s))]
        return None

    def subscript(self, recv, sl, env, scope, node):
        keep = frozenset(x for x in recv.labels if x in ("model", "data"))
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

    # ---- attributes --------------------------------------------------------------------------
    def attribute_value(self, recv, attr):
        funcs = set()
        labels = set(x for x in recv.labels if x in ("model", "data"))
        bound = None
        for f in recv.funcs:
            if f[0] == "module":
                funcs.add(("module", f[1] + "." + attr))
            elif f[0] == "builtin" and f[1] in ("str", "bytes", "bytearray") and attr in STR_METHODS | {"fromhex", "maketrans"}:
                funcs.add(("unbound", f[1], attr))
        if self.texts(recv) and attr in STR_METHODS:
            funcs.add(("strmeth", attr))
            bound = recv
        if "opt" in recv.labels:
            funcs.add(("optmeth", attr))
        if recv.consts is None and attr in MUTATORS | DISORDER and (recv.items is not None or recv.keys is not None or recv._elem is not None):
            funcs.add(("mutator", attr))
            bound = recv
        for lab in recv.labels:
            if isinstance(lab, tuple) and lab[0] in ("class", "inst"):
                m = self.find_method(lab[1], attr)
                if m is not None:
                    if lab[0] == "inst" or decorator_names(m) & {"classmethod", "staticmethod"}:
                        funcs.add(("method", m))
                        bound = join(bound, recv) if bound is not None else recv
                    else:
                        funcs.add(("def", m))  # unbound method through the class: self is an argument
        v = self.attr_summary(attr)
        out = V(funcs=frozenset(funcs), labels=frozenset(labels))
        if bound is not None:
            out.bound = bound
        return join(v, out) if v is not None and not any(f[0] == "module" for f in funcs) else out

    def find_method(self, cls_name, attr, seen=None):
        seen = seen or set()
        if cls_name in seen:
            return None
        seen.add(cls_name)
        for cls in self.classes.get(cls_name, []):
            for s in cls.body:
                if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == attr:
                    return s
            for b in cls.bases:
                name = b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else None
                if name in self.classes:
                    m = self.find_method(name, attr, seen)
                    if m is not None:
                        return m
        return None

    # ---- calls -------------------------------------------------------------------------------
    def unknown_result(self, values):
        labels = set()
        for v in values:
            labels |= propagated(v.deep_labels())
        return V(labels=frozenset(labels)) if labels else UNKNOWN

    def eval_call(self, node, env, scope):
        recv = None
        if isinstance(node.func, ast.Attribute):  # the receiver is evaluated once, for the method and the taint
            self.budget.charge(1)
            recv = self.eval(node.func.value, env, scope)
            self.hooks.on_attribute(node.func, recv, "load", None)
            f = self.attribute_value(recv, node.func.attr)
        else:
            f = self.eval(node.func, env, scope)
        args, starred = [], None
        for a in node.args:
            if isinstance(a, ast.Starred):
                sv = self.eval(a.value, env, scope)
                items = self.as_items(sv)
                if items is None:
                    starred = join(starred, sv.elem) if starred is not None else sv.elem
                else:
                    args.extend(items)
            else:
                args.append(self.eval(a, env, scope))
        kws = []
        for k in node.keywords:
            kv = self.eval(k.value, env, scope)
            kws.append((k.arg, kv if k.arg is not None else kv.elem))
        self.hooks.on_call(node, f, args, kws)
        result = None
        for fn in sorted(f.funcs, key=fkey):
            r = self.apply(fn, f, node, args, kws, starred, env, scope)
            if r is not None:
                result = join(result, r, self.cap)
        if result is None:
            result = self.unknown_result(args + [v for _, v in kws] + ([starred] if starred is not None else [])
                                         + ([recv] if recv is not None and not f.funcs else [f]))
        return result

    def apply(self, fn, f, node, args, kws, starred, env, scope):
        kind = fn[0]
        if kind == "builtin":
            return self.builtin(fn[1], node, args, kws, starred, env, scope)
        if kind == "strmeth":
            return self.str_method(fn[1], getattr(f, "bound", None) or UNKNOWN, args, kws, node)
        if kind == "unbound":
            if fn[2] == "fromhex" and args:
                return self.str_method("fromhex", args[0], [], [], node)
            if not args:
                return None
            return self.str_method(fn[2], args[0], args[1:], kws, node)
        if kind in ("def", "method"):
            return self.call_local(fn[1], getattr(f, "bound", None) if kind == "method" else None, args, kws, starred)
        if kind == "class":
            return self.instantiate(fn[1], args, kws, starred)
        if kind == "mutator":
            self.mutate(node, fn[1], getattr(f, "bound", None) or UNKNOWN, args, kws, env, scope)
            return UNKNOWN
        if kind == "optmeth":
            return UNKNOWN
        if kind == "module":
            return self.module_call(fn[1], node, args, kws)
        return None

    def module_call(self, dotted, node, args, kws):
        if dotted == "functools.partial" and args:
            for fn in args[0].funcs:
                if fn[0] in ("def", "method"):
                    self.call_local(fn[1], None, args[1:], kws, None)
        return None

    def mutate(self, node, name, recv, args, kws, env, scope):
        target = node.func.value
        if name in ("append", "add", "appendleft") and args:
            items = self.as_items(recv) if name == "append" and recv.consts is None else None
            new = seq(items + [args[0]]) if items is not None else V(elem=join(recv.elem, args[0]), labels=recv.labels)
        elif name in ("extend", "extendleft") and args:
            a, b = self.as_items(recv), self.as_items(args[0])
            new = seq(a + b) if (a is not None and b is not None and name == "extend") else V(elem=join(recv.elem, args[0].elem), labels=recv.labels)
        elif name == "insert" and len(args) >= 2:
            new = V(elem=join(recv.elem, args[1]), labels=recv.labels)
        elif name == "update":
            vals = [a.elem for a in args] + [v for _, v in kws]
            if recv.keys is not None and args and args[0].keys is not None and not kws:
                d = dict(recv.keys)
                d.update(args[0].keys)
                new = mapping(d)
            else:
                new = V(elem=join_all([recv.elem] + vals), labels=recv.labels)
        elif name == "setdefault" and len(args) >= 2:
            new = self.setitem(recv, args[0], args[1])
        else:
            new = V(elem=recv.elem, labels=recv.labels)  # order or content no longer known
        self.update_container(target, new, env, scope)

    def bind_args(self, fn, params, args, kws, starred):
        self.budget.charge(1 + len(args) + len(kws) + (len(params) if starred is not None else 0))
        a = fn.args
        positional = [p.arg for p in a.posonlyargs + a.args]
        names = set(positional) | {p.arg for p in a.kwonlyargs}
        for i, v in enumerate(args):
            if i < len(params):
                self.note_param(fn, params[i], v)
            elif a.vararg is not None:
                self.note_param(fn, a.vararg.arg, V(elem=v))
        if starred is not None:
            for p in params[len(args):]:
                self.note_param(fn, p, starred)
            if a.vararg is not None:
                self.note_param(fn, a.vararg.arg, V(elem=starred))
        for k, v in kws:
            if k is None:  # **mapping: any parameter may receive any of its values
                for p in names:
                    self.note_param(fn, p, v)
            elif k in names:
                self.note_param(fn, k, v)
            elif a.kwarg is not None:
                self.note_param(fn, a.kwarg.arg, mapping({k: v}))

    def call_local(self, fn, bound, args, kws, starred):
        positional = [p.arg for p in fn.args.posonlyargs + fn.args.args]
        decos = decorator_names(fn) if not isinstance(fn, ast.Lambda) else set()
        if bound is not None and "staticmethod" not in decos and positional:
            self.note_param(fn, positional[0], bound)
            positional = positional[1:]
        self.bind_args(fn, positional, args, kws, starred)
        return self.return_of(fn)

    def instantiate(self, name, args, kws, starred):
        inst = V(labels=frozenset({("inst", name)}))
        init = self.find_method(name, "__init__")
        if init is not None:
            self.call_local(init, inst, args, kws, starred)
            return inst
        fields = []
        for cls in self.classes.get(name, []):
            for s in cls.body:
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.target.id not in fields:
                    fields.append(s.target.id)
        for fname, v in zip(fields, args):
            self.note_attr(fname, v)
        for k, v in kws:
            if k is not None:
                self.note_attr(k, v)
        if starred is not None:
            for fname in fields:
                self.note_attr(fname, starred)
        return inst
