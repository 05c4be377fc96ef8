"""The supervisor (PID 1 of the container, started by supervisor.py). Never imports torch or submission code.

1. starts the fork server (zygote.py: imports torch, binds the references workers use) and, for each
   repetition, has it fork a fresh worker (conclave_eval/worker.py) holding three descriptors: a
   SOCK_SEQPACKET socket back to us (every message carries its sender's pid), the read end of a seed
   pipe and a stdout pipe;
2. times each repetition itself: the window opens when it writes the data and sketch seeds to the seed
   pipe (after the worker said 'ready') and closes when it sees the worker process gone (pidfd). The
   worker captures everything inside that window; no frame it writes can end it;
3. after each worker: kills every process the submission left (process-spawn), checks the disk
   allowance, reaps the worker; after the last: kills everything and only then emits the result.
The compile cache that goes back to the host is a snapshot taken when the first timed repetition's
worker is ready, before its seeds exist in the container (conclave_eval/cachefiles.py).

Miner containers use the stdout channel (job "channel": "stdout"): fd 1 carries only this process's
frames (hello, stdout, cache-file, result, captures, end); the reference container writes result.json
and captures.bin into its result directory. Outside a container (npm run gpu-check without Docker) the
same code runs as an ordinary process: it becomes the subreaper of its descendants and kills only those.
"""
import json
import os

from . import cachefiles, procs, protocol
from .forkserver import ForkServer, ForkServerError
from .repetition import RepetitionRun

DEFAULT_PATHS = {'tmp': '/tmp', 'cache': '/cache', 'cacheSeed': '/cache-seed', 'result': '/result'}
# what a worker may know: the job minus every seed it must not see before its window
_WORKER_JOB_KEYS = ('mode', 'model', 'data', 'optimizer', 'threads', 'device', 'submission', 'writablePrefixes',
                    'allowedExecutables', 'sketchDim', 'autocast')


