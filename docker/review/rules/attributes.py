"""Attribute rules. The policy's forbiddenAttributes families are applied here: class-hierarchy,
frame-access, introspection (gc.get_referrers, inspect.getmembers, ...), timer-tampering, backend-toggle,
torch-internals, monkey-patching hooks, io-access, module-reach, optimizer-internals; plus dunder-attribute
(outside allowedDunderAttributes), private-attribute (outside the allowed prefixes; `self`/`cls` only as the receiver
parameter of a method, see scopes.py;
torch-internals when it resolves into torch), forbidden torch submodules reached through aliases
(torch-internals, backend-toggle), dynamo-config-write, optimizer-internals (anything but the allowed
optimizer attributes) and monkey-patching (stores into modules, the protected parameters and the
optimizer, dunder attributes, protectedAttributeStores, item assignment). `case C(attr=...)` keywords
count as reads.
"""
import ast

from .base import DUNDER, dotted_chain


class AttributeRules:
    def check_attribute(self, node):
        attr = node.attr
        store = isinstance(node.ctx, (ast.Store, ast.Del))
        chain = dotted_chain(node)
        root = chain[0] if chain else None
        resolved = self.resolve(node)
        if resolved:
            for r in self.dynamo_roots:
                if (resolved + ".").startswith(r + ".") and store:
                    self.add("dynamo-config-write", node, "writing %s" % resolved)
            hit = self.module_forbidden(resolved)
            if hit and hit.startswith("torch."):
                self.add("torch-internals" if hit != "torch.backends" else "backend-toggle", node,
                         "'%s' is forbidden (%s)" % (resolved, hit))
        if attr in self.attr_rule:
            self.add(self.attr_rule[attr], node, "the attribute '%s' is forbidden" % attr)
        elif DUNDER.match(attr):
            if attr not in self.allowed_dunder_attrs:
                self.add("dunder-attribute", node, "the dunder attribute '%s' is forbidden" % attr)
        elif attr.startswith("_") and not attr.startswith(self.private_prefixes):
            if not self.own_receiver(node.value):
                rule = "torch-internals" if resolved and resolved.startswith("torch.") else "private-attribute"
                self.add(rule, node, "the private attribute '%s' is forbidden" % attr)
        if chain and root in self.optimizer_names and chain[1] and chain[1][0] not in self.ep["optimizerAllowedAttributes"]:
            self.add("optimizer-internals", node, "the optimizer's '%s' is internal" % chain[1][0])
        if store:
            if DUNDER.match(attr):
                self.add("monkey-patching", node, "assigning the dunder attribute '%s'" % attr)
            if root in self.aliases or root in self.protected_names or root in self.optimizer_names:
                self.add("monkey-patching", node, "assigning '%s' of '%s'" % (attr, root))
            elif attr in self.protected_stores and not self.own_receiver(node.value):
                self.add("monkey-patching", node, "replacing '.%s' of another object" % attr)

    def own_receiver(self, value):
        """`self` / `cls` as the receiver parameter of a method of a class body (scopes.py), not any name."""
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "type" and len(value.args) == 1 \
                and not value.keywords and self.interp.scopes.resolve(self.interp.scopes.scope_of[value.func], "type") is None:
            value = value.args[0]  # type(self)._x: the receiver's own class
        return isinstance(value, ast.Name) and value.id in self.private_roots and self.interp.scopes.receiver_param(value)

    def check_match_class(self, node):
        # `case C(attr=x)` reads getattr(subject, "attr"): each keyword is an attribute access.
        for name in node.kwd_attrs:
            probe = ast.Attribute(value=node.cls, attr=name, ctx=ast.Load())
            ast.copy_location(probe, node)
            self.check_attribute(probe)

    def check_subscript_store(self, node):
        if not isinstance(node.ctx, (ast.Store, ast.Del)):
            return
        chain = dotted_chain(node.value)
        if chain and (chain[0] in self.aliases or chain[0] in self.optimizer_names or
                      (chain[0] in self.protected_names and chain[0] != self.ep["params"][1])):
            self.add("monkey-patching", node, "item assignment into '%s'" % chain[0])
