"""One repetition, in a process forked from the fork server (zygote) for it alone.

Before the submission is imported: model, optimizer and data iterator are built from references bound
in the fork server, the tables of torch/time attributes and the backend settings are read, and the
audit hook is installed. The worker then says 'ready' and blocks on the seed pipe; the supervisor opens
the timed window by writing the data and sketch seeds there. Everything after that runs inside the
window: the call, the integrity comparisons, reading the result's fields, sketching the final weights
and logits, sending it all. The window ends when this process has exited, an event the supervisor
observes itself; threads the submission left behind die with the process, and nothing it leaves on disk
is read. Every message carries this process's pid (SCM_CREDENTIALS): a child it forks cannot speak for it.
"""
import contextlib
import importlib.util
import json
import os
import socket
import sys
import traceback
import types

from . import capture, guard, integrity, protocol, refs
from .model import reference_inner_steps, worker_model
from .sealed import CapturingOptimizer, StepLog, TokenStream

RESULT_FD, SEED_FD = 3, 4
CO_VARARGS = 0x04  # a code object taking *args (inspect.CO_VARARGS; inspect is not imported for this)
# the model initialised from the run's init seed, and a copy of its initial parameters: made by the fork server
MODEL = None
INIT = None


def _ours(name):
    return name == '__main__' or name == 'conclave_eval' or name.startswith('conclave_eval.')


