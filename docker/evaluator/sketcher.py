"""Sketcher: projects the miner's captured tensors with a seed chosen after the submission has returned.

Started by the supervisor (PID 1) only after the worker and every process it left were killed, so no
submission code is alive or ever imported here. Reads its job (JSON) from stdin: the projection seed (from
the host), the sketch dimension, the model spec and seed, and the tensor files the worker left in /tmp.
Sends frames back over the inherited pipe:
  sketch  {name}          payload: float32 LE CountSketch of the tensor (k = min(dim, numel) values)
  changed {name, changed} for weights: how many coordinates differ from the model's init
  bad-input {detail}      a tensor file is missing or does not match its declared shape
  done
CountSketch: for element i of the tensor keyed `key` (its parameter name, or "logits"), with
a, b = the first two big-endian u32 of sha256("conclave-sketch:" + seed + ":" + key):
  x = i ^ a; x = mix(x); x = mix(x); x ^= x >> 16; x ^= b; x = mix(x); x ^= x >> 16
  where mix(x) = ((x ^ (x >> 16)) * 0x45d9f3b) mod 2^32
  bucket = x mod k, sign = -1 if bit 31 of x else +1; sketch[bucket] += sign * value (float64, then float32).
The host (runtime/evaluate-sketch.ts) computes the same projection of the reference.
"""
import hashlib
import json
import os
import re
import stat
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from conclave_eval import protocol  # noqa: E402
from conclave_eval.model import build_model  # noqa: E402

M32 = 0xffffffff
C = 0x45d9f3b
CHUNK = 1 << 22
NAME = re.compile(r'^rep(\d+)/(grad|weight)/(.+)$')


class BadInput(Exception):
    pass


def salts(seed, key):
    d = hashlib.sha256(('conclave-sketch:%s:%s' % (seed, key)).encode()).digest()
    return struct.unpack('>II', d[:8])


def _mix(x):
    return ((x ^ (x >> 16)) * C) & M32


def count_sketch(values, seed, key, dim):
    n = values.numel()
    if n >= 1 << 32:
        raise BadInput('tensor %s has %d elements (limit 2^32)' % (key, n))
    k = min(dim, n)
    a, b = salts(seed, key)
    flat = values.reshape(-1)
    out = torch.zeros(k, dtype=torch.float64, device=flat.device)
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        x = torch.arange(start, end, dtype=torch.int64, device=flat.device) ^ a
        x = _mix(_mix(x))
        x = x ^ (x >> 16)
        x = _mix(x ^ b)
        x = x ^ (x >> 16)
        sign = 1 - 2 * ((x >> 31) & 1)
        out.index_add_(0, x % k, flat[start:end].double() * sign.double())
    return out.float()


def load(entry):
    shape = [int(s) for s in entry['shape']]
    n = 1
    for s in shape:
        n *= s
    try:
        fd = os.open(entry['file'], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise BadInput('%s: %s' % (entry['name'], e.strerror))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != n * 4:
            raise BadInput('%s: file is not %d float32 values' % (entry['name'], n))
        buf = bytearray(st.st_size)
        view, got = memoryview(buf), 0
        while got < len(buf):
            r = os.readv(fd, [view[got:]])
            if r <= 0:
                raise BadInput('%s: short read' % entry['name'])
            got += r
    finally:
        os.close(fd)
    return torch.frombuffer(buf, dtype=torch.float32) if n else torch.zeros(0)


def main():
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.buffer.read())
    torch.set_num_threads(int(job['threads']))
    device = job.get('device', 'cpu')
    init = None
    try:
        for entry in job['tensors']:
            name = str(entry['name'])
            m = NAME.match(name)
            key = m.group(3) if m else ('logits' if re.match(r'^rep\d+/logits$', name) else None)
            if key is None:
                raise BadInput('unexpected tensor name %r' % name)
            values = load(entry)
            protocol.send_frame(fd, {'t': 'sketch', 'name': name},
                                count_sketch(values.to(device), job['seed'], key, int(job['dim'])).cpu().numpy().tobytes())
            if m and m.group(2) == 'weight':
                if init is None:
                    init = dict(build_model(job['model'], int(job['modelSeed']), 'cpu').named_parameters())
                base = init.get(key)
                if base is not None and base.numel() == values.numel():
                    changed = int((values != base.detach().reshape(-1)).sum())
                    protocol.send_frame(fd, {'t': 'changed', 'name': name, 'changed': changed})
    except BadInput as e:
        protocol.send_frame(fd, {'t': 'bad-input', 'detail': str(e)[:300]})
    protocol.send_frame(fd, {'t': 'done'})
    os._exit(0)


if __name__ == '__main__':
    main()
