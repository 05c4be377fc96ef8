"""Rules over the interpreter's taint (interp.py reports, these decide):
  optimizer-internals  any attribute but the allowed ones (step, zero_grad) of a value that may be the
                       optimizer: through aliases, containers (list, dict, tuple, set), attributes of
                       other objects, parameters and returns of local functions and methods, lambdas,
                       and calls the interpreter cannot follow (their result may be their argument);
  monkey-patching      attribute stores/deletes on a value that may be the model, optimizer or data
                       iterator, and item stores into the model or optimizer, through the same flows;
  private-attribute    a method of a local class reached through the class object (or `type(obj)`),
                       which lets any object play `self` in a method that reads `self._private`;
                       `Base.method(self, ...)` from a method of the same instance is fine.
  torch-internals /    a forbidden module reached through a value rather than a dotted name
  module-reach         (`[torch][0].fx`, a module passed to a helper or returned by one);
  monkey-patching      stores, item stores and in-place container methods (update, append, ...) on
                       objects that live in a module (`copy.dispatch_table.update(...)`), however reached.
"""
import ast

from .calls import DISORDER, FOREIGN_CLASS, MUTATORS
from .compile import CompileRules
from .scopes import decorator_names

TAINT_NAMES = {"opt": "optimizer", "model": "model", "data": "data iterator"}


class FlowRules(CompileRules):
    def on_attribute(self, node, recv, ctx, value):
        modules = [f[1] for f in recv.funcs if f[0] == "module"]
        if modules:
            self.check_module_value(node, modules, ctx)
        elif node.attr == "compile":
            self.check_compile_method_value(node)
        labels = recv.labels
        if not labels:
            return
        attr = node.attr
        if ctx in ("store", "del") and FOREIGN_CLASS in labels:
            self.add("monkey-patching", node, "assigning '%s' of type(...) of an object the submission did not define" % attr)
        if "opt" in labels and attr not in self.ep["optimizerAllowedAttributes"]:
            self.add("optimizer-internals", node, "the optimizer's '%s' is internal" % attr)
        if ctx in ("store", "del"):
            hit = [TAINT_NAMES[x] for x in ("opt", "model", "data") if x in labels]
            if hit:
                self.add("monkey-patching", node, "assigning '%s' of the %s" % (attr, hit[0]))
            return
        for lab in labels:
            if isinstance(lab, tuple) and lab[0] == "class" and ("inst", lab[1]) not in labels:
                self.check_unbound_method(node, lab[1], attr)

    def check_module_value(self, node, modules, ctx):
        attr = node.attr
        for dotted in modules:
            full = dotted + "." + attr
            hit = self.module_forbidden(full)
            if hit:
                rule = ("backend-toggle" if hit == "torch.backends" else "torch-internals") if hit.startswith("torch.") else "module-reach"
                self.add(rule, node, "'%s' is forbidden (%s)" % (full, hit))
            if ctx in ("store", "del"):
                self.add("monkey-patching", node, "assigning '%s' of '%s', which belongs to a module" % (attr, dotted))
            elif "." in dotted and attr in MUTATORS | DISORDER:
                call = self.parents.get(node)
                if isinstance(call, ast.Call) and call.func is node:
                    self.add("monkey-patching", node, "changing '%s', an object of a module, in place (.%s)" % (dotted, attr))

    def on_subscript_store(self, node, recv):
        mods = [f[1] for f in recv.funcs if f[0] == "module"]
        if mods:
            self.add("monkey-patching", node, "item assignment into '%s', an object of a module" % mods[0])
        hit = [TAINT_NAMES[x] for x in ("opt", "model") if x in recv.labels]
        if hit:
            self.add("monkey-patching", node, "item assignment into the %s" % hit[0])

    def check_unbound_method(self, node, cls_name, attr):
        m = self.interp.find_method(cls_name, attr)
        if m is None:
            # a method bound under another name in a class body (`look = peek`)
            held = self.interp.attrs.get(attr)
            ms = sorted((f[1] for f in (held.funcs if held is not None else ()) if f[0] in ("method", "def")
                         and f[1] in self.interp.class_of), key=lambda n: (n.lineno, n.col_offset))
            m = next((x for x in ms if self.reads_own_private(x)), None)
        if m is None or decorator_names(m) & {"staticmethod", "classmethod"} or not self.reads_own_private(m):
            return
        call = self.parents.get(node)
        if isinstance(call, ast.Call) and call.func is node and call.args and isinstance(call.args[0], ast.Name) \
                and call.args[0].id == "self" and self.scopes().receiver_param(call.args[0]):
            return  # Base.method(self, ...): the same instance
        self.add("private-attribute", node, "the method '%s' of class '%s' is taken from the class, so any object can be "
                 "passed as self to reach its private attributes; call it on an instance" % (attr, cls_name))

    def reads_own_private(self, fn):
        cache = self.__dict__.setdefault("_own_private", {})
        if fn not in cache:
            positional = fn.args.posonlyargs + fn.args.args
            first = positional[0].arg if positional else None
            cache[fn] = first is not None and any(
                isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == first
                and self.is_private(n.attr) for n in ast.walk(fn))
        return cache[fn]

    def is_private(self, attr):
        return attr.startswith("_") and not attr.startswith(self.private_prefixes) and not (attr.startswith("__") and attr.endswith("__"))

    def scopes(self):
        return self.interp.scopes
