"""The objects handed to inner_steps besides the model: the data iterator and the optimizer wrapper.

Both are built by trusted code from references bound before the submission was imported, are read-only
after init (__slots__, no setattr, private attributes refused), and hold no data until the timed window
opens: the iterator's batches come from a data seed the worker receives at that moment. At every step()
(and every forward of the model, and in every backward) the optimizer wrapper checks the backend settings and the parameters' dtypes, records which parameters
lack gradients, and sends a sketch of every gradient to the supervisor before AdamW applies it.
"""
import struct

from . import capture, integrity, refs

# honest code may call step() under no_grad; grad mode is compared before/after the call instead
_STEP_BACKEND_IGNORED = ('grad_enabled',)
_MAX_RECORDS = 64


def _u63(seed, index):
    return struct.unpack('>Q', refs.sha256(('conclave-data:%s:%d' % (seed, index)).encode()).digest()[:8])[0] & ((1 << 63) - 1)


class _Sealed:
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError('%s is read-only' % type(self).__name__)

    def __delattr__(self, name):
        raise AttributeError('%s is read-only' % type(self).__name__)

    def __getattribute__(self, name):
        if name.startswith('_') and not name.startswith('__'):
            raise AttributeError('private attribute %r of %s is not accessible' % (name, type(self).__name__))
        return refs.object_getattribute(self, name)


class _StreamState:
    __slots__ = ('seed', 'drawn', 'limit', 'shape', 'vocab')


class TokenStream(_Sealed):
    """The data_iterator: (batch, seq_len) int64 token batches on the CPU, drawn from the data seed."""
    __slots__ = ('_s',)

    def __init__(self, vocab, batch_size, seq_len, num_steps):
        s = _StreamState()
        s.seed, s.drawn, s.limit, s.shape, s.vocab = None, 0, num_steps + 2, (batch_size, seq_len), vocab
        refs.object_setattr(self, '_s', s)

    def arm(self, seed):
        refs.object_getattribute(self, '_s').seed = seed

    def drawn(self):
        return refs.object_getattribute(self, '_s').drawn

    def __iter__(self):
        return self

    def __next__(self):
        s = refs.object_getattribute(self, '_s')
        if s.seed is None:
            raise RuntimeError('the data iterator has no data before the timed call starts')
        if s.drawn >= s.limit:
            raise StopIteration
        g = refs.Generator()
        refs.manual_seed(g, _u63(s.seed, s.drawn))
        s.drawn += 1
        return refs.randint(0, s.vocab, s.shape, generator=g)


class StepLog:
    """What step() saw; read by the worker after the call (inside the window)."""
    __slots__ = ('named', 'dtypes', 'send', 'sketcher', 'backend0', 'steps', 'early_steps', 'missing',
                 'nonfinite', 'backend_changes', 'dtype_changes', 'rep')

    def __init__(self, named, send, rep):
        self.named = named
        self.dtypes = [p.dtype for _, p in named]
        self.send = send
        self.rep = rep
        self.sketcher = None
        self.backend0 = None
        self.steps = 0
        self.early_steps = 0
        self.missing, self.nonfinite, self.backend_changes, self.dtype_changes = [], [], [], []

    def arm(self, sketcher, backend0):
        self.sketcher = sketcher
        self.backend0 = {k: v for k, v in backend0.items() if k not in _STEP_BACKEND_IGNORED}

    def on_pass(self, where):
        """The backend settings at a forward of the model or during a backward (a hook on the gradients
        computed first and last): a setting changed for the forward/backward and put back before step() shows."""
        if self.sketcher is None:
            return
        diff = integrity.backend_diff(self.backend0, integrity.backend())
        if diff and len(self.backend_changes) < _MAX_RECORDS:
            self.backend_changes.append({'step': self.steps + 1, 'keys': diff, 'where': where})

    def on_backward(self, grad):
        self.on_pass('backward')

    def on_step(self):
        if self.sketcher is None:  # before the window: nothing can have been trained with the data
            self.early_steps += 1
            return
        self.steps += 1
        k = self.steps
        now = integrity.backend()
        diff = integrity.backend_diff(self.backend0, now)
        if diff and len(self.backend_changes) < _MAX_RECORDS:
            self.backend_changes.append({'step': k, 'keys': diff, 'where': 'step'})
        missing, bad_dtype, finite = [], [], True
        batch = capture.TensorBatch(self.send)
        for (name, p), dtype0 in zip(self.named, self.dtypes):
            g = p.grad
            if p.dtype != dtype0 or (g is not None and g.dtype != dtype0):
                bad_dtype.append(name)
            if g is None:
                missing.append(name)
                continue
            data, vals, dim = self.sketcher.sketch_values(g, name)
            finite = finite and vals
            batch.add('rep%d/grad/%d/%s' % (self.rep, k, name), data, dim)
        batch.flush()
        self.missing.append(missing[:_MAX_RECORDS])
        if not finite:
            self.nonfinite.append(k)
        if bad_dtype and len(self.dtype_changes) < _MAX_RECORDS:
            self.dtype_changes.append({'step': k, 'params': bad_dtype[:8]})


class CapturingOptimizer(_Sealed):
    """The optimizer handed to inner_steps: AdamW (bound before import) behind a read-only wrapper."""
    __slots__ = ('_opt', '_log')

    def __init__(self, opt, log):
        refs.object_setattr(self, '_opt', opt)
        refs.object_setattr(self, '_log', log)

    def step(self, closure=None):
        refs.object_getattribute(self, '_log').on_step()
        return refs.adamw_step(refs.object_getattribute(self, '_opt'), closure)

    def zero_grad(self, set_to_none=True):
        return refs.optimizer_zero_grad(refs.object_getattribute(self, '_opt'), set_to_none=set_to_none)

    @property
    def param_groups(self):
        return refs.object_getattribute(self, '_opt').param_groups

    @property
    def defaults(self):
        return refs.object_getattribute(self, '_opt').defaults

    @property
    def state(self):
        return refs.object_getattribute(self, '_opt').state

    def state_dict(self):
        return refs.optimizer_state_dict(refs.object_getattribute(self, '_opt'))
