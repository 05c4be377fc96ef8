"""Frames between worker and supervisor, and the capture file the host reads. Stdlib only.

Frame: u32 LE json length, u32 LE payload length, json (utf-8), payload bytes.
Capture file: b"CCAP1\\n", u32 LE header length, header json {"meta", "tensors": [{name, shape, offset,
length}]}, then the float32 little-endian data blob.
"""
import json
import os
import struct

MAX_JSON = 1 << 20
# one message on a SOCK_SEQPACKET socket (worker -> supervisor, zygote <-> supervisor): json + payload
MAX_MESSAGE = 192 << 10


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


_JOIN_MAX = 1 << 20


def send_frame(fd, msg, *payload_parts):
    """One frame whose payload is the parts in order. Up to 1 MiB it goes out as one buffer (a small
    frame is then one atomic pipe write); larger payloads (a capture frame can be ~1 GiB) are written
    part by part instead of joined, which would double what the container holds."""
    head = json.dumps(msg, separators=(',', ':')).encode()
    size = sum(len(p) for p in payload_parts)
    prefix = struct.pack('<II', len(head), size) + head
    if size <= _JOIN_MAX:
        _write_all(fd, b''.join([prefix, *payload_parts]))
        return
    _write_all(fd, prefix)
    for part in payload_parts:
        _write_all(fd, part)


class FrameReader:
    """Incremental parser: feed() bytes, frames() yields complete (msg, payload) pairs."""

    def __init__(self, max_payload):
        self.buf = bytearray()
        self.max_payload = max_payload

    def feed(self, chunk):
        self.buf += chunk

    def frames(self):
        while len(self.buf) >= 8:
            hl, pl = struct.unpack_from('<II', self.buf, 0)
            if hl > MAX_JSON or pl > self.max_payload:
                raise ValueError('frame too large: json %d payload %d' % (hl, pl))
            if len(self.buf) < 8 + hl + pl:
                return
            with memoryview(self.buf) as view:  # one copy out of the buffer, not two
                msg = json.loads(bytes(view[8:8 + hl]))
                payload = bytes(view[8 + hl:8 + hl + pl])
            del self.buf[:8 + hl + pl]
            if not isinstance(msg, dict):
                raise ValueError('frame is not a JSON object')
            yield msg, payload


def _capture_head(meta, tensors):
    entries, offset = [], 0
    for name, shape, data in tensors:
        entries.append({'name': name, 'shape': shape, 'offset': offset, 'length': len(data)})
        offset += len(data)
    head = json.dumps({'meta': meta, 'tensors': entries}, separators=(',', ':')).encode()
    return b'CCAP1\n' + struct.pack('<I', len(head)) + head


def capture_parts(meta, tensors):
    """The capture file's bytes as parts (head, then each tensor's data): a file, or one frame's payload."""
    return [_capture_head(meta, tensors)] + [data for _, _, data in tensors]


def write_capture_file(path, meta, tensors):
    """tensors: list of (name, shape, bytes). Written with O_EXCL|O_NOFOLLOW: never through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, 'wb') as f:
        for part in capture_parts(meta, tensors):
            f.write(part)


def pack_message(msg, payload=b''):
    head = json.dumps(msg, separators=(',', ':')).encode()
    data = struct.pack('<II', len(head), len(payload)) + head + payload
    if len(data) > MAX_MESSAGE:
        raise ValueError('message of %d bytes is above the %d-byte limit' % (len(data), MAX_MESSAGE))
    return data


def unpack_message(data):
    """(msg, payload) of one seqpacket message; ValueError when it is not exactly one well-formed frame."""
    if len(data) < 8:
        raise ValueError('short message')
    hl, pl = struct.unpack_from('<II', data, 0)
    if hl > MAX_JSON or 8 + hl + pl != len(data):
        raise ValueError('malformed message')
    msg = json.loads(bytes(data[8:8 + hl]))
    if not isinstance(msg, dict):
        raise ValueError('message is not a JSON object')
    return msg, bytes(data[8 + hl:])


def write_json_file(path, obj):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
