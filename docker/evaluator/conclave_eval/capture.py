"""Capture: linear sketches of gradients (every step), final weights and final logits, and the result
object's fields, all read through references bound before the submission was imported.

Sketch of a tensor keyed `key` (a parameter name, or "logits") under a hex seed, dimension `dim`:
  x = the tensor flattened (n values), k = min(dim, n), rows = ceil(n / k), x zero-padded to rows * k
  r = `rows` signs +-1: torch.randint(0, 2, (rows,), generator=Generator().manual_seed(u63)) * 2 - 1,
      u63 = first 8 bytes (big-endian) of sha256("conclave-sketch:" + seed + ":" + key) & (2^63 - 1)
  sketch = r^T . x.view(rows, k)   (k values; float64 accumulation on CPU, float32 on CUDA)
It is linear, so relative errors between sketches estimate relative errors between the tensors (exactly
for a scaling), and the reference pass computes the very same sketches with the same seed. The seed
reaches the worker only when its timed window opens (with the data seed).
"""
import struct
import types

from . import protocol, refs

_ROW_CHUNK_VALUES = 1 << 22


def _u63(seed, key):
    return struct.unpack('>Q', refs.sha256(('conclave-sketch:%s:%s' % (seed, key)).encode()).digest()[:8])[0] & ((1 << 63) - 1)


class Sketcher:
    def __init__(self, seed, dim, device):
        self.seed = seed
        self.dim = int(dim)
        self.device = device
        self.acc = refs.float64 if device.type == 'cpu' else refs.float32
        self._signs = {}

    def signs(self, key, rows):
        s = self._signs.get(key)
        if s is None or s.shape[0] != rows:
            g = refs.Generator()
            refs.manual_seed(g, _u63(self.seed, key))
            s = refs.to(refs.randint(0, 2, (rows,), generator=g) * 2 - 1, device=self.device, dtype=self.acc)
            self._signs[key] = s
        return s

    def _sketch(self, tensor, key):
        flat = refs.reshape(refs.detach(tensor), (-1,))
        n = refs.numel(flat)
        if n == 0:
            return refs.zeros(0, dtype=refs.float32), 0
        k = min(self.dim, n)
        rows = -(-n // k)
        r = self.signs(key, rows)
        if rows == 1:  # a tensor no larger than the sketch: its values under one sign, exactly
            return refs.contiguous(refs.to(refs.to(flat, dtype=self.acc) * r[0], device='cpu', dtype=refs.float32)), k
        out = refs.zeros(k, dtype=self.acc, device=flat.device)
        full = n // k
        step = max(1, _ROW_CHUNK_VALUES // k)
        for start in range(0, full, step):
            end = min(full, start + step)
            block = refs.to(refs.view(flat[start * k:end * k], (end - start, k)), dtype=self.acc)
            out += refs.mv(refs.t_t(block), r[start:end])
        if full * k < n:
            tail = refs.to(flat[full * k:], dtype=self.acc)
            out[:n - full * k] += tail * r[full]
        return refs.contiguous(refs.to(out, device='cpu', dtype=refs.float32)), k

    def sketch(self, tensor, key):
        """(float32 little-endian bytes, length) of the sketch of `tensor`."""
        vals, k = self._sketch(tensor, key)
        return refs.numpy(vals).tobytes(), k

    def sketch_values(self, tensor, key):
        """(bytes, every value finite, length): a non-finite gradient entry makes its sketch non-finite."""
        vals, k = self._sketch(tensor, key)
        return refs.numpy(vals).tobytes(), bool(refs.item(refs.isfinite(vals).all())) if k else True, k


class TensorBatch:
    """Sketches sent a few per message: {'t': 'tensors', 'items': [[name, length], ...]} + their float32 bytes."""
    LIMIT = protocol.MAX_MESSAGE - (32 << 10)  # room for the header

    def __init__(self, send):
        self.send = send
        self.items, self.parts, self.size = [], [], 0

    def add(self, name, data, k):
        if self.size + len(data) > self.LIMIT:
            self.flush()
        self.items.append([name, k])
        self.parts.append(data)
        self.size += len(data)

    def flush(self):
        if self.items:
            self.send(protocol.pack_message({'t': 'tensors', 'items': self.items}, b''.join(self.parts)))
            self.items, self.parts, self.size = [], [], 0


def changed_count(p, init):
    """How many coordinates of a parameter differ from its init copy (taken before the window)."""
    if p.shape != init.shape:
        return -1
    return int(refs.item(refs.t_sum(refs.t_ne(refs.detach(p), init))))


_FIELDS = ('final_logits', 'total_tokens', 'final_loss')
_MISSING = object()


def _plain_field(result, name):
    """A field stored on the object itself (instance dict, __slots__ slot or namedtuple position), read
    without running any of the submission's code; _MISSING when it is computed (property, __getattr__)."""
    cls = type(result)
    fields = getattr(cls, '_fields', None)
    if isinstance(result, tuple) and isinstance(fields, tuple) and name in fields:
        i = fields.index(name)
        return refs.tuple_getitem(result, i) if i < len(result) else _MISSING
    try:
        d = refs.object_getattribute(result, '__dict__')
    except AttributeError:
        d = None
    if type(d) is dict and name in d:
        return refs.dict_get(d, name)
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None:
            if type(slot) is types.MemberDescriptorType:
                try:
                    return slot.__get__(result, cls)
                except AttributeError:
                    return _MISSING
            return _MISSING
    return _MISSING


def read_result(result):
    """The three result fields as plain values, or the reasons they are not: a field must be stored on
    the returned object (not computed by a property), final_logits a torch.Tensor, total_tokens an int,
    final_loss a float, int or one-element tensor."""
    problems, values = [], {}
    for name in _FIELDS:
        v = _plain_field(result, name)
        if v is _MISSING:
            problems.append('%s is missing or computed (a property / __getattr__); return it as a plain field' % name)
        values[name] = v
    logits = values['final_logits']
    if logits is not _MISSING and type(logits) is not refs.Tensor:
        problems.append('final_logits is a %s, not a torch.Tensor' % type(logits).__name__)
        logits = None
    tokens = values['total_tokens']
    if tokens is not _MISSING and type(tokens) is not int:
        problems.append('total_tokens is a %s, not an int' % type(tokens).__name__)
        tokens = None
    loss = values['final_loss']
    if loss is not _MISSING:
        if type(loss) in (float, int):
            loss = float(loss)
        elif type(loss) is refs.Tensor and refs.numel(loss) == 1:
            loss = float(refs.item(refs.detach(loss)))
        else:
            problems.append('final_loss is a %s, not a float' % type(loss).__name__)
            loss = None
    return {
        'problems': problems,
        'logits': logits if logits is not _MISSING else None,
        'totalTokens': tokens if tokens is not _MISSING else None,
        'finalLoss': loss if loss is not _MISSING else None,
    }
