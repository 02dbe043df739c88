"""Results-store fixtures: the same tests run on embedded SQLite and on the real MySQL/MariaDB."""

from __future__ import annotations

import pytest

from orb_pipeline.results.resource import MySqlResultsStore, SqliteResultsStore


@pytest.fixture(params=["sqlite", "mysql"])
def results_store(request, tmp_path):
    if request.param == "sqlite":
        store = SqliteResultsStore(path=str(tmp_path / "results.sqlite"))
    else:
        settings = request.getfixturevalue("mysql_database")
        store = MySqlResultsStore(
            host=settings["host"],
            port=settings["port"],
            user=settings["user"],
            password=settings["password"],
            database=settings["database"],
        )
    yield store
    store.dispose()
