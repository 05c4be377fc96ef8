"""The supervisor's side of one repetition (stdlib only).

Timed window = [the supervisor writes the seeds to the worker's seed pipe, the supervisor sees the worker
process gone (its pidfd turns readable)]. Both ends are events of the supervisor's own: the first needs
the worker's 'ready', which the submission can send early (that only lengthens its window), and the
second cannot happen before every thread of the worker has stopped, so nothing the process does can end
the window early without also ending itself. Only messages whose kernel-attached sender pid is the
worker's are accepted, and they were necessarily sent before it exited; anything else is a protocol
violation. A process still alive, or re-parented to the supervisor, after the worker exited was started
by the submission and outlived its window: process-spawn.
"""
import json
import os
import select
import signal
import _socket as socket  # the C module: the same calls, without the socket module's enum set-up at import
import struct
import time

from . import procs, protocol

_CRED = struct.Struct('iII')
MAX_TENSORS_PER_REP = 200000


class RepResult:
    def __init__(self, rep):
        self.rep = rep
        self.t_open = None
        self.t_exit = None
        self.obs = None
        self.meta = None
        self.done = False
        self.error = None
        self.status = None
        self.tensors = []
        self.tensor_bytes = 0
        self.memory_killed = False
        self.strays = 0

    @property
    def wall(self):
        if self.t_open is None or self.t_exit is None:
            return None
        return self.t_exit - self.t_open


