"""Rule entrypoint: the inner_steps contract of an entrypoint file (policy.entrypoint): one module-level,
undecorated, non-async def with exactly the policy's parameters and defaults (or that list without its optional
trailing parameters) that returns a value, never rebound, redefined or shadowed by an import.
"""
import ast
import json


class EntrypointRules:
    def check_entrypoint(self):
        ep = self.ep
        name = ep["name"]
        defs = [n for n in self.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
        if not defs:
            self.add("entrypoint", self.tree, "the entrypoint must define 'def %s(%s)' at module level" % (
                name, ", ".join(ep["params"])))
            return
        if len(defs) > 1:
            self.add("entrypoint", defs[1], "'%s' is defined more than once" % name)
        fn = defs[0]
        if isinstance(fn, ast.AsyncFunctionDef):
            self.add("entrypoint", fn, "'%s' must not be async" % name)
        if fn.decorator_list:
            self.add("entrypoint", fn, "'%s' must not be decorated" % name)
        a = fn.args
        params = [x.arg for x in a.posonlyargs + a.args]
        forms = self.signature_forms()
        form = next((f for f in forms if params == f), None)
        if form is None or a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            self.add("entrypoint", fn, "signature must be %s, found (%s)" % (
                " or ".join("%s(%s)" % (name, self.render_params(f)) for f in forms), ", ".join(params)))
        else:
            want = {k: v for k, v in ep["defaults"].items() if k in form}
            dparams = params[len(params) - len(a.defaults):]
            got = {}
            for p, dv in zip(dparams, a.defaults):
                got[p] = dv.value if isinstance(dv, ast.Constant) else object()
            if set(got) != set(want) or any(got[k] != want[k] or type(got[k]) is not type(want[k]) for k in want):
                self.add("entrypoint", fn, "defaults must be exactly %s" % json.dumps(want))
        if not any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn)):
            self.add("entrypoint", fn, "'%s' must return the result object (final_logits, total_tokens, final_loss)" % name)
        for node in self.nodes:
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.add("entrypoint", node, "'%s' must not be rebound" % name)
            if isinstance(node, ast.alias) and (node.asname or node.name) == name:
                self.add("entrypoint", fn, "'%s' must not be rebound by an import" % name)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name \
                    and node is not fn:
                self.add("entrypoint", node, "'%s' must not be redefined" % name)

    def signature_forms(self):
        """The full parameter list, then each form without trailing optional parameters (Crusades' 5-parameter
        inner_steps has no num_gpus): the evaluator calls the entrypoint with the parameters it declares."""
        full = list(self.ep["params"])
        forms = [full]
        optional = self.ep.get("optionalTrailingParams", [])
        while full and full[-1] in optional:
            full = full[:-1]
            forms.append(full)
        return forms

    def render_params(self, form):
        defaults = self.ep["defaults"]
        return ", ".join("%s=%s" % (p, json.dumps(defaults[p])) if p in defaults else p for p in form)
