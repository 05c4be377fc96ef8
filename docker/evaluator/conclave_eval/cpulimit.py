"""The policy's CPU allowance, held by the kernel instead of by a setting the submission can change.

`threads` is what a submission may compute with. torch.set_num_threads is a setting (the per-step and
per-forward checks catch a plain change, but a process that rewrites its own observations, or runs two Python
threads or a forked helper that exits inside its window, changes nothing they read). So the fork server, before
it forks any worker, binds itself to `threads` CPUs (sched_setaffinity) and then installs a seccomp filter of its
own, inherited by every worker and every process a worker starts and never removable, under which
sched_setaffinity answers EPERM. However many threads or processes the submission runs, they share those CPUs.
The supervisor (PID 1, not a descendant of the fork server) keeps the container's whole CPU set for itself.
Stdlib only (ctypes).
"""
import ctypes
import os
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7fff0000
_RET_EPERM = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
_X32 = 0x40000000
# (AUDIT_ARCH_*, sched_setaffinity numbers under it): x86_64 (and its x32 ABI), i386, aarch64, arm
_ARCHES = ((0xc000003e, (203, _X32 | 203)), (0x40000003, (241,)), (0xc00000b7, (122,)), (0x40000028, (241,)))


class CpuLimitError(RuntimeError):
    pass


def _program():
    """BPF: for each known arch, sched_setaffinity -> EPERM; everything else allowed. Layout:
    load arch; per arch: [arch? else next block] load nr; [nr? -> deny]...; allow. Then: allow; deny."""
    blocks = [[('jeq', arch, 0, 'next'), ('ld', 0)] + [('jeq', nr, 'deny', 0) for nr in numbers] + [('ret', _RET_ALLOW)]
              for arch, numbers in _ARCHES]
    starts, pos = [], 1
    for b in blocks:
        starts.append(pos)
        pos += len(b)
    allow_at, deny_at = pos, pos + 1
    out = [struct.pack('HBBI', _LD_W_ABS, 0, 0, 4)]  # seccomp_data.arch
    for bi, block in enumerate(blocks):
        nxt = starts[bi + 1] if bi + 1 < len(blocks) else allow_at
        for j, ins in enumerate(block):
            i = starts[bi] + j

            def rel(label):
                return {'deny': deny_at, 'next': nxt}[label] - i - 1 if isinstance(label, str) else label
            if ins[0] == 'jeq':
                out.append(struct.pack('HBBI', _JEQ_K, rel(ins[2]), rel(ins[3]), ins[1]))
            elif ins[0] == 'ld':
                out.append(struct.pack('HBBI', _LD_W_ABS, 0, 0, 0))  # seccomp_data.nr
            else:
                out.append(struct.pack('HBBI', _RET_K, 0, 0, ins[1]))
    out.append(struct.pack('HBBI', _RET_K, 0, 0, _RET_ALLOW))
    out.append(struct.pack('HBBI', _RET_K, 0, 0, _RET_EPERM))
    return b''.join(out), len(out)


def _install_filter():
    libc = ctypes.CDLL(None, use_errno=True)
    prog, n = _program()
    buf = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
    fprog = SockFprog(n, ctypes.cast(buf, ctypes.c_void_p))
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise CpuLimitError('prctl(PR_SET_NO_NEW_PRIVS) failed: errno %d' % ctypes.get_errno())
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise CpuLimitError('installing the CPU-affinity seccomp filter failed: errno %d' % ctypes.get_errno())


def bind(threads):
    """Binds this process (and everything it will fork) to `threads` CPUs for good; returns them.
    Which CPUs: a random window of the allowed set, so concurrent evaluations spread over the host."""
    allowed = sorted(os.sched_getaffinity(0))
    n = max(1, min(int(threads), len(allowed)))
    start = int.from_bytes(os.urandom(2), 'little') % len(allowed)
    cpus = {allowed[(start + i) % len(allowed)] for i in range(n)}
    os.sched_setaffinity(0, cpus)
    _install_filter()
    try:
        os.sched_setaffinity(0, set(allowed))
    except PermissionError:
        return sorted(cpus)
    raise CpuLimitError('the CPU-affinity filter did not take effect (sched_setaffinity still allowed)')