@contextlib.contextmanager
def evaluator_hidden():
    """Our own modules (and __main__) are out of sys.modules while submission code runs."""
    saved = {k: sys.modules.pop(k) for k in [k for k in sys.modules if _ours(k)]}
    sys.modules['__main__'] = types.ModuleType('__main__')
    try:
        yield
    finally:
        for k in [k for k in sys.modules if _ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


def import_submission(path):
    with evaluator_hidden():
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


def _takes_num_gpus(fn):
    """Crusades' contract has no num_gpus parameter; ours has num_gpus=1. Both are called as written."""
    code = getattr(fn, '__code__', None)
    if code is None or not isinstance(code, types.CodeType):
        return True  # a callable object: it gets the full contract
    return bool(code.co_flags & CO_VARARGS) or code.co_argcount >= 6


def _read_seeds():
    buf = b''
    while b'\n' not in buf and len(buf) < 512:
        chunk = refs.os_read(SEED_FD, 512)
        if not chunk:
            break
        buf += chunk
    seeds = json.loads(buf.split(b'\n')[0])
    return str(seeds['data']), str(seeds['sketch'])


class Worker:
    def __init__(self, job, rep):
        self.job = job
        self.rep = rep
        self.sock = socket.socket(fileno=RESULT_FD)  # before the audit hook, which refuses new sockets
        self.device = refs.device(job.get('device', 'cpu'))

    def send(self, data):
        refs.sock_send(self.sock, data)

    def msg(self, m, payload=b''):
        self.send(protocol.pack_message(m, payload))

    def sync(self):
        if self.device.type == 'cuda':
            refs.cuda_synchronize()

    def run(self):
        job, rep = self.job, self.rep
        cfg, data, opt_cfg = job['model'], job['data'], job['optimizer']
        model = worker_model(MODEL, self.device)  # initialised (and threads set) in the fork server
        named = list(refs.module_named_parameters(model))
        calls = model.call_log
        init = [refs.to(p0, device=self.device) for p0 in INIT]
        inner = refs.AdamW([p for _, p in named], lr=opt_cfg['lr'], betas=tuple(opt_cfg['betas']), eps=opt_cfg['eps'],
                           weight_decay=opt_cfg['weightDecay'])
        log = StepLog(named, self.send, rep)
        calls.check = log.on_pass
        for _, p in (named[0], named[-1]):  # gradients computed last and first in a backward
            refs.register_hook(p, log.on_backward)
        opt = CapturingOptimizer(inner, log)
        stream = TokenStream(cfg['vocab'], data['batchSize'], cfg['seqLen'], int(data['numSteps']))
        if rep == 0:
            sizes = {name: refs.numel(p) for name, p in named}
            self.msg({'t': 'meta', 'nParams': sum(sizes.values()), 'params': sizes, 'device': str(self.device),
                      'torch': refs.torch_version})
        tables = integrity.ZYGOTE_TABLES or integrity.snapshot_tables()
        # the evaluator's settings, read before any submission code runs: a change made at import time shows
        # at the first optimizer step like one made during the call
        hyper0, backend0 = integrity.hyper(inner), integrity.backend()
        if job['mode'] == 'miner':
            guard.install(lambda check, detail: self.msg({'t': 'violation', 'check': check, 'detail': detail}),
                          job.get('writablePrefixes', ['/tmp', '/cache']), job.get('allowedExecutables', []))
            fn = import_submission(job['submission'])
            args_gpus = _takes_num_gpus(fn)
        else:
            autocast = job.get('autocast')
            fn = lambda m, it, o, n, d, g=1: reference_inner_steps(m, it, o, n, d, g, autocast_dtype=autocast)  # noqa: E731
            args_gpus = True
        num_steps = int(data['numSteps'])
        args = (model, stream, opt, num_steps, self.device) + ((1,) if args_gpus else ())
        self.msg({'t': 'ready'})
        data_seed, sketch_seed = _read_seeds()  # ---- the timed window opens here ----
        c0 = refs.read_clocks()
        sketcher = capture.Sketcher(sketch_seed, int(job['sketchDim']), self.device)
        stream.arm(data_seed)
        log.arm(sketcher, backend0)
        with evaluator_hidden() if job['mode'] == 'miner' else contextlib.nullcontext():
            result = fn(*args)
        self.sync()
        c1 = refs.read_clocks()
        self.capture(rep, result, named, init, inner, opt, log, stream, calls, tables, hyper0, backend0, [b - a for a, b in zip(c0, c1)])

    def capture(self, rep, result, named, init, inner, opt, log, stream, calls, tables, hyper0, backend0, clocks):
        steps_at_return = log.steps
        timers, others = integrity.replaced(tables)
        res = capture.read_result(result)
        logits = res.pop('logits')
        res['logitsShape'] = list(logits.shape) if logits is not None else None
        sk = log.sketcher
        batch = capture.TensorBatch(self.send)
        for name, p in named:
            batch.add('rep%d/weight/%s' % (rep, name), *sk.sketch(p, name))
        if logits is not None:
            batch.add('rep%d/logits' % rep, *sk.sketch(logits, 'logits'))
        if self.job['mode'] == 'reference':
            for (name, _), p0 in zip(named, init):
                batch.add('rep%d/init/%s' % (rep, name), *sk.sketch(p0, name))
        batch.flush()
        changed = {name: capture.changed_count(p, p0) for (name, p), p0 in zip(named, init)}
        obs = {
            'wrapperIntact': type(opt) is CapturingOptimizer and refs.object_getattribute(opt, '_opt') is inner
            and type(inner) is refs.AdamW,
            'optimizerSteps': steps_at_return, 'stepsBeforeWindow': log.early_steps, 'optimizerStepsAtCapture': log.steps,
            'hyperBefore': hyper0, 'hyperAfter': integrity.hyper(inner),
            'backendBefore': backend0, 'backendAfter': integrity.backend(), 'backendAtSteps': log.backend_changes,
            'dtypeChanges': log.dtype_changes, 'timersReplaced': timers, 'attributesReplaced': others,
            'missingGrads': log.missing, 'nonfiniteSteps': log.nonfinite, 'batchesDrawn': stream.drawn(),
            'forward': {'calls': calls.calls, 'seen': calls.seen},
            'result': res, 'changed': changed, 'clocks': clocks,
        }
        self.msg({'t': 'obs', 'obs': obs})
        self.msg({'t': 'done'})


def main(job, rep):
    worker = None
    try:
        worker = Worker(job, rep)
        worker.run()
    except BaseException as e:  # the submission's exception (or ours): reported, and the worker ends
        try:
            if worker is not None:
                worker.msg({'t': 'error', 'type': type(e).__name__, 'detail': traceback.format_exc()[-4000:]})
        except Exception:
            pass
        refs.os_exit(3)
    refs.os_exit(0)
