"""The warehouse resource against real MariaDB and the embedded SQLite file."""

from __future__ import annotations

import datetime as dt
import socket

import polars as pl
import pymysql
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from orb_pipeline.calendar import session_table
from orb_pipeline.core.local_infile import RestrictedLocalInfileConnection
from orb_pipeline.core.tickers import validate_ticker
from orb_pipeline.warehouse import UnknownTickerError, WarehouseUnavailableError
from orb_pipeline.warehouse.schema import pull_query
from orb_pipeline_tests.warehouse.seeding import SEEDED_SESSIONS, mysql_warehouse_for


def expected_rows(frame: pl.DataFrame, ticker: str, sessions: pl.DataFrame) -> pl.DataFrame:
    """Independent expectation: rows inside [open, close] of any session, in insertion order
    within a second (insertion order = auto-increment id)."""
    indexed = frame.with_row_index("row_order", offset=1).with_columns(
        pl.col("row_order").cast(pl.Int64)
    )
    inside = pl.lit(False)
    for open_utc, close_utc in sessions.select("open_utc", "close_utc").iter_rows():
        inside = inside | pl.col("timestamp_utc").is_between(open_utc, close_utc)
    return (
        indexed.filter((pl.col("ticker") == ticker) & inside)
        .sort(["timestamp_utc", "row_order"])
        .select(
            "row_order",
            "timestamp_utc",
            pl.col("underlying").alias("price"),
            "delta",
            "implied_volatility",
        )
    )


@pytest.mark.parametrize("day", ["2025-03-10", "2025-11-03", "2025-11-28"])
def test_mysql_pull_is_bounded_by_the_session_and_ordered(mysql_warehouse, seeded_frame, day):
    sessions = session_table(day, day)
    pulled = mysql_warehouse.pull_sessions("SPY", sessions)
    open_utc, close_utc = sessions["open_utc"][0], sessions["close_utc"][0]
    assert pulled["timestamp_utc"].min() == open_utc  # the opening print, DST-correct
    assert pulled["timestamp_utc"].max() == close_utc  # inclusive close (13:00 on 2025-11-28)
    assert pulled.drop("session_date").equals(expected_rows(seeded_frame, "SPY", sessions))
    assert (pulled["session_date"] == sessions["session_date"][0]).all()


def test_bulk_reference_and_embedded_paths_agree(mysql_warehouse, sqlite_warehouse):
    sessions = session_table(SEEDED_SESSIONS[0], SEEDED_SESSIONS[-1])
    bulk = mysql_warehouse.pull_sessions("SPY", sessions)
    assert bulk.height > 10_000
    assert bulk.equals(mysql_warehouse.pull_sessions("SPY", sessions, reference=True))
    assert bulk.equals(sqlite_warehouse.pull_sessions("SPY", sessions))
    assert bulk.equals(sqlite_warehouse.pull_sessions("SPY", sessions, reference=True))


@pytest.mark.parametrize("spans", [True, False])
@pytest.mark.parametrize("name", ["mysql_warehouse", "sqlite_warehouse"])
def test_parallel_bulk_pull_returns_exactly_the_reference_rows(request, seeded_frame, name, spans):
    """One query per 2 sessions, 3 parallel connections, each reading its sessions' whole time
    span (rows between sessions dropped client-side) or one range per session: the same rows,
    in the same order, as one query after the other and as the independent expectation (the
    seeded rows just outside every session are never pulled)."""
    warehouse = request.getfixturevalue(name).model_copy(update={"sessions_per_query": 2})
    sessions = session_table(SEEDED_SESSIONS[0], SEEDED_SESSIONS[-1])
    parallel = warehouse.pull_sessions("SPY", sessions, connections=3, spans=spans)
    assert parallel.equals(warehouse.pull_sessions("SPY", sessions, connections=1, spans=spans))
    assert parallel.equals(warehouse.pull_sessions("SPY", sessions, reference=True))
    assert parallel.drop("session_date").equals(expected_rows(seeded_frame, "SPY", sessions))
    assert parallel["session_date"].unique().sort().to_list() == [
        dt.date.fromisoformat(day) for day in SEEDED_SESSIONS
    ]


def _drop_database(mysql_database: dict, name: str) -> None:
    import pymysql

    server = {k: v for k, v in mysql_database.items() if k != "database"}
    connection = pymysql.connect(**server, autocommit=True)
    with connection.cursor() as cursor:
        # A generated name, never input (identifiers cannot be bound).
        cursor.execute("DROP DATABASE IF EXISTS `" + name + "`")
    connection.close()


