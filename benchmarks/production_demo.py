"""Benchmark: ``orb-pipeline demo`` on this machine's production services.

Run from the repository root (arguments after ``--`` go to ``orb-pipeline demo``)::

    .venv/bin/python -m benchmarks.production_demo [--data-dir DIR] -- --universe 10 \\
        --first-session 2025-01-02 --last-session 2025-12-31

The same flow as the embedded demo, with every resource on a real server:

- warehouse: MariaDB (database ``orb_production_demo_warehouse``), loaded once from the generated
  SQLite demo warehouse by ``orb-pipeline load-warehouse --to mysql`` (generated first when absent;
  neither is counted in the demo's total; a loaded database is reused);
- results: MariaDB (database ``orb_production_demo_results``, dropped first);
- staging: Redis (keys under ``orb_production_demo:``, deleted first);
- Dagster instance: PostgreSQL storage as in ``deploy/dagster.yaml`` (database
  ``orb_production_demo``, dropped first), with the local run launcher.

Servers: the test suite's (``orb_pipeline_tests.services``: ``ORB_TEST_MYSQL_*``,
``ORB_TEST_REDIS_*``, ``ORB_TEST_POSTGRES_*``; default the loopback servers, root / postgres).
The demo's own output is printed as it runs; it ends with its ``total: <seconds> s`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pymysql
import redis
from psycopg2 import sql

from orb_pipeline.orchestration.demo_setup import DemoScope
from orb_pipeline.warehouse.demo import build_demo_warehouse
from orb_pipeline_tests import services

NAME = "orb_production_demo"
REPO = Path(__file__).resolve().parents[1]

INSTANCE_YAML = """\
# Written by benchmarks/production_demo.py: deploy/dagster.yaml's PostgreSQL storage, local runs.
storage:
  postgres:
    postgres_db:
      hostname: {host}
      port: {port}
      username: {user}
      password: {password}
      db_name: {db}
      scheme: postgresql+psycopg2
concurrency:
  pools:
    default_limit: 2
    granularity: op
telemetry:
  enabled: false
"""


def _fresh_results_and_staging(mysql: dict, redis_server: dict) -> None:
    connection = pymysql.connect(
        host=mysql["host"], port=mysql["port"], user=mysql["user"], password=mysql["password"]
    )
    with connection, connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS `orb_production_demo_results`")
        cursor.execute("CREATE DATABASE `orb_production_demo_results`")
    client = redis.Redis(**redis_server)
    keys = list(client.scan_iter(match=f"{NAME}:*", count=10_000))
    for start in range(0, len(keys), 1_000):
        client.delete(*keys[start : start + 1_000])


def _fresh_instance(postgres: dict, home: Path) -> None:
    connection = psycopg2.connect(
        host=postgres["host"],
        port=postgres["port"],
        user=postgres["user"],
        password=postgres["password"],
        dbname="postgres",
    )
    connection.autocommit = True  # DROP/CREATE DATABASE refuse a transaction block
    with connection.cursor() as cursor:
        name = sql.Identifier(NAME)
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
    connection.close()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        INSTANCE_YAML.format(
            host=postgres["host"],
            port=postgres["port"],
            user=postgres["user"],
            password=json.dumps(postgres["password"]),
            db=NAME,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(REPO / "data" / "production-demo"))
    parser.add_argument("demo_arguments", nargs="*", help="arguments of `orb-pipeline demo`")
    args = parser.parse_args(argv)
    options = dict(zip(args.demo_arguments[::2], args.demo_arguments[1::2], strict=False))
    universe = options.get("--universe")
    scope = DemoScope.from_arguments(
        int(universe) if universe else None,
        options.get("--first-session"),
        options.get("--last-session"),
    )
    mysql, redis_server = services.mysql_settings(), services.redis_settings()
    postgres = services.postgres_settings()
    data = Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    source = scope.warehouse_path(data)
    if not source.exists():
        started = time.perf_counter()
        rows = build_demo_warehouse(
            source,
            tickers=scope.tickers,
            first_session=scope.first_session.isoformat(),
            last_session=scope.last_session.isoformat(),
        )
        print(f"generated {source}: {rows:,} rows in {time.perf_counter() - started:.1f} s")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ORB_", "DAGSTER_"))},
        "ORB_DATA_DIR": str(data),
        "ORB_WAREHOUSE": "mysql",
        "ORB_WAREHOUSE_HOST": mysql["host"],
        "ORB_WAREHOUSE_PORT": str(mysql["port"]),
        "ORB_WAREHOUSE_USER": mysql["user"],
        "ORB_WAREHOUSE_PASSWORD": mysql["password"],
        "ORB_WAREHOUSE_DATABASE": f"{NAME}_warehouse",
        "ORB_RESULTS": "mysql",
        "ORB_RESULTS_HOST": mysql["host"],
        "ORB_RESULTS_PORT": str(mysql["port"]),
        "ORB_RESULTS_USER": mysql["user"],
        "ORB_RESULTS_PASSWORD": mysql["password"],
        "ORB_RESULTS_DATABASE": f"{NAME}_results",
        "ORB_STAGING": "redis",
        "ORB_REDIS_HOST": redis_server["host"],
        "ORB_REDIS_PORT": str(redis_server["port"]),
        "ORB_REDIS_KEY_PREFIX": f"{NAME}:",
        "ORB_FIRST_SESSION": scope.first_session.isoformat(),
        "ORB_LAST_SESSION": scope.last_session.isoformat(),
        "DAGSTER_HOME": str(data / "dagster_home"),
    }
    if redis_server["password"]:
        environment["ORB_REDIS_PASSWORD"] = redis_server["password"]
    command = [sys.executable, "-m", "orb_pipeline.cli"]
    started = time.perf_counter()
    subprocess.run(
        [*command, "load-warehouse", "--to", "mysql", "--from", str(source)],
        env=environment,
        check=True,
    )
    print(f"load-warehouse: {time.perf_counter() - started:.1f} s (not counted in the total)")
    _fresh_results_and_staging(mysql, redis_server)
    _fresh_instance(postgres, data / "dagster_home")
    print("results database, Redis keys and the PostgreSQL instance reset; running the demo")
    return subprocess.run([*command, "demo", *args.demo_arguments], env=environment).returncode


if __name__ == "__main__":
    sys.exit(main())
