"""Source-level checks, before any rule sees the tree: source-size (maxSourceBytes), source-encoding (NUL
bytes, coding declarations other than utf-8, invalid UTF-8; a BOM is fine), parse-error (what CPython's
own parser refuses, incl. nesting it cannot handle) and too-complex (more than maxAstNodes nodes).
Module-level `if __name__ == "__main__":` blocks (no else) are dropped before review: the evaluator imports
a submission under its module name, never as __main__, so such a block (Crusades' local test harness) never
runs; binding __name__ is refused by the rules, so the condition cannot be made true.
"""
import ast
import re

CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def parse_submission(raw, limits):
    """(tree, None) for a source the rules may review, else (None, finding) with the refusal."""
    def refuse(rule, message, line=0, col=0):
        return None, {"rule": rule, "line": line, "col": col, "message": message}
    if len(raw) > int(limits.get("maxSourceBytes", 512000)):
        return refuse("source-size", "source is %d bytes, over the %s byte limit" % (len(raw), limits.get("maxSourceBytes")))
    if b"\x00" in raw:
        return refuse("source-encoding", "source contains a NUL byte")
    for line in raw.splitlines()[:2]:
        m = CODING.match(line)
        if m and m.group(1).decode("ascii", "replace").lower().replace("_", "-") not in ("utf-8", "utf8"):
            return refuse("source-encoding", "coding declaration '%s' is not utf-8" % m.group(1).decode("ascii", "replace"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return refuse("source-encoding", "source is not valid UTF-8 (byte %d)" % e.start)
    try:
        tree = ast.parse(text, filename="<submission>", mode="exec")
    except SyntaxError as e:
        return refuse("parse-error", "CPython cannot parse the source: %s" % e.msg, e.lineno or 0, e.offset or 0)
    except (ValueError, RecursionError, MemoryError) as e:
        return refuse("parse-error", "CPython cannot parse the source: %s" % type(e).__name__)
    count = sum(1 for _ in ast.walk(tree))
    if count > int(limits.get("maxAstNodes", 200000)):
        return refuse("too-complex", "%d syntax nodes, over the limit" % count)
    tree.body = [stmt for stmt in tree.body if not is_main_guard(stmt)]
    return tree, None


def is_main_guard(stmt):
    """`if __name__ == "__main__":` (either operand order) with no elif/else branch."""
    if not isinstance(stmt, ast.If) or stmt.orelse:
        return False
    test = stmt.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__" and type(s.value) is str]
    return len(names) == 1 and len(consts) == 1
