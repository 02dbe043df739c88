"""TLS to the MySQL results store, against a real TLS-only MariaDB (``tls_mysql_server``): with
the right CA the store writes and reads over a verified connection; a wrong CA, a host name the
certificate does not hold, or a server without TLS is refused naming the server and
``ORB_RESULTS_TLS_CA``."""

from __future__ import annotations

import re

import polars as pl
import pytest
import sqlalchemy as sa

from orb_pipeline.core.mysql_tls import MySqlTlsError
from orb_pipeline.results.resource import MySqlResultsStore, ResultsStoreUnavailableError

ROWS = pl.DataFrame({"key": [1, 2, 3], "label": ["a", "b", "c"], "value": [0.5, -1.25, 2.0]})


def _table() -> sa.Table:
    return sa.Table(
        "tls_rows",
        sa.MetaData(),
        sa.Column("key", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("value", sa.Float),
    )


def _store(settings: dict, **overrides) -> MySqlResultsStore:
    values = {
        "host": settings["host"],
        "port": settings["port"],
        "user": settings["user"],
        "password": settings["password"],
        "database": settings["database"],
        "tls_ca_path": settings["ca_path"],
    }
    return MySqlResultsStore(**{**values, **overrides})


@pytest.mark.parametrize("use_load_data", [True, False], ids=["load_data", "multi_row"])
def test_right_ca_writes_and_reads_over_verified_tls(tls_mysql_database, use_load_data):
    store = _store(tls_mysql_database, use_load_data=use_load_data)
    table = _table()
    try:
        store.ensure_tables(table)
        report = store.upsert(table, ROWS)
        assert report.method == ("load_data" if use_load_data else "multi_row")
        with store.engine().connect() as connection:
            version = connection.execute(sa.text("SHOW SESSION STATUS LIKE 'Ssl_version'")).one()
            stored = connection.execute(sa.select(table).order_by(table.c.key)).all()
    finally:
        store.dispose()
    assert re.fullmatch(r"TLSv1\.[23]", version[1])
    assert stored == [(1, "a", 0.5), (2, "b", -1.25), (3, "c", 2.0)]


def _refused(store: MySqlResultsStore) -> str:
    try:
        with pytest.raises(ResultsStoreUnavailableError) as raised:
            store.ensure_tables(_table())
    finally:
        store.dispose()
    return str(raised.value)


def test_a_certificate_from_another_ca_is_refused_naming_host_and_setting(tls_mysql_database):
    settings = tls_mysql_database
    message = _refused(_store(settings, tls_ca_path=settings["other_ca_path"]))
    assert f"TLS to MySQL server localhost:{settings['port']} refused" in message
    assert "ORB_RESULTS_TLS_CA" in message and settings["other_ca_path"] in message
    assert "certificate verify failed" in message
    assert settings["password"] not in message


def test_a_host_name_the_certificate_does_not_hold_is_refused(tls_mysql_database):
    settings = tls_mysql_database
    message = _refused(_store(settings, host=settings["mismatched_host"]))
    assert f"TLS to MySQL server {settings['mismatched_host']}:{settings['port']}" in message
    assert "ORB_RESULTS_TLS_CA" in message and "mismatch" in message


def test_a_server_without_tls_is_refused_when_a_ca_is_set(mysql_database, tls_mysql_server):
    # The machine's plain MariaDB: with a CA configured, TLS is required, never skipped.
    store = _store({**mysql_database, "ca_path": tls_mysql_server.ca_path})
    message = _refused(store)
    assert f"TLS to MySQL server {mysql_database['host']}:{mysql_database['port']}" in message
    assert "ORB_RESULTS_TLS_CA" in message and "server doesn't support it" in message


def test_a_ca_file_that_does_not_exist_names_the_setting(tls_mysql_database, tmp_path):
    store = _store(tls_mysql_database, tls_ca_path=str(tmp_path / "absent.pem"))
    with pytest.raises(MySqlTlsError, match=r"ORB_RESULTS_TLS_CA names the CA file .*absent\.pem"):
        store.ensure_tables(_table())
