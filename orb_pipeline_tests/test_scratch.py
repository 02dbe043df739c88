"""Leftovers of killed writers (issue 15): a writer killed with SIGKILL mid-write leaves its scratch
file; the next write in that place removes it. Real subprocesses, real SIGKILL, real MySQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.files import remove_stranded, scratch_path
from orb_pipeline.results import schema
from orb_pipeline.results.resource import MySqlResultsStore
from orb_pipeline_tests.results.test_resource import result_rows

# The child blocks at the point named by its first argument, says so on stdout, and is killed.
CHILD = r"""
import json, os, sys, time
import pymysql.cursors
what, spec = sys.argv[1], json.loads(sys.argv[2])

def block(*args, **kwargs):
    print("blocked", flush=True)
    time.sleep(600)

if what == "cache":
    from orb_pipeline.core.cache_store import CacheStore
    os.fsync = block  # after the bytes are in the scratch file, before the rename
    CacheStore(url=spec["url"]).write_bytes("series/SPY/2025-01-02.parquet", b"x" * 100_000)
else:
    from orb_pipeline.results import schema
    from orb_pipeline.results.resource import MySqlResultsStore
    from orb_pipeline_tests.results.test_resource import result_rows
    real_execute = pymysql.cursors.Cursor.execute

    def execute(self, query, args=None):
        if str(query).startswith("LOAD DATA"):
            block()  # the CSV is written, the server has not read it yet
        return real_execute(self, query, args)

    pymysql.cursors.Cursor.execute = execute
    store = MySqlResultsStore(**spec["mysql"])
    store.ensure_tables()
    store.upsert(schema.results, result_rows(2000))
"""


def kill_when_blocked(what: str, spec: dict, env: dict | None = None) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, what, json.dumps(spec)],
        stdout=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "blocked"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()


def hidden_tmp(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_cache_scratch_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    kill_when_blocked("cache", {"url": str(tmp_path)})
    folder = tmp_path / "series" / "SPY"
    stranded = hidden_tmp(folder)
    assert len(stranded) == 1 and stranded[0].startswith(".2025-01-02.parquet.")
    assert not (folder / "2025-01-02.parquet").exists()  # the target was never half-written

    store = CacheStore(url=str(tmp_path))
    store.write_bytes("series/SPY/2025-01-03.parquet", b"next run")
    assert hidden_tmp(folder) == []
    assert store.read_bytes("series/SPY/2025-01-03.parquet") == b"next run"


def test_load_data_csv_of_a_killed_writer_is_removed_by_the_next_batch(
    tmp_path, mysql_database, monkeypatch
):
    mysql = {k: mysql_database[k] for k in ("host", "port", "user", "password", "database")}
    kill_when_blocked("mysql", {"mysql": mysql}, env={"TMPDIR": str(tmp_path)})
    stranded = hidden_tmp(tmp_path)
    assert len(stranded) == 1 and stranded[0].startswith(".orb-load-data.csv.")
    assert (tmp_path / stranded[0]).stat().st_size > 100_000  # the whole batch, as CSV

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    store = MySqlResultsStore(**mysql)
    try:
        store.ensure_tables()
        report = store.upsert(schema.results, result_rows(10))
    finally:
        store.dispose()
    assert report.method == "load_data"
    assert hidden_tmp(tmp_path) == []


def test_scratch_files_of_live_processes_and_other_hosts_stay(tmp_path):
    mine = scratch_path(tmp_path, "x.parquet")
    mine.write_bytes(b"in progress")
    foreign = tmp_path / ".x.parquet.otherhost-1-0123abcd.tmp"
    foreign.write_bytes(b"another machine's write")
    assert remove_stranded(tmp_path, once=False) == []
    assert mine.exists() and foreign.exists()
