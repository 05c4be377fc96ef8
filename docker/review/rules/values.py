"""The abstract values of the reviewer's interpreter (interp.py) and its work budget.

A value V over-approximates what an expression may evaluate to at run time:
    consts  up to maxFoldCandidates concrete values (str, bytes, int, bool, None, float) or LongStr, or
            None when unknown;
    items   the elements of a list/tuple whose length and order are known (<= MAX_ITEMS), else None;
    keys    a dict's values under constant keys, else None;
    elem    the join of every element (what iteration or an unknown subscript yields);
    labels  taint: 'opt' (may be the optimizer), 'model', 'data' (the data iterator), ('class', name) a
            local class object, ('inst', name) an instance of one;
    funcs   what calling it may run: ('def', node) a local function or lambda, ('method', node) a local
            method (self bound to the receiver), ('class', name), ('builtin', name), ('strmeth', name)
            bound to the receiver's strings, ('unbound', type, name) like str.join, ('module', dotted).
Values are immutable and bounded (candidates, items, keys, nesting depth), so every operation on them
costs a bounded amount; the Budget counts that work and stops the analysis deterministically.
"""

MAX_ITEMS = 64
MAX_DEPTH = 4
MAX_FUNCS = 8


def fkey(f):
    """A deterministic sort key of a funcs entry (AST nodes by position, never by address)."""
    return tuple((x.lineno, x.col_offset) if hasattr(x, "lineno") else (0, str(x)) for x in f)


class OverBudget(Exception):
    pass


class Budget:
    def __init__(self, units):
        self.left = int(units)
        self.total = int(units)

    def charge(self, n=1):
        self.left -= n
        if self.left < 0:
            raise OverBudget()

    @property
    def used(self):
        return self.total - self.left


class LongStr:
    """A string or bytes value longer than the exact limit: its length and its first and last H characters.
    Concatenation keeps it exact at both ends, so a forbidden name assembled across the join is still
    seen (strings.py scans the join window); every other operation on it is unknown."""
    __slots__ = ("head", "tail", "n", "_hash")

    def __init__(self, head, tail, n):
        self.head = head
        self.tail = tail
        self.n = n
        self._hash = hash((head, tail, n))

    def __eq__(self, other):
        return isinstance(other, LongStr) and (self.head, self.tail, self.n) == (other.head, other.tail, other.n)

    def __hash__(self):
        return self._hash

    def __len__(self):
        return self.n


def is_text(x):
    return isinstance(x, (str, bytes)) or (isinstance(x, LongStr))


class V:
    __slots__ = ("consts", "items", "keys", "_elem", "labels", "funcs", "depth", "_key", "bound", "_ecache")

    def __init__(self, consts=None, items=None, keys=None, elem=None, labels=frozenset(), funcs=frozenset()):
        self.consts = consts
        self.items = items
        self.keys = keys
        self._elem = elem
        self.labels = labels
        self.funcs = funcs
        d = 0
        for x in (items or ()):
            d = max(d, x.depth + 1)
        for x in (keys or {}).values():
            d = max(d, x.depth + 1)
        if elem is not None:
            d = max(d, elem.depth + 1)
        self.depth = d
        self._key = None
        self.bound = None  # the receiver of a bound method (str methods, mutators, local methods)
        self._ecache = None

    @property
    def elem(self):
        """What iterating or indexing it yields: the join of the elements of a container, the characters of
        a short string candidate, else unknown."""
        if self._elem is not None:
            return self._elem
        if self._ecache is None:
            parts = list(self.items or ()) + list((self.keys or {}).values())
            if self.consts:
                chars = []
                for c in self.consts:
                    if isinstance(c, (str, bytes)) and len(c) <= MAX_ITEMS:
                        chars.extend(c)
                    else:
                        chars = None
                        break
                if chars:
                    parts.append(V(consts=tuple(dict.fromkeys(chars))[:16]))
            self._ecache = join_all(parts) if parts else UNKNOWN
        return self._ecache

    def deep_labels(self):
        out = set(self.labels)
        for x in (self.items or ()):
            out |= x.deep_labels()
        for x in (self.keys or {}).values():
            out |= x.deep_labels()
        if self._elem is not None:
            out |= self._elem.deep_labels()
        return frozenset(out)

    def key(self):
        if self._key is None:
            self._key = (self.consts, tuple(x.key() for x in self.items) if self.items is not None else None,
                         tuple(sorted((repr(k), v.key()) for k, v in self.keys.items())) if self.keys is not None else None,
                         self._elem.key() if self._elem is not None and self.items is None and self.keys is None else None,
                         tuple(sorted(map(repr, self.labels))), tuple(sorted(map(fkey, self.funcs))))
        return self._key

    def strings(self):
        return [c for c in (self.consts or ()) if isinstance(c, (str, bytes))]


