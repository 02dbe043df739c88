"""Fixtures for the real services (MySQL/MariaDB, Redis, PostgreSQL) and scratch locations.

Each fixture isolates what it hands out (a fresh MySQL database, a fresh PostgreSQL database, a
Redis key prefix), so test runs can share one server. A service that does not answer fails the
test under ``CI=true`` and is reported as a skip, with its address, elsewhere.
"""

from __future__ import annotations

import os
import uuid

import pytest

from orb_pipeline_tests import services

# Keep hypothesis and numba state out of the source tree's way and reproducible per run.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache")
)


def _require(name: str) -> services.Service:
    service = next(s for s in services.services() if s.name.startswith(name))
    if not service.reachable():
        message = f"{service.name} does not answer at {service.host}:{service.port}"
        if services.in_ci():
            pytest.fail(f"{message} (CI=true: a missing service is a failure)")
        pytest.skip(f"{message}; start it or run scripts/test.sh, which starts it")
    return service


@pytest.fixture(scope="session")
def mysql_server() -> dict:
    """pymysql connection keywords for the server, without a database."""
    _require("MySQL")
    settings = services.mysql_settings()
    settings.pop("database")
    return settings


@pytest.fixture
def mysql_database(mysql_server) -> dict:
    """A fresh, empty MySQL database for one test; dropped afterwards. Returns pymysql keywords."""
    import pymysql

    name = f"orb_test_{uuid.uuid4().hex[:12]}"
    connection = pymysql.connect(**mysql_server, autocommit=True)
    try:
        with connection.cursor() as cursor:
            # Identifiers cannot be bound as parameters; the name is generated here, never user input.
            cursor.execute("CREATE DATABASE `" + name + "`")
        yield {**mysql_server, "database": name}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `" + name + "`")
        connection.close()


@pytest.fixture
def redis_settings() -> dict:
    """Redis connection keywords plus a unique ``key_prefix``; keys under it are deleted afterwards."""
    _require("Redis")
    import redis

    settings = services.redis_settings()
    prefix = f"orb_test:{uuid.uuid4().hex[:12]}:"
    yield {**settings, "key_prefix": prefix}
    client = redis.Redis(**settings)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def postgres_server() -> dict:
    _require("PostgreSQL")
    return services.postgres_settings()


@pytest.fixture
def postgres_database(postgres_server) -> dict:
    """A fresh PostgreSQL database for one test; dropped afterwards. Returns connection keywords."""
    import sqlalchemy as sa

    name = f"orb_test_{uuid.uuid4().hex[:12]}"
    admin_url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=postgres_server["user"],
        password=postgres_server["password"] or None,
        host=postgres_server["host"],
        port=postgres_server["port"],
        database=postgres_server["database"],
    )
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text('CREATE DATABASE "' + name + '"'))
    try:
        yield {**postgres_server, "database": name}
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text('DROP DATABASE IF EXISTS "' + name + '" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def tls_mysql_server():
    """A throwaway TLS-only MariaDB (``orb_pipeline_tests.tls_mysql``), stopped afterwards.
    Missing MariaDB programs fail the test under ``CI=true``; elsewhere they are a reported skip."""
    from orb_pipeline_tests import tls_mysql

    missing = tls_mysql.missing_binaries()
    if missing:
        message = "cannot start a TLS MariaDB: missing " + ", ".join(missing)
        if services.in_ci():
            pytest.fail(message + " (CI=true: a missing service is a failure)")
        pytest.skip(message)
    server = tls_mysql.start_tls_server()
    yield server
    server.stop()


@pytest.fixture
def tls_mysql_database(tls_mysql_server) -> dict:
    """A fresh database on the TLS server: keywords ``host`` (the certificate's name), ``port``,
    ``user``, ``password``, ``database``, ``ca_path``, ``other_ca_path``, ``mismatched_host``."""
    name = f"orb_tls_{uuid.uuid4().hex[:12]}"
    admin = tls_mysql_server.admin()
    try:
        with admin.cursor() as cursor:
            # Identifiers cannot be bound as parameters; the name is generated here, never input.
            cursor.execute("CREATE DATABASE `" + name + "`")
        yield {
            "host": tls_mysql_server.host,
            "port": tls_mysql_server.port,
            "user": tls_mysql_server.user,
            "password": tls_mysql_server.password,
            "database": name,
            "ca_path": tls_mysql_server.ca_path,
            "other_ca_path": tls_mysql_server.other_ca_path,
            "mismatched_host": tls_mysql_server.mismatched_host,
        }
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `" + name + "`")
        admin.close()
