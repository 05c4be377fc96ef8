"""Rule forbidden-string: every string constant, and every string folded from constants (folding.py), is
checked against the policy's exact names (forbidden modules, builtins and attributes; dunders not in
allowedDunderStrings) and dangerousSubstrings, also reversed, rot13'd and after base64 / hex / backslash
decoding up to maxDecodeDepth levels; `.format`/`.format_map` fields that walk attributes or items.
"""
import ast
import base64
import binascii
import re

from .base import DUNDER

B64 = re.compile(r"^[A-Za-z0-9+/_-]{8,}={0,2}$")
HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){4,}$")
ROT13 = str.maketrans("ABCDEFGHIJKLMabcdefghijklmNOPQRSTUVWXYZnopqrstuvwxyz",
                      "NOPQRSTUVWXYZnopqrstuvwxyzABCDEFGHIJKLMabcdefghijklm")


class StringRules:
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

    def check_format_fields(self, node):
        # "{0.__class__}".format(x) and f-string-free format() walks attributes of its arguments.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map"):
            for base in self.fold_safe(node.func.value):
                if isinstance(base, str) and re.search(r"\{[^{}]*[.\[][^{}]*\}", base):
                    self.add("forbidden-string", node, "format fields that reach attributes or items are forbidden")