def _execute_on(target, statement) -> None:
    engine = target.engine()
    try:
        with engine.begin() as connection:
            connection.execute(statement)
    finally:
        engine.dispose()


def _index_names(warehouse) -> set[str]:
    engine = warehouse.engine()
    try:
        return {index["name"] for index in sa.inspect(engine).get_indexes("greeks")}
    finally:
        engine.dispose()


def _stored_rows(warehouse) -> pl.DataFrame:
    """Every column of every row, in id order (an independent read, SQLAlchemy + bound params)."""
    table = warehouse.greeks_table()
    rows = warehouse._execute(sa.select(table).order_by(table.c.id))
    return pl.DataFrame(rows, schema=[c.name for c in table.columns], orient="row")


def test_load_warehouse_copies_the_embedded_warehouse_into_mysql(
    sqlite_warehouse, mysql_database, monkeypatch, capsys
):
    """`orb-pipeline load-warehouse --to mysql` on the real MariaDB, in chunks by LOAD DATA LOCAL
    INFILE: every column of every row identical, identical pulls; a re-run copies nothing and
    duplicates nothing; an interrupted copy resumes; other rows are refused unless --replace; the
    password only from the environment."""
    from orb_pipeline.cli import main

    target_database = mysql_database["database"] + "_copy"  # created by the command
    monkeypatch.setenv("ORB_WAREHOUSE_HOST", mysql_database["host"])
    monkeypatch.setenv("ORB_WAREHOUSE_USER", mysql_database["user"])
    monkeypatch.setenv("ORB_WAREHOUSE_PASSWORD", mysql_database["password"] or "")
    monkeypatch.setenv("ORB_WAREHOUSE_PORT", str(mysql_database["port"]))
    command = ["load-warehouse", "--from", sqlite_warehouse.path, "--to", "mysql"]
    command += ["--database", target_database, "--chunk-rows", "5000"]
    target = mysql_warehouse_for({**mysql_database, "database": target_database})
    source_rows = _stored_rows(sqlite_warehouse)
    assert source_rows.height > 4 * 5000  # several chunks
    try:
        assert main(command) == 0
        out = capsys.readouterr().out
        assert f"loaded {source_rows.height:,} rows" in out
        assert "row count and id range checked" in out
        assert _stored_rows(target).equals(source_rows)  # every column, floats bit for bit
        assert _index_names(target) == {"greeks_pull"}  # dropped for the load, built after
        sessions = session_table(SEEDED_SESSIONS[0], SEEDED_SESSIONS[-1])
        for ticker in ("SPY", "QQQ"):
            assert target.pull_sessions(ticker, sessions).equals(
                sqlite_warehouse.pull_sessions(ticker, sessions)
            )
        assert target.list_tickers() == ["QQQ", "SPY"]

        assert main(command) == 0  # a re-run: nothing copied, nothing duplicated
        assert "loaded 0 rows" in capsys.readouterr().out
        assert _stored_rows(target).equals(source_rows)

        # An interrupted copy (whole chunks committed, the rest missing, the index not yet
        # built) resumes after its last id and builds the index.
        table = target.greeks_table()
        _execute_on(target, sa.delete(table).where(table.c.id > 10_000))
        engine = target.engine()
        with engine.begin() as connection:
            next(iter(table.indexes)).drop(connection)
        engine.dispose()
        assert main(command) == 0
        assert f"loaded {source_rows.height - 10_000:,} rows" in capsys.readouterr().out
        assert _stored_rows(target).equals(source_rows)
        assert _index_names(target) == {"greeks_pull"}

        # Rows that are not the source's first rows: refused, nothing changed.
        _execute_on(target, sa.delete(table).where(table.c.id == 5))
        assert main(command) == 2
        assert "not the source's first rows" in capsys.readouterr().err
        assert _stored_rows(target).height == source_rows.height - 1
        assert main([*command, "--replace"]) == 0
        assert _stored_rows(target).equals(source_rows)
    finally:
        _drop_database(mysql_database, target_database)


class _NoLocalInfileConnection(RestrictedLocalInfileConnection):
    """The loader's connection class, without announcing the local-infile capability."""

    def __init__(self, *args, **kwargs):
        kwargs["local_infile"] = False
        pymysql.connections.Connection.__init__(self, *args, **kwargs)


