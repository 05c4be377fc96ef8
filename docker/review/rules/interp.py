"""An abstract interpreter over the syntax tree: what each expression may evaluate to (values.py),
flow-sensitively within a scope, with summaries across scopes (the names of every scope, function
parameters joined over call sites, return values, attributes by name). No findings of its own: it
reports to hooks (folding.py) every string it builds and every attribute access, subscript store and
call with the receiver's value, and the rules decide.

Linear by construction: each round visits every statement of the module and of each function once, a
loop body at most twice (or once per element when it iterates a known short sequence and the product
stays small), at most three rounds until the summaries stop growing; every value is bounded
(values.py). The Budget counts visits and the characters of every string built; running out raises
OverBudget (the verdict is too-complex, the same on every machine).
"""
import ast

from .builtins import BuiltinRules
from .calls import CallRules
from .containers import ContainerRules
from .project import ProjectModules
from .exprs import ExprRules
from .operators import OperatorRules
from .scopes import Scopes, decorator_names
from .values import UNKNOWN, V, join, seq

ROUNDS = 3
UNROLL_WORK = 4096  # elements x body nodes of a loop unrolled over a known sequence


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = join(out[k], v) if k in out else v
    return out


class Interp(ExprRules, OperatorRules, CallRules, BuiltinRules, ContainerRules, ProjectModules):
    def __init__(self, tree, parents, budget, hooks, cap=16, long_limit=4096, param_labels=None, nodes=None, project=None):
        self.tree = tree
        others = self.init_project(project, tree)
        self.trees = [tree] + others
        self.scopes = Scopes(tree, parents, others)
        if others:
            nodes = [n for t in self.trees for n in ast.walk(t)]
        self.budget = budget
        self.hooks = hooks
        self.cap = cap
        self.long_limit = long_limit
        self.param_labels = param_labels or {}  # (function node or None, param name) -> labels
        self.summ = {}  # scope -> {name: V}
        self.params = {}  # function node -> {param: V}
        self.returns = {}  # function node -> V
        self.attrs = {}  # attribute name -> V
        self.values = {}  # expression node -> V (candidates only), for fold queries
        self.classes = {}  # name -> [ClassDef]
        self.class_of = {}  # method FunctionDef -> ClassDef
        self.sizes = {}
        self.readers = {}  # summary key -> units (None: the module, else a function node) that read it
        self.dirty = set()
        self.unit = None
        self.repeat = 1  # how many times the enclosing loops run the statement being executed
        self.current_fn = None
        self.yield_log = None
        # functions whose only yields are top-level statements: what they yield is a known sequence
        yields = {}
        for node in nodes if nodes is not None else ast.walk(tree):
            if isinstance(node, (ast.Yield, ast.YieldFrom)):
                yields.setdefault(self.fn_of(node, parents), []).append(node)
        self.straight_generators = {fn for fn, ys in yields.items() if fn is not None and all(
            isinstance(y, ast.Yield) and isinstance(parents.get(y), ast.Expr) and parents.get(parents[y]) is fn for y in ys)}
        for node in nodes if nodes is not None else ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                self.classes.setdefault(node.name, []).append(node)
                for s in node.body:
                    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.class_of[s] = node

    # ---- driver ----------------------------------------------------------------------------
    def run(self):
        """The module, then every function; then, up to ROUNDS in all, only the units that read a summary
        (a parameter, a return value, an attribute, a shared name) that grew since they last ran."""
        # the module bodies (every file of a project, imported modules before their importers), then functions
        order = self.module_order(self.trees)
        rank = {t: i for i, t in enumerate(order)}
        units = order + sorted(self.scopes.functions, key=lambda f: rank[self.scopes.root(self.scopes.scopes[f]).node])
        self.dirty = set(units)
        for _ in range(ROUNDS + (1 if len(order) > 1 else 0)):
            if not self.dirty:
                break
            todo = [u for u in units if u in self.dirty]
            self.dirty = set()
            for u in todo:
                self.unit = u
                if isinstance(u, ast.Module):
                    self.exec_block(u.body, {}, self.scopes.scopes[u])
                else:
                    self.exec_function(u)

    def copy_env(self, env):
        """A copy of a scope's locals for a branch, charged by size: a function with thousands of locals and
        thousands of branches costs their product, and the budget must see that."""
        self.budget.charge(1 + len(env) // 32)
        return dict(env)

    def merge(self, a, b):
        self.budget.charge(1 + (len(a) + len(b)) // 32)
        return merge(a, b)

    def read(self, dep):
        self.readers.setdefault(dep, set()).add(self.unit)

    @staticmethod
    def fn_of(node, parents):
        p = parents.get(node)
        while p is not None and not isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            p = parents.get(p)
        return p

    def exec_function(self, fn):
        scope = self.scopes.scopes[fn]
        env = {p: self.param_value(fn, p) for p in scope.params}
        saved = self.current_fn, self.yield_log
        self.current_fn = fn
        self.yield_log = [] if fn in self.straight_generators else None
        try:
            if isinstance(fn, ast.Lambda):
                self.note_return(fn, self.eval(fn.body, env, scope))
            else:
                self.exec_block(fn.body, env, scope)
            if self.yield_log is not None:
                self.note_return(fn, seq(self.yield_log))  # yields in order: the sequence is known
        finally:
            self.current_fn, self.yield_log = saved

    def param_value(self, fn, name):
        self.read(("p", fn, name))
        v = self.params.get(fn, {}).get(name, UNKNOWN)
        labels = self.param_labels.get((fn, name)) or self.param_labels.get((None, name))
        if labels:
            v = V(v.consts, v.items, v.keys, v._elem, v.labels | labels, v.funcs)
        cls = self.class_of.get(fn)
        positional = fn.args.posonlyargs + fn.args.args
        if cls is not None and positional and positional[0].arg == name:
            decos = decorator_names(fn)
            if "classmethod" in decos:
                v = join(v, V(labels=frozenset({("class", cls.name)}), funcs=frozenset({("class", cls.name)})))
            elif "staticmethod" not in decos:
                v = join(v, V(labels=frozenset({("inst", cls.name)})))
        return v

    # ---- summaries ---------------------------------------------------------------------------
    def _grow(self, table, key, v, dep):
        self.budget.charge(1)
        old = table.get(key)
        if old is v:
            return
        new = join(old, v, self.cap)
        if old is None or (new is not old and new.key() != old.key()):
            self.dirty |= self.readers.get(dep, set())
        table[key] = new

    def note_name(self, scope, name, v):
        self._grow(self.summ.setdefault(scope, {}), name, v, ("s", scope, name))

    def note_param(self, fn, name, v):
        self._grow(self.params.setdefault(fn, {}), name, v, ("p", fn, name))

    def note_return(self, fn, v):
        if fn is not None:
            self._grow(self.returns, fn, v, ("r", fn))

    def note_attr(self, attr, v):
        self._grow(self.attrs, attr, v, ("a", attr))

    def return_of(self, fn):
        self.read(("r", fn))
        return self.returns.get(fn, UNKNOWN)

    def attr_summary(self, attr):
        self.read(("a", attr))
        return self.attrs.get(attr)

    # ---- statements --------------------------------------------------------------------------
    def body_size(self, stmts):
        key = id(stmts)
        if key not in self.sizes:
            self.sizes[key] = sum(1 for s in stmts for _ in ast.walk(s))
        return self.sizes[key]

    def exec_block(self, stmts, env, scope):
        for s in stmts:
            self.exec_stmt(s, env, scope)
        return env

    def exec_stmt(self, node, env, scope):
        self.budget.charge(1)
        t = type(node)
        if t is ast.Expr:
            self.eval(node.value, env, scope)
        elif t is ast.Assign:
            v = self.eval(node.value, env, scope)
            for target in node.targets:
                self.assign(target, v, env, scope)
        elif t is ast.AnnAssign:
            if node.value is not None:
                self.assign(node.target, self.eval(node.value, env, scope), env, scope)
        elif t is ast.AugAssign:
            cur = self.eval(node.target, env, scope, load_target=True)
            val = self.eval(node.value, env, scope)
            self.assign(node.target, self.binop(node.op, cur, val, node), env, scope)
        elif t in (ast.FunctionDef, ast.AsyncFunctionDef):
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                self.eval(d, env, scope)
            self.bind_defaults(node, env, scope)
            for d in node.decorator_list:
                self.eval(d, env, scope)
            kind = "method" if isinstance(scope.node, ast.ClassDef) else "def"
            self.assign_name(node.name, V(funcs=frozenset({(kind, node)})), env, scope)
        elif t is ast.ClassDef:
            for b in node.bases + [k.value for k in node.keywords] + node.decorator_list:
                self.eval(b, env, scope)
            inner = self.scopes.scopes[node]
            cenv = {}
            self.exec_block(node.body, cenv, inner)
            for name, v in cenv.items():
                self.note_attr(name, v)
            self.assign_name(node.name, V(labels=frozenset({("class", node.name)}), funcs=frozenset({("class", node.name)})), env, scope)
        elif t is ast.Return:
            if node.value is not None:
                self.note_return(self.current_fn, self.eval(node.value, env, scope))
        elif t is ast.If:
            self.eval(node.test, env, scope)
            a = self.exec_block(node.body, self.copy_env(env), scope)
            b = self.exec_block(node.orelse, self.copy_env(env), scope)
            env.clear()
            env.update(self.merge(a, b))
        elif t in (ast.For, ast.AsyncFor):
            it = self.eval(node.iter, env, scope)
            self.exec_loop(node, env, scope, node.target, it)
        elif t is ast.While:
            self.eval(node.test, env, scope)
            self.exec_loop(node, env, scope, None, None)
        elif t in (ast.With, ast.AsyncWith):
            for item in node.items:
                v = self.eval(item.context_expr, env, scope)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, self.entered(v), env, scope)
            self.exec_block(node.body, env, scope)
        elif t in (ast.Try, getattr(ast, "TryStar", ast.Try)):
            start = self.copy_env(env)
            self.exec_block(node.body, env, scope)
            self.exec_block(node.orelse, env, scope)
            outs = [self.copy_env(env)]
            for h in node.handlers:
                if h.type is not None:
                    self.eval(h.type, start, scope)
                e = self.merge(start, outs[0])
                if h.name:
                    self.assign_name(h.name, self.caught(), e, scope)
                outs.append(self.exec_block(h.body, e, scope))
            env.clear()
            env.update(outs[0])
            for o in outs[1:]:
                env.update(self.merge(env, o))
            self.exec_block(node.finalbody, env, scope)
        elif t is ast.Match:
            subject = self.eval(node.subject, env, scope)
            outs = [self.copy_env(env)]
            for case in node.cases:
                e = self.copy_env(env)
                for p in ast.walk(case.pattern):
                    if isinstance(p, (ast.MatchAs, ast.MatchStar)) and p.name:
                        self.assign_name(p.name, join(subject, subject.elem), e, scope)
                    elif isinstance(p, ast.MatchMapping) and p.rest:
                        self.assign_name(p.rest, subject, e, scope)
                    elif isinstance(p, ast.MatchValue):
                        self.eval(p.value, e, scope)
                if case.guard is not None:
                    self.eval(case.guard, e, scope)
                outs.append(self.exec_block(case.body, e, scope))
            env.clear()
            for o in outs:
                env.update(self.merge(env, o))
        elif t is ast.Delete:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env.pop(target.id, None)
                else:
                    self.eval(target, env, scope, load_target=True)
                    if isinstance(target, ast.Attribute):
                        self.hooks.on_attribute(target, self.eval(target.value, env, scope), "del", None)
                    elif isinstance(target, ast.Subscript):
                        self.hooks.on_subscript_store(target, self.eval(target.value, env, scope))
        elif t is ast.Raise:
            if node.exc is not None:
                self.note_raised(self.eval(node.exc, env, scope))
            if node.cause is not None:
                self.eval(node.cause, env, scope)
        elif t is ast.Assert:
            for child in ast.iter_child_nodes(node):
                self.eval(child, env, scope)
        elif t in (ast.Import, ast.ImportFrom):
            for a in node.names:
                if a.name == "*" or (self.local and self.bind_local_import(node, a, env, scope)):
                    continue
                if t is ast.Import:
                    name = a.asname or a.name.split(".")[0]
                    dotted = a.name if a.asname else a.name.split(".")[0]
                else:
                    name = a.asname or a.name
                    dotted = (node.module or "") + "." + a.name
                self.assign_name(name, V(funcs=frozenset({("module", dotted)})), env, scope)
        # Pass, Break, Continue, Global, Nonlocal: nothing to evaluate

    def bind_defaults(self, fn, env, scope):
        a = fn.args
        positional = a.posonlyargs + a.args
        for p, d in zip(positional[len(positional) - len(a.defaults):], a.defaults):
            self.note_param(fn, p.arg, self.eval(d, env, scope))
        for p, d in zip(a.kwonlyargs, a.kw_defaults):
            if d is not None:
                self.note_param(fn, p.arg, self.eval(d, env, scope))

    def exec_loop(self, node, env, scope, target, it):
        """Unrolled once per element over a known short sequence when elements x body nodes, times the
        repetitions of the enclosing loops, stay within UNROLL_WORK; else the body runs at most twice with
        the element summary (nested loops then cost 2^depth, bounded by the budget)."""
        items = self.as_items(it) if it is not None else None
        outer = self.repeat
        try:
            if items is not None and outer * len(items) * max(1, self.body_size(node.body)) <= UNROLL_WORK:
                self.repeat = outer * max(1, len(items))
                for x in items:
                    self.assign(target, x, env, scope)
                    self.exec_block(node.body, env, scope)
            else:
                self.repeat = outer * 2
                for _ in range(2):
                    self.budget.charge(1 + len(env) // 8)  # the fixpoint test below walks every local
                    before = {k: v.key() for k, v in env.items()}
                    if target is not None:
                        self.assign(target, self.iterated(it), env, scope)
                    start = self.copy_env(env)
                    self.exec_block(node.body, env, scope)
                    merged = self.merge(start, env)
                    env.clear()
                    env.update(merged)
                    if before == {k: v.key() for k, v in env.items()}:
                        break
        finally:
            self.repeat = outer
        self.exec_block(node.orelse, env, scope)
