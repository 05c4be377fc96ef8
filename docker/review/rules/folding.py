"""Constant folding as abstract interpretation (interp.py): runs the interpreter over the whole file
once, with the reviewer as its hooks, under a work budget (policy limits.maxFoldWork). Strings built
at run time from constants (through variables, containers, attributes, parameters, unbound str
methods, ...) are scanned as they are built (strings.py); attribute accesses, item stores and calls are
judged with the taint of their receiver (flows.py). Over the budget the file is rejected as
too-complex: a deterministic verdict (the same count on every machine), cached like any other.
"""
from .interp import Interp
from .values import Budget, OverBudget


class ConstantFolding:
    def collect_env(self):
        lim = self.p.get("limits", {})
        self.budget = Budget(int(lim.get("maxFoldWork", 3_000_000)))
        labels = {(None, self.ep["optimizerParam"]): frozenset({"opt"})}
        for name, label in zip(self.ep["params"][:3], ("model", "data", "opt")):
            if name in self.protected_names:
                labels[(None, name)] = labels.get((None, name), frozenset()) | {label}
        self.interp = Interp(self.tree, self.parents, self.budget, self, cap=self.max_cands, long_limit=self.max_len,
                             param_labels=labels, nodes=self.nodes)
        try:
            self.interp.run()
        except OverBudget:
            self.add("too-complex", self.tree, "the source needs more than the reviewer's analysis budget (%d units); "
                     "simplify it (this verdict does not depend on the machine)" % self.budget.total)

    def fold_safe(self, node):
        v = self.interp.values.get(node) if getattr(self, "interp", None) else None
        return [c for c in (v.consts or ()) if isinstance(c, (str, bytes, int))] if v is not None else []
