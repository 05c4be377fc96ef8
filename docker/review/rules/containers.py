"""The interpreter's containers and object protocols (a mixin of interp.Interp): what container methods
return (dict.get/setdefault/pop/popitem/keys/values/items/copy, list.pop/popleft/copy), the standard
containers of `collections` and `copy.copy` as containers, a mutator called on a receiver the
interpreter cannot see into (it may now hold the argument), and the dunder protocols of local classes:
`obj(...)` runs `__call__`, iterating or indexing an instance yields what `__iter__`/`__next__`/
`__getitem__` return, `with obj as x` binds what `__enter__` returns, a property read runs its getter.
Exceptions and generators carry values too: `except E as e` may hold whatever any `raise` raised, a
`yield` expression whatever any `.send()` sent.
"""
import ast

from .calls import propagated
from .scopes import decorator_names
from .values import UNKNOWN, LongStr, V, join, join_all, mapping, seq

STORING = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft"}
LIST_LIKE = {"collections.deque", "collections.UserList", "copy.copy", "copy.deepcopy"}
DICT_LIKE = {"collections.OrderedDict", "collections.defaultdict", "collections.UserDict", "collections.Counter"}
RAISED = "<raised>"  # summary keys that no attribute name can spell
SENT = "<sent>"


class ContainerRules:
    # ---- container methods ---------------------------------------------------------------------
    def container_result(self, name, recv, args):
        """What a container method returns, from what the container is known to hold (None: not one)."""
        keys, items = recv.keys, recv.items
        a0 = args[0] if args else None
        k = a0.consts[0] if a0 is not None and a0.consts is not None and len(a0.consts) == 1 else None
        if name == "copy":
            return recv
        if name == "keys" and keys is not None:
            return seq([V(consts=(x,)) for x in keys])
        if name == "values" and keys is not None:
            return seq(list(keys.values()))
        if name == "items" and keys is not None:
            return seq([seq([V(consts=(x,)), v]) for x, v in keys.items()])
        if name in ("get", "pop", "setdefault") and keys is not None and k is not None and k in keys:
            return keys[k]
        if name == "pop" and items is not None and items:
            i = -1 if a0 is None else k
            if isinstance(i, int) and not isinstance(i, bool) and -len(items) <= i < len(items):
                return items[i]
        if name == "popleft" and items:
            return items[0]
        if name == "popitem":
            return seq([UNKNOWN, recv.elem])
        if name in ("keys", "values", "items"):
            return V(elem=recv.elem if name != "items" else seq([UNKNOWN, recv.elem]))
        fallback = recv.elem
        if name in ("get", "pop", "setdefault") and len(args) > 1:
            fallback = join(fallback, args[1])
        return fallback

    def popped(self, name, recv, args):
        """The container after pop/popleft with a known position, else None (order no longer known)."""
        items = recv.items
        if items is None or not items:
            return None
        if name == "popleft":
            return seq(list(items[1:]))
        if name == "pop" and recv.keys is None:
            i = -1 if not args else (args[0].consts[0] if args[0].consts is not None and len(args[0].consts) == 1 else None)
            if isinstance(i, int) and not isinstance(i, bool) and -len(items) <= i < len(items):
                rest = list(items)
                del rest[i]
                return seq(rest)
        return None

    def module_container(self, dotted, args, kws, node, env, scope):
        if dotted in LIST_LIKE:
            if not args:
                return seq([])
            items = self.as_items(args[0])
            if dotted.startswith("copy.") and args[0].items is None:
                return args[0]
            return seq(items) if items is not None else V(elem=args[0].elem, labels=args[0].labels)
        if dotted in DICT_LIKE:
            src = args[1:] if dotted == "collections.defaultdict" else args
            if src and src[0].keys is not None and not kws:
                return mapping(dict(src[0].keys))
            return V(elem=join_all([a.elem for a in src] + [v for _, v in kws]))
        if dotted == "collections.ChainMap":
            return V(elem=join_all([a.elem for a in args]))
        if dotted in ("itertools.chain",):
            parts = [self.as_items(a) for a in args]
            if all(p is not None for p in parts):
                return seq([x for p in parts for x in p])
            return V(elem=join_all([a.elem for a in args]))
        if dotted == "functools.reduce" and len(args) >= 2:
            items = self.as_items(args[1])
            if items is not None and (items or len(args) > 2):
                acc = args[2] if len(args) > 2 else items[0]
                for x in (items if len(args) > 2 else items[1:]):
                    acc = self.call_value(args[0], [acc, x], node, env, scope)
                    if acc is None:
                        return None
                return acc
        if dotted == "contextlib.nullcontext":
            held = args[0] if args else V(consts=(None,))
            return V(elem=held, labels=frozenset({("enter", "nullcontext")}) | propagated(held.deep_labels()))
        return None

    def store_into_unknown(self, node, recv, args, kws, env, scope):
        """`x.append(opt)` on an object we cannot see into: it may now hold the argument."""
        if not isinstance(node.func, ast.Attribute) or node.func.attr not in STORING:
            return
        held = join_all(list(args) + [v for _, v in kws])
        if not held.deep_labels() and not held.consts:
            return
        self.update_container(node.func.value, join(recv, V(elem=held)), env, scope)

    # ---- calls it can evaluate exactly (map, sorted(key=), functools.reduce) ----
    def call_value(self, fv, argvals, node, env, scope):
        """The exact result of calling fv on these argument values when fv is one builtin, one unbound str
        method or one lambda (its body evaluated with the arguments bound); None otherwise."""
        if len(fv.funcs) != 1:
            return None
        (fn,) = fv.funcs
        if fn[0] == "builtin":
            return self.builtin(fn[1], node, list(argvals), [], None, env, scope) or UNKNOWN
        if fn[0] == "unbound" and fn[1] in ("str", "bytes") and argvals:
            return self.str_method(fn[2], argvals[0], list(argvals[1:]), [], node)
        if fn[0] == "def" and isinstance(fn[1], ast.Lambda):
            lam = fn[1]
            a = lam.args
            names = [p.arg for p in a.posonlyargs + a.args]
            if a.vararg or a.kwarg or a.kwonlyargs or len(names) != len(argvals):
                return None
            inner = self.scopes.scopes[lam]
            self.budget.charge(24)  # measured: a lambda applied per element costs ~ 30 units of other work
            self.call_local(lam, None, list(argvals), [], None)  # the summaries see this call too
            return self.eval(lam.body, dict(zip(names, argvals)), inner)
        return None

    def sort_known(self, items, kws, node=None, env=None, scope=None):
        """sorted() of elements whose values are all known (constants, tuples of constants): the elements in
        order (the values themselves, so their taint stays); None when a key function or a value is unknown."""
        reverse = False
        keyfn = None
        for k, v in kws:
            if k == "reverse" and v.consts is not None and len(v.consts) == 1:
                reverse = bool(v.consts[0])
            elif k == "key" and node is not None:
                keyfn = v
            else:
                return None
        keyed = []
        for i, x in enumerate(items):
            kx = self.call_value(keyfn, [x], node, env, scope) if keyfn is not None else x
            c = self.concrete(kx, 0) if kx is not None else None
            if c is None:
                return None
            keyed.append((c, i))
        try:
            keyed.sort(key=lambda p: p[0], reverse=reverse)
        except TypeError:
            return None
        return [items[i] for _, i in keyed]

    def concrete(self, v, depth):
        if v.consts is not None and len(v.consts) == 1 and not isinstance(v.consts[0], LongStr) and v.items is None:
            return v.consts[0]
        if v.items is not None and depth < 3:
            out = tuple(self.concrete(x, depth + 1) for x in v.items)
            return None if any(x is None for x in out) else out
        return None

    # ---- protocols of local classes ------------------------------------------------------------
    def protocol(self, v, name, args=()):
        """The join of what `name` returns for every local class v may be an instance of (None: none)."""
        out = None
        self.budget.charge(len(v.labels))
        for lab in v.labels:
            if isinstance(lab, tuple) and lab[0] == "inst":
                m = self.find_method(lab[1], name)
                if m is not None:
                    r = self.call_local(m, v, list(args), [], None)
                    out = join(out, r) if out is not None else r
        return out

    def iterated(self, v):
        """What iterating v yields: its elements, plus what a local class's __iter__/__next__ produce."""
        out = v.elem
        it = self.protocol(v, "__iter__")
        if it is not None:
            out = join(out, join(it.elem, self.protocol(it, "__next__") or it.elem))
        nx = self.protocol(v, "__next__")
        if nx is not None:
            out = join(out, nx)
        return out

    def indexed(self, v, idx):
        return self.protocol(v, "__getitem__", [idx])

    def entered(self, v):
        """What `with v as x` binds: __enter__ of a local class, nullcontext's argument, else unknown."""
        out = self.protocol(v, "__enter__")
        if ("enter", "nullcontext") in v.labels:
            out = join(out, v.elem) if out is not None else v.elem
        return out if out is not None else self.unknown_result([v])

    def property_value(self, recv, attr):
        out = None
        for lab in recv.labels:
            if isinstance(lab, tuple) and lab[0] == "inst":
                m = self.find_method(lab[1], attr)
                if m is not None and decorator_names(m) & {"property", "cached_property"}:
                    r = self.call_local(m, recv, [], [], None)
                    out = join(out, r) if out is not None else r
        return out

    # ---- exceptions and generators -------------------------------------------------------------
    def note_raised(self, v):
        self.note_attr(RAISED, V(elem=v, labels=v.labels))

    def caught(self):
        r = self.attr_summary(RAISED)
        return r if r is not None else UNKNOWN

    def note_sent(self, args):
        if args:
            self.note_attr(SENT, args[0])

    def sent(self):
        r = self.attr_summary(SENT)
        return r if r is not None else UNKNOWN
