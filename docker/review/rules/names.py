"""Name and builtin rules: dunder-name (reads of dunder names outside allowedDunderNames), forbidden-builtin
(forbiddenBuiltins, plus the restricted builtins: getattr/hasattr only with a constant attribute name,
which is checked like an attribute access and against the optimizer; type() only with one argument;
staticmethod/classmethod only as bare decorators on methods in a class body), name-binding for stores
and deletes of dunder names.
"""
import ast

from .base import DUNDER


class NameRules:
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
