"""Rule forbidden-string: every string constant, and every string the interpreter builds from constants
(folding.py, as it is built: a concatenation is scanned at its join window), is checked against the policy's exact names (forbidden modules, builtins and attributes; dunders not in
allowedDunderStrings) and dangerousSubstrings, also reversed, rot13'd and after base64 / hex / backslash
decoding up to maxDecodeDepth levels; `.format`/`.format_map` fields that walk attributes or items;
string annotations that are not plain type expressions. Docstrings are prose and skipped unless the file
reads `__doc__`.
"""
import ast
import base64
import binascii
import re
import string

from .base import DUNDER
from .values import LongStr

B64 = re.compile(r"^[A-Za-z0-9+/_-]{8,}={0,2}$")
HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){4,}$")
ROT13 = str.maketrans("ABCDEFGHIJKLMabcdefghijklmNOPQRSTUVWXYZnopqrstuvwxyz",
                      "NOPQRSTUVWXYZnopqrstuvwxyzABCDEFGHIJKLMabcdefghijklm")


def field_reaches(template, depth):
    """True when a str.format template has a field that walks attributes or items of an argument."""
    if depth > 2:
        return False
    try:
        parts = list(string.Formatter().parse(template))
    except (ValueError, TypeError):
        return False  # .format() raises on it: nothing is reached
    for _, field, spec, _ in parts:
        if field is not None and ("." in field or "[" in field):
            return True
        if spec and "{" in spec and field_reaches(spec, depth + 1):
            return True
    return False


def annotation_strings(root):
    """The string constants of an annotation that typing evaluates: not the values of Literal[...] nor the
    metadata of Annotated[T, ...]."""
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            yield n
            continue
        if isinstance(n, ast.Subscript):
            head = n.value.attr if isinstance(n.value, ast.Attribute) else n.value.id if isinstance(n.value, ast.Name) else None
            if head == "Literal":
                stack.append(n.value)
                continue
            if head == "Annotated":
                stack.append(n.value)
                elts = n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]
                stack.extend(elts[:1])
                continue
        stack.extend(ast.iter_child_nodes(n))


