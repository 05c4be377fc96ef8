"""Process, memory and disk helpers of the supervisor. Stdlib only (the supervisor never imports torch).

The supervisor may be PID 1 of a container or, for `npm run gpu-check` on a machine without Docker, an
ordinary process. Either way it is the reaper of every orphan the evaluation leaves (PID 1 by birth,
otherwise through PR_SET_CHILD_SUBREAPER), so "the evaluation's processes" are exactly its descendants,
and no process the submission starts can leave that tree.
"""
import ctypes
import os
import signal
import time

PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# below this much free space a tmpfs counts as filled: the submission hit its disk allowance
DISK_SLACK_BYTES = 256 << 10

_libc = None


def _prctl(option, arg):
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, arg, 0, 0, 0) == 0
    except Exception:
        return False


def release_free_memory():
    """glibc malloc_trim(0): free heap pages are returned to the kernel (a forked child then gets fresh pages
    for its allocations instead of copy-on-write copies of the parent's freed ones)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.malloc_trim(0)
    except Exception:
        pass


def set_not_dumpable():
    """/proc/<self>/{mem,fd,environ} become unreadable to processes of the same uid (ptrace is seccomp-killed)."""
    return _prctl(PR_SET_DUMPABLE, 0)


def set_subreaper():
    return os.getpid() == 1 or _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent():
    return _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _ppid(pid):
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            stat = f.read()
    except OSError:
        return None
    # the command name is in parentheses and may contain anything: parse after the last ')'
    try:
        return int(stat[stat.rindex(b')') + 2:].split()[1])
    except (ValueError, IndexError):
        return None


def descendants(root=None):
    """Every process below `root` (default: this process), zombies included."""
    root = os.getpid() if root is None else root
    children = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            ppid = _ppid(int(name))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def exit_info(status):
    """(exit code, terminating signal) of a waitpid status; None where it does not apply or unknown."""
    if status is None:
        return None, None
    return (os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)


class Reaper:
    """Reaps this process's children (its own plus every orphan re-parented to it) and remembers them."""

    def __init__(self):
        self.status = {}

    def reap(self):
        reaped = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return reaped
            if pid == 0:
                return reaped
            self.status[pid] = status
            reaped.append(pid)


def kill_except(keep, reaper, deadline_sec=5.0):
    """SIGKILLs every descendant not in `keep` until none is left (a process forking while we kill is
    caught on the next pass); returns how many distinct processes were seen. Bounded by deadline_sec."""
    seen = set()
    deadline = time.monotonic() + deadline_sec
    while time.monotonic() < deadline:
        alive = [p for p in descendants() if p not in keep]
        for pid in reaper.reap():
            if pid not in keep:
                seen.add(pid)
        if not alive:
            return len(seen)
        seen.update(alive)
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
    return len(seen)


def kill_everything(reaper):
    """End of the evaluation: every other process goes (kill(-1) where we are PID 1 of a container)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.getpid() == 1:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            for pid in descendants():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        reaper.reap()
        if not descendants():
            return
        time.sleep(0.02)


def oom_kills():
    for path in ('/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control'):
        try:
            with open(path) as f:
                for line in f:
                    k, _, v = line.partition(' ')
                    if k == 'oom_kill':
                        return int(v)
        except (OSError, ValueError):
            continue
    return 0


def anon_memory():
    """Anonymous (non-file) memory of the container's cgroup, in bytes; None when unreadable."""
    for path, keys in (('/sys/fs/cgroup/memory.stat', ('anon',)), ('/sys/fs/cgroup/memory/memory.stat', ('total_rss', 'rss'))):
        try:
            with open(path) as f:
                stat = dict(line.split() for line in f if line.strip())
        except (OSError, ValueError):
            continue
        for k in keys:
            if k in stat:
                return int(stat[k])
    return None


def disk_full(path):
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    if st.f_bavail * st.f_frsize < DISK_SLACK_BYTES or (st.f_files > 0 and st.f_favail == 0):
        return st.f_blocks * st.f_frsize
    return None


def wipe(directory):
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            wipe(path)
            os.rmdir(path)
        else:
            os.unlink(path)