class Supervisor:
    def __init__(self, job):
        self.job = job
        self.paths = dict(DEFAULT_PATHS, **(job.get('paths') or {}))
        self.violations = []
        self.reaper = procs.Reaper()
        self.channel = job.get('channel') == 'stdout'
        self.out_cap = int(job.get('outputCapBytes', 64 << 10))
        self.out_sent = 0
        self.out_truncated = False
        self.max_capture = int(job.get('maxCaptureBytes', 1 << 30))
        # On cgroup v1 a container at its limit can thrash on page cache for minutes instead of being
        # OOM-killed; the supervisor kills the worker itself when its anonymous memory nears the limit.
        self.memory_high = int(job['memoryBytes'] * 0.9) if job.get('memoryBytes') else None
        self.data_seeds = [str(s) for s in job['dataSeeds']]
        self.sketch_seed = str(job['sketchSeed'])
        self.worker_job = {k: job[k] for k in _WORKER_JOB_KEYS if k in job}
        self.reps = []
        self.tensor_bytes = 0
        self.meta = None
        self.error = None
        self.zygote = None
        self.cache_sent = False

    def violation(self, check, detail):
        if len(self.violations) < 32:
            self.violations.append({'check': check, 'detail': str(detail)[:500]})

    def env(self):
        env = {k: v for k, v in os.environ.items() if k != 'CONCLAVE_JOB'}  # image env (CUDA paths) stays
        cache, threads = self.paths['cache'], str(self.job['threads'])
        env.update({'HOME': self.paths['tmp'], 'TMPDIR': self.paths['tmp'], 'PYTHONDONTWRITEBYTECODE': '1',
                    'OMP_NUM_THREADS': threads, 'MKL_NUM_THREADS': threads,
                    'TORCHINDUCTOR_CACHE_DIR': os.path.join(cache, 'inductor'), 'TRITON_CACHE_DIR': os.path.join(cache, 'triton')})
        return env

    def forward_stdout(self, fd):
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        if not self.channel:
            return True
        room = self.out_cap - self.out_sent
        if room > 0:
            protocol.send_frame(1, {'t': 'stdout'}, chunk[:room])
            self.out_sent += min(room, len(chunk))
        if len(chunk) > room:
            self.out_truncated = True
        return True

    def send_cache_snapshot(self):
        """The compile cache as it is now (no timed repetition has its seeds yet) goes to the host."""
        if self.cache_sent or not (self.channel and self.job.get('cacheReturn')):
            return
        self.cache_sent = True
        for rel, mode, data in cachefiles.cache_files(self.paths['cache'], int(self.job.get('cacheMaxBytes', 0)), 20000):
            protocol.send_frame(1, {'t': 'cache-file', 'path': rel, 'mode': mode}, data)

    def run(self):
        if self.job.get('cacheSeed'):
            cachefiles.seed_cache(self.paths['cacheSeed'], self.paths['cache'])
        try:
            self.zygote = ForkServer(self.env(), {k: self.job[k] for k in ('model', 'data', 'optimizer', 'threads', 'device', 'initSeed') if k in self.job})
        except ForkServerError as e:
            self.error = {'type': 'ForkServerError', 'detail': str(e)}
            return
        first_timed = int(self.job.get('warmupRepetitions', 0)) if self.job['mode'] == 'miner' else None
        try:
            for rep in range(int(self.job['repetitions'])):
                on_ready = self.send_cache_snapshot if rep == first_timed else None
                r = RepetitionRun(self, rep, on_ready).run()
                self.reps.append(r)
                self.tensor_bytes += r.tensor_bytes
                if r.meta is not None:
                    self.meta = r.meta
                for path in (self.paths['tmp'], self.paths['cache']):
                    size = procs.disk_full(path)
                    if size is not None and self.job['mode'] == 'miner':
                        self.violation('disk-limit', '%s is full (%d-byte limit): the submission wrote past its disk allowance' % (path, size))
                if self.violations or not r.done or r.error or r.memory_killed:
                    break
        except (ForkServerError, RuntimeError, ValueError, OSError) as e:
            self.error = {'type': type(e).__name__, 'detail': str(e)[-2000:]}
        finally:
            self.zygote.stop()
            procs.kill_everything(self.reaper)

    def outcome(self):
        if self.violations:
            return 'violation'
        last = self.reps[-1] if self.reps else None
        if last is not None and (last.memory_killed or (procs.exit_info(last.status)[1] == 9 and procs.oom_kills() > 0)):
            return 'oom'
        if self.error is None and len(self.reps) == int(self.job['repetitions']) and all(
                r.done and r.error is None and procs.exit_info(r.status)[0] == 0 for r in self.reps):
            return 'completed'
        return 'crashed'

    def result(self):
        status = self.outcome()
        last = self.reps[-1] if self.reps else None
        code, sig = procs.exit_info(last.status if last else None)
        error = self.error or next((r.error for r in self.reps if r.error), None)
        return status, {
            'version': 2, 'mode': self.job['mode'], 'status': status, 'violations': self.violations, 'error': error,
            'meta': self.meta, 'cpuSeconds': sum(os.times()[:4]),  # own + reaped children (user + system)
            'worker': {'exitCode': code, 'signal': sig},
            'reps': [{'rep': r.rep, 'wall': r.wall, 'obs': r.obs} for r in self.reps],
            **({'stdoutTruncated': True} if self.out_truncated else {}),
        }

    def write(self):
        status, result = self.result()
        tensors = [t for r in self.reps for t in r.tensors]
        if self.channel:
            protocol.send_frame(1, {'t': 'result'}, json.dumps(result, separators=(',', ':')).encode())
            if status == 'completed':
                protocol.send_frame(1, {'t': 'captures'}, *protocol.capture_parts({'mode': self.job['mode']}, tensors))
            protocol.send_frame(1, {'t': 'end'})
            return
        out_dir = self.paths['result']
        procs.wipe(out_dir)
        if status == 'completed':
            protocol.write_capture_file(os.path.join(out_dir, 'captures.bin'), {'mode': self.job['mode']}, tensors)
        protocol.write_json_file(os.path.join(out_dir, 'result.json'), result)


def main():
    # As PID 1 the supervisor ignores signals it has no handler for: the worker cannot kill it.
    procs.set_not_dumpable()
    procs.set_subreaper()
    job = json.loads(os.environ['CONCLAVE_JOB'])
    sup = Supervisor(job)
    if sup.channel:
        protocol.send_frame(1, {'t': 'hello', 'v': 2})
    sup.run()
    sup.write()

