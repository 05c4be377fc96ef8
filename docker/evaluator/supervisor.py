"""Container entrypoint (PID 1). Never imports torch or submission code.

1. starts the worker (python3 -I worker.py FD JOB ACKFD) with a pipe as its only channel back, plus a
   one-byte-per-repetition ack pipe;
2. timestamps the worker's begin/end frames with its own clock (the wall time the MFU is computed from);
   the worker waits for the ack of its begin frame before it starts its clocks and calls the submission,
   so this window always contains the worker's own, however late the supervisor reads a frame;
3. when the worker has exited, kills every other process left in the container (kill(-1) from PID 1),
   reaps them, wipes the result directory and only then writes result.json and captures.bin.
No submission code is alive while the result is written, so nothing it did (torch.save, numpy.save, a
pre-written or linked file in /result) can survive into the result.

Miner containers use the stdout channel instead of a result directory (job "channel": "stdout"): the
worker's stdout goes to a pipe (forwarded as capped 'stdout' frames), so fd 1 carries only the
supervisor's frames: result, captures, the compile cache's files. Nothing the submission writes reaches
a host directory, and every byte that leaves is capped here and on the host.
Sketch mode (job "sketch"): the worker leaves its tensors in /tmp; after it and every stray are dead the
supervisor asks the host for the projection seed (a 'need-seed' frame, answered on stdin) and a fresh,
trusted sketcher process (no submission code) projects them.
"""
import json
import os
import select
import shutil
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conclave_eval import protocol  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worker.py')
SKETCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sketcher.py')
CAPTURE_DIR = protocol.CAPTURE_DIR
# below this much free space a tmpfs counts as filled: the submission hit its disk allowance
DISK_SLACK_BYTES = 256 << 10


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


def _disk_full(path):
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    if st.f_bavail * st.f_frsize < DISK_SLACK_BYTES or (st.f_files > 0 and st.f_favail == 0):
        return st.f_blocks * st.f_frsize
    return None


def _read_seed(timeout):
    """One line of hex from stdin (the host writes it only after the worker is gone)."""
    deadline = time.monotonic() + timeout
    buf = b''
    while b'\n' not in buf and len(buf) < 256:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError('no sketch seed on stdin within %ss' % timeout)
        ready, _, _ = select.select([0], [], [], left)
        if ready:
            chunk = os.read(0, 256)
            if not chunk:
                break
            buf += chunk
    seed = buf.split(b'\n')[0].decode('ascii', 'replace').strip()
    if len(seed) < 16 or len(seed) > 128 or any(c not in '0123456789abcdef' for c in seed):
        raise RuntimeError('bad sketch seed on stdin')
    return seed


