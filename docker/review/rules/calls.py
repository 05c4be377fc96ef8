"""The interpreter's attributes and calls (a mixin of interp.Interp): attribute values (module paths,
str methods bound or unbound like `str.join`, local methods with self bound, attribute summaries),
calls of local functions, methods and classes (arguments joined into parameter summaries, results from
return summaries), container mutators, and the result of calls it cannot follow: anything their
arguments were (the optimizer's and the local classes' labels pass through). Builtins and str methods
are in builtins.py, operators in operators.py.
"""
import ast
import re

from .scopes import decorator_names
from .values import UNKNOWN, V, fkey, join, join_all, mapping, seq

SAFE_CODECS = {"utf-8", "utf8", "utf_8", "ascii", "latin-1", "latin1", "iso-8859-1", "iso8859-1", "unicode_escape",
               "raw_unicode_escape", "utf-16", "utf-32", "cp437", "utf_16", "utf_32"}
STR_METHODS = {"replace", "lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize", "casefold",
               "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust", "join", "format", "format_map", "encode",
               "decode", "split", "rsplit", "partition", "rpartition", "splitlines", "hex", "expandtabs", "translate"}
STRING_CONSTANTS = {"ascii_lowercase": "abcdefghijklmnopqrstuvwxyz", "ascii_uppercase": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                    "ascii_letters": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "digits": "0123456789",
                    "hexdigits": "0123456789abcdefABCDEF", "octdigits": "01234567",
                    "punctuation": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "whitespace": " \t\n\r\x0b\x0c",
                    "printable": "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c"}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft"}
DISORDER = {"pop", "remove", "sort", "reverse", "clear", "popitem", "discard", "rotate", "popleft"}
# container methods that return an element or a view of the elements (containers.py)
CONTAINER_METHODS = {"get", "copy", "keys", "values", "items", "pop", "popitem", "popleft", "setdefault"}
OPAQUE = {"len", "isinstance", "issubclass", "id", "hash", "print", "bool", "float", "abs", "round", "sum", "any", "all",
          "callable", "hasattr", "divmod", "pow", "hex", "oct", "bin", "slice", "complex", "object", "super"}
PROPAGATED = ("opt",)
FOREIGN_CLASS = ("foreign", "class")  # type(x) of an object the submission did not build
WIDE_FORMAT = re.compile(r"\d{5,}")


def propagated(labels):
    return frozenset(x for x in labels if x in PROPAGATED or (isinstance(x, tuple) and x[0] in ("class", "inst")))


def taint_cloud(labels, depth=3):
    """A value of unknown shape that may be, or contain down to `depth` levels, anything with `labels`."""
    if not labels:
        return UNKNOWN
    v = V(labels=labels)
    for _ in range(depth):
        v = V(labels=labels, elem=v)
    return v


