"""Atomic file replacement: a reader sees the old file or the new one, never a part of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(target: Path | str) -> Iterator[Path]:
    """A temporary path in ``target``'s directory (created if missing) for the caller to write;
    when the block ends normally the file is fsynced and renamed over ``target``, when it raises
    the temporary file is removed and ``target`` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix="." + target.name, suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(target: Path | str, data: bytes) -> None:
    """Replace ``target`` with ``data`` (see :func:`replacing`)."""
    with replacing(target) as temporary:
        temporary.write_bytes(data)
