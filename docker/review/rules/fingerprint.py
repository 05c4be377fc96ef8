"""Not a rule: the normalised token stream of an accepted file (node types in source order, identifiers,
literal values, comments and formatting removed) that duplicate detection (runtime/fingerprint.ts)
compares across submissions.
"""
import ast


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
