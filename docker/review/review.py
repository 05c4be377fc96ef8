"""Conclave static reviewer: the authoritative verdict on a submission, from CPython's own `ast`.

Run as `python3 -I -S review.py` (or `-c <this source>`), inside the sandbox image with network
none, or on the host as the documented fallback. Reads one JSON request on stdin:
    {"policy": {...}, "fingerprint": true,
     "files": [{"id": "...", "source_b64": "...", "entrypoint": true, "localModules": ["helpers"]}]}
and writes one JSON response on stdout:
    {"reviewer": "conclave-review/1", "python": "3.11.2",
     "results": [{"id", "verdict": "accept"|"reject", "findings": [{rule, line, col, message}],
                  "fingerprint": {"tokens": [...], "lines": [...]}}]}
Only the standard library is used; nothing of the reviewed source is ever executed.
"""
import ast
import base64
import binascii
import json
import re
import sys

REVIEWER = "conclave-review/1"
DUNDER = re.compile(r"^__[A-Za-z0-9_]+__$")
CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
SAFE_CODECS = {"utf-8", "utf8", "utf_8", "ascii", "latin-1", "latin1", "iso-8859-1", "unicode_escape",
               "raw_unicode_escape", "utf-16", "utf-32", "cp437", "utf_16", "utf_32"}
STR_METHODS = {"replace", "lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize",
               "casefold", "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust"}
B64 = re.compile(r"^[A-Za-z0-9+/_-]{8,}={0,2}$")
HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){4,}$")
ROT13 = str.maketrans("ABCDEFGHIJKLMabcdefghijklmNOPQRSTUVWXYZnopqrstuvwxyz",
                      "NOPQRSTUVWXYZnopqrstuvwxyzABCDEFGHIJKLMabcdefghijklm")


class Unknown(Exception):
    pass


