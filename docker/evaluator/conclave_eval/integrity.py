"""What the submission may not change, read before its import and compared inside the timed window.

- attribute tables: every attribute of time, torch, torch.Tensor, torch.nn.functional, torch.nn.Module,
  torch.optim, torch.optim.Optimizer, torch.optim.AdamW and torch.cuda, by identity. A replaced or
  deleted one, a new one that is not a submodule import (a class attribute shadowing an inherited
  method is one), and a swapped __class__ are named in the rejection (timers under timer-identity, the rest under attribute-integrity).
- backend settings (threads, grad mode, determinism, default dtype, matmul precision, cuDNN/cuBLAS/TF32,
  reduced-precision reductions, SDP kernels), read through the C getters bound in refs.
- optimizer hyper-parameters.
"""
import operator
import time
import types

import torch
import torch.nn.functional as F

from . import refs

TIMER_TABLE = 'time'
# (label, object): the tables compared; object attributes are read from the object's own __dict__
_TABLES = (
    ('time', time),
    ('torch', torch),
    ('torch.Tensor', torch.Tensor),
    ('torch.nn.functional', F),
    ('torch.nn.Module', torch.nn.Module),
    ('torch.optim', torch.optim),
    ('torch.optim.Optimizer', torch.optim.Optimizer),
    ('torch.optim.AdamW', torch.optim.AdamW),
    ('torch.cuda', torch.cuda),
    ('torch.autograd', torch.autograd),
)
# torch.cuda's timing objects count as timers
_CUDA_TIMERS = ('synchronize', 'Event', 'Stream', 'current_stream')
# attributes torch itself rebinds lazily during ordinary use (measured on honest runs); never timers
_VOLATILE = {'torch': ('_dynamo', '_inductor', '_functorch', '_higher_order_ops', '_export', '_prims', '_refs',
                       '_decomp', '_subclasses', 'fx', 'compiler', '_library', '_logging', '_guards', 'export'),
             'torch.cuda': ('_initialized', '_tls', '_queued_calls', '_in_bad_fork', '_lazy_seed_tracker',
                            'default_generators', '_cached_device_count')}


def snapshot_tables():
    """{label: (object, its type, names, values)}: the identities every attribute (and the object's own
    class: a module's or class's __class__ can be swapped for one that answers lookups differently) had
    before the submission ran."""
    out = {}
    for label, obj in _TABLES:
        try:
            d = dict(refs.object_getattribute(obj, '__dict__'))
        except Exception:
            d = {}
        skip = _VOLATILE.get(label, ())
        names = tuple(n for n in d if n not in skip)
        out[label] = (obj, type(obj), names, tuple(d[n] for n in names))
    return out


def _added_ok(obj, name, value):
    """A new attribute is what importing a submodule binds on its parent package (import torch.distributions
    sets torch.distributions); any other new attribute — on a module, or a class attribute that shadows an
    inherited one (torch.Tensor.numel over the C base's) — counts as a replacement."""
    if not isinstance(obj, types.ModuleType) or not isinstance(value, types.ModuleType):
        return False
    parent = refs.dict_get(refs.object_getattribute(obj, '__dict__'), '__name__')
    child = refs.dict_get(refs.object_getattribute(value, '__dict__'), '__name__')
    return isinstance(parent, str) and child == parent + '.' + name


def replaced(before):
    """(timers, others): sorted 'label.name' of attributes replaced, deleted or added since `before`, by
    identity (never ==, which a replacement object could answer); 'label.__class__' when the object's class
    was swapped."""
    timers, others = [], []
    for label, (obj, cls, names, values) in before.items():
        try:
            now = dict(refs.object_getattribute(obj, '__dict__'))
        except Exception:
            now = {}
        if type(obj) is not cls:
            others.append('%s.__class__' % label)
        skip = _VOLATILE.get(label, ())
        known = set(names)
        for name in now:
            if name not in known and name not in skip and not _added_ok(obj, name, now[name]):
                full = '%s.%s' % (label, name)
                (timers if label == TIMER_TABLE else others).append(full)
        current = tuple(map(now.get, names, (_MISSING,) * len(names)))
        if not any(map(operator.is_not, values, current)):
            continue
        for name, old, cur in zip(names, values, current):
            if cur is old:
                continue
            full = '%s.%s' % (label, name)
            if label == TIMER_TABLE or (label == 'torch.cuda' and name in _CUDA_TIMERS):
                timers.append(full)
            else:
                others.append(full)
    return sorted(timers), sorted(others)


_MISSING = object()
# taken by the fork server once everything trusted is imported and warmed up: every worker starts from it
ZYGOTE_TABLES = None


def _call(f):
    if f is None:
        return None
    try:
        v = f()
    except Exception:
        return None
    return v if isinstance(v, (bool, int, float, str)) or v is None else str(v)


def backend():
    return {
        'grad_enabled': _call(refs.is_grad_enabled), 'deterministic': _call(refs.deterministic),
        'num_threads': _call(refs.get_num_threads), 'default_dtype': _call(refs.get_default_dtype),
        'matmul_precision': _call(refs.matmul_precision), 'cudnn_enabled': _call(refs.cudnn_enabled),
        'cudnn_benchmark': _call(refs.cudnn_benchmark), 'cudnn_deterministic': _call(refs.cudnn_deterministic),
        'cudnn_tf32': _call(refs.cudnn_tf32), 'matmul_tf32': _call(refs.cublas_tf32),
        'matmul_fp16_reduction': _call(refs.cublas_fp16_reduction), 'matmul_bf16_reduction': _call(refs.cublas_bf16_reduction),
        'mkldnn_enabled': _call(refs.mkldnn_enabled), 'flash_sdp': _call(refs.flash_sdp),
        'mem_efficient_sdp': _call(refs.mem_efficient_sdp), 'math_sdp': _call(refs.math_sdp),
    }


def backend_diff(before, now):
    return sorted(k for k in before if before[k] != now.get(k))


def hyper(opt):
    out = []
    for g in opt.param_groups:
        out.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                    if k != 'params' and isinstance(v, (int, float, bool, str, tuple, type(None)))})
        out[-1]['nparams'] = len(g['params'])
    return out
