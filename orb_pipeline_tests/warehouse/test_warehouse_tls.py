"""TLS to the MySQL warehouse, against a real TLS-only MariaDB (``tls_mysql_server``): with the
right CA both read paths (connectorx bulk, SQLAlchemy/pymysql reference) return the seeded rows
over verified TLS; a wrong CA or a host name the certificate does not hold is refused at once
(not retried as an outage), naming the server and ``ORB_WAREHOUSE_TLS_CA``."""

from __future__ import annotations

import connectorx
import pytest
from polars.testing import assert_frame_equal

from orb_pipeline.calendar import session_table
from orb_pipeline.warehouse import WarehouseUnavailableError
from orb_pipeline.warehouse.loading import create_table, insert_rows
from orb_pipeline.warehouse.resource import warehouse_from_environment
from orb_pipeline_tests.warehouse.seeding import mysql_warehouse_for
from orb_pipeline_tests.warehouse.test_warehouse import expected_rows


def _warehouse(settings: dict, **overrides):
    return mysql_warehouse_for(
        settings,
        **{"tls_ca_path": settings["ca_path"], "retry_backoff_seconds": 0.01, **overrides},
    )


def test_right_ca_serves_both_read_paths_over_verified_tls(tls_mysql_database, seeded_frame):
    warehouse = _warehouse(tls_mysql_database)
    create_table(warehouse)
    insert_rows(warehouse, seeded_frame, batch_rows=50_000)
    sessions = session_table("2025-11-26", "2025-11-28")

    assert warehouse.list_tickers() == ["QQQ", "SPY"]
    bulk = warehouse.pull_sessions("SPY", sessions, connections=2)
    reference = warehouse.pull_sessions("SPY", sessions, reference=True)
    expected = expected_rows(seeded_frame, "SPY", sessions)
    assert bulk.height == expected.height > 0
    assert_frame_equal(bulk.drop("session_date"), expected)
    assert_frame_equal(reference, bulk)
    # connectorx's own connection is TLS (the server refuses anything else; this shows it).
    version = connectorx.read_sql(
        warehouse._connectorx_url(), "SHOW SESSION STATUS LIKE 'Ssl_version'", return_type="polars"
    )
    assert version.row(0)[1] in {"TLSv1.2", "TLSv1.3"}


@pytest.mark.parametrize("case", ["other_ca", "mismatched_host"])
def test_unverifiable_server_is_refused_at_once_naming_host_and_setting(
    tls_mysql_database, case, caplog
):
    settings = tls_mysql_database
    if case == "other_ca":
        warehouse, host = _warehouse(settings, tls_ca_path=settings["other_ca_path"]), "localhost"
    else:
        host = settings["mismatched_host"]
        warehouse = _warehouse({**settings, "host": host})
    with pytest.raises(WarehouseUnavailableError) as raised:
        warehouse.pull_sessions("SPY", session_table("2025-11-28", "2025-11-28"))
    message = str(raised.value)
    assert f"TLS to MySQL server {host}:{settings['port']} refused" in message
    assert "ORB_WAREHOUSE_TLS_CA" in message and warehouse.tls_ca_path in message
    assert settings["password"] not in message and settings["password"] not in caplog.text
    assert "retrying in" not in caplog.text  # a certificate does not fix itself


def test_the_setting_reaches_both_read_paths(monkeypatch, tmp_path, tls_mysql_server):
    monkeypatch.setenv("ORB_WAREHOUSE", "mysql")
    monkeypatch.setenv("ORB_WAREHOUSE_TLS_CA", tls_mysql_server.ca_path)
    warehouse = warehouse_from_environment(tmp_path)
    assert warehouse.tls_ca_path == tls_mysql_server.ca_path
    resolved = mysql_warehouse_for(
        {"host": "localhost", "port": 3306, "user": "u", "password": "", "database": "options"},
        tls_ca_path=warehouse.tls_ca_path,
    )
    assert resolved._connect_args() == {
        "ssl": {"ca": tls_mysql_server.ca_path, "check_hostname": True}
    }
    assert resolved._connectorx_url().endswith(
        "?ssl-mode=VERIFY_IDENTITY&ssl-ca=" + tls_mysql_server.ca_path
    )


def test_without_the_setting_no_tls_options_are_added(tmp_path, monkeypatch):
    monkeypatch.setenv("ORB_WAREHOUSE", "mysql")
    monkeypatch.delenv("ORB_WAREHOUSE_TLS_CA", raising=False)
    assert warehouse_from_environment(tmp_path).tls_ca_path is None
    plain = mysql_warehouse_for(
        {"host": "h", "port": 3306, "user": "u", "password": "", "database": "options"}
    )
    assert plain._connect_args() == {} and "?" not in plain._connectorx_url()