def dotted_chain(node):
    """For a.b.c returns ('a', ['b', 'c']); None when the chain does not start at a Name."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):  # e.g. torch.cuda.Event(...).elapsed_time: root through the call
        return dotted_chain(node.func)
    if isinstance(node, ast.Subscript):
        return dotted_chain(node.value)
    if isinstance(node, ast.Name):
        return node.id, list(reversed(attrs))
    return None


class Reviewer:
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
        self.parents = {}
        for node in ast.walk(tree):
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

    def collect_aliases(self):
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        root = a.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.aliases[a.asname or a.name] = node.module + "." + a.name
        defs = {n.name: n for n in ast.walk(self.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        # Aliases of module objects and of protected parameters propagate through plain assignment.
        for _ in range(4):
            changed = False
            for node in ast.walk(self.tree):
                if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    chain = dotted_chain(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
                    for t in targets:
                        plain = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
                        for name in [n.id for n in plain if isinstance(n, ast.Name)]:
                            if chain is None:
                                continue
                            root, attrs = chain
                            if root in self.aliases and name not in self.aliases and not isinstance(node.value, ast.Call):
                                self.aliases[name] = ".".join([self.aliases[root]] + attrs)
                                changed = True
                            if root in self.optimizer_names and not attrs and name not in self.optimizer_names:
                                self.optimizer_names.add(name)
                                changed = True
                            if root in self.protected_names and name not in self.protected_names:
                                self.protected_names.add(name)
                                changed = True
            # Parameters of local functions that receive the optimizer / protected objects.
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defs:
                    params = [a.arg for a in defs[node.func.id].args.posonlyargs + defs[node.func.id].args.args]
                    pairs = list(zip(params, node.args)) + [(k.arg, k.value) for k in node.keywords if k.arg]
                    for pname, arg in pairs:
                        if isinstance(arg, ast.Name):
                            if arg.id in self.optimizer_names and pname not in self.optimizer_names:
                                self.optimizer_names.add(pname)
                                changed = True
                            if arg.id in self.protected_names and pname not in self.protected_names:
                                self.protected_names.add(pname)
                                changed = True
            if not changed:
                break

    # ---- constant folding (strings built at run time from constants) ------------------------
    def cap(self, values):
        out = []
        for v in values:
            if isinstance(v, (str, bytes)) and len(v) > self.max_len:
                continue
            if v not in out:
                out.append(v)
            if len(out) >= self.max_cands:
                break
        return out

    def collect_env(self):
        for _ in range(3):
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            self.bind(t.id, self.fold_safe(node.value))
                        elif isinstance(t, (ast.Tuple, ast.List)) and isinstance(node.value, (ast.Tuple, ast.List)):
                            for tt, vv in zip(t.elts, node.value.elts):
                                if isinstance(tt, ast.Name):
                                    self.bind(tt.id, self.fold_safe(vv))
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                    if isinstance(node.target, ast.Name):
                        self.bind(node.target.id, self.fold_safe(node.value))
                elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                    prev = self.env.get(node.target.id, [])
                    vals = self.fold_safe(node.value)
                    combos = []
                    for a in prev:
                        for b in vals:
                            try:
                                combos.append(self.binop(node.op, a, b))
                            except Unknown:
                                pass
                    self.bind(node.target.id, combos + vals)
                elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
                    for seq in self.fold_iter_safe(node.iter):
                        self.bind(node.target.id, list(seq))
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    # Parameter defaults are constants too.
                    args = node.args.posonlyargs + node.args.args
                    for a, d in zip(args[len(args) - len(node.args.defaults):], node.args.defaults):
                        self.bind(a.arg, self.fold_safe(d))

    def bind(self, name, values):
        if values:
            self.env[name] = self.cap(self.env.get(name, []) + list(values))

    def fold_safe(self, node):
        try:
            return self.cap(self.fold(node, 0))
        except (Unknown, RecursionError, ValueError, TypeError, OverflowError, MemoryError, UnicodeError,
                IndexError, KeyError, AttributeError):
            return []

    def fold_iter_safe(self, node):
        try:
            return self.fold_iter(node, 0)
        except (Unknown, RecursionError, ValueError, TypeError, OverflowError, MemoryError, UnicodeError,
                IndexError, KeyError, AttributeError):
            return []

    def binop(self, op, a, b):
        if isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (str, bytes, int)):
            return a + b
        if isinstance(op, ast.Mult):
            if isinstance(a, (str, bytes)) and isinstance(b, int) and 0 <= b <= 64:
                return a * b
            if isinstance(b, (str, bytes)) and isinstance(a, int) and 0 <= a <= 64:
                return a * b
            if isinstance(a, int) and isinstance(b, int):
                return a * b
        if isinstance(op, ast.Mod) and isinstance(a, (str, bytes)):
            return a % b
        if isinstance(op, ast.Sub) and isinstance(a, int) and isinstance(b, int):
            return a - b
        raise Unknown()

    def product(self, lists):
        combos = [[]]
        for options in lists:
            if not options:
                raise Unknown()
            combos = [c + [o] for c in combos for o in options][: self.max_cands]
        return combos

    def fold(self, node, depth):
        if depth > 40:
            raise Unknown()
        d = depth + 1
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bytes, int)) and not isinstance(node.value, bool):
                return [node.value]
            raise Unknown()
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return list(self.env[node.id])
            raise Unknown()
        if isinstance(node, ast.BinOp):
            left = self.fold(node.left, d)
            if isinstance(node.op, ast.Mod) and isinstance(node.right, ast.Tuple):
                rights = [tuple(c) for c in self.product([self.fold(e, d) for e in node.right.elts])]
            else:
                rights = self.fold(node.right, d)
            out = []
            for a in left:
                for b in rights:
                    try:
                        out.append(self.binop(node.op, a, b))
                    except (Unknown, TypeError, ValueError):
                        pass
            if not out:
                raise Unknown()
            return self.cap(out)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append([str(v.value)])
                elif isinstance(v, ast.FormattedValue):
                    conv = {115: str, 114: repr, 97: ascii}.get(v.conversion, str)
                    parts.append([conv(x) for x in self.fold(v.value, d)])
                else:
                    raise Unknown()
            return self.cap(["".join(c) for c in self.product(parts)])
        if isinstance(node, ast.Subscript):
            values = self.fold(node.value, d)
            sl = node.slice
            out = []
            if isinstance(sl, ast.Slice):
                def bound(x):
                    if x is None:
                        return [None]
                    return [v for v in self.fold(x, d) if isinstance(v, int)]
                for v in values:
                    for lo in bound(sl.lower):
                        for hi in bound(sl.upper):
                            for st in bound(sl.step):
                                if st == 0:
                                    continue
                                out.append(v[lo:hi:st])
            else:
                for v in values:
                    for i in self.fold(sl, d):
                        if isinstance(i, int) and isinstance(v, (str, bytes)):
                            r = v[i]
                            out.append(r)
            return self.cap(out)
        if isinstance(node, ast.Call):
            return self.cap(self.fold_call(node, d))
        raise Unknown()

    def fold_call(self, node, d):
        f = node.func
        args = node.args
        if isinstance(f, ast.Attribute):
            if f.attr == "join" and len(args) == 1:
                seps = self.fold(f.value, d)
                out = []
                for sep in seps:
                    for seq in self.fold_iter(args[0], d):
                        if isinstance(sep, str) and all(isinstance(x, str) for x in seq):
                            out.append(sep.join(seq))
                        elif isinstance(sep, bytes) and all(isinstance(x, bytes) for x in seq):
                            out.append(sep.join(seq))
                return out
            if f.attr == "format":
                bases = self.fold(f.value, d)
                argc = self.product([self.fold(a, d) for a in args]) if args else [[]]
                kw = {}
                for k in node.keywords:
                    if k.arg is None:
                        raise Unknown()
                    kw[k.arg] = self.fold(k.value, d)[0]
                return [b.format(*a, **kw) for b in bases for a in argc if isinstance(b, str)]
            if f.attr in ("decode", "encode"):
                enc = "utf-8"
                if args:
                    e = self.fold(args[0], d)[0]
                    if not isinstance(e, str):
                        raise Unknown()
                    enc = e
                if enc.lower().replace(" ", "") not in SAFE_CODECS:
                    raise Unknown()
                out = []
                for v in self.fold(f.value, d):
                    if f.attr == "decode" and isinstance(v, bytes):
                        out.append(v.decode(enc, "replace"))
                    elif f.attr == "encode" and isinstance(v, str):
                        out.append(v.encode(enc, "replace"))
                return out
            if f.attr == "fromhex" and isinstance(f.value, ast.Name) and f.value.id in ("bytes", "bytearray") and args:
                return [bytes.fromhex(v) for v in self.fold(args[0], d) if isinstance(v, str)]
            if f.attr in STR_METHODS:
                bases = self.fold(f.value, d)
                argc = self.product([self.fold(a, d) for a in args]) if args else [[]]
                return [getattr(b, f.attr)(*a) for b in bases for a in argc if isinstance(b, (str, bytes))]
            raise Unknown()
        if isinstance(f, ast.Name):
            if f.id == "chr" and len(args) == 1:
                return [chr(v) for v in self.fold(args[0], d) if isinstance(v, int)]
            if f.id == "str" and len(args) == 1:
                return [v if isinstance(v, str) else str(v) for v in self.fold(args[0], d)]
            if f.id in ("bytes", "bytearray") and args:
                if len(args) >= 2 or isinstance(args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    vals = self.fold(args[0], d)
                    enc = self.fold(args[1], d)[0] if len(args) >= 2 else "utf-8"
                    if isinstance(enc, str) and enc.lower() in SAFE_CODECS:
                        return [v.encode(enc) if isinstance(v, str) else bytes(v) for v in vals]
                    raise Unknown()
                return [bytes(seq) for seq in self.fold_iter(args[0], d)
                        if all(isinstance(x, int) and 0 <= x < 256 for x in seq)]
            if f.id == "int" and args:
                base = self.fold(args[1], d)[0] if len(args) > 1 else 10
                return [int(v, base) for v in self.fold(args[0], d) if isinstance(v, str)]
        raise Unknown()

    def fold_iter(self, node, d):
        """Possible element sequences of an iterable expression."""
        if d > 40:
            raise Unknown()
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return self.product([self.fold(e, d + 1) for e in node.elts])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fid = node.func.id
            if fid in ("list", "tuple", "reversed", "sorted") and len(node.args) == 1:
                seqs = self.fold_iter(node.args[0], d + 1)
                if fid == "reversed":
                    return [list(reversed(s)) for s in seqs]
                if fid == "sorted":
                    return [sorted(s) for s in seqs]
                return seqs
            if fid == "map" and len(node.args) == 2 and isinstance(node.args[0], ast.Name):
                fn = {"chr": chr, "str": str, "ord": ord}.get(node.args[0].id)
                if fn is None:
                    raise Unknown()
                return [[fn(x) for x in s] for s in self.fold_iter(node.args[1], d + 1)]
            if fid == "range":
                bounds = [self.fold(a, d + 1)[0] for a in node.args]
                r = range(*bounds)
                if len(r) > 4096:
                    raise Unknown()
                return [list(r)]
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) == 1:
            gen = node.generators[0]
            if gen.ifs or not isinstance(gen.target, ast.Name):
                raise Unknown()
            out = []
            for seq in self.fold_iter(gen.iter, d + 1):
                saved = self.env.get(gen.target.id)
                items = []
                try:
                    for x in seq:
                        self.env[gen.target.id] = [x]
                        vals = self.fold(node.elt, d + 1)
                        items.append(vals[0])
                finally:
                    if saved is None:
                        self.env.pop(gen.target.id, None)
                    else:
                        self.env[gen.target.id] = saved
                out.append(items)
            return out
        vals = self.fold(node, d + 1)
        return [list(v) for v in vals if isinstance(v, (str, bytes))]

    # ---- string scanning --------------------------------------------------------------------
    def danger_in(self, s, depth, exact=True):
        if exact:
            stripped = s.strip()
            if stripped in self.exact:
                return "names '%s'" % stripped
            if DUNDER.match(stripped) and stripped not in self.allowed_dunder_strings:
                return "names the dunder '%s'" % stripped
        for variant in (s, s[::-1], s.translate(ROT13)):
            for sub in self.substrings:
                if sub in variant:
                    return "contains '%s'" % sub
        if depth >= self.max_decode:
            return None
        decoded = []
        t = s.strip()
        if B64.match(t) and len(t) % 4 == 0:
            try:
                decoded.append(base64.b64decode(t, altchars=b"-_" if ("-" in t or "_" in t) else None, validate=True))
            except (binascii.Error, ValueError):
                pass
        if HEX.match(t):
            decoded.append(bytes.fromhex(t))
        if "\\" in s:
            try:
                decoded.append(s.encode("latin-1", "ignore").decode("unicode_escape").encode("latin-1", "ignore"))
            except (UnicodeError, ValueError):
                pass
        for b in decoded:
            try:
                text = b.decode("utf-8")
            except UnicodeError:
                continue
            why = self.danger_in(text, depth + 1, exact=True)
            if why:
                return why + " after decoding"
        return None

    def scan_value(self, node, value, how):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str):
            return
        why = self.danger_in(value, 0)
        if why:
            self.add("forbidden-string", node, "a string %s %s" % (how, why))

    def scan_strings(self):
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                self.scan_value(node, node.value, "constant")
            elif isinstance(node, (ast.BinOp, ast.JoinedStr, ast.Call, ast.Subscript)):
                parent = self.parents.get(node)
                if isinstance(parent, (ast.BinOp, ast.JoinedStr)):
                    continue
                for v in self.fold_safe(node):
                    self.scan_value(node, v, "built from constants")
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                for v in self.env.get(node.target.id, []):
                    self.scan_value(node, v, "accumulated from constants")
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.env:
                parent = self.parents.get(node)
                if isinstance(parent, ast.Call) and node in parent.args:
                    for v in self.env[node.id]:
                        self.scan_value(node, v, "passed by name")

    # ---- rules over the tree ------------------------------------------------------------------
    def check_import(self, node):
        if isinstance(node, ast.Import):
            for a in node.names:
                self.check_module(node, a.name)
                if a.asname and DUNDER.match(a.asname):
                    self.add("name-binding", node, "import binds the dunder name '%s'" % a.asname)
        else:
            if node.level and node.level > 0:
                if not self.local_modules:
                    self.add("relative-import", node, "relative imports are allowed only inside a ZIP project")
                base = None
            else:
                base = node.module or ""
                self.check_module(node, base)
            for a in node.names:
                if a.name == "*":
                    self.add("star-import", node, "'from %s import *' hides what is imported" % (base or "."))
                    continue
                bound = a.asname or a.name
                if DUNDER.match(bound) or DUNDER.match(a.name):
                    self.add("name-binding", node, "import binds the dunder name '%s'" % bound)
                if base is not None:
                    full = base + "." + a.name
                    hit = self.module_forbidden(full)
                    if hit:
                        self.add("forbidden-import", node, "'%s' is forbidden (%s)" % (full, hit))
                    if a.name.startswith("_") and not a.name.startswith(self.private_prefixes) and not DUNDER.match(a.name):
                        self.add("private-attribute", node, "importing the private name '%s' from '%s'" % (a.name, base))
                    if a.name in self.forbidden_builtins or a.name in self.attr_rule:
                        self.add(self.attr_rule.get(a.name, "forbidden-builtin"), node,
                                 "importing '%s' from '%s' is forbidden" % (a.name, base))

    def check_module(self, node, dotted):
        root = dotted.split(".")[0]
        hit = self.module_forbidden(dotted)
        if hit:
            self.add("forbidden-import", node, "module '%s' is forbidden (%s)" % (dotted, hit))
        elif root not in self.allowed_modules and root not in self.local_modules:
            self.add("forbidden-import", node, "module '%s' is not on the allow-list" % dotted)

    def in_class_body(self, node):
        return isinstance(self.parents.get(node), ast.ClassDef)

    def check_name(self, node):
        name = node.id
        parent = self.parents.get(node)
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            if DUNDER.match(name):
                self.add("name-binding", node, "binding or deleting the dunder name '%s'" % name)
            return
        if DUNDER.match(name):
            if name not in self.allowed_dunder_names:
                self.add("dunder-name", node, "the dunder name '%s' is forbidden" % name)
            return
        if name in self.forbidden_builtins:
            self.add("forbidden-builtin", node, "the builtin '%s' is forbidden" % name)
            return
        is_call = isinstance(parent, ast.Call) and parent.func is node
        if name in ("getattr", "hasattr"):
            if not is_call or len(parent.args) < 2 or not (
                    isinstance(parent.args[1], ast.Constant) and isinstance(parent.args[1].value, str)):
                self.add("forbidden-builtin", node, "'%s' is allowed only with a constant attribute name" % name)
            else:
                attr = parent.args[1].value
                if DUNDER.match(attr) or attr in self.attr_rule or (
                        attr.startswith("_") and not attr.startswith(self.private_prefixes)):
                    self.add(self.attr_rule.get(attr, "class-hierarchy" if DUNDER.match(attr) else "private-attribute"),
                             node, "%s(..., '%s') reaches a forbidden attribute" % (name, attr))
                if parent.args and isinstance(parent.args[0], ast.Name) and parent.args[0].id in self.optimizer_names \
                        and attr not in self.ep["optimizerAllowedAttributes"]:
                    self.add("optimizer-internals", node, "reading '%s' of the optimizer" % attr)
        elif name == "type":
            if is_call and len(parent.args) != 1:
                self.add("forbidden-builtin", node, "type() with three arguments creates classes dynamically")
            elif not is_call and not self.is_annotation(node):
                self.add("forbidden-builtin", node, "'type' may only be called with one argument")
        elif name in ("staticmethod", "classmethod"):
            ok = isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in parent.decorator_list \
                and self.in_class_body(parent)
            if not ok:
                self.add("forbidden-builtin", node,
                         "'%s' is allowed only as a bare decorator on a method in a class body" % name)

    def is_annotation(self, node):
        p = self.parents.get(node)
        while p is not None:
            if isinstance(p, ast.arg) and p.annotation is not None:
                return True
            if isinstance(p, ast.AnnAssign) and p.annotation is not None:
                return True
            p = self.parents.get(p)
        return False

    def check_attribute(self, node):
        attr = node.attr
        store = isinstance(node.ctx, (ast.Store, ast.Del))
        chain = dotted_chain(node)
        root = chain[0] if chain else None
        resolved = self.resolve(node)
        if resolved:
            for r in self.dynamo_roots:
                if (resolved + ".").startswith(r + ".") and store:
                    self.add("dynamo-config-write", node, "writing %s" % resolved)
            hit = self.module_forbidden(resolved)
            if hit and hit.startswith("torch."):
                self.add("torch-internals" if hit != "torch.backends" else "backend-toggle", node,
                         "'%s' is forbidden (%s)" % (resolved, hit))
        if attr in self.attr_rule:
            self.add(self.attr_rule[attr], node, "the attribute '%s' is forbidden" % attr)
        elif DUNDER.match(attr):
            if attr not in self.allowed_dunder_attrs:
                self.add("dunder-attribute", node, "the dunder attribute '%s' is forbidden" % attr)
        elif attr.startswith("_") and not attr.startswith(self.private_prefixes):
            if root not in self.private_roots or (chain and len(chain[1]) > 1):
                rule = "torch-internals" if resolved and resolved.startswith("torch.") else "private-attribute"
                self.add(rule, node, "the private attribute '%s' is forbidden" % attr)
        if chain and root in self.optimizer_names and chain[1] and chain[1][0] not in self.ep["optimizerAllowedAttributes"]:
            self.add("optimizer-internals", node, "the optimizer's '%s' is internal" % chain[1][0])
        if store:
            if DUNDER.match(attr):
                self.add("monkey-patching", node, "assigning the dunder attribute '%s'" % attr)
            if root in self.aliases or root in self.protected_names or root in self.optimizer_names:
                self.add("monkey-patching", node, "assigning '%s' of '%s'" % (attr, root))
            elif attr in self.protected_stores and not (root in self.private_roots and len(chain[1]) == 1):
                self.add("monkey-patching", node, "replacing '.%s' of another object" % attr)

    def check_match_class(self, node):
        # `case C(attr=x)` reads getattr(subject, "attr"): each keyword is an attribute access.
        for name in node.kwd_attrs:
            probe = ast.Attribute(value=node.cls, attr=name, ctx=ast.Load())
            ast.copy_location(probe, node)
            self.check_attribute(probe)

    def check_subscript_store(self, node):
        if not isinstance(node.ctx, (ast.Store, ast.Del)):
            return
        chain = dotted_chain(node.value)
        if chain and (chain[0] in self.aliases or chain[0] in self.optimizer_names or
                      (chain[0] in self.protected_names and chain[0] != self.ep["params"][1])):
            self.add("monkey-patching", node, "item assignment into '%s'" % chain[0])

    def check_def(self, node):
        if isinstance(node, ast.ClassDef):
            if DUNDER.match(node.name):
                self.add("name-binding", node, "class binds the dunder name '%s'" % node.name)
            for k in node.keywords:
                if k.arg == "metaclass":
                    self.add("class-hierarchy", node, "custom metaclasses are forbidden")
            return
        if DUNDER.match(node.name):
            if not self.in_class_body(node):
                self.add("name-binding", node, "def binds the dunder name '%s' outside a class" % node.name)
            elif node.name in self.forbidden_defs:
                self.add("forbidden-def", node, "defining '%s' hooks the object model" % node.name)
        args = node.args
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None and DUNDER.match(a.arg):
                self.add("name-binding", a, "parameter binds the dunder name '%s'" % a.arg)

    def check_binding_forms(self, node):
        names = []
        if isinstance(node, ast.ExceptHandler) and node.name:
            names.append(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.extend(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.append(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.append(node.rest)
        elif isinstance(node, ast.Lambda):
            a = node.args
            names.extend(x.arg for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x is not None)
        for n in names:
            if DUNDER.match(n):
                self.add("name-binding", node, "binds the dunder name '%s'" % n)

    def check_format_fields(self, node):
        # "{0.__class__}".format(x) and f-string-free format() walks attributes of its arguments.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map"):
            for base in self.fold_safe(node.func.value):
                if isinstance(base, str) and re.search(r"\{[^{}]*[.\[][^{}]*\}", base):
                    self.add("forbidden-string", node, "format fields that reach attributes or items are forbidden")

    def check_entrypoint(self):
        ep = self.ep
        name = ep["name"]
        defs = [n for n in self.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
        if not defs:
            self.add("entrypoint", self.tree, "the entrypoint must define 'def %s(%s)' at module level" % (
                name, ", ".join(ep["params"])))
            return
        if len(defs) > 1:
            self.add("entrypoint", defs[1], "'%s' is defined more than once" % name)
        fn = defs[0]
        if isinstance(fn, ast.AsyncFunctionDef):
            self.add("entrypoint", fn, "'%s' must not be async" % name)
        if fn.decorator_list:
            self.add("entrypoint", fn, "'%s' must not be decorated" % name)
        a = fn.args
        params = [x.arg for x in a.posonlyargs + a.args]
        if params != ep["params"] or a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            self.add("entrypoint", fn, "signature must be %s(%s, %s=1), found (%s)" % (
                name, ", ".join(ep["params"][:-1]), ep["params"][-1], ", ".join(params)))
        else:
            want = ep["defaults"]
            dparams = params[len(params) - len(a.defaults):]
            got = {}
            for p, dv in zip(dparams, a.defaults):
                got[p] = dv.value if isinstance(dv, ast.Constant) else object()
            if set(got) != set(want) or any(got[k] != want[k] or type(got[k]) is not type(want[k]) for k in want):
                self.add("entrypoint", fn, "defaults must be exactly %s" % json.dumps(want))
        if not any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn)):
            self.add("entrypoint", fn, "'%s' must return the result object (final_logits, total_tokens, final_loss)" % name)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.add("entrypoint", node, "'%s' must not be rebound" % name)
            if isinstance(node, ast.alias) and (node.asname or node.name) == name:
                self.add("entrypoint", fn, "'%s' must not be rebound by an import" % name)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name \
                    and node is not fn:
                self.add("entrypoint", node, "'%s' must not be redefined" % name)

    def run(self):
        self.collect_aliases()
        self.collect_env()
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.check_import(node)
            elif isinstance(node, ast.Name):
                self.check_name(node)
            elif isinstance(node, ast.Attribute):
                self.check_attribute(node)
            elif isinstance(node, ast.Subscript):
                self.check_subscript_store(node)
            elif isinstance(node, ast.MatchClass):
                self.check_match_class(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.check_def(node)
            if isinstance(node, ast.Call):
                self.check_format_fields(node)
            self.check_binding_forms(node)
        self.scan_strings()
        if self.entrypoint:
            self.check_entrypoint()
        self.findings.sort(key=lambda f: (f["line"], f["col"], f["rule"]))
        return self.findings


# ---- fingerprint: normalised token stream (identifiers, literals, comments, formatting removed) ----
def fingerprint(tree):
    tokens = []
    lines = []

    def visit(node, line):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # docstrings and bare constants carry no behaviour
        line = getattr(node, "lineno", line) or line
        if isinstance(node, ast.Constant):
            tokens.append("C:" + type(node.value).__name__)
            lines.append(line)
            return
        tokens.append(type(node).__name__)
        lines.append(line)
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                if not isinstance(value, (ast.expr_context,)):
                    visit(value, line)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        visit(item, line)
        if isinstance(node, ast.stmt):
            tokens.append("/")
            lines.append(line)

    for stmt in tree.body:
        visit(stmt, 1)
    return {"tokens": tokens, "lines": lines}


def review_one(policy, item, want_fingerprint):
    out = {"id": item.get("id"), "verdict": "reject", "findings": []}
    limits = policy.get("limits", {})
    try:
        raw = base64.b64decode(item["source_b64"], validate=True)
    except (KeyError, binascii.Error, ValueError, TypeError):
        out["findings"].append({"rule": "request", "line": 0, "col": 0, "message": "source_b64 missing or invalid"})
        return out
    fail = lambda rule, msg: out["findings"].append({"rule": rule, "line": 0, "col": 0, "message": msg}) or out
    if len(raw) > int(limits.get("maxSourceBytes", 512000)):
        return fail("source-size", "source is %d bytes, over the %s byte limit" % (len(raw), limits.get("maxSourceBytes")))
    if b"\x00" in raw:
        return fail("source-encoding", "source contains a NUL byte")
    for line in raw.splitlines()[:2]:
        m = CODING.match(line)
        if m and m.group(1).decode("ascii", "replace").lower().replace("_", "-") not in ("utf-8", "utf8"):
            return fail("source-encoding", "coding declaration '%s' is not utf-8" % m.group(1).decode("ascii", "replace"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return fail("source-encoding", "source is not valid UTF-8 (byte %d)" % e.start)
    try:
        tree = ast.parse(text, filename="<submission>", mode="exec")
    except SyntaxError as e:
        out["findings"].append({"rule": "parse-error", "line": e.lineno or 0, "col": e.offset or 0,
                                "message": "CPython cannot parse the source: %s" % e.msg})
        return out
    except (ValueError, RecursionError, MemoryError) as e:
        return fail("parse-error", "CPython cannot parse the source: %s" % type(e).__name__)
    count = sum(1 for _ in ast.walk(tree))
    if count > int(limits.get("maxAstNodes", 200000)):
        return fail("too-complex", "%d syntax nodes, over the limit" % count)
    try:
        findings = Reviewer(policy, tree, bool(item.get("entrypoint", True)), item.get("localModules")).run()
    except RecursionError:
        return fail("too-complex", "the syntax tree is nested too deeply to review")
    out["findings"] = findings
    out["verdict"] = "reject" if findings else "accept"
    if want_fingerprint:
        try:
            out["fingerprint"] = fingerprint(tree)
        except RecursionError:
            pass
    return out


def main():
    sys.setrecursionlimit(10000)
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    policy = request["policy"]
    results = [review_one(policy, item, bool(request.get("fingerprint"))) for item in request["files"]]
    sys.stdout.write(json.dumps({"reviewer": REVIEWER, "python": sys.version.split()[0], "results": results}))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