class CallRules:
    # ---- attributes --------------------------------------------------------------------------
    def attribute_value(self, recv, attr):
        self.budget.charge(len(recv.labels) + len(recv.funcs))
        funcs = set()
        labels = set(x for x in recv.labels if x in ("model", "data"))
        bound = None
        for f in recv.funcs:
            if f[0] == "module":
                if f[1] == "string" and attr in STRING_CONSTANTS:
                    return V(consts=(STRING_CONSTANTS[attr],))
                funcs.add(("module", f[1] + "." + attr))
            elif f[0] == "builtin" and f[1] in ("str", "bytes", "bytearray") and attr in STR_METHODS | {"fromhex", "maketrans"}:
                funcs.add(("unbound", f[1], attr))
        if self.texts(recv) and attr in STR_METHODS:
            funcs.add(("strmeth", attr))
            bound = recv
        if attr in ("to_bytes", "bit_length") and any(isinstance(c, int) and not isinstance(c, bool) for c in (recv.consts or ())):
            funcs.add(("intmeth", attr))
            bound = recv
        for f in recv.funcs:
            if f[0] == "builtin" and f[1] == "int" and attr == "from_bytes":
                funcs.add(("unbound", "int", "from_bytes"))
        if "opt" in recv.labels:
            funcs.add(("optmeth", attr))
        container = recv.consts is None and (recv.items is not None or recv.keys is not None or recv._elem is not None)
        if container and attr in MUTATORS | DISORDER:
            funcs.add(("mutator", attr))
            bound = recv
        if container and attr in CONTAINER_METHODS:
            funcs.add(("contmeth", attr))
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
        if self.local and any(f[0] == "localmod" for f in recv.funcs):
            return self.local_members(recv, attr)  # a module of the project: its binding, not an attribute summary
        prop = self.property_value(recv, attr) if any(isinstance(x, tuple) and x[0] == "inst" for x in recv.labels) else None
        if prop is not None:
            v = join(v, prop) if v is not None else prop
        out = V(funcs=frozenset(funcs), labels=frozenset(labels))
        if bound is not None:
            out.bound = bound
        if v is not None and not funcs and not labels and bound is None:
            return v  # an attribute known only by its summary: keep its shape (a class's list stays a list)
        return join(v, out) if v is not None and not any(f[0] == "module" for f in funcs) else out

    def methods_of(self, cls):
        """A class body's defs by name (the first one of a name), built once per class."""
        table = self.__dict__.setdefault("_class_defs", {})
        if cls not in table:
            own = {}
            for s in cls.body:
                if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name not in own:
                    own[s.name] = s
            table[cls] = own
        return table[cls]

    def find_method(self, cls_name, attr, seen=None):
        if seen is None:  # memoised: the classes do not change while the interpreter runs
            memo = self.__dict__.setdefault("_methods", {})
            key = (cls_name, attr)
            if key not in memo:
                memo[key] = self.find_method(cls_name, attr, set())
            return memo[key]
        if cls_name in seen:
            return None
        seen.add(cls_name)
        for cls in self.classes.get(cls_name, []):
            own = self.methods_of(cls)
            if attr in own:
                return own[attr]
            for b in cls.bases:
                name = b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else None
                if name in self.classes:
                    m = self.find_method(name, attr, seen)
                    if m is not None:
                        return m
        return None

    # ---- calls -------------------------------------------------------------------------------
    def unknown_result(self, values):
        """What a call we cannot follow returns: it may be, or contain at any depth, whatever its arguments
        carried (the optimizer, local classes and their instances)."""
        labels = set()
        for v in values:
            labels |= propagated(v.deep_labels())
        return taint_cloud(frozenset(labels))

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
        called = self.protocol(f, "__call__", args) if f.labels else None
        if called is not None:
            result = join(result, called, self.cap) if result is not None else called
        if isinstance(node.func, ast.Attribute) and node.func.attr == "send":
            self.note_sent(args)
        if recv is not None and not f.funcs:
            self.store_into_unknown(node, recv, args, kws, env, scope)
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
            return None  # what it returns comes from ("contmeth", name) when it returns an element
        if kind == "contmeth":
            return self.container_result(fn[1], getattr(f, "bound", None) or UNKNOWN, args)
        if kind == "optmeth":
            return UNKNOWN
        if kind == "intmeth":
            return self.int_method(fn[1], getattr(f, "bound", None) or UNKNOWN, args, kws, node)
        if kind == "module":
            return self.module_call(fn[1], node, args, kws, env, scope)
        return None

    def module_call(self, dotted, node, args, kws, env, scope):
        made = self.module_container(dotted, args, kws, node, env, scope)
        if made is not None:
            return made
        if dotted == "functools.partial" and args:
            for fn in args[0].funcs:
                if fn[0] in ("def", "method"):
                    self.call_local(fn[1], None, args[1:], kws, None)
        return None

    def mutate(self, node, name, recv, args, kws, env, scope):
        if not isinstance(node.func, ast.Attribute):
            return  # a mutator held in a variable: the container it changes is not known by name
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
        elif name in ("pop", "popleft") and self.popped(name, recv, args) is not None:
            new = self.popped(name, recv, args)
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
        if a.vararg is not None and len(args) > len(params):
            self.note_param(fn, a.vararg.arg, seq(list(args[len(params):])))  # *args in order
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
        self.budget.charge(8)  # binding, parameter summaries and the return summary: ~ a few statements
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
