"""The supervisor's handle on the fork server (zygote.py): spawn it, ask it to fork a worker with three
descriptors, reap that worker. Stdlib only. Every reply must come from the zygote's own pid."""
import array
import json
import os
import select
import _socket as socket  # the C module: the same calls, without the socket module's enum set-up at import
import struct
import sys

from . import protocol

_CRED = struct.Struct('iII')
ZYGOTE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'zygote.py')


class ForkServerError(RuntimeError):
    pass


class ForkServer:
    def __init__(self, env, setup, timeout_sec=300.0):
        self.timeout = timeout_sec
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        os.set_inheritable(theirs.fileno(), True)
        actions = [(os.POSIX_SPAWN_OPEN, 0, '/dev/null', os.O_RDONLY, 0), (os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0)]
        self.pid = os.posix_spawn(sys.executable, [sys.executable, '-I', ZYGOTE, str(theirs.fileno()), json.dumps(setup)], env, file_actions=actions)
        theirs.close()
        self.sock = mine
        ready = self._recv('zygote-ready')
        self.torch = ready.get('torch')

    def fileno(self):
        return self.sock.fileno()

    def _recv(self, want):
        ready, _, _ = select.select([self.sock], [], [], self.timeout)
        if not ready:
            raise ForkServerError('the fork server did not answer within %ss (waiting for %s)' % (self.timeout, want))
        data, anc, _f, _a = self.sock.recvmsg(protocol.MAX_MESSAGE, socket.CMSG_SPACE(_CRED.size))
        if not data:
            raise ForkServerError('the fork server exited (waiting for %s)' % want)
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= _CRED.size:
                pid = _CRED.unpack_from(payload)[0]
        msg, _ = protocol.unpack_message(data)
        if pid != self.pid or msg.get('t') != want:
            raise ForkServerError('the fork server sent %r from pid %s, expected %s from %d' % (msg.get('t'), pid, want, self.pid))
        return msg

    def fork(self, job, rep, fds):
        self.sock.sendmsg([protocol.pack_message({'t': 'fork', 'job': job, 'rep': rep})],
                          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds).tobytes())])
        return int(self._recv('forked')['pid'])

    def reap(self, pid):
        self.sock.send(protocol.pack_message({'t': 'reap', 'pid': pid}))
        return self._recv('reaped').get('status')

    def stop(self):
        try:
            self.sock.send(protocol.pack_message({'t': 'exit'}))
        except OSError:
            pass
        self.sock.close()
