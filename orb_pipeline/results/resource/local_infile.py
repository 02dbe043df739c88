"""A pymysql connection that sends a local file only when we asked for it, and only that file.

With ``local_infile`` a MySQL server may answer *any* query with "send me file X", and plain
pymysql sends whatever X names (``/proc/self/environ`` holds every secret of a task). Here the
capability is advertised (the server refuses ``LOAD DATA LOCAL`` otherwise), but a request is
served only inside :meth:`RestrictedLocalInfileConnection.allow_local_file` for the exact path
our own ``LOAD DATA`` wrote; any other request gets an empty file and raises
:class:`LocalInfileRefusedError` naming the requested path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from pymysql import connections
from pymysql.protocol import LoadLocalPacketWrapper


class LocalInfileRefusedError(RuntimeError):
    """The server asked for a local file that is not the one our ``LOAD DATA`` names."""


class _RestrictedResult(connections.MySQLResult):
    def _read_load_local_packet(self, first_packet):
        connection = self.connection
        requested = LoadLocalPacketWrapper(first_packet).filename
        requested_text = requested.decode(errors="replace")
        allowed = connection.allowed_local_file
        if allowed is not None and os.path.realpath(requested_text) == allowed:
            return super()._read_load_local_packet(first_packet)
        # An empty packet ends the (empty) file, keeping the protocol in step; the server then
        # answers with an error or an empty load, which we do not trust either way.
        connection.write_packet(b"")
        try:
            connection._read_packet()
        except Exception:  # noqa: BLE001 - the refusal below is the error that matters
            pass
        raise LocalInfileRefusedError(
            f"the MySQL server at {connection.host}:{connection.port} asked for the local file "
            f"{requested_text!r}"
            + ("" if allowed is None else f" while only {allowed!r} may be sent")
            + "; refused (nothing was sent)"
        )


class RestrictedLocalInfileConnection(connections.Connection):
    """``pymysql`` connection with ``local_infile`` limited to :meth:`allow_local_file`."""

    allowed_local_file: str | None = None

    def __init__(self, *args, **kwargs):
        kwargs["local_infile"] = True
        super().__init__(*args, **kwargs)

    @contextmanager
    def allow_local_file(self, path: str) -> Iterator[None]:
        """Serve the server's request for ``path`` (and nothing else) inside the block."""
        self.allowed_local_file = os.path.realpath(path)
        try:
            yield
        finally:
            self.allowed_local_file = None

    # pymysql's own method, with the restricted result class (pymysql has no handler hook).
    def _read_query_result(self, unbuffered=False):
        self._result = None
        result = _RestrictedResult(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows
