"""Worker: builds the policy's model and data from the seed, runs either the validator's reference loop
(reference mode: no submission is ever imported in this container) or the miner's inner_steps (miner
mode), and streams observations and captured tensors to the supervisor over an inherited pipe.

Comparisons against the reference never happen here: the reference does not enter a miner's container.
"""
import contextlib
import importlib.util
import json
import os
import sys
import time
import traceback
import types

# Bound before torch or any submission is imported: the clocks the timing is read from.
_perf = time.perf_counter
_mono = time.monotonic
_clock = time.clock_gettime
_RAW = time.CLOCK_MONOTONIC_RAW
_TIMERS = ('perf_counter', 'perf_counter_ns', 'monotonic', 'monotonic_ns', 'time', 'time_ns',
           'clock_gettime', 'clock_gettime_ns', 'process_time', 'thread_time', 'sleep')
_ORIGINAL_TIMERS = {name: getattr(time, name) for name in _TIMERS}

_CLOCK_BRACKET_SEC = 0.0005
_CLOCK_TRIES = 20


def _read_clocks():
    """[perf_counter, monotonic, CLOCK_MONOTONIC_RAW] read as close together as we can manage.

    On a loaded host the worker can be preempted between two reads, and the clocks then look as if
    they disagree by a whole time slice (tens of ms): an honest submission would fail timer-agreement.
    Each try is bracketed by a second perf_counter read; the first tight bracket is kept (else the
    tightest of a bounded number of tries)."""
    best, best_width = None, None
    for _ in range(_CLOCK_TRIES):
        a = _perf()
        reading = [a, _mono(), _clock(_RAW)]
        width = _perf() - a
        if best_width is None or width < best_width:
            best, best_width = reading, width
        if width <= _CLOCK_BRACKET_SEC:
            break
    return best


import torch  # noqa: E402

from conclave_eval import guard, protocol  # noqa: E402
from conclave_eval.model import build_model, make_batches, next_token_loss  # noqa: E402

_OWN_MODULES = ('conclave_eval',)


class InnerStepsResult:
    __slots__ = ('final_logits', 'total_tokens', 'final_loss')

    def __init__(self, final_logits, total_tokens, final_loss):
        self.final_logits = final_logits
        self.total_tokens = total_tokens
        self.final_loss = final_loss


def reference_inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1):
    """The validator's own training loop: the ground truth every submission is compared against."""
    logits = loss = None
    tokens = 0
    for _ in range(num_steps):
        ids = next(data_iterator).to(device)
        logits = model(ids)
        loss = next_token_loss(logits, ids)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += ids.numel()
    return InnerStepsResult(logits.detach(), tokens, float(loss.item()))


class TokenStream:
    """The data_iterator handed to inner_steps: fixed batches, counts what was drawn."""
    __slots__ = ('_batches', '_drawn')

    def __init__(self, batches):
        object.__setattr__(self, '_batches', batches)
        object.__setattr__(self, '_drawn', [0])

    def __iter__(self):
        return self

    def __next__(self):
        drawn = object.__getattribute__(self, '_drawn')
        batches = object.__getattribute__(self, '_batches')
        if drawn[0] >= len(batches):
            raise StopIteration
        drawn[0] += 1
        return batches[drawn[0] - 1].clone()

    def __setattr__(self, name, value):
        raise AttributeError('the data iterator is read-only')

    def __getattribute__(self, name):
        if name.startswith('_') and not name.startswith('__'):
            raise AttributeError('private attribute %r of the data iterator is not accessible' % name)
        return object.__getattribute__(self, name)


class CapturingOptimizer:
    """Wraps the validator's AdamW: captures the gradients the first step() sees and which parameters
    lacked gradients at each step. Read-only after init; private attributes are not reachable."""
    __slots__ = ('_opt', '_named', '_log')

    def __init__(self, opt, named):
        object.__setattr__(self, '_opt', opt)
        object.__setattr__(self, '_named', named)
        object.__setattr__(self, '_log', {'steps': 0, 'grads': None, 'missing': [], 'nonfinite': []})

    def __setattr__(self, name, value):
        raise AttributeError('the evaluator optimizer is read-only')

    def __delattr__(self, name):
        raise AttributeError('the evaluator optimizer is read-only')

    def __getattribute__(self, name):
        if name.startswith('_') and not name.startswith('__'):
            raise AttributeError('private attribute %r of the evaluator optimizer is not accessible' % name)
        return object.__getattribute__(self, name)

    def step(self, closure=None):
        log = object.__getattribute__(self, '_log')
        named = object.__getattribute__(self, '_named')
        log['steps'] += 1
        log['missing'].append([n for n, p in named if p.grad is None])
        log['nonfinite'].append([n for n, p in named if p.grad is not None and not bool(torch.isfinite(p.grad).all())])
        if log['grads'] is None:
            log['grads'] = [(n, None if p.grad is None else p.grad.detach().float().clone()) for n, p in named]
        return object.__getattribute__(self, '_opt').step(closure)

    def zero_grad(self, set_to_none=True):
        return object.__getattribute__(self, '_opt').zero_grad(set_to_none=set_to_none)

    @property
    def param_groups(self):
        return object.__getattribute__(self, '_opt').param_groups

    @property
    def defaults(self):
        return object.__getattribute__(self, '_opt').defaults

    @property
    def state(self):
        return object.__getattribute__(self, '_opt').state

    def state_dict(self):
        return object.__getattribute__(self, '_opt').state_dict()


def _hyper(opt):
    out = []
    for g in opt.param_groups:
        out.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                    if k != 'params' and isinstance(v, (int, float, bool, str, tuple, type(None)))})
        out[-1]['nparams'] = len(g['params'])
    return out


def _backend():
    b = torch.backends
    snap = {
        'grad_enabled': torch.is_grad_enabled(),
        'deterministic': torch.are_deterministic_algorithms_enabled(),
        'num_threads': torch.get_num_threads(),
        'default_dtype': str(torch.get_default_dtype()),
        'matmul_precision': torch.get_float32_matmul_precision(),
        'cudnn_enabled': b.cudnn.enabled,
        'cudnn_benchmark': b.cudnn.benchmark,
        'cudnn_deterministic': b.cudnn.deterministic,
        'cudnn_tf32': b.cudnn.allow_tf32,
        'matmul_tf32': b.cuda.matmul.allow_tf32,
    }
    for name in ('allow_fp16_reduced_precision_reduction', 'allow_bf16_reduced_precision_reduction'):
        try:
            snap['matmul_' + name] = getattr(b.cuda.matmul, name)
        except (AttributeError, AssertionError):
            pass
    return snap


def _timer_objects():
    objs = {'time.' + n: getattr(time, n, None) for n in _TIMERS}
    objs['torch.cuda.synchronize'] = torch.cuda.synchronize
    objs['torch.cuda.Event'] = torch.cuda.Event
    return objs


