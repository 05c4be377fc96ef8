"""Python's scoping rules over the syntax tree (no rules of its own).

Each module, function, lambda, comprehension and class body is a Scope with the names it binds.
`scope_of[node]` is the scope an expression is evaluated in (defaults, decorators and the first
iterable of a comprehension belong to the enclosing scope); `resolve(scope, name)` finds the scope a
name refers to (None: a builtin). Also the `self`/`cls` exemption of private-attribute: a name is the
receiver of a method only when it is the first parameter of a def placed directly in a class body
(`cls`: decorated @classmethod; `self`: not @staticmethod/@classmethod) and nothing else in that def
binds it.
"""
import ast

SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
               ast.DictComp, ast.GeneratorExp)
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class Scope:
    __slots__ = ("node", "kind", "parent", "binds", "params", "rebinds", "globals", "nonlocals")

    def __init__(self, node, kind, parent):
        self.node = node
        self.kind = kind  # module | function | class | comprehension
        self.parent = parent
        self.binds = set()
        self.params = []
        self.rebinds = set()  # names bound by anything but a parameter
        self.globals = set()
        self.nonlocals = set()


def params_of(args):
    out = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        out.append(args.vararg.arg)
    out += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        out.append(args.kwarg.arg)
    return out


def decorator_names(fn):
    out = set()
    for d in getattr(fn, "decorator_list", []):
        while isinstance(d, ast.Call):
            d = d.func
        if isinstance(d, ast.Name):
            out.add(d.id)
        elif isinstance(d, ast.Attribute):
            out.add(d.attr)
    return out


class Scopes:
    def __init__(self, tree, parents, others=()):
        """`tree` and the modules of the same ZIP project (`others`), each with its own module scope."""
        self.parents = parents
        self.scope_of = {}
        self.scopes = {}
        self.functions = []  # function and lambda nodes in source order
        self.modules = []
        for t in [tree, *others]:
            m = self._new(t, "module", None)
            self.modules.append(m)
            self._current = m
            self._visit_body(t.body, m)
        self.module = self.modules[0]
        # (scope, name) pairs read from another scope (closures, globals read by functions): only these
        # need a summary across the scope's flow
        self.shared = set()
        for node, scope in self.scope_of.items():
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                b = self.resolve(scope, node.id)
                if b is not None and b is not scope:
                    self.shared.add((b, node.id))
        if others:  # another module of the project may read any module-level name (`import helpers`)
            for m in self.modules:
                self.shared |= {(m, name) for name in m.binds}

    def root(self, scope):
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def _new(self, node, kind, parent):
        s = Scope(node, kind, parent)
        self.scopes[node] = s
        return s

    def _bind(self, scope, name, param=False):
        target = scope
        if name in scope.globals:
            target = self._current
        scope.binds.add(name)
        if not param:
            scope.rebinds.add(name)
        if target is not scope:
            target.binds.add(name)
            target.rebinds.add(name)

    def _visit_body(self, stmts, scope):
        for s in stmts:
            self._visit(s, scope)

    def _visit(self, node, scope):
        """Assigns node and its subtree to scopes, collecting bindings."""
        self.scope_of[node] = scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            self._bind_name_of(node, scope)
            a = node.args
            for d in a.defaults + [d for d in a.kw_defaults if d is not None] + list(getattr(node, "decorator_list", [])):
                self._visit(d, scope)
            if not isinstance(node, ast.Lambda):
                for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
                    if x is not None and x.annotation is not None:
                        self._visit(x.annotation, scope)
                if node.returns is not None:
                    self._visit(node.returns, scope)
            inner = self._new(node, "function", scope)
            inner.params = params_of(a)
            for p in inner.params:
                self._bind(inner, p, param=True)
            for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
                if x is not None:
                    self.scope_of[x] = inner
            self.functions.append(node)
            if isinstance(node, ast.Lambda):
                self._visit(node.body, inner)
            else:
                self._collect_decls(node.body, inner)
                self._visit_body(node.body, inner)
            return
        if isinstance(node, ast.ClassDef):
            self._bind(scope, node.name)
            for d in node.bases + [k.value for k in node.keywords] + node.decorator_list:
                self._visit(d, scope)
            inner = self._new(node, "class", scope)
            self._collect_decls(node.body, inner)
            self._visit_body(node.body, inner)
            return
        if isinstance(node, COMPREHENSIONS):
            inner = self._new(node, "comprehension", scope)
            for i, gen in enumerate(node.generators):
                self._visit(gen.iter, scope if i == 0 else inner)
                self.scope_of[gen] = inner
                self._visit(gen.target, inner)
                for cond in gen.ifs:
                    self._visit(cond, inner)
            elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for e in elts:
                self._visit(e, inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(scope, node.id)
        elif isinstance(node, ast.NamedExpr):
            target = scope
            while target.kind == "comprehension":
                target = target.parent
            self._bind(target, node.target.id)
            self.scope_of[node.target] = target
            self._visit(node.value, scope)
            return
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(scope, node.name)
        elif isinstance(node, ast.alias):
            self._bind(scope, (node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self._bind(scope, node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self._bind(scope, node.rest)
        for child in ast.iter_child_nodes(node):
            self._visit(child, scope)

    def _bind_name_of(self, node, scope):
        if not isinstance(node, ast.Lambda):
            self._bind(scope, node.name)

    def _collect_decls(self, body, scope):
        stack = list(body)
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Global):
                scope.globals.update(n.names)
            elif isinstance(n, ast.Nonlocal):
                scope.nonlocals.update(n.names)
            if isinstance(n, SCOPE_NODES):
                continue
            stack.extend(ast.iter_child_nodes(n))

    # ---- resolution ----------------------------------------------------------------------
    def resolve(self, scope, name):
        """The scope whose binding `name` refers to from `scope`, or None for a builtin/undefined name."""
        if name in scope.globals:
            m = self.root(scope)
            return m if name in m.binds else None
        if name in scope.nonlocals:
            s = scope.parent
            while s is not None and s.kind != "module":
                if s.kind != "class" and name in s.binds:
                    return s
                s = s.parent
            return None
        if name in scope.binds:
            return scope
        s = scope.parent
        while s is not None:
            if s.kind == "module":
                return s if name in s.binds else None
            if s.kind != "class" and name in s.binds and name not in s.globals:
                return s
            if name in s.globals:
                m = self.root(s)
                return m if name in m.binds else None
            s = s.parent
        return None

    def receiver_param(self, node):
        """True when the Name `node` (self/cls) is the receiver parameter of a method, as above."""
        scope = self.scope_of.get(node)
        if scope is None:
            return False
        b = self.resolve(scope, node.id)
        if b is None or b.kind != "function" or isinstance(b.node, ast.Lambda):
            return False
        fn = b.node
        if not isinstance(self.parents.get(fn), ast.ClassDef):
            return False
        positional = fn.args.posonlyargs + fn.args.args
        if not positional or positional[0].arg != node.id or node.id in b.rebinds:
            return False
        if node.id in b.globals or node.id in b.nonlocals:
            return False
        decos = decorator_names(fn)
        if node.id == "cls":
            return "classmethod" in decos
        return node.id == "self" and not (decos & {"staticmethod", "classmethod"})