def _cache_files(root, max_bytes, max_files):
    """Regular files under root (no links, fifos or devices), depth and size bounded."""
    total, count = 0, 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir.count('/') > 32:
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or len(rel) > 512 or total + st.st_size > max_bytes or count >= max_files:
                    continue
                with os.fdopen(os.dup(fd), 'rb') as f:
                    data = f.read(st.st_size + 1)
                if len(data) != st.st_size:
                    continue
                total += len(data)
                count += 1
                yield rel, st.st_mode & 0o755, data
            finally:
                os.close(fd)


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
        self.ack_w = None
        # On cgroup v1 a container at its limit can thrash on page cache for minutes instead of being
        # OOM-killed; the supervisor kills the worker itself when its anonymous memory nears the limit.
        self.memory_high = int(job['memoryBytes'] * 0.9) if job.get('memoryBytes') else None
        self.channel = job.get('channel') == 'stdout'
        self.out_cap = int(job.get('outputCapBytes', 64 << 10))
        self.out_sent = 0
        self.out_truncated = False
        self.tensor_files = []
        self.sketch = None
        self.infra_error = None

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
            # the worker starts its clocks and the submission only after this byte: our window
            # [begin, end] then contains the worker's, however late we were scheduled to read the frame
            if self.ack_w is not None:
                try:
                    os.write(self.ack_w, b'\x01')
                except OSError:
                    pass
        elif t == 'end':
            rep = self.reps.setdefault(int(msg['rep']), {})
            if 'end' in rep or 'begin' not in rep:
                self.violation('protocol', 'unexpected end frame for rep %s' % msg['rep'])
            rep['end'] = now
            rep['clocks'] = msg.get('clocks')
        elif t == 'rep':
            self.reps.setdefault(int(msg['rep']), {})['obs'] = msg.get('obs')
        elif t == 'tensor-file' and self.job.get('sketch'):
            name, shape, path = str(msg.get('name')), [int(x) for x in msg.get('shape', [])], str(msg.get('file'))
            if os.path.dirname(path) != CAPTURE_DIR or len(self.tensor_files) >= 100000:
                self.violation('protocol', 'bad tensor-file frame')
            else:
                self.tensor_files.append({'name': name, 'shape': shape, 'file': path})
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
        ack_r, self.ack_w = os.pipe()
        os.set_inheritable(ack_r, True)
        env = {k: v for k, v in os.environ.items() if k != 'CONCLAVE_JOB'}  # image env (CUDA paths) stays
        env.update({'HOME': '/tmp', 'PYTHONDONTWRITEBYTECODE': '1',
               'OMP_NUM_THREADS': str(self.job['threads']), 'MKL_NUM_THREADS': str(self.job['threads']),
               'TORCHINDUCTOR_CACHE_DIR': '/cache/inductor', 'TRITON_CACHE_DIR': '/cache/triton'})
        os.set_inheritable(w, True)
        self.env = env
        self.seed_cache()
        actions = [(os.POSIX_SPAWN_OPEN, 0, '/dev/null', os.O_RDONLY, 0)]  # stdin carries the host's seed
        out_r = None
        if self.channel:  # fd 1 is the result channel: the worker's stdout goes through us, capped
            out_r, out_w = os.pipe()
            actions.append((os.POSIX_SPAWN_DUP2, out_w, 1))
        pid = os.posix_spawn(sys.executable, [sys.executable, '-I', WORKER, str(w), json.dumps(self.job), str(ack_r)], env,
                             file_actions=actions)
        os.close(w)
        os.close(ack_r)
        if out_r is not None:
            os.close(out_w)
            os.set_blocking(out_r, False)
        reader = protocol.FrameReader(int(self.job.get('maxCaptureBytes', 1 << 30)))
        eof = False
        try:
            while not eof:
                ready, _, _ = select.select([r] + ([out_r] if out_r is not None else []), [], [], 0.2)
                if out_r is not None and out_r in ready:
                    if not self.forward_stdout(out_r):
                        os.close(out_r)
                        out_r = None
                    ready = [x for x in ready if x != out_r]
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
        os.close(self.ack_w)
        self.ack_w = None
        strays = [p for p in _other_pids() if p != pid]
        if strays:
            self.violation('process-spawn', '%d process(es) left behind by the submission' % len(strays))
        self.kill_all(pid)
        if out_r is not None:
            while self.forward_stdout(out_r):
                pass
            os.close(out_r)
        for path in ('/tmp', '/cache'):
            size = _disk_full(path)
            if size is not None and self.job['mode'] == 'miner':
                self.violation('disk-limit', '%s is full (%d-byte limit): the submission wrote past its disk allowance' % (path, size))
        if _exit_info(self.worker_status)[1] == signal.SIGSYS:
            self.violation('denied-syscall', 'the worker was killed by the seccomp profile (SIGSYS)')

    def forward_stdout(self, fd):
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        room = self.out_cap - self.out_sent
        if room > 0:
            protocol.send_frame(1, {'t': 'stdout'}, chunk[:room])
            self.out_sent += min(room, len(chunk))
        if len(chunk) > room:
            self.out_truncated = True
        return True

    def seed_cache(self):
        """Copies the host's compile cache for this code (read-only /cache-seed) into the /cache tmpfs."""
        if not self.job.get('cacheSeed') or not os.path.isdir('/cache-seed'):
            return
        try:
            shutil.copytree('/cache-seed', '/cache', symlinks=True, dirs_exist_ok=True)
        except (OSError, shutil.Error):
            _wipe('/cache')  # a partial cache is worse than none

    def run_sketcher(self):
        """After every submission process is dead: get the seed from the host, project the tensors."""
        protocol.send_frame(1, {'t': 'need-seed'})
        try:
            seed = _read_seed(float(self.job.get('sketchSeedTimeoutSec', 60)))
        except RuntimeError as e:
            self.infra_error = str(e)
            return
        spec = {'seed': seed, 'dim': int(self.job['sketch']['dim']), 'model': self.job['model'],
                'modelSeed': int(self.job['seed']), 'device': self.job.get('device', 'cpu'),
                'threads': int(self.job['threads']), 'tensors': self.tensor_files}
        r, w = os.pipe()
        jr, jw = os.pipe()
        os.set_inheritable(w, True)
        actions = [(os.POSIX_SPAWN_DUP2, jr, 0), (os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0)]
        pid = os.posix_spawn(sys.executable, [sys.executable, '-I', SKETCHER, str(w)], self.env, file_actions=actions)
        os.close(w)
        os.close(jr)
        with os.fdopen(jw, 'wb') as f:
            f.write(json.dumps(spec).encode())
        reader = protocol.FrameReader(64 << 20)
        sketches, changed, bad, done = [], {}, None, False
        deadline = time.monotonic() + float(self.job.get('sketchTimeoutSec', 300))
        status = None
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([r], [], [], 0.5)
                if not ready:
                    continue
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    break
                reader.feed(chunk)
                for msg, payload in reader.frames():
                    if msg.get('t') == 'sketch':
                        sketches.append((str(msg['name']), [len(payload) // 4], payload))
                    elif msg.get('t') == 'changed':
                        changed[str(msg['name'])] = int(msg['changed'])
                    elif msg.get('t') == 'bad-input':
                        bad = str(msg.get('detail'))
                    elif msg.get('t') == 'done':
                        done = True
        finally:
            os.close(r)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(pid, 0)
        if bad is not None:
            self.violation('protocol', 'captured tensors unusable: %s' % bad)
        elif not done:
            self.infra_error = 'the sketcher did not finish (status %s)' % status
        else:
            self.tensors = sketches
            self.sketch = {'dim': spec['dim'], 'changed': changed}

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
        code, sig = _exit_info(self.worker_status)
        if self.violations:
            return 'violation'
        if sig == signal.SIGKILL and (self.memory_killed or _oom_kills() > 0):
            return 'oom'
        if self.done and code == 0 and self.error is None:
            return 'completed'
        return 'crashed'

    def write(self, out_dir):
        status = self.outcome()
        code, sig = _exit_info(self.worker_status)
        result = {
            'version': 1, 'mode': self.job['mode'], 'status': status, 'violations': self.violations,
            'error': self.error, 'meta': self.meta,
            'cpuSeconds': sum(os.times()[:4]),  # own + reaped children (user + system)
            'worker': {'exitCode': code, 'signal': sig},
            'reps': [{'rep': k, 'wall': (v['end'] - v['begin']) if 'begin' in v and 'end' in v else None,
                      'clocks': v.get('clocks'), 'obs': v.get('obs')} for k, v in sorted(self.reps.items())],
        }
        if self.sketch is not None:
            result['sketch'] = self.sketch
        if self.infra_error is not None:
            result['infraError'] = self.infra_error[:500]
        if self.channel:
            if self.out_truncated:
                result['stdoutTruncated'] = True
            protocol.send_frame(1, {'t': 'result'}, json.dumps(result, separators=(',', ':')).encode())
            if status == 'completed':
                protocol.send_frame(1, {'t': 'captures'}, *protocol.capture_parts({'mode': self.job['mode']}, self.tensors))
                if self.job.get('cacheReturn'):
                    for rel, mode, data in _cache_files('/cache', int(self.job.get('cacheMaxBytes', 0)), 20000):
                        protocol.send_frame(1, {'t': 'cache-file', 'path': rel, 'mode': mode}, data)
            protocol.send_frame(1, {'t': 'end'})
            return
        _wipe(out_dir)
        if status == 'completed':
            protocol.write_capture_file(os.path.join(out_dir, 'captures.bin'), {'mode': self.job['mode']}, self.tensors)
        protocol.write_json_file(os.path.join(out_dir, 'result.json'), result)


def _exit_info(status):
    """(exit code, terminating signal) of a waitpid status; None where it does not apply or not reaped yet."""
    if status is None:
        return None, None
    return (os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)


def main():
    # As PID 1 the supervisor ignores signals it has no handler for: the worker cannot kill it.
    _set_not_dumpable()
    job = json.loads(os.environ['CONCLAVE_JOB'])
    sup = Supervisor(job)
    if sup.channel:
        protocol.send_frame(1, {'t': 'hello', 'v': 1})
    sup.run()
    if job.get('sketch') and not sup.violations and sup.outcome() == 'completed':
        sup.run_sketcher()
    sup.write(job.get('resultDir', '/result'))


if __name__ == '__main__':
    main()
