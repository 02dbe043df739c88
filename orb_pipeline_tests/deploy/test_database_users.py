"""deploy/sql/*.sql through ``database_users``, on real servers: each app user can do what the
pipeline does (results store writes and reads, warehouse pulls, a Dagster instance stores runs)
and is refused what it does not need; re-applying is harmless and resets the password."""

from __future__ import annotations

import uuid

import dagster as dg
import polars as pl
import pymysql
import pytest
import sqlalchemy as sa

from orb_pipeline.calendar import session_table
from orb_pipeline.orchestration import database_users
from orb_pipeline.results.resource import MySqlResultsStore
from orb_pipeline.warehouse.loading import create_table, insert_rows
from orb_pipeline_tests.deploy.conftest import REPO, postgres_engine
from orb_pipeline_tests.deploy.test_production_instance import probe
from orb_pipeline_tests.warehouse.seeding import mysql_warehouse_for, seeded_rows

SQL_DIR = REPO / "deploy" / "sql"


def _name(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


def _apply(monkeypatch, environ: dict, target: str) -> int:
    """``database_users <target>`` with ``environ`` set (as the stack's init container)."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return database_users.main([target, "--sql-dir", str(SQL_DIR)])


def _denied(connection, statement: str) -> int:
    with pytest.raises(pymysql.err.MySQLError) as raised, connection.cursor() as cursor:
        cursor.execute(statement)
    return raised.value.args[0]


@pytest.fixture
def tls_admin_environ(tls_mysql_database) -> dict:
    return {
        "RESULTS_ADMIN_USER": tls_mysql_database["user"],
        "RESULTS_ADMIN_PASSWORD": tls_mysql_database["password"],
        "ORB_RESULTS_HOST": tls_mysql_database["host"],
        "ORB_RESULTS_PORT": str(tls_mysql_database["port"]),
        "ORB_RESULTS_DATABASE": tls_mysql_database["database"],
        "ORB_RESULTS_TLS_CA": tls_mysql_database["ca_path"],
    }


def _drop_user(server, user: str) -> None:
    admin = server.admin()
    with admin.cursor() as cursor:
        cursor.execute("DROP USER IF EXISTS %s", (user,))
    admin.close()


def test_results_user_reads_and_writes_its_database_only(
    tls_mysql_server, tls_mysql_database, tls_admin_environ, monkeypatch
):
    user, password = _name("orb_res_"), "first-Pa55"
    environ = {**tls_admin_environ, "ORB_RESULTS_USER": user, "ORB_RESULTS_PASSWORD": password}
    try:
        assert _apply(monkeypatch, environ, "results") == 0
        store = MySqlResultsStore(
            host=tls_mysql_database["host"],
            port=tls_mysql_database["port"],
            user=user,
            password=password,
            database=tls_mysql_database["database"],
            tls_ca_path=tls_mysql_database["ca_path"],
        )
        table = sa.Table(
            "granted",
            sa.MetaData(),
            sa.Column("key", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("value", sa.Float),
        )
        try:
            store.ensure_tables(table)
            store.upsert(table, pl.DataFrame({"key": [1, 2], "value": [0.5, 1.5]}))
            store.upsert(table, pl.DataFrame({"key": [2, 3], "value": [2.5, 3.5]}))
            with store.engine().connect() as connection:
                assert connection.execute(sa.select(table).order_by(table.c.key)).all() == [
                    (1, 0.5),
                    (2, 2.5),
                    (3, 3.5),
                ]
        finally:
            store.dispose()
        app = pymysql.connect(
            host=tls_mysql_database["host"],
            port=tls_mysql_database["port"],
            user=user,
            password=password,
            ssl={"ca": tls_mysql_database["ca_path"], "check_hostname": True},
        )
        try:
            assert _denied(app, "SELECT user FROM mysql.user") == 1142  # other databases
            assert _denied(app, "CREATE DATABASE orb_not_allowed") == 1044
            assert _denied(app, "CREATE USER intruder IDENTIFIED BY 'x'") == 1227
            assert _denied(app, "GRANT SELECT ON *.* TO intruder") in {1044, 1045, 1227}
        finally:
            app.close()
        # Applied again with a new password: the old one no longer logs in.
        environ["ORB_RESULTS_PASSWORD"] = "second-Pa55"
        assert _apply(monkeypatch, environ, "results") == 0
        with pytest.raises(pymysql.err.OperationalError) as refused:
            pymysql.connect(
                host=tls_mysql_database["host"],
                port=tls_mysql_database["port"],
                user=user,
                password=password,
                ssl={"ca": tls_mysql_database["ca_path"], "check_hostname": True},
            )
        assert refused.value.args[0] == 1045
    finally:
        _drop_user(tls_mysql_server, user)


def test_warehouse_reader_selects_the_ticks_table_and_nothing_else(
    tls_mysql_server, tls_mysql_database, monkeypatch
):
    settings = tls_mysql_database
    owner = mysql_warehouse_for(settings, tls_ca_path=settings["ca_path"])
    create_table(owner)
    insert_rows(owner, seeded_rows(), batch_rows=50_000)
    admin = tls_mysql_server.admin(settings["database"])
    with admin.cursor() as cursor:
        cursor.execute("CREATE TABLE other_table (id INT PRIMARY KEY)")
    admin.close()
    user, password = _name("orb_wh_"), "reader-Pa55"
    environ = {
        "WAREHOUSE_ADMIN_USER": settings["user"],
        "WAREHOUSE_ADMIN_PASSWORD": settings["password"],
        "ORB_WAREHOUSE_HOST": settings["host"],
        "ORB_WAREHOUSE_PORT": str(settings["port"]),
        "ORB_WAREHOUSE_DATABASE": settings["database"],
        "ORB_WAREHOUSE_TLS_CA": settings["ca_path"],
        "ORB_WAREHOUSE_USER": user,
        "ORB_WAREHOUSE_PASSWORD": password,
    }
    try:
        assert _apply(monkeypatch, environ, "warehouse") == 0
        reader = mysql_warehouse_for(
            {**settings, "user": user, "password": password}, tls_ca_path=settings["ca_path"]
        )
        sessions = session_table("2025-11-28", "2025-11-28")
        bulk = reader.pull_sessions("SPY", sessions)
        assert bulk.height > 0
        assert bulk.equals(reader.pull_sessions("SPY", sessions, reference=True))
        app = pymysql.connect(
            host=settings["host"],
            port=settings["port"],
            user=user,
            password=password,
            database=settings["database"],
            ssl={"ca": settings["ca_path"], "check_hostname": True},
        )
        try:
            assert _denied(app, "DELETE FROM greeks") == 1142
            assert _denied(app, "INSERT INTO greeks (ticker) VALUES ('X')") == 1142
            assert _denied(app, "SELECT * FROM other_table") == 1142
            assert _denied(app, "CREATE TABLE mine (id INT)") == 1142
        finally:
            app.close()
    finally:
        _drop_user(tls_mysql_server, user)


def test_dagster_user_runs_the_instance_without_admin_rights(
    production_home, postgres_database, monkeypatch
):
    user = _name("orb_dg_")
    environ = {
        "DAGSTER_PG_HOST": postgres_database["host"],
        "DAGSTER_PG_PORT": str(postgres_database["port"]),
        "DAGSTER_PG_DB": postgres_database["database"],
        "DAGSTER_PG_ADMIN_USER": postgres_database["user"],
        "DAGSTER_PG_ADMIN_PASSWORD": postgres_database["password"],
        "DAGSTER_PG_USER": user,
        "DAGSTER_PG_PASSWORD": "dagster-Pa55",
    }
    admin = postgres_engine(postgres_database)
    try:
        assert _apply(monkeypatch, environ, "dagster") == 0
        # Again: the role exists, its password is reset, nothing fails.
        assert _apply(monkeypatch, environ, "dagster") == 0
        with admin.connect() as connection:
            attributes = connection.execute(
                sa.text(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
                    "WHERE rolname = :name"
                ),
                {"name": user},
            ).one()
        assert tuple(attributes) == (False, False, False, True)
        # deploy/dagster.yaml as that user: Dagster creates its tables and stores a run.
        monkeypatch.setenv("DAGSTER_PG_USER", user)
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", "dagster-Pa55")
        instance = dg.DagsterInstance.get()
        try:
            result = dg.materialize([probe], instance=instance, partition_key="2024-01-02")
            assert result.success
        finally:
            instance.dispose()
        app = postgres_engine({**postgres_database, "user": user, "password": "dagster-Pa55"})
        try:
            with app.connect() as connection:
                owner = connection.execute(
                    sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'runs'")
                ).scalar_one()
                assert owner == user
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                with app.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(sa.text("CREATE DATABASE orb_not_allowed"))
        finally:
            app.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text('DROP OWNED BY "' + user + '"'))
            connection.execute(sa.text('DROP ROLE IF EXISTS "' + user + '"'))
            connection.commit()
        admin.dispose()


def test_a_missing_variable_is_named(monkeypatch, capsys):
    monkeypatch.delenv("ORB_RESULTS_HOST", raising=False)
    assert database_users.main(["results", "--sql-dir", str(SQL_DIR)]) == 1
    assert "set ORB_RESULTS_HOST" in capsys.readouterr().err


def test_statements_quote_identifiers_and_refuse_anything_else():
    text = "-- {user} in a comment\nGRANT SELECT ON {database}.* TO {user};\nSELECT 1;\n"
    quoted = database_users._quoted({"user": "orb", "database": "results"}, "`")
    assert database_users.statements(text, quoted) == [
        "GRANT SELECT ON `results`.* TO `orb`",
        "SELECT 1",
    ]
    with pytest.raises(ValueError, match="user must be a plain SQL identifier"):
        database_users._quoted({"user": "orb`; DROP DATABASE results; --"}, "`")