@contextlib.contextmanager
def _evaluator_hidden():
    """Our own modules (and __main__) are out of sys.modules while submission code runs."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules)
             if k == '__main__' or k.split('.')[0] in _OWN_MODULES}
    sys.modules['__main__'] = types.ModuleType('__main__')
    try:
        yield
    finally:
        for k in list(sys.modules):
            if k == '__main__' or k.split('.')[0] in _OWN_MODULES:
                del sys.modules[k]
        sys.modules.update(saved)


def _tensor_bytes(t):
    t = t.detach().to('cpu', torch.float32).contiguous()
    return list(t.shape), t.numpy().tobytes()


class Worker:
    def __init__(self, fd, job, ack_fd=None):
        self.fd = fd
        self.ack_fd = ack_fd
        self.job = job
        self.files = 0  # sketch mode: tensors left in protocol.CAPTURE_DIR
        self.device = job.get('device', 'cpu')

    def send(self, msg, payload=b''):
        protocol.send_frame(self.fd, msg, payload)

    def send_tensor(self, name, t):
        shape, data = _tensor_bytes(t)
        if self.job.get('sketch'):
            # sketch mode: the tensor waits in /tmp for the trusted sketcher, which runs after this process
            # is dead with a projection seed nobody in this container knew while the submission ran
            self.files += 1
            path = '%s/%d.f32' % (protocol.CAPTURE_DIR, self.files)
            os.makedirs(protocol.CAPTURE_DIR, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
            self.send({'t': 'tensor-file', 'name': name, 'shape': shape, 'file': path})
            return
        self.send({'t': 'tensor', 'name': name, 'shape': shape}, data)

    def begin(self, rep):
        """Tells the supervisor a timed repetition starts and waits until it has stamped that."""
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()
        self.send({'t': 'begin', 'rep': rep})
        if self.ack_fd is not None and os.read(self.ack_fd, 1) != b'\x01':
            raise RuntimeError('the supervisor closed the ack channel')
        return _read_clocks()  # the device was synchronised above

    def clocks(self):
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()
        return _read_clocks()

    def run(self):
        job = self.job
        torch.set_num_threads(int(job['threads']))
        torch.use_deterministic_algorithms(False)
        inner = reference_inner_steps
        if job['mode'] == 'miner':
            inner = self.import_submission()
        cfg, data, seed = job['model'], job['data'], int(job['seed'])
        batches = make_batches(cfg, data, seed)
        extra = make_batches(cfg, dict(data, numSteps=2), seed + 1)
        batches = torch.cat([batches, extra], 0)
        for rep in range(int(job['repetitions'])):
            self.one_rep(rep, inner, cfg, data, seed, batches)
        self.send({'t': 'done'})

    def import_submission(self):
        path = self.job['submission']
        with _evaluator_hidden():
            sys.path.insert(0, os.path.dirname(path))
            try:
                spec = importlib.util.spec_from_file_location('train', path)
                module = importlib.util.module_from_spec(spec)
                sys.modules['train'] = module
                spec.loader.exec_module(module)
            finally:
                if sys.path and sys.path[0] == os.path.dirname(path):
                    sys.path.pop(0)
        fn = getattr(module, 'inner_steps', None)
        if not callable(fn):
            raise TypeError('the submission defines no callable inner_steps')
        return fn

    def one_rep(self, rep, inner, cfg, data, seed, batches):
        model = build_model(cfg, seed, self.device)
        named = list(model.named_parameters())
        if rep == 0:  # counted on the first repetition's model: no extra model built just to count
            self.send({'t': 'meta', 'nParams': sum(p.numel() for _, p in named),
                       'expectedTokens': data['numSteps'] * data['batchSize'] * cfg['seqLen'],
                       'device': self.device, 'torch': torch.__version__})
        if rep == 0 and self.job['mode'] == 'reference':
            for n, p in named:
                self.send_tensor('init/' + n, p)
        inner_opt = torch.optim.AdamW(model.parameters(), lr=self.job['optimizer']['lr'],
                                      betas=tuple(self.job['optimizer']['betas']), eps=self.job['optimizer']['eps'],
                                      weight_decay=self.job['optimizer']['weightDecay'])
        opt = CapturingOptimizer(inner_opt, named)
        stream = TokenStream(batches.to(self.device))
        seq_seen = []
        hook = model.register_forward_pre_hook(lambda _m, args: seq_seen.append(list(args[0].shape) if args and hasattr(args[0], 'shape') else None))
        hyper0, backend0, timers0 = _hyper(inner_opt), _backend(), _timer_objects()
        num_steps = int(data['numSteps'])
        c0 = self.begin(rep)
        with _evaluator_hidden() if self.job['mode'] == 'miner' else contextlib.nullcontext():
            result = inner(model, stream, opt, num_steps, self.device, 1)
        c1 = self.clocks()
        self.send({'t': 'end', 'rep': rep, 'clocks': [b - a for a, b in zip(c0, c1)]})
        hook.remove()
        timers1 = _timer_objects()
        log = object.__getattribute__(opt, '_log')
        obs = {
            'wrapperIntact': type(opt) is CapturingOptimizer and object.__getattribute__(opt, '_opt') is inner_opt
            and type(inner_opt) is torch.optim.AdamW,
            'optimizerSteps': log['steps'],
            'hyperBefore': hyper0, 'hyperAfter': _hyper(inner_opt),
            'backendBefore': backend0, 'backendAfter': _backend(),
            'timersReplaced': sorted(k for k, v in timers0.items() if timers1.get(k) is not v)
            + sorted(k for k, v in _ORIGINAL_TIMERS.items() if getattr(time, k, None) is not v),
            'missingGrads': log['missing'], 'nonfiniteGrads': log['nonfinite'],
            'batchesDrawn': object.__getattribute__(stream, '_drawn')[0],
            'seqShapes': seq_seen[:64], 'forwardCalls': len(seq_seen),
        }
        fields = {k: hasattr(result, k) for k in ('final_logits', 'total_tokens', 'final_loss')}
        obs['resultFields'] = fields
        logits = getattr(result, 'final_logits', None)
        obs['logitsShape'] = list(logits.shape) if isinstance(logits, torch.Tensor) else None
        try:
            obs['totalTokens'] = int(getattr(result, 'total_tokens'))
        except Exception:
            obs['totalTokens'] = None
        try:
            loss = getattr(result, 'final_loss')
            obs['finalLoss'] = float(loss.item() if isinstance(loss, torch.Tensor) else loss)
        except Exception:
            obs['finalLoss'] = None
        self.send({'t': 'rep', 'rep': rep, 'obs': obs})
        for n, g in (log['grads'] or []):
            if g is not None:
                self.send_tensor('rep%d/grad/%s' % (rep, n), g)
        for n, p in named:
            self.send_tensor('rep%d/weight/%s' % (rep, n), p)
        if isinstance(logits, torch.Tensor) and logits.numel() < 1 << 28:
            self.send_tensor('rep%d/logits' % rep, logits)


def main():
    fd = int(sys.argv[1])
    job = json.loads(sys.argv[2])
    worker = Worker(fd, job, int(sys.argv[3]) if len(sys.argv) > 3 else None)
    try:
        if job['mode'] == 'miner':
            guard.install(lambda check, detail: worker.send({'t': 'violation', 'check': check, 'detail': detail}),
                          job.get('writablePrefixes', ['/tmp', '/cache']), job.get('allowedExecutables', []))
        worker.run()
    except BaseException as e:  # the miner's exception, reported and the worker ends
        try:
            worker.send({'t': 'error', 'type': type(e).__name__, 'detail': traceback.format_exc()[-4000:]})
        except Exception:
            pass
        os._exit(3)
    os._exit(0)
