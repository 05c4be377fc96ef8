"""The per-code compile cache inside the sandbox (stdlib only, used by the supervisor).

The host's cache for this exact code is mounted read-only at the seed path and copied into the size-capped
cache tmpfs before anything runs. What goes back to the host is a snapshot taken when the first timed
repetition is ready and before its data seed exists in the container: nothing in it can depend on the
data any timed call sees, so the cache can carry compiled code but never a recorded result.
"""
import os
import shutil
import stat

from . import procs


def seed_cache(seed_dir, cache_dir):
    """Copies the host's compile cache for this code into the cache tmpfs; a partial copy is wiped."""
    if not os.path.isdir(seed_dir):
        return
    try:
        shutil.copytree(seed_dir, cache_dir, symlinks=True, dirs_exist_ok=True)
    except (OSError, shutil.Error):
        procs.wipe(cache_dir)


def cache_files(root, max_bytes, max_files):
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
