"""Atomic file replacement: a reader sees the old file or the new one, never a part of either.

Temporary ("scratch") files carry the writer's host and process id in their name
(``.<stem>.<host>-<pid>-<random>.tmp``, hidden so directory listings skip them), and the first
write of a process in a directory removes the scratch files this host's dead processes left there
(a ``kill -9`` mid-write strands one). Files of other hosts (a shared volume) and of live
processes are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"
_SCRATCH = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
_CLEANED: set[str] = set()  # directories this process has already cleaned


def scratch_path(directory: Path | str, stem: str) -> Path:
    """A fresh hidden scratch file name in ``directory`` for this process (not created)."""
    return Path(directory) / f".{stem}.{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (also when another user owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stranded(directory: Path | str, *, once: bool = True) -> list[Path]:
    """Delete this host's scratch files in ``directory`` whose process is dead and return them;
    with ``once``, only on this process's first call for the directory (writes stay cheap)."""
    key = str(Path(directory).resolve())
    if once and key in _CLEANED:
        return []
    _CLEANED.add(key)
    removed = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        match = _SCRATCH.match(entry.name)
        if not match or match["host"] != _HOST or process_alive(int(match["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def replacing(target: Path | str) -> Iterator[Path]:
    """A temporary path in ``target``'s directory (created if missing) for the caller to write;
    when the block ends normally the file is fsynced and renamed over ``target``, when it raises
    the temporary file is removed and ``target`` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stranded(target.parent)
    temporary = scratch_path(target.parent, target.name)
    temporary.touch(exist_ok=False)
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
