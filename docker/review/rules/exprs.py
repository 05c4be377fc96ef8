"""The interpreter's assignments and expressions (a mixin of interp.Interp): binding names with
Python's scoping, unpacking, attribute and item stores (containers updated by value), and the value of
every expression node, recorded for fold queries (folding.fold_safe).
"""
import ast

from .values import UNKNOWN, LongStr, V, const, join, join_all, mapping, seq

COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
BUILTINS = {"chr", "ord", "str", "bytes", "bytearray", "int", "list", "tuple", "set", "frozenset", "sorted", "reversed",
            "dict", "map", "range", "iter", "next", "min", "max", "zip", "enumerate", "filter", "getattr", "type", "repr",
            "ascii", "format", "len", "isinstance", "issubclass", "id", "hash", "print", "bool", "float", "abs", "round",
            "sum", "any", "all", "callable", "hasattr", "divmod", "pow", "hex", "oct", "bin", "slice", "super", "object",
            "staticmethod", "classmethod", "property", "complex"}


class ExprRules:
    # ---- assignment --------------------------------------------------------------------------
    def assign_name(self, name, v, env, scope):
        b = self.scopes.resolve(scope, name) or scope
        if b is scope:
            env[name] = v
            if (b, name) not in self.scopes.shared:
                return
        self.note_name(b, name, v)

    def assign(self, target, v, env, scope):
        self.budget.charge(1)
        if isinstance(target, ast.Name):
            self.assign_name(target.id, v, env, scope)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            items = self.as_items(v)
            star = [i for i, e in enumerate(elts) if isinstance(e, ast.Starred)]
            if items is not None and not star and len(items) == len(elts):
                for e, x in zip(elts, items):
                    self.assign(e, x, env, scope)
            elif items is not None and len(star) == 1 and len(items) >= len(elts) - 1:
                i = star[0]
                tail = len(elts) - i - 1
                for e, x in zip(elts[:i], items[:i]):
                    self.assign(e, x, env, scope)
                self.assign(elts[i].value, seq(list(items[i:len(items) - tail])), env, scope)
                for e, x in zip(elts[i + 1:], items[len(items) - tail:]):
                    self.assign(e, x, env, scope)
            else:
                for e in elts:
                    if isinstance(e, ast.Starred):
                        self.assign(e.value, V(elem=v.elem), env, scope)
                    else:
                        self.assign(e, v.elem, env, scope)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, V(elem=v.elem), env, scope)
        elif isinstance(target, ast.Attribute):
            recv = self.eval(target.value, env, scope)
            self.hooks.on_attribute(target, recv, "store", v)
            self.note_attr(target.attr, v)
        elif isinstance(target, ast.Subscript):
            recv = self.eval(target.value, env, scope)
            idx = self.eval(target.slice, env, scope)
            self.hooks.on_subscript_store(target, recv)
            self.update_container(target.value, self.setitem(recv, idx, v), env, scope)

    def setitem(self, recv, idx, v):
        keys = idx.consts if idx.consts is not None and len(idx.consts) == 1 else None
        if keys and recv.keys is not None and not isinstance(keys[0], (LongStr,)):
            d = dict(recv.keys)
            d[keys[0]] = v
            return mapping(d)
        if keys and recv.items is not None and isinstance(keys[0], int) and -len(recv.items) <= keys[0] < len(recv.items):
            items = list(recv.items)
            items[keys[0]] = v
            return seq(items)
        if recv.consts is None and recv.items is None and recv.keys is None and recv._elem is None and keys and isinstance(keys[0], (str, int)):
            return mapping({keys[0]: v})  # a container we know nothing of: remember this key
        return V(elem=join(recv.elem if (recv.items is not None or recv.keys is not None or recv._elem is not None) else None, v),
                 labels=recv.labels)

    def update_container(self, target, new, env, scope):
        """A mutation of the container `target` names (a local name, or an attribute by name)."""
        if isinstance(target, ast.Name):
            self.assign_name(target.id, new, env, scope)
        elif isinstance(target, ast.Attribute):
            self.note_attr(target.attr, new)

    # ---- expressions -------------------------------------------------------------------------
    def eval(self, node, env, scope, load_target=False):
        self.budget.charge(1)
        scope = self.scopes.scope_of.get(node, scope)
        v = self._eval(node, env, scope)
        if v.consts:
            prev = self.values.get(node)
            self.values[node] = join(prev, v, self.cap) if prev is not None else v
        return v

    def lookup(self, name, env, scope):
        b = self.scopes.resolve(scope, name)
        if b is scope and name in env:
            return env[name]
        if b is None:
            if name in BUILTINS:
                return V(funcs=frozenset({("builtin", name)}))
            return UNKNOWN
        self.read(("s", b, name))
        return self.summ.get(b, {}).get(name, UNKNOWN)

    def _eval(self, node, env, scope):
        t = type(node)
        if t is ast.Constant:
            c = node.value
            if isinstance(c, (str, bytes)) and len(c) > self.long_limit:
                return const(LongStr(c[:64], c[-64:], len(c)))
            return const(c) if isinstance(c, (str, bytes, int, float, bool, type(None))) else UNKNOWN
        if t is ast.Name:
            return self.lookup(node.id, env, scope)
        if t is ast.Attribute:
            recv = self.eval(node.value, env, scope)
            self.hooks.on_attribute(node, recv, "load", None)
            return self.attribute_value(recv, node.attr)
        if t is ast.Subscript:
            recv = self.eval(node.value, env, scope)
            return self.subscript(recv, node.slice, env, scope, node)
        if t is ast.Call:
            return self.eval_call(node, env, scope)
        if t is ast.BinOp:
            return self.binop(node.op, self.eval(node.left, env, scope), self.eval(node.right, env, scope), node)
        if t is ast.JoinedStr:
            return self.joined(node, env, scope)
        if t is ast.FormattedValue:
            return self.formatted(node, env, scope)
        if t in (ast.List, ast.Tuple):
            parts = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    inner = self.as_items(self.eval(e.value, env, scope))
                    if inner is None:
                        return V(elem=join_all([self.eval(x.value if isinstance(x, ast.Starred) else x, env, scope) for x in node.elts]))
                    parts.extend(inner)
                else:
                    parts.append(self.eval(e, env, scope))
            return seq(parts)
        if t is ast.Set:
            return V(elem=join_all([self.eval(e.value if isinstance(e, ast.Starred) else e, env, scope) for e in node.elts]))
        if t is ast.Dict:
            keys = {}
            known = True
            values = []
            for k, v in zip(node.keys, node.values):
                vv = self.eval(v, env, scope)
                values.append(vv)
                if k is None:
                    known = False
                    values.append(vv.elem)
                    continue
                kv = self.eval(k, env, scope)
                if kv.consts is not None and len(kv.consts) == 1 and isinstance(kv.consts[0], (str, bytes, int, bool)):
                    keys[kv.consts[0]] = vv
                else:
                    known = False
            return mapping(keys) if known else V(elem=join_all(values))
        if t in COMPREHENSIONS:
            return self.comprehension(node, env, scope)
        if t is ast.BoolOp:
            return join_all([self.eval(v, env, scope) for v in node.values])
        if t is ast.IfExp:
            self.eval(node.test, env, scope)
            return join(self.eval(node.body, env, scope), self.eval(node.orelse, env, scope))
        if t is ast.NamedExpr:
            v = self.eval(node.value, env, scope)
            b = self.scopes.scope_of.get(node.target, scope)
            self.assign_name(node.target.id, v, env if b is scope else {}, b)
            return v
        if t is ast.Lambda:
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                self.eval(d, env, scope)
            self.bind_defaults(node, env, scope)
            return V(funcs=frozenset({("def", node)}))
        if t is ast.UnaryOp:
            v = self.eval(node.operand, env, scope)
            if isinstance(node.op, ast.USub) and v.consts:
                return V(consts=tuple(-c for c in v.consts if isinstance(c, int) and not isinstance(c, bool) and abs(c) < 1 << 64))
            if isinstance(node.op, ast.Not) and v.consts and len(v.consts) == 1 and not isinstance(v.consts[0], LongStr):
                return const(not v.consts[0])
            return UNKNOWN
        if t is ast.Starred:
            return self.eval(node.value, env, scope)
        if t in (ast.Yield, ast.YieldFrom):
            # a generator's call returns an iterable of what it yields
            v = self.eval(node.value, env, scope) if node.value is not None else UNKNOWN
            if self.yield_log is not None:
                self.yield_log.append(v)
            else:
                self.note_return(self.current_fn, V(elem=v if t is ast.Yield else v.elem))
            return self.sent()  # what a .send() may have passed in
        if t is ast.Compare:
            return self.compare(node, env, scope)
        if t is ast.Slice:
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self.eval(part, env, scope)
            return UNKNOWN
        for child in ast.iter_child_nodes(node):  # Compare, Await, Yield, ...: evaluate for effects
            if isinstance(child, ast.expr):
                self.eval(child, env, scope)
        return UNKNOWN

    def compare(self, node, env, scope):
        """A comparison of single known constants (filters in comprehensions): True/False, else unknown."""
        left = self.eval(node.left, env, scope)
        rights = [self.eval(c, env, scope) for c in node.comparators]
        vals = [left] + rights
        if not all(v.consts is not None and len(v.consts) == 1 and not isinstance(v.consts[0], LongStr) for v in vals):
            return UNKNOWN
        ops = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
               ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
               ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
               ast.Is: lambda a, b: a is b if a is None or b is None else a == b,
               ast.IsNot: lambda a, b: a is not b if a is None or b is None else a != b}
        try:
            ok = all(ops[type(op)](vals[i].consts[0], vals[i + 1].consts[0]) for i, op in enumerate(node.ops))
        except (TypeError, ValueError, KeyError):
            return UNKNOWN
        return const(bool(ok))

    def comprehension(self, node, env, scope):
        inner = self.scopes.scopes[node]
        e = {}  # the comprehension's own names; the enclosing function's are read through their summaries
        gens = node.generators
        first = self.eval(gens[0].iter, env, scope)
        items = self.as_items(first)
        elt = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        if len(gens) == 1 and items is not None and not isinstance(node, ast.DictComp):
            out = []
            for x in items:
                self.assign(gens[0].target, x, e, inner)
                # a filter known to be false drops the element; an unknown one keeps it (over-approximation)
                conds = [self.eval(c, e, inner) for c in gens[0].ifs]
                if any(c.consts == (False,) for c in conds):
                    continue
                out.append(self.eval(elt[0], e, inner))
            return seq(out) if not isinstance(node, ast.SetComp) else V(elem=join_all(out))
        self.assign(gens[0].target, self.iterated(first), e, inner)
        for g in gens[1:]:
            self.assign(g.target, self.iterated(self.eval(g.iter, e, inner)), e, inner)
        for g in gens:
            for cond in g.ifs:
                self.eval(cond, e, inner)
        vals = [self.eval(x, e, inner) for x in elt]
        if isinstance(node, ast.DictComp):
            return V(elem=vals[1])
        return V(elem=vals[0])
