"""Alias and optimizer tracking (no findings of its own; feeds the other families).

Local names bound to modules (`import torch as t`, `from torch import cuda`, `f = t.cuda`) become
`aliases`; names that hold the optimizer or the protected inner_steps parameters (`opt = optimizer`,
a local helper called with them) join `optimizer_names` / `protected_names`. The attribute rules
(optimizer-internals, monkey-patching, torch-internals, backend-toggle, dynamo-config-write) read them.
"""
import ast

from .base import dotted_chain


class AliasTracking:
    def collect_aliases(self):
        for node in self.nodes:
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
        defs = {n.name: n for n in self.nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        # Aliases of module objects and of protected parameters propagate through plain assignment.
        for _ in range(4):
            changed = False
            for node in self.nodes:
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
            for node in self.nodes:
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
