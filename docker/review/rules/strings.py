"""Rule forbidden-string: every string constant, and every string the interpreter builds from constants
(folding.py, as it is built: a concatenation is scanned at its join window), is checked against the policy's exact names (forbidden modules, builtins and attributes; dunders not in
allowedDunderStrings) and dangerousSubstrings, also reversed, rot13'd and after base64 / hex / backslash
decoding up to maxDecodeDepth levels; `.format`/`.format_map` fields that walk attributes or items.
"""
import ast
import base64
import binascii
import re

from .base import DUNDER
from .values import LongStr

B64 = re.compile(r"^[A-Za-z0-9+/_-]{8,}={0,2}$")
HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){4,}$")
ROT13 = str.maketrans("ABCDEFGHIJKLMabcdefghijklmNOPQRSTUVWXYZnopqrstuvwxyz",
                      "NOPQRSTUVWXYZnopqrstuvwxyzABCDEFGHIJKLMabcdefghijklm")


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

    def danger_in(self, s, depth, exact=True):
        if exact and len(s) <= self.max_exact * 4:
            stripped = s.strip()
            if stripped in self.exact:
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
        why = self.danger_in(value, 0)
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
        for node in self.nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                self.scan_value(node, node.value, "constant")

    def check_format_fields(self, node):
        # "{0.__class__}".format(x) and f-string-free format() walks attributes of its arguments.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "format_map"):
            for base in self.fold_safe(node.func.value):
                if isinstance(base, str) and re.search(r"\{[^{}]*[.\[][^{}]*\}", base):
                    self.add("forbidden-string", node, "format fields that reach attributes or items are forbidden")
