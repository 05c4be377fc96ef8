"""The modules of a ZIP project as one program (a mixin of interp.Interp), so that what one file could not
do is not split across two: `import helpers` / `from pkg.util import f` bind the other module's names as
the interpreter knows them (functions, classes, constants), so the optimizer handed to a helper in another
file, a method of a class defined elsewhere reached through the class, or a string whose parts live in
two files are followed like within one file. Each file keeps its own findings (folding.Project routes them).
"""
import ast

from .values import UNKNOWN, V, join

CALLABLE = ("def", "method", "class", "localmod")


def module_name(path):
    """'helpers.py' -> 'helpers', 'pkg/util.py' -> 'pkg.util', 'pkg/__init__.py' -> 'pkg'."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


class ProjectModules:
    def init_project(self, project, tree):
        """project: {dotted module name: tree} of every file of the project (this one included)."""
        self.local = dict(project or {})
        self.name_of = {t: n for n, t in self.local.items()}
        self.packages = {n.rsplit(".", k)[0] for n in self.local for k in range(1, n.count(".") + 1)}
        others = [t for t in self.local.values() if t is not tree]
        return others

    def import_base(self, tree, node):
        """The module a `from ... import` statement of `tree` reads from, relative imports resolved."""
        if not node.level:
            return node.module or ""
        here = self.name_of.get(tree, "")
        pkg = [p for p in here.split(".") if p]
        if here not in self.packages:  # a module's package; a package's own __init__ is its package
            pkg = pkg[:-1]
        pkg = pkg[:max(0, len(pkg) - (node.level - 1))]
        return ".".join(pkg + ([node.module] if node.module else []))

    def is_local(self, dotted):
        return dotted in self.local or dotted in self.packages

    def local_value(self, dotted):
        return V(funcs=frozenset({("localmod", dotted)}))

    def local_attribute(self, mod, attr):
        """`mod.attr` for a module of the project: a submodule, or the module-level binding's summary."""
        sub = mod + "." + attr
        if self.is_local(sub):
            return self.local_value(sub)
        tree = self.local.get(mod)
        if tree is None:
            return UNKNOWN
        scope = self.scopes.scopes[tree]
        self.read(("s", scope, attr))
        v = self.summ.get(scope, {}).get(attr, UNKNOWN)
        if any(f[0] in CALLABLE for f in v.funcs):
            return v
        # an object of another module: what a single-file review sees (the module's object, which may not be
        # changed in place or assigned into: flows.check_module_value) plus what the interpreter knows of it
        return V(consts=v.consts, items=v.items, keys=v.keys, elem=v._elem, labels=v.labels,
                 funcs=v.funcs | {("module", sub)})

    def bind_local_import(self, node, alias, env, scope):
        """Binds one name of an import statement when it names a module of the project; False otherwise."""
        if isinstance(node, ast.Import):
            root = alias.name.split(".")[0]
            if not self.is_local(root):
                return False
            self.assign_name(alias.asname or root, self.local_value(alias.name if alias.asname else root), env, scope)
            return True
        base = self.import_base(self.scopes.root(scope).node, node)
        if not (self.is_local(base) or (not base and node.level)):
            return False
        v = self.local_attribute(base, alias.name) if base else (
            self.local_value(alias.name) if self.is_local(alias.name) else UNKNOWN)
        self.assign_name(alias.asname or alias.name, v, env, scope)
        return True

    def module_order(self, trees):
        """The trees with the modules each one imports first (depth first; cycles broken by file order)."""
        if len(trees) == 1:
            return list(trees)
        deps = {}
        for t in trees:
            out = []
            for n in ast.walk(t):
                if isinstance(n, ast.Import):
                    out += [a.name for a in n.names]
                elif isinstance(n, ast.ImportFrom):
                    base = self.import_base(t, n)
                    out += [base] + [base + "." + a.name if base else a.name for a in n.names]
            deps[t] = [self.local[m] for m in out if m in self.local and self.local[m] is not t]
        order, seen = [], set()

        def visit(t):
            if t in seen:
                return
            seen.add(t)
            for d in deps.get(t, []):
                visit(d)
            order.append(t)
        for t in trees:
            visit(t)
        return order

    def local_members(self, recv, attr):
        out = None
        for f in recv.funcs:
            if f[0] == "localmod":
                v = self.local_attribute(f[1], attr)
                out = join(out, v) if out is not None else v
        return out
