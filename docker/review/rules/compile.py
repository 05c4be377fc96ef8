"""torch-internals for torch.compile (a mixin of flows.FlowRules, fed by the interpreter's on_call hook).

A callable `backend` receives the FX GraphModule (code generated from strings and run), and `options` is
inductor configuration, some of it commands and paths (`cpp.cxx` is the C++ compiler it runs). So every call
that may be torch.compile, torch.compiler.compile or a `.compile` method (nn.Module.compile forwards to
torch.compile), directly, through an alias or under functools.partial, takes only: a backend known to be a
name (a string on every path), options as a literal dict of known tuning switches with constant values, and
no `**mapping`. A `.compile` method of an object may only be called where it is read (an alias of
`model.compile` would carry the same keywords past this rule); `torch.compile` itself is followed as a value.
"""
import ast

COMPILERS = {("module", "torch.compile"), ("module", "torch.compiler.compile")}
# inductor switches that only tune; paths, commands and debug output are not here
COMPILE_OPTIONS = {"max_autotune", "max_autotune_pointwise", "max_autotune_gemm", "triton.cudagraphs", "epilogue_fusion",
                   "shape_padding", "coordinate_descent_tuning", "freezing", "layout_optimization", "aggressive_fusion",
                   "fallback_random", "permute_fusion", "group_fusion"}


def is_compiler(value, expr):
    """`value` (the callee's abstract value) may be a compile entry point, or `expr` spells a `.compile` method."""
    return bool(COMPILERS & set(value.funcs)) or (isinstance(expr, ast.Attribute) and expr.attr == "compile")


def only_names(v):
    """True when the value is a string on every path the interpreter knows (never a callable or unknown)."""
    return bool(v.consts) and all(isinstance(c, str) for c in v.consts) and not v.funcs and not v.labels \
        and v.items is None and v.keys is None


class CompileRules:
    def on_call(self, node, func, args, kws):
        partial = any(f == ("module", "functools.partial") for f in func.funcs) and args and node.args \
            and is_compiler(args[0], node.args[0])
        if partial or is_compiler(func, node.func):
            self.check_compile_keywords(node, kws)

    def check_compile_keywords(self, node, kws):
        for k, (arg, v) in zip(node.keywords, kws):
            if arg is None:
                self.add("torch-internals", node, "torch.compile(**...) hides its backend and options; pass them by name")
            elif arg == "backend" and not only_names(v):
                self.add("torch-internals", k.value, "torch.compile's backend must be a backend name (a string), not a callable")
            elif arg == "options" and not self.literal_options(k.value):
                self.add("torch-internals", k.value, "torch.compile options must be a literal dict of constants with keys among %s"
                         % ", ".join(sorted(COMPILE_OPTIONS)))

    @staticmethod
    def literal_options(d):
        return isinstance(d, ast.Dict) and all(
            isinstance(key, ast.Constant) and key.value in COMPILE_OPTIONS and isinstance(v, ast.Constant)
            for key, v in zip(d.keys, d.values))

    def check_compile_method_value(self, node):
        """`x.compile` read other than as the callee of a call (an alias, getattr(x, "compile"))."""
        call = self.parents.get(node)
        if not (isinstance(call, ast.Call) and call.func is node):
            self.add("torch-internals", node, "a '.compile' method may only be called where it is read, not kept as a value")
