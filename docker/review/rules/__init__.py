"""The reviewer's rules, one module per family; Reviewer composes them and walks the tree once.

    base.py         policy tables, parent map, findings, shared helpers (no rules)
    tracking.py     aliases of modules, optimizer and protected parameters (no rules)
    values.py       abstract values and the work budget of the interpreter (no rules)
    scopes.py       Python's scoping rules; the self/cls receiver exemption (no rules)
    interp.py       abstract interpreter: driver, summaries, statements (no rules)
    exprs.py        its assignments and expressions (no rules)
    operators.py    its operators, f-strings, subscripts, string building (no rules)
    calls.py        its attributes and calls (no rules)
    builtins.py     its builtins and str/bytes methods (no rules)
    folding.py      runs the interpreter under the budget (too-complex when it runs out), once per file or
                    once for all the files of a ZIP project (Project), each file keeping its findings
    containers.py   its container methods, collections containers, dunder protocols of local classes
    project.py      its view of a ZIP project's modules as one program (imports between them)
    flows.py        optimizer-internals, monkey-patching, private-attribute through the interpreter's taint
    compile.py      torch-internals for torch.compile calls (backend, options, **mapping, .compile aliases)
    strings.py      forbidden-string
    imports.py      forbidden-import, star-import, relative-import (+ names imported from modules)
    names.py        dunder-name, forbidden-builtin (incl. getattr/hasattr/type/staticmethod narrowing)
    bindings.py     name-binding, forbidden-def, class-hierarchy (metaclasses)
    attributes.py   forbiddenAttributes families, dunder-attribute, private-attribute, torch-internals,
                    backend-toggle, dynamo-config-write, optimizer-internals, monkey-patching
    entrypoint.py   entrypoint (the inner_steps contract)
    source.py       source-size, source-encoding, parse-error, too-complex (before the tree exists)
    fingerprint.py  token stream for duplicate detection (not a rule)
"""
import ast

from .attributes import AttributeRules
from .base import ReviewerBase
from .bindings import BindingRules
from .entrypoint import EntrypointRules
from .flows import FlowRules
from .folding import ConstantFolding
from .imports import ImportRules
from .names import NameRules
from .strings import StringRules
from .tracking import AliasTracking


class Reviewer(AliasTracking, ConstantFolding, StringRules, FlowRules, ImportRules, NameRules, AttributeRules, BindingRules,
               EntrypointRules, ReviewerBase):
    def run(self):
        self.prepare()
        self.collect_env()
        return self.check()

    def prepare(self):
        self.collect_aliases()
        self.build_scanner()

    def check(self):
        """Every rule after the interpreter ran (alone, or once for a whole ZIP project: folding.Project)."""
        for node in self.nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.check_import(node)
            elif isinstance(node, ast.Name):
                self.check_name(node)
            elif isinstance(node, ast.Attribute):
                self.check_attribute(node)
            elif isinstance(node, ast.Subscript):
                self.check_subscript_store(node)
            elif isinstance(node, ast.MatchClass):
                self.check_match_class(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.check_def(node)
            if isinstance(node, ast.Call):
                self.check_format_fields(node)
            self.check_binding_forms(node)
        self.scan_strings()
        if self.entrypoint:
            self.check_entrypoint()
        self.findings.sort(key=lambda f: (f["line"], f["col"], f["rule"]))
        return self.findings
