"""A pymysql connection that sends a local file only when we asked for it, and only that file.

With ``local_infile`` a MySQL server may answer *any* query with "send me file X", and plain
pymysql sends whatever X names (``/proc/self/environ`` holds every secret of a task). Here the
capability is advertised (the server refuses ``LOAD DATA LOCAL`` otherwise), but a request is
served only inside :meth:`RestrictedLocalInfileConnection.allow_local_file` for the exact path
our own ``LOAD DATA`` wrote; any other request gets an empty file and raises
:class:`LocalInfileRefusedError` naming the requested path.

:func:`load_frame` is the one way the project loads a polars frame by ``LOAD DATA LOCAL INFILE``
(the results store and ``orb-pipeline load-warehouse``): a scratch CSV only that statement may read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from pymysql import connections
from pymysql.protocol import LoadLocalPacketWrapper

from orb_pipeline.core.files import remove_stranded, scratch_path

LOCAL_INFILE_REFUSED_CODES = frozenset({1148, 2068, 3948, 4166})
"""MySQL/MariaDB error numbers meaning "this server or connection does not allow LOAD DATA
LOCAL" (the callers then fall back to multi-row ``INSERT``)."""


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


def load_frame(
    connection: RestrictedLocalInfileConnection,
    table_sql: str,
    frame: pl.DataFrame,
    *,
    quote: Callable[[str], str],
    duplicates: str = "",
    constants: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """``LOAD DATA LOCAL INFILE`` of ``frame`` into ``table_sql`` (an already quoted name) through
    a scratch CSV that only this statement may read; returns ``(affected rows, warnings)``.

    ``duplicates`` is ``""`` (with LOCAL the server skips a row with a known key, with a
    warning), or ``"REPLACE"``. ``constants`` are columns set once for every row (``SET``) instead
    of being parsed from the file. Strings are quoted, ``NULL`` unquoted, floats written in their
    shortest round-trip form. Callers check ``affected`` and ``warnings`` (with LOCAL, bad values
    are warnings, not errors). Errors of the server (e.g. local infile refused, see
    ``LOCAL_INFILE_REFUSED_CODES``) propagate as pymysql errors.
    """
    if duplicates not in ("", "REPLACE"):
        raise ValueError(f"duplicates must be '' or 'REPLACE', got {duplicates!r}")
    constants = dict(constants or {})
    parsed = [name for name in frame.columns if name not in constants]
    # A scratch name (host + pid): a later load removes the CSVs of killed writers.
    scratch = Path(tempfile.gettempdir())
    remove_stranded(scratch)
    path = str(scratch_path(scratch, "orb-load-data.csv"))
    try:
        frame.select(parsed).write_csv(
            path,
            include_header=False,
            null_value="NULL",
            quote_style="non_numeric",
            line_terminator="\n",
            date_format="%Y-%m-%d",
        )
        statement = (
            "LOAD DATA LOCAL INFILE %s "
            + (duplicates + " " if duplicates else "")
            + "INTO TABLE "
            + table_sql
            + " CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"'"
            + " ESCAPED BY '' LINES TERMINATED BY '\\n' ("
            + ", ".join(quote(name) for name in parsed)
            + ")"
        )
        if constants:
            statement += " SET " + ", ".join(quote(name) + " = %s" for name in constants)
        cursor = connection.cursor()
        try:
            with connection.allow_local_file(path):  # the server may read this file, no other
                affected = cursor.execute(statement, (path, *constants.values()))
            cursor.execute("SHOW COUNT(*) WARNINGS")
            warnings = cursor.fetchone()[0]
        finally:
            cursor.close()
    finally:
        Path(path).unlink(missing_ok=True)
    return affected, warnings
