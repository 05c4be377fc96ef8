"""Constant folding as abstract interpretation (interp.py): runs the interpreter over the whole file
once, with the reviewer as its hooks, under a work budget (policy limits.maxFoldWork). Strings built
at run time from constants (through variables, containers, attributes, parameters, unbound str
methods, ...) are scanned as they are built (strings.py); attribute accesses, item stores and calls are
judged with the taint of their receiver (flows.py). Over the budget the file is rejected as
too-complex: a deterministic verdict (the same count on every machine), cached like any other.
"""
import ast

from .interp import Interp
from .values import Budget, OverBudget


class ConstantFolding:
    def param_labels(self):
        labels = {(None, self.ep["optimizerParam"]): frozenset({"opt"})}
        for name, label in zip(self.ep["params"][:3], ("model", "data", "opt")):
            if name in self.protected_names:
                labels[(None, name)] = labels.get((None, name), frozenset()) | {label}
        return labels

    def collect_env(self):
        lim = self.p.get("limits", {})
        self.budget = Budget(int(lim.get("maxFoldWork", 3_000_000)))
        self.interp = Interp(self.tree, self.parents, self.budget, self, cap=self.max_cands, long_limit=self.max_len,
                             param_labels=self.param_labels(), nodes=self.nodes)
        try:
            self.interp.run()
        except OverBudget:
            self.over_budget()

    def fold_safe(self, node):
        v = self.interp.values.get(node) if getattr(self, "interp", None) else None
        return [c for c in (v.consts or ()) if isinstance(c, (str, bytes, int))] if v is not None else []

    def over_budget(self):
        self.add("too-complex", self.tree, "the source needs more than the reviewer's analysis budget (%d units); "
                 "simplify it (this verdict does not depend on the machine)" % self.budget.total)


class Project:
    """The files of one ZIP project interpreted as one program under one budget: each file's reviewer is
    prepared, the interpreter runs once over every module with the hooks routed to the reviewer that
    owns the node, then each reviewer checks its own file."""

    def __init__(self, reviewers):
        # [(dotted module name, Reviewer)], the entrypoint's first. Two files with one module name (pkg.py and
        # pkg/__init__.py): the first is the one imported, the other is still interpreted, under a name no
        # import can spell.
        self.modules = {}
        for i, (name, r) in enumerate(reviewers):
            self.modules[name if name not in self.modules else "%s\0%d" % (name, i)] = r
        self.reviewers = [r for _, r in reviewers]

    def interpret(self):
        first = self.reviewers[0]
        lim = first.p.get("limits", {})
        budget = Budget(int(lim.get("maxFoldWork", 3_000_000)))
        self.owner = {}
        parents = {}
        labels = {}
        for r in self.reviewers:
            for n in r.nodes:
                self.owner[n] = r
            parents.update(r.parents)
            for k, v in r.param_labels().items():
                labels[k] = labels.get(k, frozenset()) | v
            r.budget = budget
        interp = Interp(first.tree, parents, budget, self, cap=first.max_cands, long_limit=first.max_len,
                        param_labels=labels, project={n: r.tree for n, r in self.modules.items()})
        for r in self.reviewers:
            r.interp = interp
        try:
            interp.run()
        except OverBudget:
            for r in self.reviewers:
                r.over_budget()

    def route(self, node):
        r = self.owner.get(node)
        if r is None and isinstance(node, ast.Attribute):  # a probe built for getattr(x, "name")
            r = self.owner.get(node.value)
        return r or self.reviewers[0]

    def on_attribute(self, node, recv, ctx, value):
        self.route(node).on_attribute(node, recv, ctx, value)

    def on_subscript_store(self, node, recv):
        self.route(node).on_subscript_store(node, recv)

    def on_call(self, node, func, args, kws):
        self.route(node).on_call(node, func, args, kws)

    def produced(self, node, value, parts):
        self.route(node).produced(node, value, parts)
