"""Real services the tests run against: where they are, whether they answer, how to start them.

Every address is overridable by environment variables (defaults are this machine's loopback
servers). ``python -m orb_pipeline_tests.services ensure`` is run by ``scripts/test.sh``: outside
CI it starts a local service that does not answer and says what it did; with ``CI=true`` a
service that does not answer fails the run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (for servers the tests start, and for
    "service down" cases that need a closed port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    start_command: str

    def reachable(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False


def mysql_settings() -> dict:
    """Connection keywords for pymysql (MariaDB speaks the MySQL protocol)."""
    return {
        "host": os.environ.get("ORB_TEST_MYSQL_HOST", "127.0.0.1"),
        "port": int(os.environ.get("ORB_TEST_MYSQL_PORT", "3306")),
        "user": os.environ.get("ORB_TEST_MYSQL_USER", "root"),
        "password": os.environ.get("ORB_TEST_MYSQL_PASSWORD", ""),
        "database": os.environ.get("ORB_TEST_MYSQL_DATABASE", "test"),
    }


def redis_settings() -> dict:
    return {
        "host": os.environ.get("ORB_TEST_REDIS_HOST", "127.0.0.1"),
        "port": int(os.environ.get("ORB_TEST_REDIS_PORT", "6379")),
        "password": os.environ.get("ORB_TEST_REDIS_PASSWORD") or None,
    }


def postgres_settings() -> dict:
    return {
        "host": os.environ.get("ORB_TEST_POSTGRES_HOST", "127.0.0.1"),
        "port": int(os.environ.get("ORB_TEST_POSTGRES_PORT", "5432")),
        "user": os.environ.get("ORB_TEST_POSTGRES_USER", "postgres"),
        "password": os.environ.get("ORB_TEST_POSTGRES_PASSWORD", ""),
        "database": os.environ.get("ORB_TEST_POSTGRES_DATABASE", "test"),
    }


def services() -> list[Service]:
    mysql, redis, postgres = mysql_settings(), redis_settings(), postgres_settings()
    return [
        Service(
            "MySQL/MariaDB",
            mysql["host"],
            mysql["port"],
            "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        ),
        Service(
            "Redis",
            redis["host"],
            redis["port"],
            "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
            "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
        ),
        Service(
            "PostgreSQL",
            postgres["host"],
            postgres["port"],
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        ),
    ]


def ensure() -> int:
    missing = []
    for service in services():
        if service.reachable():
            print(f"==> {service.name} answers at {service.host}:{service.port}")
            continue
        if in_ci():
            print(
                f"==> {service.name} does not answer at {service.host}:{service.port} (CI=true: failing)"
            )
            missing.append(service)
            continue
        print(
            f"==> {service.name} does not answer at {service.host}:{service.port}; starting it: "
            f"{service.start_command}"
        )
        subprocess.run(service.start_command, shell=True, check=False)  # noqa: S602 - fixed commands
        deadline = time.monotonic() + 30
        while not service.reachable() and time.monotonic() < deadline:
            time.sleep(0.5)
        if service.reachable():
            print(f"==> {service.name} started")
        else:
            print(f"==> {service.name} could not be started; its tests will be reported as skipped")
    if missing:
        names = ", ".join(f"{s.name} ({s.host}:{s.port})" for s in missing)
        print(f"error: required services unreachable in CI: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        print("usage: python -m orb_pipeline_tests.services ensure", file=sys.stderr)
        sys.exit(2)
    sys.exit(ensure())
