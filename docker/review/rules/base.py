"""Shared state of the rules: the policy compiled into lookup tables, the parent map of the syntax tree,
findings, and the helpers every family uses (dotted chains, module resolution, class-body and annotation
positions). Owns no rule of its own; the families in this package are mixins over ReviewerBase.
"""
import ast
import re

DUNDER = re.compile(r"^__[A-Za-z0-9_]+__$")


class Unknown(Exception):
    pass


_CHAINS = {}  # node -> (root, attrs) of the file under review; cleared per file


def dotted_chain(node):
    """For a.b.c returns ('a', ['b', 'c']); None when the chain does not start at a Name. A call or a
    subscript in the chain is looked through (torch.cuda.Event(...).elapsed_time roots at torch).
    Memoised per node, so a chain of n links costs O(n) Python steps, not O(n^2)."""
    path = []
    cur = node
    while True:
        if cur in _CHAINS:
            base = _CHAINS[cur]
            break
        if isinstance(cur, ast.Attribute):
            path.append(cur)
            cur = cur.value
        elif isinstance(cur, ast.Call):
            path.append(cur)
            cur = cur.func
        elif isinstance(cur, ast.Subscript):
            path.append(cur)
            cur = cur.value
        elif isinstance(cur, ast.Name):
            base = (cur.id, ())
            _CHAINS[cur] = base
            break
        else:
            base = None
            break
    for n in reversed(path):
        if base is not None and isinstance(n, ast.Attribute):
            base = (base[0], base[1] + (n.attr,))
        _CHAINS[n] = base
    return (base[0], list(base[1])) if base is not None else None


class ReviewerBase:
    def __init__(self, policy, tree, entrypoint, local_modules):
        self.p = policy
        self.tree = tree
        self.entrypoint = entrypoint
        self.local_modules = set(local_modules or [])
        self.findings = []
        self.seen = set()
        lim = policy.get("limits", {})
        self.max_cands = int(lim.get("maxFoldCandidates", 64))
        self.max_len = int(lim.get("maxFoldLength", 4096))
        self.max_decode = int(lim.get("maxDecodeDepth", 3))
        self.forbidden_modules = list(policy["forbiddenModules"])
        self.allowed_modules = set(policy["allowedModules"])
        self.allowed_submodules = {k: tuple(v) for k, v in policy.get("allowedSubmodules", {}).items()}
        self.forbidden_builtins = set(policy["forbiddenBuiltins"])
        self.attr_rule = {}
        for rule, names in policy["forbiddenAttributes"].items():
            for n in names:
                self.attr_rule.setdefault(n, rule)
        self.allowed_dunder_attrs = set(policy["allowedDunderAttributes"])
        self.allowed_dunder_names = set(policy["allowedDunderNames"])
        self.allowed_dunder_strings = set(policy.get("allowedDunderStrings", []))
        self.forbidden_defs = set(policy["forbiddenDunderDefs"])
        self.private_prefixes = tuple(policy["privateAttributeAllowPrefixes"])
        self.private_roots = set(policy["privateAttributeAllowRoots"])
        self.substrings = list(policy["dangerousSubstrings"])
        self.exact = set()
        if policy.get("scanExactNames", True):
            self.exact |= {m.split(".")[-1] for m in self.forbidden_modules if not m.startswith("torch.")}
            self.exact |= {m for m in self.forbidden_modules}
            self.exact |= self.forbidden_builtins
            self.exact |= set(self.attr_rule)
            self.exact -= set(policy.get("exactStringIgnore", []))
        self.protected_stores = set(policy.get("protectedAttributeStores", []))
        self.dynamo_roots = tuple(policy.get("dynamoConfigRoots", []))
        ep = policy["entrypoint"]
        self.ep = ep
        _CHAINS.clear()
        self.nodes = list(ast.walk(tree))  # every node once, breadth first: the rules iterate this list
        self.parents = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.aliases = {}  # local name -> dotted module path
        self.env = {}  # name -> list of folded constant candidates
        self.optimizer_names = {ep["optimizerParam"]}
        self.protected_names = set(ep["protectedParams"])

    # ---- findings -------------------------------------------------------------------------
    def add(self, rule, node, message):
        line = getattr(node, "lineno", 0) or 0
        col = getattr(node, "col_offset", 0) or 0
        key = (rule, line, col, message)
        if key in self.seen:
            return
        self.seen.add(key)
        self.findings.append({"rule": rule, "line": line, "col": col, "message": message})

    # ---- module resolution ----------------------------------------------------------------
    def module_forbidden(self, dotted):
        for f in self.forbidden_modules:
            if dotted == f or dotted.startswith(f + "."):
                return f
        return None

    def resolve(self, node):
        chain = dotted_chain(node)
        if chain is None:
            return None
        root, attrs = chain
        if root in self.aliases:
            return ".".join([self.aliases[root]] + attrs)
        return None

    def in_class_body(self, node):
        return isinstance(self.parents.get(node), ast.ClassDef)

    def is_annotation(self, node):
        p = self.parents.get(node)
        while p is not None:
            if isinstance(p, ast.arg) and p.annotation is not None:
                return True
            if isinstance(p, ast.AnnAssign) and p.annotation is not None:
                return True
            p = self.parents.get(p)
        return False
