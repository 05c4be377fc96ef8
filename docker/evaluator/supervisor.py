"""Container entrypoint (PID 1). Never imports torch or submission code.

1. starts the worker (python3 -I worker.py FD JOB) with a pipe as its only channel back;
2. timestamps the worker's begin/end frames with its own clock (the wall time the MFU is computed from);
3. when the worker has exited, kills every other process left in the container (kill(-1) from PID 1),
   reaps them, wipes the result directory and only then writes result.json and captures.bin.
No submission code is alive while the result is written, so nothing it did (torch.save, numpy.save, a
pre-written or linked file in /result) can survive into the result.
"""
import json
import os
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conclave_eval import protocol  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worker.py')


def _set_not_dumpable():
    # /proc/1/{mem,fd,environ} become unreadable to the worker's uid; ptrace is seccomp-denied anyway.
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:
        pass


def _oom_kills():
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


def _anon_memory():
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


def _other_pids():
    me = os.getpid()
    return [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me]


def _wipe(directory):
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _wipe(path)
            os.rmdir(path)
        else:
            os.unlink(path)


class Supervisor:
    def __init__(self, job):
        self.job = job
        self.violations = []
        self.error = None
        self.meta = None
        self.reps = {}
        self.tensors = []
        self.tensor_bytes = 0
        self.done = False
        self.worker_status = None
        self.memory_killed = False
        # On cgroup v1 a container at its limit can thrash on page cache for minutes instead of being
        # OOM-killed; the supervisor kills the worker itself when its anonymous memory nears the limit.
        self.memory_high = int(job['memoryBytes'] * 0.9) if job.get('memoryBytes') else None

    def violation(self, check, detail):
        if len(self.violations) < 32:
            self.violations.append({'check': check, 'detail': str(detail)[:500]})

    def on_frame(self, msg, payload):
        t = msg.get('t')
        now = time.perf_counter()
        if t == 'violation':
            self.violation(str(msg.get('check', 'unknown')), msg.get('detail', ''))
        elif t == 'meta' and self.meta is None:
            self.meta = msg
        elif t == 'begin':
            rep = self.reps.setdefault(int(msg['rep']), {})
            if 'begin' in rep:
                self.violation('protocol', 'repeated begin frame for rep %s' % msg['rep'])
            rep['begin'] = now
        elif t == 'end':
            rep = self.reps.setdefault(int(msg['rep']), {})
            if 'end' in rep or 'begin' not in rep:
                self.violation('protocol', 'unexpected end frame for rep %s' % msg['rep'])
            rep['end'] = now
            rep['clocks'] = msg.get('clocks')
        elif t == 'rep':
            self.reps.setdefault(int(msg['rep']), {})['obs'] = msg.get('obs')
        elif t == 'tensor':
            self.tensor_bytes += len(payload)
            if self.tensor_bytes > int(self.job.get('maxCaptureBytes', 1 << 30)):
                raise ValueError('captured tensors exceed maxCaptureBytes')
            self.tensors.append((str(msg['name']), [int(x) for x in msg['shape']], payload))
        elif t == 'done':
            self.done = True
        elif t == 'error':
            if self.error is None:
                self.error = {'type': str(msg.get('type')), 'detail': str(msg.get('detail'))[-4000:]}
        else:
            self.violation('protocol', 'unknown frame type %r' % (t,))

    def run(self):
        r, w = os.pipe()
        env = {k: v for k, v in os.environ.items() if k != 'CONCLAVE_JOB'}  # image env (CUDA paths) stays
        env.update({'HOME': '/tmp', 'PYTHONDONTWRITEBYTECODE': '1',
               'OMP_NUM_THREADS': str(self.job['threads']), 'MKL_NUM_THREADS': str(self.job['threads']),
               'TORCHINDUCTOR_CACHE_DIR': '/cache/inductor', 'TRITON_CACHE_DIR': '/cache/triton'})
        os.set_inheritable(w, True)
        pid = os.posix_spawn(sys.executable, [sys.executable, '-I', WORKER, str(w), json.dumps(self.job)], env)
        os.close(w)
        reader = protocol.FrameReader(int(self.job.get('maxCaptureBytes', 1 << 30)))
        eof = False
        try:
            while not eof:
                ready, _, _ = select.select([r], [], [], 0.2)
                if ready:
                    chunk = os.read(r, 1 << 20)
                    if not chunk:
                        eof = True
                    reader.feed(chunk)
                    for msg, payload in reader.frames():
                        self.on_frame(msg, payload)
                self.reap(pid)
                if self.memory_high and self.worker_status is None and not self.memory_killed:
                    used = _anon_memory()
                    if used is not None and used > self.memory_high:
                        self.memory_killed = True
                        os.kill(pid, signal.SIGKILL)
                if self.worker_status is not None and not ready:
                    # the worker is gone; a descendant may still hold the pipe open: stop reading
                    eof = True
        except ValueError as e:
            self.violation('protocol', str(e))
        os.close(r)
        strays = [p for p in _other_pids() if p != pid]
        if strays:
            self.violation('process-spawn', '%d process(es) left behind by the submission' % len(strays))
        self.kill_all(pid)

    def reap(self, worker_pid):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == worker_pid:
                self.worker_status = status

    def kill_all(self, worker_pid):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.worker_status is None:
                try:
                    os.kill(worker_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.reap(worker_pid)
            if not _other_pids() and self.worker_status is not None:
                return
            time.sleep(0.02)

    def outcome(self):
        st = self.worker_status
        sig = os.WTERMSIG(st) if st is not None and os.WIFSIGNALED(st) else None
        code = os.WEXITSTATUS(st) if st is not None and os.WIFEXITED(st) else None
        if sig == signal.SIGSYS:
            self.violation('denied-syscall', 'the worker was killed by the seccomp profile (SIGSYS)')
        if self.violations:
            return 'violation'
        if sig == signal.SIGKILL and (self.memory_killed or _oom_kills() > 0):
            return 'oom'
        if self.done and code == 0 and self.error is None:
            return 'completed'
        return 'crashed'

    def write(self, out_dir):
        status = self.outcome()
        st = self.worker_status
        result = {
            'version': 1, 'mode': self.job['mode'], 'status': status, 'violations': self.violations,
            'error': self.error, 'meta': self.meta,
            'cpuSeconds': sum(os.times()[:4]),  # own + reaped children (user + system)
            'worker': {'exitCode': os.WEXITSTATUS(st) if st is not None and os.WIFEXITED(st) else None,
                       'signal': os.WTERMSIG(st) if st is not None and os.WIFSIGNALED(st) else None},
            'reps': [{'rep': k, 'wall': (v['end'] - v['begin']) if 'begin' in v and 'end' in v else None,
                      'clocks': v.get('clocks'), 'obs': v.get('obs')} for k, v in sorted(self.reps.items())],
        }
        _wipe(out_dir)
        if status == 'completed':
            protocol.write_capture_file(os.path.join(out_dir, 'captures.bin'), {'mode': self.job['mode']}, self.tensors)
        protocol.write_json_file(os.path.join(out_dir, 'result.json'), result)


def main():
    # As PID 1 the supervisor ignores signals it has no handler for: the worker cannot kill it.
    _set_not_dumpable()
    job = json.loads(os.environ['CONCLAVE_JOB'])
    sup = Supervisor(job)
    sup.run()
    sup.write(job.get('resultDir', '/result'))


if __name__ == '__main__':
    main()
