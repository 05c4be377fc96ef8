"""The fork server: imports torch and the evaluator once, binds the references the workers use, and
forks one worker per repetition on the supervisor's command. It never imports or runs submission code
(a worker is a forked child that does), is not dumpable (its memory is closed to same-uid processes)
and takes commands only on a control socket that every worker closes first thing after the fork.

It starts with the job's threads setting and binds itself to that many CPUs for good (cpulimit.py); on CPU it runs one step of the reference loop on throwaway data so
that what the libraries set up at first use is inherited by every worker (model.warm_up); then it initialises
the model from the run's init seed (the same initial weights for every repetition and every submission of the
run: they are not secret, nothing can be trained without the data) and keeps a copy for changed-share.

Control messages (SOCK_SEQPACKET, protocol.pack_message):
  zygote -> supervisor: zygote-ready {torch}; forked {pid}; reaped {pid, status}; zygote-error {detail}
  supervisor -> zygote: fork {job, rep} with 3 fds (result socket, seed pipe read end, stdout);
                        reap {pid}; exit
"""
import array
import fcntl
import gc
import os
import socket
import sys

from . import cpulimit, integrity, procs, protocol
from . import refs  # noqa: F401  (binds the references before anything else can exist)
from . import worker
from .model import build_model, init_model, warm_up

_PRELOADED = ('dataclasses', 'typing', 'collections', 'functools', 'itertools', 'contextlib', 'math', 'numbers', 'enum', 'abc',
              'copy', 're', 'random', 'string', 'warnings', 'numpy')

_FDS = 3


def _recv(sock):
    fds = array.array('i')
    data, anc, _flags, _addr = sock.recvmsg(protocol.MAX_MESSAGE, socket.CMSG_SPACE(_FDS * fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        return None, []
    msg, _ = protocol.unpack_message(data)
    return msg, list(fds)


def _child(ctl, fds, job, rep):
    """In the forked worker: only the result socket (3), the seed pipe (4) and stdout (1) stay open."""
    try:
        procs.die_with_parent()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]
        for fd in fds:
            os.close(fd)
        ctl.close()
        os.dup2(high[0], worker.RESULT_FD, inheritable=False)
        os.dup2(high[1], worker.SEED_FD, inheritable=False)
        os.dup2(high[2], 1)
        os.closerange(worker.SEED_FD + 1, 65536)
        worker.main(job, rep)
    finally:
        os._exit(70)


def main(ctl_fd, setup):
    procs.set_not_dumpable()
    procs.die_with_parent()
    ctl = socket.socket(fileno=ctl_fd)
    refs.set_num_threads(int(setup['threads']))
    cpulimit.bind(int(setup['threads']))  # the policy's CPUs, for this process and every worker, for good
    model = build_model(setup['model'])
    warm_up(model, setup['model'], setup['data'], setup['optimizer'], refs.device(setup.get('device', 'cpu')))
    worker.MODEL = init_model(model, int(setup['initSeed']))
    worker.INIT = [refs.clone(refs.detach(p)) for _, p in refs.module_named_parameters(model)]
    for mod in _PRELOADED:  # what submissions commonly import: loaded once here, not in every worker
        __import__(mod)
    integrity.ZYGOTE_TABLES = integrity.snapshot_tables()
    procs.release_free_memory()  # freed heap pages go back: a worker's allocations then fault in fresh pages, not copies
    # everything allocated so far is shared with every worker: keep the collector's hands off it, so a worker
    # does not copy those pages just by collecting garbage
    gc.freeze()
    ctl.send(protocol.pack_message({'t': 'zygote-ready', 'torch': refs.torch_version}))
    while True:
        msg, fds = _recv(ctl)
        if msg is None or msg.get('t') == 'exit':
            os._exit(0)
        if msg.get('t') == 'fork' and len(fds) == _FDS:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(ctl, fds, msg['job'], int(msg['rep']))
            for fd in fds:
                os.close(fd)
            ctl.send(protocol.pack_message({'t': 'forked', 'pid': pid}))
        elif msg.get('t') == 'reap':
            try:
                _, status = os.waitpid(int(msg['pid']), 0)
            except ChildProcessError:
                status = None
            ctl.send(protocol.pack_message({'t': 'reaped', 'pid': int(msg['pid']), 'status': status}))
        else:
            for fd in fds:
                os.close(fd)
            ctl.send(protocol.pack_message({'t': 'zygote-error', 'detail': 'unexpected command %r' % msg.get('t')}))
