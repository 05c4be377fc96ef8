"""Definition and binding rules: name-binding (a dunder bound by class/def outside a class, a parameter,
an except/global/nonlocal/match/lambda binding), forbidden-def (forbiddenDunderDefs defined in a class
body), class-hierarchy for custom metaclasses.
"""
import ast

from .base import DUNDER


class BindingRules:
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
