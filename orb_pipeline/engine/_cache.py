"""Keep numba's on-disk cache of the engine's kernels in sync with all of their sources.

numba invalidates a cached kernel only when the kernel's own file changes, not when a helper it
inlines from another module does, so an edited ``rules.py`` could leave stale kernels behind.
While the engine's modules are imported (which is when numba fixes each kernel's cache location),
``NUMBA_CACHE_DIR`` is pointed at a sub-directory named after a hash of every engine source file:
any edit starts a fresh cache. Without ``NUMBA_CACHE_DIR`` numba's default locations are used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator

from numba.core import config


def sources_fingerprint() -> str:
    directory = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            with open(os.path.join(directory, name), "rb") as handle:
                digest.update(name.encode() + b"\0" + handle.read())
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def engine_cache_dir() -> Iterator[None]:
    base = config.CACHE_DIR
    if not base:
        yield
        return
    config.CACHE_DIR = os.path.join(base, "orb_engine-" + sources_fingerprint())
    try:
        yield
    finally:
        config.CACHE_DIR = base