class StringRules:
    def build_scanner(self):
        """One regex for every dangerous substring, reversed and rot13'd (scanning s for a reversed sub is
        scanning reversed(s) for sub; rot13 is its own inverse)."""
        variants = {}
        for sub in self.substrings:
            for v in (sub, sub[::-1], sub.translate(ROT13)):
                variants.setdefault(v, sub)
        self.variant_of = variants
        self.danger_re = re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))) if variants else None
        self.max_sub = max((len(v) for v in variants), default=1)
        self.max_exact = max((len(x) for x in self.exact), default=0) + 64
        self.scanned = set()

    def substring_in(self, s):
        if self.danger_re is None:
            return None
        m = self.danger_re.search(s)
        return "contains '%s'" % self.variant_of[m.group(0)] if m else None

    def danger_in(self, s, depth, exact=True, literal=False):
        if exact and len(s) <= self.max_exact * 4:
            stripped = s.strip()
            # a literal that is just a builtin's name ("eval" as a mode) reaches nothing: builtins are only
            # reached by their bare name or through builtins/__builtins__, both refused; assembling one is
            # the attack pattern, so built and decoded strings are held to every exact name
            if stripped in self.exact and not (literal and stripped in self.forbidden_builtins):
                return "names '%s'" % stripped
            if DUNDER.match(stripped) and stripped not in self.allowed_dunder_strings:
                return "names the dunder '%s'" % stripped
        why = self.substring_in(s)
        if why or depth >= self.max_decode or len(s) > 4096:
            return why
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
        why = self.danger_in(value, 0, literal=how == "constant")
        if why:
            self.add("forbidden-string", node, "a string %s %s" % (how, why))

    def produced(self, node, value, parts):
        """A string the interpreter built. Its parts were scanned already, so a concatenation only needs
        its join window (where a new substring can appear) plus the checks of the whole value."""
        if isinstance(value, LongStr):
            a, b = parts if parts else ("", "")
            self.scan_window(node, a, b)
            return
        if value in self.scanned:
            return
        self.budget.charge(len(value) // 32)
        self.scanned.add(value)
        if parts is not None:
            a, b = parts
            if self.scan_window(node, a, b):
                return
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            if len(text) <= 256:
                # whole-value checks (an exact name, an encoded name) of a short result; a long one can only
                # have gained a substring at the join, and its encoded parts were scanned as they were built
                why = self.danger_in(text, 0)
                if why:
                    self.add("forbidden-string", node, "a string built from constants %s" % why)
            return
        self.scan_value(node, value, "built from constants")

    def scan_window(self, node, a, b):
        k = self.max_sub - 1
        a = a[-k:] if k else a[:0]
        b = b[:k] if k else b[:0]
        if isinstance(a, bytes):
            a = a.decode("latin-1")
        if isinstance(b, bytes):
            b = b.decode("latin-1")
        why = self.substring_in(a + b)
        if why:
            self.add("forbidden-string", node, "a string built from constants %s" % why)
            return True
        return False

    def scan_strings(self):
        docs = self.inert_docstrings()
        for node in self.nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and node not in docs:
                self.scan_value(node, node.value, "constant")
        self.check_annotation_strings()

    def inert_docstrings(self):
        """Docstrings are prose ("uses the builtins"): skipped, unless the file reads `__doc__`, the one way a
        docstring becomes a value."""
        for node in self.nodes:
            if (isinstance(node, ast.Attribute) and node.attr == "__doc__") or (isinstance(node, ast.Name) and node.id == "__doc__"):
                return set()
        docs = set()
        for node in self.nodes:
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                    docs.add(first.value)
        return docs

    def check_annotation_strings(self):
        """A string annotation is code that typing tools evaluate (get_type_hints, singledispatch.register):
        it must be a plain type expression (names, attributes, subscripts, `|`, literals) that passes the
        same name rules as source."""
        roots = []
        for node in self.nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                roots += [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x is not None and x.annotation is not None]
                if node.returns is not None:
                    roots.append(node.returns)
            elif isinstance(node, ast.AnnAssign):
                roots.append(node.annotation)
        for root in roots:
            for sub in annotation_strings(root):
                why = self.annotation_problem(sub.value)
                if why:
                    self.add("forbidden-string", sub, "a string annotation %s; annotations are evaluated as code by typing tools" % why)

    def annotation_problem(self, text):
        try:
            expr = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None  # not code: typing tools raise on it
        for n in ast.walk(expr):
            if isinstance(n, (ast.Expression, ast.Load, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.BitOr)):
                pass
            elif isinstance(n, ast.Constant):
                if isinstance(n.value, str) and self.annotation_problem(n.value):
                    return "nests a string that is not a type expression"
            elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
                pass
            else:
                return "is not a type expression (%s)" % type(n).__name__
            if isinstance(n, ast.Name) and (DUNDER.match(n.id) or n.id in self.forbidden_builtins):
                return "names '%s'" % n.id
            if isinstance(n, ast.Attribute) and (DUNDER.match(n.attr) or n.attr in self.attr_rule or
                                                 (n.attr.startswith("_") and not n.attr.startswith(self.private_prefixes))):
                return "reaches the attribute '%s'" % n.attr
        return None

    def check_format_fields(self, node):
        # "{0.__class__}".format(x) and f-string-free format() walks attributes of its arguments; a format
        # spec ("{:.3f}") is not a field and nested fields in a spec ("{0:{1.x}}") are.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map"):
            for base in self.fold_safe(node.func.value):
                if isinstance(base, str) and field_reaches(base, 0):
                    self.add("forbidden-string", node, "format fields that reach attributes or items are forbidden")
