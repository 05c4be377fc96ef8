"""Import rules: forbidden-import (forbiddenModules, roots outside allowedModules and the ZIP project's
own modules, submodules of a root with an allowedSubmodules list that are not on it), star-import, relative-import (only inside a ZIP project); `from m import x` also checks x:
a forbidden submodule, a private name (private-attribute), a forbidden builtin or attribute name
(forbidden-builtin / that attribute's rule), and name-binding for imports bound to dunder names.
"""
import ast

from .base import DUNDER


class ImportRules:
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
        elif dotted != root and root in self.allowed_submodules and root not in self.local_modules and not any(
                dotted == s or dotted.startswith(s + ".") for s in self.allowed_submodules[root]):
            # a large package's submodules are many and some run commands or read files
            # (torch.utils.collect_env, torch.distributed.elastic): only the listed ones may be imported
            self.add("forbidden-import", node, "submodule '%s' is not on the allow-list of '%s'" % (dotted, root))
