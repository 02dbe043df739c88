"""The results store: MySQL through pymysql, or an embedded SQLite file, behind one interface.

Modules: :mod:`.base` (interface, errors, batching), :mod:`.sqlite`, :mod:`.mysql`.

Contracts
- Tables come from :mod:`orb_pipeline.results.schema` (one SQLAlchemy Core definition for both
  dialects) and are created idempotently by :meth:`ResultsStore.ensure_tables`; any other stage
  may pass its own ``sa.Table`` objects.
- :meth:`ResultsStore.upsert` writes a polars frame into a table with a primary key: a row with an
  existing key is replaced as a whole (table columns missing from the frame become NULL), new keys
  are inserted, nothing is ignored (duplicate keys inside one frame are an error). NaN and
  +/-infinity are stored as NULL. Each batch is one transaction; deadlocks (MySQL 1213) and
  lock-wait timeouts are retried.
- Rows are written in key order, in batches of at most ``batch_rows``. On MySQL,
  ``write_connections`` (default 2) connections write at once, each a contiguous run of batches
  (disjoint key ranges); after a failed batch no connection starts another, and the error is raised.
  Batches already committed stay: a re-run replaces them, so nothing is duplicated.
- MySQL path: ``LOAD DATA LOCAL INFILE ... REPLACE`` of a CSV of the batch in key order (the fast
  path; any warning fails the batch; text, date and integer columns with one value in the whole
  batch are passed once as ``SET`` parameters instead of in every CSV row); when the server
  refuses local infile, multi-row
  ``INSERT ... ON DUPLICATE KEY UPDATE`` statements sized below the server's
  ``max_allowed_packet`` (queried), with a warning in the log.
- SQLite path: ``INSERT ... ON CONFLICT DO UPDATE`` through ``executemany``.
- A server that cannot be reached raises :class:`ResultsStoreUnavailableError` naming it; a
  damaged database (SQLite "database disk image is malformed", a crashed MySQL table) raises
  :class:`ResultsStoreCorruptError` naming the file or server and what to do.
"""

from __future__ import annotations

from pathlib import Path

from orb_pipeline.results.resource.base import (
    ResultsStore,
    ResultsStoreCorruptError,
    ResultsStoreError,
    ResultsStoreUnavailableError,
    UpsertReport,
    prepare_frame,
)
from orb_pipeline.results.resource.mysql import MySqlResultsStore
from orb_pipeline.results.resource.sqlite import SqliteResultsStore

__all__ = [
    "MySqlResultsStore",
    "ResultsStore",
    "ResultsStoreCorruptError",
    "ResultsStoreError",
    "ResultsStoreUnavailableError",
    "SqliteResultsStore",
    "UpsertReport",
    "prepare_frame",
    "results_from_environment",
]


def results_from_environment(data_dir: Path) -> ResultsStore:
    """The ``results`` resource chosen by ``ORB_RESULTS`` (``sqlite`` default, or ``mysql``).

    Names are read now: ``ORB_RESULTS_PATH`` (default ``<data_dir>/results.sqlite``),
    ``ORB_RESULTS_PORT``, ``ORB_RESULTS_DATABASE`` (default ``results``), ``ORB_RESULTS_LOAD_DATA``
    (``false`` skips LOAD DATA LOCAL INFILE), ``ORB_RESULTS_WRITE_CONNECTIONS`` (default 2). Host,
    user and password are ``dg.EnvVar``s resolved at run time (``ORB_RESULTS_HOST``,
    ``ORB_RESULTS_USER``, ``ORB_RESULTS_PASSWORD``).
    """
    from orb_pipeline.core import settings

    chosen = settings.current()
    if chosen.results == "sqlite":
        return SqliteResultsStore(path=chosen.results_path or str(data_dir / "results.sqlite"))
    return MySqlResultsStore(
        host=settings.env_var("ORB_RESULTS_HOST"),
        port=chosen.results_port,
        user=settings.env_var("ORB_RESULTS_USER"),
        password=settings.env_var("ORB_RESULTS_PASSWORD"),
        database=chosen.results_database,
        write_connections=chosen.results_write_connections,
        use_load_data=chosen.results_load_data,
        tls_ca_path=chosen.results_tls_ca,
    )
