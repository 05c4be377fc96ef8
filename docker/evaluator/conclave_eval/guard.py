"""Run-time guard for the miner's code: a CPython audit hook (cannot be removed once added).

Each forbidden action is reported to the supervisor at once (so swallowing the exception does not hide
it) and then refused with PermissionError. The kernel-level backstops are the container's seccomp
profile, read-only root, pids limit and network none; this hook exists to name what was tried.
"""
import os
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_SPAWN = {'subprocess.Popen', 'os.system', 'os.exec', 'os.posix_spawn', 'os.spawn', 'os.fork',
          'os.forkpty', 'os.startfile', 'pty.spawn'}
_NET = {'socket.__new__', 'socket.connect', 'socket.bind', 'socket.getaddrinfo', 'socket.sendto',
        'socket.sendmsg', 'socket.gethostbyname', 'socket.gethostbyaddr', 'socket.getnameinfo',
        'urllib.Request', 'http.client.connect'}
_FS_MUTATE = {'os.rename', 'os.remove', 'os.rmdir', 'os.mkdir', 'shutil.rmtree', 'os.symlink', 'os.link',
              'os.truncate', 'os.chmod', 'os.chown', 'os.utime', 'shutil.move', 'shutil.copyfile'}


def _path_ok(path, prefixes):
    if isinstance(path, int):
        return True  # an already-open descriptor: the open itself was checked
    try:
        p = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return p == '/dev/null' or any(p == pre.rstrip('/') or p.startswith(pre) for pre in prefixes)


def _open_writes(mode, flags):
    if isinstance(mode, str) and any(c in mode for c in 'wax+'):
        return True
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def install(report, write_prefixes, allowed_executables):
    prefixes = tuple(p if p.endswith('/') else p + '/' for p in write_prefixes)
    allowed = frozenset(allowed_executables)

    def hook(event, args):
        check = None
        if event == 'open':
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if _open_writes(mode, flags) and not _path_ok(path, prefixes):
                check = ('filesystem-write', 'open for writing: %r' % (path,))
        elif event in _FS_MUTATE:
            bad = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike)) and not _path_ok(a, prefixes)]
            if bad:
                check = ('filesystem-write', '%s %r' % (event, bad[0]))
        elif event in _SPAWN:
            exe = args[0] if args and isinstance(args[0], (str, bytes)) else None
            if not (event in ('subprocess.Popen', 'os.exec', 'os.posix_spawn') and exe is not None
                    and os.fsdecode(exe) in allowed):
                check = ('process-spawn', '%s %r' % (event, args[:2] if args else ()))
        elif event in ('os.kill', 'os.killpg', 'signal.pthread_kill'):
            check = ('process-signal', '%s %r' % (event, args[:2] if args else ()))
        elif event in _NET:
            check = ('network', '%s %r' % (event, args[:2] if args else ()))
        if check is not None:
            report(check[0], check[1][:300])
            raise PermissionError('conclave sandbox: %s refused (%s)' % (check[0], check[1][:120]))

    sys.addaudithook(hook)