def test_copy_falls_back_to_multi_row_insert_when_local_infile_is_refused(
    sqlite_warehouse, mysql_database, monkeypatch
):
    from orb_pipeline.warehouse import loading

    monkeypatch.setattr(loading, "RestrictedLocalInfileConnection", _NoLocalInfileConnection)
    target = mysql_warehouse_for(mysql_database)
    messages: list[str] = []
    copied = loading.copy_warehouse(
        sqlite_warehouse, target, chunk_rows=9000, progress=messages.append
    )
    source_rows = _stored_rows(sqlite_warehouse)
    assert copied == source_rows.height
    assert _stored_rows(target).equals(source_rows)
    chunks = [m for m in messages if m.startswith("copied")]
    assert len(chunks) == -(-source_rows.height // 9000)
    assert all("multi-row INSERT (the server refused" in m for m in chunks)
    assert _index_names(target) == {"greeks_pull"}


def test_load_warehouse_names_what_is_missing(monkeypatch, capsys):
    from orb_pipeline.cli import main

    monkeypatch.delenv("ORB_WAREHOUSE_HOST", raising=False)
    monkeypatch.delenv("ORB_WAREHOUSE_USER", raising=False)
    assert main(["load-warehouse", "--to", "mysql"]) == 2
    assert "ORB_WAREHOUSE_HOST" in capsys.readouterr().err


def test_tickers_and_unknown_ticker(mysql_warehouse, sqlite_warehouse):
    assert mysql_warehouse.list_tickers() == ["QQQ", "SPY"]
    assert sqlite_warehouse.list_tickers() == ["QQQ", "SPY"]
    with pytest.raises(UnknownTickerError, match="'IWM'"):
        mysql_warehouse.pull_sessions("IWM", session_table("2025-11-28", "2025-11-28"))
    with pytest.raises(UnknownTickerError, match="'IWM'"):
        sqlite_warehouse.pull_sessions("IWM", session_table("2025-11-28", "2025-11-28"))
    # A known ticker without rows in the sessions: an empty frame, not an error.
    for warehouse in (mysql_warehouse, sqlite_warehouse):
        empty = warehouse.pull_sessions("QQQ", session_table("2025-03-07", "2025-03-10"))
        assert empty.is_empty() and "session_date" in empty.columns


@pytest.mark.parametrize("ticker", ["spy", "SPY'; DROP TABLE greeks; --", "", "A" * 17, "SP Y"])
def test_tickers_outside_the_alphabet_never_reach_a_query(ticker):
    with pytest.raises(ValueError, match="ticker must be"):
        validate_ticker(ticker)


def test_bulk_query_text_holds_only_validated_values(mysql_warehouse):
    statement = pull_query(
        mysql_warehouse.greeks_table(), "id", "BRK.B", [(1, 2), (5, 9)], ordered=False
    )
    text = str(
        statement.compile(
            dialect=mysql_warehouse.engine().dialect, compile_kwargs={"literal_binds": True}
        )
    )
    assert "'BRK.B'" in text and "BETWEEN 1 AND 2" in text and "BETWEEN 5 AND 9" in text
    assert text.count("UNION ALL") == 1  # one index range scan per window
    with pytest.raises(ValueError, match="start_utc"):
        pull_query(mysql_warehouse.greeks_table(), "id", "SPY", [("1 OR 1=1", 2)], ordered=False)
    with pytest.raises(ValueError, match="windows overlap: one ends at 5, the next starts at 5"):
        pull_query(mysql_warehouse.greeks_table(), "id", "SPY", [(5, 9), (1, 5)], ordered=False)


def test_bad_identifiers_are_rejected(mysql_database):
    with pytest.raises(ValueError, match="table must be a plain SQL identifier"):
        mysql_warehouse_for(mysql_database, table="greeks; DROP").greeks_table()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_warehouse_retries_then_names_host_and_database(caplog):
    warehouse = mysql_warehouse_for(
        {
            "host": "127.0.0.1",
            "port": _closed_port(),
            "user": "orb",
            "password": "s3cret-Pa55",
            "database": "options",
        },
        connect_attempts=3,
        retry_backoff_seconds=0.01,
    )
    with pytest.raises(WarehouseUnavailableError) as raised:
        warehouse.pull_sessions("SPY", session_table("2025-11-28", "2025-11-28"))
    message = str(raised.value)
    assert "127.0.0.1" in message and "/options" in message and "after 3 attempts" in message
    assert "s3cret-Pa55" not in message
    assert "s3cret-Pa55" not in caplog.text
    assert caplog.text.count("retrying in") == 2


def test_missing_embedded_file_without_demo_build(tmp_path):
    from orb_pipeline.warehouse import SqliteWarehouse

    warehouse = SqliteWarehouse(
        path=str(tmp_path / "absent.sqlite"), build_demo_if_missing=False, connect_attempts=1
    )
    with pytest.raises(WarehouseUnavailableError, match="absent.sqlite"):
        warehouse.list_tickers()


def test_table_and_order_column_are_configuration(mysql_database):
    from orb_pipeline.warehouse.loading import create_table, insert_rows

    warehouse = mysql_warehouse_for(mysql_database, table="option_snapshots", order_column="row_id")
    create_table(warehouse)
    bounds = session_table("2025-11-28", "2025-11-28").row(0, named=True)
    rows = pl.DataFrame(
        {
            "timestamp_utc": [bounds["open_utc"] + 5, bounds["open_utc"], bounds["open_utc"] + 5],
            "ticker": ["BRK.B"] * 3,
            "underlying": [500.10, 500.00, 500.20],
            "delta": [0.5, -0.5, 0.45],
            "implied_volatility": [0.2, 0.25, 0.3],
        }
    )
    insert_rows(warehouse, rows)
    pulled = warehouse.pull_sessions("BRK.B", session_table("2025-11-28", "2025-11-28"))
    assert pulled.select("row_order", "timestamp_utc", "price").rows() == [
        (2, bounds["open_utc"], 500.0),
        (1, bounds["open_utc"] + 5, 500.1),
        (3, bounds["open_utc"] + 5, 500.2),
    ]
    assert warehouse.list_tickers() == ["BRK.B"]
    wrong = mysql_warehouse_for(mysql_database, table="greeks")
    with pytest.raises(ValueError, match="check the table and column names"):
        wrong.list_tickers()


def test_a_text_price_is_bad_data_not_an_outage(tmp_path, seeded_frame, caplog):
    """Issue 15: a text 'NaN' price was retried 4 times and reported as the warehouse being
    unreachable."""
    import datetime as dt

    import sqlalchemy as sa

    from orb_pipeline.warehouse import SqliteWarehouse, WarehouseDataError
    from orb_pipeline_tests.warehouse.seeding import create_table, insert_rows

    warehouse = SqliteWarehouse(path=str(tmp_path / "w.sqlite"), build_demo_if_missing=False)
    create_table(warehouse)
    insert_rows(warehouse, seeded_frame.head(2000))
    table, engine = warehouse.greeks_table(), warehouse.engine()
    with engine.begin() as connection:  # SQLite's type affinity keeps the text as text
        connection.execute(
            sa.update(table).where(table.c.id == 5).values(underlying=sa.literal("NaN"))
        )
        ticker, second = connection.execute(
            sa.select(table.c.ticker, table.c.timestamp_utc).where(table.c.id == 5)
        ).one()
    engine.dispose()
    day = dt.datetime.fromtimestamp(second, dt.UTC).date()
    with pytest.raises(WarehouseDataError, match=f"rows of {ticker} .*bad data, not an outage"):
        warehouse.pull_sessions(ticker, session_table(day, day))
    assert "retrying" not in caplog.text and "unreachable" not in caplog.text


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 50), st.integers(-(2**62), 2**62)),
        min_size=0,
        max_size=60,
        unique_by=lambda row: row[1],
    ),
    wide=st.booleans(),
)
def test_sort_by_time_and_order_equals_the_two_column_sort(rows, wide):
    """The composite-key argsort gives polars' two-column order, also when the key would not
    fit in 64 bits (wide time and id spans: the fallback)."""
    from orb_pipeline.warehouse.resource import sort_by_time_and_order

    frame = pl.DataFrame(
        {
            "row_order": [order if wide else order % 1_000_003 for _, order in rows],
            "timestamp_utc": [
                1_750_000_000 + second * (10**9 if wide else 1) for second, _ in rows
            ],
            "price": [float(index) for index in range(len(rows))],
        },
        schema={"row_order": pl.Int64, "timestamp_utc": pl.Int64, "price": pl.Float64},
    ).unique("row_order", keep="first", maintain_order=True)
    expected = frame.sort(["timestamp_utc", "row_order"])
    assert sort_by_time_and_order(frame).equals(expected)
