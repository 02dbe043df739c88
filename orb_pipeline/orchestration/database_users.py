"""Least-privilege database users of the deployment, from the SQL files in ``deploy/sql/``.

    python -m orb_pipeline.orchestration.database_users dagster results   # the stack does this
    python -m orb_pipeline.orchestration.database_users warehouse         # the warehouse's admin

Each target applies one file as an administrator (the RDS master user of the stack's databases,
the warehouse's own administrator) and leaves a user that holds only what the pipeline needs:

- ``dagster`` (PostgreSQL, ``dagster_users.sql``): the instance's user, on its own database.
- ``results`` (MySQL, ``results_users.sql``): read/write on the results database, TLS required.
- ``warehouse`` (MySQL, ``warehouse_reader.sql``): ``SELECT`` on the ticks table, TLS required.

The app user, its password, host, port and database are the same variables the pipeline reads
(``DAGSTER_PG_*``; ``ORB_RESULTS_*`` / ``ORB_WAREHOUSE_*`` through :mod:`orb_pipeline.core.settings`);
the administrator is ``<TARGET>_ADMIN_USER`` / ``<TARGET>_ADMIN_PASSWORD`` (``DAGSTER_PG_ADMIN_*``,
``RESULTS_ADMIN_*``, ``WAREHOUSE_ADMIN_*``), which only the stack's init container holds. TLS:
MySQL as :mod:`orb_pipeline.core.mysql_tls` (``ORB_RESULTS_TLS_CA``, ``ORB_WAREHOUSE_TLS_CA``),
PostgreSQL through libpq's ``PGSSLMODE`` / ``PGSSLROOTCERT``.

In the files, ``{name}`` is an identifier (validated as a plain SQL identifier, then quoted) and
``%(password)s`` a bound parameter; nothing else is substituted. Statements end with ``;`` at the
end of a line; ``--`` lines are comments. Every statement may run again: PostgreSQL's
``CREATE ROLE`` of an existing role is skipped (the next statement resets its password).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orb_pipeline.core import settings
from orb_pipeline.core.mysql_tls import MySqlTls
from orb_pipeline.warehouse.schema import validate_identifier

SQL_DIR = Path("deploy/sql")  # relative to the repository root, the image's working directory
_PG_DUPLICATE_OBJECT = "42710"


# What each target reads from the environment (passwords may be empty only for administrators
# of test servers; the stack sets all of them).
NEEDS = {
    "dagster": (
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_DB",
        "DAGSTER_PG_ADMIN_USER",
        "DAGSTER_PG_ADMIN_PASSWORD",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
    ),
    "results": (
        "ORB_RESULTS_HOST",
        "ORB_RESULTS_PORT",
        "ORB_RESULTS_DATABASE",
        "ORB_RESULTS_TLS_CA",
        "RESULTS_ADMIN_USER",
        "RESULTS_ADMIN_PASSWORD",
        "ORB_RESULTS_USER",
        "ORB_RESULTS_PASSWORD",
    ),
    "warehouse": (
        "ORB_WAREHOUSE_HOST",
        "ORB_WAREHOUSE_PORT",
        "ORB_WAREHOUSE_DATABASE",
        "ORB_WAREHOUSE_TABLE",
        "ORB_WAREHOUSE_TLS_CA",
        "WAREHOUSE_ADMIN_USER",
        "WAREHOUSE_ADMIN_PASSWORD",
        "ORB_WAREHOUSE_USER",
        "ORB_WAREHOUSE_PASSWORD",
    ),
}


class DatabaseUsersError(RuntimeError):
    """A target cannot be applied (missing variable, refused statement); the message says which."""


def statements(text: str, identifiers: Mapping[str, str]) -> list[str]:
    """The statements of a SQL file with every ``{name}`` replaced by ``identifiers[name]``
    (already quoted); comment lines dropped."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    parts = [part.strip() for part in body.split(";\n")]
    found = []
    for part in parts:
        part = part.rstrip(";").strip()
        if part:
            found.append(part.format_map(identifiers))
    return found


def _required(name: str) -> str:
    """A variable's value (``ORB_*`` ones are run-time variables, read through the settings
    module); unset or empty is an error naming it."""
    if name.startswith(settings.PREFIX):
        value = settings.env_var(name).get_value() or ""
    else:
        value = os.environ.get(name, "")
    if not value:
        raise DatabaseUsersError(f"set {name}")
    return value


def _quoted(values: Mapping[str, str], quote: str) -> dict[str, str]:
    return {key: quote + validate_identifier(value, key) + quote for key, value in values.items()}


@dataclass(frozen=True)
class Applied:
    target: str
    server: str
    user: str
    statements: int