UNKNOWN = V()


def const(*values):
    return V(consts=tuple(values))


def seq(items):
    if len(items) > MAX_ITEMS:
        return V(elem=join_all(items))
    return flatten(V(items=tuple(items)))


def mapping(keys):
    if len(keys) > MAX_ITEMS:
        return V(elem=join_all(list(keys.values())))
    return flatten(V(keys=dict(keys)))


def flatten(v):
    """Beyond MAX_DEPTH nesting only the summary of elements is kept."""
    if v.depth <= MAX_DEPTH:
        return v
    return V(elem=summary(v.elem), labels=v.labels, funcs=v.funcs)


def summary(v):
    """A flat value with every label and candidate of v and its elements."""
    return V(consts=v.consts, labels=v.deep_labels(), funcs=v.funcs)


def with_labels(v, labels):
    if not labels or labels <= v.labels:
        return v
    out = V(v.consts, v.items, v.keys, v._elem, v.labels | frozenset(labels), v.funcs)
    out.bound = v.bound
    return out


def join(a, b, cap=16):
    if a is b:
        return a
    if a is None:
        return b
    if b is None:
        return a
    if a.depth == 0 and b.depth == 0 and a.items is None and b.items is None and a.keys is None and b.keys is None \
            and a.bound is None and b.bound is None and a._elem is None and b._elem is None:
        # the common case: candidates and labels only
        if a.consts is None or b.consts is None:
            consts = None if (a.consts is None and b.consts is None) else (a.consts or b.consts)
        elif a.consts == b.consts:
            consts = a.consts
        else:
            consts = tuple(dict.fromkeys(a.consts + b.consts))[:cap]
        if consts is a.consts and a.labels >= b.labels and a.funcs >= b.funcs:
            return a
        funcs = a.funcs | b.funcs
        if len(funcs) > MAX_FUNCS:
            funcs = frozenset(sorted(funcs, key=fkey)[:MAX_FUNCS])
        return V(consts, None, None, None, a.labels | b.labels, funcs)
    if a.consts is None or b.consts is None:
        consts = None if (a.consts is None and b.consts is None) else (a.consts or b.consts)
        # an unknown joined with known candidates keeps the candidates: they are still possible values
    else:
        consts = tuple(dict.fromkeys(a.consts + b.consts))[:cap]
    items = None
    if a.items is not None and b.items is not None and len(a.items) == len(b.items):
        items = tuple(join(x, y, cap) for x, y in zip(a.items, b.items))
    keys = None
    if a.keys is not None and b.keys is not None:
        keys = dict(a.keys)
        for k, v in b.keys.items():
            keys[k] = join(keys[k], v, cap) if k in keys else v
        if len(keys) > MAX_ITEMS:
            keys = None
    elem = None
    if items is None and keys is None and (a.items is not None or b.items is not None or a.keys is not None or b.keys is not None
                                           or a._elem is not None or b._elem is not None):
        ea = a.elem if (a.items is not None or a.keys is not None or a._elem is not None) else None
        eb = b.elem if (b.items is not None or b.keys is not None or b._elem is not None) else None
        elem = join(ea, eb, cap)
    funcs = a.funcs | b.funcs
    if len(funcs) > MAX_FUNCS:
        funcs = frozenset(sorted(funcs, key=fkey)[:MAX_FUNCS])
    out = flatten(V(consts, items, keys, elem, a.labels | b.labels, funcs))
    if a.bound is not None or b.bound is not None:
        out.bound = join(a.bound, b.bound, cap)
    return out


def join_all(values, cap=16):
    out = None
    for v in values:
        out = join(out, v, cap)
    return out if out is not None else UNKNOWN
