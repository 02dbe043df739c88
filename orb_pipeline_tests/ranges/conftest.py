"""Fixtures of the data-stage tests: the seeded warehouse in MariaDB and in SQLite."""

from orb_pipeline_tests.warehouse.seeding import (  # noqa: F401 - pytest fixtures
    mysql_template,
    mysql_warehouse,
    seeded_frame,
    sqlite_warehouse,
)