class RepetitionRun:
    """Runs repetition `rep` in a worker the zygote forks, and collects what that worker sent."""

    def __init__(self, sup, rep, on_ready=None):
        self.sup = sup
        self.rep = rep
        self.res = RepResult(rep)
        self.on_ready = on_ready
        self.prefix = 'rep%d/' % rep

    def violation(self, check, detail):
        self.sup.violation(check, detail)

    def on_message(self, sock, pid, msg, payload):
        t = msg.get('t')
        r = self.res
        if r.done:
            self.violation('protocol', 'rep %d: a %r message after done' % (self.rep, t))
        elif t == 'violation':
            self.violation(str(msg.get('check', 'unknown')), msg.get('detail', ''))
        elif t == 'ready':
            if r.t_open is not None:
                self.violation('protocol', 'rep %d: a second ready message' % self.rep)
                return
            if self.on_ready:
                self.on_ready()
            seeds = (json.dumps({'data': self.sup.data_seeds[self.rep], 'sketch': self.sup.sketch_seed}) + '\n').encode()
            r.t_open = time.perf_counter()
            try:
                os.write(self.seed_w, seeds)
            except OSError:
                pass
            os.close(self.seed_w)
            self.seed_w = None
        elif t == 'meta' and r.meta is None and self.rep == 0:
            r.meta = {k: v for k, v in msg.items() if k != 't'}
        elif t == 'tensors':
            items = msg.get('items')
            if r.t_open is None or not isinstance(items, list):
                self.violation('protocol', 'rep %d: tensors out of turn' % self.rep)
                return
            offset = 0
            for item in items:
                name, k = str(item[0]), int(item[1])
                if not name.startswith(self.prefix) or k < 0 or offset + 4 * k > len(payload):
                    raise ValueError('rep %d: tensor %r does not match its message' % (self.rep, name[:80]))
                if len(r.tensors) >= MAX_TENSORS_PER_REP:
                    raise ValueError('rep %d: more than %d captured tensors' % (self.rep, MAX_TENSORS_PER_REP))
                r.tensors.append((name, [k], payload[offset:offset + 4 * k]))
                offset += 4 * k
            if offset != len(payload):
                raise ValueError('rep %d: a tensors message with %d stray bytes' % (self.rep, len(payload) - offset))
            r.tensor_bytes += len(payload)
            if self.sup.tensor_bytes + r.tensor_bytes > self.sup.max_capture:
                raise ValueError('captured sketches exceed maxCaptureBytes')
        elif t == 'obs' and r.obs is None and r.t_open is not None:
            r.obs = msg.get('obs')
        elif t == 'done' and r.obs is not None:
            r.done = True
        elif t == 'error':
            if r.error is None:
                r.error = {'type': str(msg.get('type')), 'detail': str(msg.get('detail'))[-4000:]}
        else:
            self.violation('protocol', 'rep %d: unexpected message %r' % (self.rep, t))

    def recv_all(self, sock, worker_pid):
        """Every queued message; each must come from the worker process itself."""
        while True:
            try:
                data, anc, _flags, _addr = sock.recvmsg(protocol.MAX_MESSAGE + 1, socket.CMSG_SPACE(_CRED.size))
            except BlockingIOError:
                return True
            if not data:
                return False
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= _CRED.size:
                    pid = _CRED.unpack_from(payload)[0]
                elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for i in range(0, len(payload) - len(payload) % 4, 4):  # descriptors we never asked for
                        os.close(struct.unpack_from('i', payload, i)[0])
                    self.violation('protocol', 'rep %d: the worker passed file descriptors' % self.rep)
            if pid != worker_pid:
                self.violation('protocol', 'rep %d: a message from process %s, not the worker (%d)' % (self.rep, pid, worker_pid))
                continue
            try:
                msg, payload = protocol.unpack_message(data)
                self.on_message(sock, pid, msg, payload)
            except (ValueError, KeyError, TypeError) as e:
                self.violation('protocol', 'rep %d: %s' % (self.rep, e))
                self.stop_worker(worker_pid)
                return False

    def stop_worker(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def run(self):
        sup = self.sup
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        mine.setblocking(False)
        seed_r, self.seed_w = os.pipe()
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        try:
            pid = sup.zygote.fork(sup.worker_job, self.rep, [theirs.fileno(), seed_r, out_w])
        finally:
            theirs.close()
            os.close(seed_r)
            os.close(out_w)
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for fd in (mine.fileno(), pidfd, out_r, sup.zygote.fileno()):
            poller.register(fd, select.POLLIN)
        r = self.res
        sock_open, out_open = True, True
        next_memory_check = 0.0
        try:
            while True:
                events = dict(poller.poll(200))
                if pidfd in events:
                    r.t_exit = time.perf_counter()
                    break
                if sock_open and mine.fileno() in events:
                    sock_open = self.recv_all(mine, pid)
                    if not sock_open:
                        poller.unregister(mine.fileno())
                if out_open and out_r in events:
                    out_open = sup.forward_stdout(out_r)
                    if not out_open:
                        poller.unregister(out_r)
                if sup.zygote.fileno() in events:
                    raise RuntimeError('the fork server stopped during rep %d' % self.rep)
                if sup.memory_high and not r.memory_killed and time.monotonic() >= next_memory_check:
                    next_memory_check = time.monotonic() + 0.1
                    used = procs.anon_memory()
                    if used is not None and used > sup.memory_high:
                        r.memory_killed = True
                        os.kill(pid, signal.SIGKILL)
            # the worker is gone (a zombie of the zygote, so its pid cannot be reused yet)
            r.strays = procs.kill_except({sup.zygote.pid, pid}, sup.reaper)
            if r.strays:
                self.violation('process-spawn', '%d process(es) of the submission outlived rep %d' % (r.strays, self.rep))
            if sock_open:
                self.recv_all(mine, pid)
            while out_open and sup.forward_stdout(out_r):
                pass
            r.status = sup.zygote.reap(pid)
        finally:
            os.close(pidfd)
            mine.close()
            os.close(out_r)
            if self.seed_w is not None:
                os.close(self.seed_w)
        code, sig = procs.exit_info(r.status)
        if sig == signal.SIGSYS:  # killed by the seccomp profile
            self.violation('denied-syscall', 'rep %d: the worker was killed by the seccomp profile (SIGSYS)' % self.rep)
        return r