def apply_dagster(sql_dir: Path) -> Applied:
    import psycopg2

    database = _required("DAGSTER_PG_DB")
    user = _required("DAGSTER_PG_USER")
    server = f"{_required('DAGSTER_PG_HOST')}:{os.environ.get('DAGSTER_PG_PORT') or 5432}"
    work = statements(
        (sql_dir / "dagster_users.sql").read_text(),
        _quoted({"user": user, "database": database}, '"'),
    )
    try:
        connection = psycopg2.connect(
            host=_required("DAGSTER_PG_HOST"),
            port=int(os.environ.get("DAGSTER_PG_PORT") or 5432),
            dbname=database,
            user=_required("DAGSTER_PG_ADMIN_USER"),
            password=os.environ.get("DAGSTER_PG_ADMIN_PASSWORD", ""),
            connect_timeout=10,
        )
    except psycopg2.OperationalError as error:
        raise DatabaseUsersError(
            f"dagster users: cannot connect to {server}/{database}: {str(error).strip()}"
        ) from None
    connection.autocommit = True
    password = {"password": _required("DAGSTER_PG_PASSWORD")}
    try:
        with connection.cursor() as cursor:
            for statement in work:
                try:
                    cursor.execute(statement, password if "%(password)s" in statement else None)
                except psycopg2.Error as error:
                    if error.pgcode == _PG_DUPLICATE_OBJECT and statement.startswith("CREATE ROLE"):
                        continue  # the role exists; ALTER ROLE resets its password
                    raise DatabaseUsersError(
                        f"dagster users on {server}/{database}: {statement.split(' PASSWORD')[0]} "
                        f"failed: {error.pgerror or error}".strip()
                    ) from None
    finally:
        connection.close()
    return Applied("dagster", server, user, len(work))


def _apply_mysql(
    target: str,
    file: Path,
    *,
    port: int,
    tls_ca: str | None,
    identifiers: Mapping[str, str],
) -> Applied:
    """Apply ``file`` for ``target`` (``results``/``warehouse``): server ``ORB_<T>_HOST``,
    administrator ``<T>_ADMIN_USER``/``_PASSWORD``, app user ``ORB_<T>_USER``/``_PASSWORD``."""
    import pymysql

    upper = target.upper()
    host = _required(f"ORB_{upper}_HOST")
    user = _required(f"ORB_{upper}_USER")
    work = statements(file.read_text(), _quoted({"user": user, **identifiers}, "`"))
    tls = MySqlTls(tls_ca, f"ORB_{upper}_TLS_CA")
    server = f"{host}:{port}"
    password = _required(f"ORB_{upper}_PASSWORD")
    try:
        connection = pymysql.connect(
            host=host,
            port=port,
            user=_required(f"{upper}_ADMIN_USER"),
            password=os.environ.get(f"{upper}_ADMIN_PASSWORD", ""),
            autocommit=True,
            connect_timeout=10,
            **tls.pymysql_connect_args(),
        )
    except pymysql.err.OperationalError as error:
        if tls.refused(error):
            raise DatabaseUsersError(tls.failure_message(server, error)) from None
        raise DatabaseUsersError(f"{target} users: cannot connect to {server}: {error}") from None
    try:
        with connection.cursor() as cursor:
            for statement in work:
                try:
                    cursor.execute(
                        statement, {"password": password} if "%(password)s" in statement else None
                    )
                except pymysql.err.MySQLError as error:
                    raise DatabaseUsersError(
                        f"{target} users on {server}: {statement.split(' IDENTIFIED')[0]} "
                        f"failed: {error}"
                    ) from None
    finally:
        connection.close()
    return Applied(target, server, user, len(work))


def apply_results(sql_dir: Path) -> Applied:
    chosen = settings.current()
    return _apply_mysql(
        "results",
        sql_dir / "results_users.sql",
        port=chosen.results_port,
        tls_ca=chosen.results_tls_ca,
        identifiers={"database": chosen.results_database},
    )


def apply_warehouse(sql_dir: Path) -> Applied:
    chosen = settings.current()
    return _apply_mysql(
        "warehouse",
        sql_dir / "warehouse_reader.sql",
        port=chosen.warehouse_port,
        tls_ca=chosen.warehouse_tls_ca,
        identifiers={"database": chosen.warehouse_database, "table": chosen.warehouse_table},
    )


TARGETS = {"dagster": apply_dagster, "results": apply_results, "warehouse": apply_warehouse}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", choices=sorted(TARGETS))
    parser.add_argument("--sql-dir", type=Path, default=SQL_DIR, help="default: deploy/sql")
    args = parser.parse_args(argv)
    for target in args.targets:
        try:
            applied = TARGETS[target](args.sql_dir)
        except (DatabaseUsersError, ValueError) as error:
            print(f"database_users {target}: {error}", file=sys.stderr)
            return 1
        print(
            f"database_users {target}: user {applied.user} on {applied.server} holds the grants "
            f"of {applied.statements} statement(s) of {args.sql_dir}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
