"""Results store: idempotent tables, exact upserts, NULL for non-finite values, clear failures."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pymysql
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from orb_pipeline.core.local_infile import RestrictedLocalInfileConnection
from orb_pipeline.results import schema
from orb_pipeline.results.ids import backtest_ids
from orb_pipeline.results.resource import (
    MySqlResultsStore,
    ResultsStoreCorruptError,
    ResultsStoreError,
    ResultsStoreUnavailableError,
    SqliteResultsStore,
)
from orb_pipeline_tests.services import free_port

START, END = dt.date(2024, 1, 2), dt.date(2024, 6, 28)


def result_rows(count: int, run_id: str = "run-a", profit_offset: float = 0.0) -> pl.DataFrame:
    grid = pl.DataFrame(
        {
            "range_seconds": [30] * count,
            "stop_distance": [round(0.1 * (1 + i % 19), 1) for i in range(count)],
            "stop_count_limit": [1 + (i // 19) % 3 for i in range(count)],
            "stop_cooloff_period": [30 * (1 + (i // 57) % 9) for i in range(count)],
            "limit_distance": [float(1 + (i // 513)) for i in range(count)],
        }
    )
    return grid.with_columns(
        backtest_id=backtest_ids(grid, "SPY", START, END, "test-1"),
        ticker=pl.lit("SPY"),
        window_start=pl.lit(START),
        window_end=pl.lit(END),
        backtest_profit=pl.Series([i * 0.0137 - 3.3 + profit_offset for i in range(count)]),
        trades=pl.Series([i % 40 for i in range(count)], dtype=pl.Int64),
        stops=pl.Series([i % 7 for i in range(count)], dtype=pl.Int64),
        days_traded=pl.Series([i % 30 for i in range(count)], dtype=pl.Int64),
        win_rate_percent=pl.Series([100 * (i % 3) / 3 for i in range(count)]),
        trade_win_rate_percent=pl.Series([1 / 3 + i for i in range(count)]),
        average_holding_period=pl.Series([123.456789012345 * i for i in range(count)]),
        max_drawdown=pl.Series([0.1 * i for i in range(count)]),
        sharpe=pl.Series([math.nan if i % 5 == 0 else 1e-17 * i for i in range(count)]),
        profit_factor=pl.Series([math.inf if i % 4 == 0 else 1.5 for i in range(count)]),
        commission_per_share=pl.lit(0.005),
        slippage=pl.lit(2.0),
        slippage_unit=pl.lit("bps"),
        distance_unit=pl.lit("dollars"),
        data_version=pl.lit("dv1"),
        engine_version=pl.lit("test-1"),
        run_id=pl.lit(run_id),
    )


def read_results(store) -> pl.DataFrame:
    return store.read(sa.select(schema.results).order_by(schema.results.c.backtest_id))


def test_ensure_tables_is_idempotent(results_store):
    results_store.ensure_tables()
    results_store.ensure_tables()
    inspector = sa.inspect(results_store.engine())
    assert {"results", "trades"} <= set(inspector.get_table_names())


def test_upsert_round_trips_exactly_and_stores_non_finite_as_null(results_store):
    results_store.ensure_tables()
    rows = result_rows(500)
    report = results_store.upsert(schema.results, rows)
    assert report.rows == 500
    stored = read_results(results_store)
    expected = rows.sort("backtest_id")
    assert stored.height == 500
    for name in [
        "backtest_profit",
        "average_holding_period",
        "trade_win_rate_percent",
        "stop_distance",
        "limit_distance",
        "max_drawdown",
    ]:
        assert stored[name].to_list() == expected[name].to_list(), name
    sharpe = stored["sharpe"].to_list()
    assert [v is None for v in sharpe] == [math.isnan(v) for v in expected["sharpe"]]
    assert (
        stored["profit_factor"].null_count()
        == expected.filter(pl.col("profit_factor").is_infinite()).height
    )
    assert stored["window_start"].cast(pl.String).unique().to_list() == ["2024-01-02"]


def test_rerun_replaces_rows_without_duplicates(results_store):
    results_store.ensure_tables()
    results_store.upsert(schema.results, result_rows(300, run_id="first"))
    results_store.upsert(schema.results, result_rows(300, run_id="second", profit_offset=1.0))
    stored = read_results(results_store)
    assert stored.height == 300
    assert stored["run_id"].unique().to_list() == ["second"]
    expected = result_rows(300, profit_offset=1.0).sort("backtest_id")["backtest_profit"]
    assert stored["backtest_profit"].to_list() == expected.to_list()


def test_multi_row_path_matches_load_data_path(mysql_database):
    stores = [
        MySqlResultsStore(
            **{k: mysql_database[k] for k in ("host", "port", "user", "password", "database")},
            use_load_data=flag,
        )
        for flag in (True, False)
    ]
    frames = []
    for store in stores:
        store.ensure_tables()
        store.engine().dispose()
        with store.engine().begin() as connection:
            connection.execute(sa.delete(schema.results))
        report = store.upsert(schema.results, result_rows(2000))
        assert report.method == ("load_data" if store.use_load_data else "multi_row")
        frames.append(read_results(store))
        store.dispose()
    assert frames[0].equals(frames[1])


class _NoLocalInfileConnection(RestrictedLocalInfileConnection):
    """The store's connection class, but without announcing the local-infile capability."""

    def __init__(self, *args, **kwargs):
        kwargs["local_infile"] = False
        pymysql.connections.Connection.__init__(self, *args, **kwargs)


class _ClientRefusingLocalInfile(MySqlResultsStore):
    """A client without the local-infile capability: the server refuses every LOAD DATA LOCAL."""

    def _create_engine(self) -> sa.Engine:
        engine = sa.create_engine(
            super()._create_engine().url, connect_args={"connect_timeout": 10}
        )

        @sa.event.listens_for(engine, "do_connect")
        def without_local_infile(dialect, connection_record, cargs, cparams):
            return _NoLocalInfileConnection(*cargs, **cparams)

        return engine


def test_refused_load_data_falls_back_to_multi_row_in_the_same_run(mysql_database, caplog):
    store = _ClientRefusingLocalInfile(
        **{k: mysql_database[k] for k in ("host", "port", "user", "password", "database")},
        batch_rows=700,
        write_connections=1,
    )
    store.ensure_tables()
    rows = result_rows(2000)
    with caplog.at_level("WARNING"):
        report = store.upsert(schema.results, rows)
    assert report.method == "multi_row" and report.batches == 3
    refusals = [r for r in caplog.records if "refused LOAD DATA LOCAL INFILE" in r.getMessage()]
    assert len(refusals) == 1  # remembered: later batches go straight to the multi-row path
    stored = read_results(store)
    assert stored["backtest_id"].to_list() == rows.sort("backtest_id")["backtest_id"].to_list()
    assert (
        stored["backtest_profit"].to_list() == rows.sort("backtest_id")["backtest_profit"].to_list()
    )
    store.dispose()


def test_bad_frames_are_rejected_before_writing(results_store):
    results_store.ensure_tables()
    rows = result_rows(10)
    with pytest.raises(ResultsStoreError, match="repeated primary key"):
        results_store.upsert(schema.results, pl.concat([rows, rows.head(1)]))
    with pytest.raises(ResultsStoreError, match="columns not in table results: bogus"):
        results_store.upsert(schema.results, rows.with_columns(bogus=pl.lit(1)))
    with pytest.raises(ResultsStoreError, match="missing NOT NULL columns for results: ticker"):
        results_store.upsert(schema.results, rows.drop("ticker"))
    assert read_results(results_store).height == 0


def test_replace_rows_swaps_a_ledger_atomically(results_store):
    results_store.ensure_tables()

    def ledger(count: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "backtest_id": ["b" * 32] * count,
                "trade_index": list(range(count)),
                "session_date": [dt.date(2024, 1, 2)] * count,
                "side": ["long"] * count,
                "entry_utc": [1] * count,
                "entry_price": [1.0] * count,
                "exit_utc": [2] * count,
                "exit_price": [1.5] * count,
                "exit_reason": ["limit"] * count,
                "profit": [0.5] * count,
                "holding_seconds": [1] * count,
            }
        )

    results_store.replace_rows(schema.trades, "backtest_id", ["b" * 32], ledger(5))
    results_store.replace_rows(schema.trades, "backtest_id", ["b" * 32], ledger(3))
    assert results_store.read(sa.select(schema.trades)).height == 3


def test_unreachable_mysql_fails_naming_the_server():
    port = free_port()  # nothing listens there
    store = MySqlResultsStore(
        host="127.0.0.1", port=port, database="results", connect_timeout_seconds=2
    )
    with pytest.raises(
        ResultsStoreUnavailableError, match="MySQL 127.0.0.1:" + str(port) + "/results"
    ):
        store.ensure_tables()


def test_upsert_replaces_whole_rows(results_store):
    results_store.ensure_tables()
    rows = result_rows(3)
    with_stats = rows.with_columns(trade_stats=pl.lit('{"trades": 1}'))
    results_store.upsert(schema.results, with_stats)
    assert read_results(results_store)["trade_stats"].null_count() == 0
    results_store.upsert(schema.results, rows)  # no trade_stats column: the rows lose it
    assert read_results(results_store)["trade_stats"].null_count() == 3


def mysql_store(settings: dict, **options) -> MySqlResultsStore:
    return MySqlResultsStore(
        **{k: settings[k] for k in ("host", "port", "user", "password", "database")}, **options
    )


def test_workers_creating_the_tables_at_once_all_succeed(results_store, tmp_path):
    """The demo's worker processes sweep different tickers at once into a new results store:
    each creates the tables, and the ones that lose the race (SQLite: "table results already
    exists" or a locked new file, MySQL: 1050) must re-check instead of failing their run."""
    import threading

    def create(store, barrier: threading.Barrier, errors: list) -> None:
        barrier.wait()
        try:
            store.ensure_tables()
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)

    for attempt in range(8):
        if isinstance(results_store, SqliteResultsStore):
            path = str(tmp_path / f"race-{attempt}.sqlite")
            stores = [SqliteResultsStore(path=path) for _ in range(4)]
        else:
            with results_store.engine().begin() as connection:
                for table in (schema.trades, schema.results):
                    table.drop(connection, checkfirst=True)
            stores = [results_store.model_copy() for _ in range(4)]
        barrier, errors = threading.Barrier(len(stores)), []
        threads = [
            threading.Thread(target=create, args=(store, barrier, errors)) for store in stores
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if isinstance(results_store, SqliteResultsStore):
            for store in stores:
                store.dispose()
        assert errors == [], errors


def test_a_deadlock_inside_load_data_retries_the_transaction(mysql_database):
    """LOAD DATA goes through the raw pymysql cursor, so InnoDB's deadlock (1213) reaches the
    transaction unwrapped by SQLAlchemy: it must be retried like a wrapped one (two leaderboard
    runs replacing ledgers at once deadlocked and failed on MariaDB before)."""
    store = mysql_store(mysql_database)
    store.ensure_tables()
    attempts = []

    def work(connection: sa.Connection) -> None:
        attempts.append(1)
        connection.execute(sa.delete(schema.trades).where(schema.trades.c.backtest_id == "x"))
        if len(attempts) == 1:
            raise pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock")

    store.run_in_transaction(work)
    assert len(attempts) == 2
    # Not every error is a lock conflict: a syntax error fails at once.
    with pytest.raises(pymysql.err.ProgrammingError):
        store.run_in_transaction(
            lambda connection: (_ for _ in ()).throw(pymysql.err.ProgrammingError(1064, "syntax"))
        )
    store.dispose()


@pytest.mark.parametrize("too_long", ["every_row", "one_row"])  # SET parameter / CSV field
def test_load_data_warning_fails_the_batch_instead_of_truncating(mysql_database, too_long):
    store = mysql_store(mysql_database, write_connections=1)
    store.ensure_tables()
    rows = result_rows(20)
    long_name = pl.lit("A_TICKER_NAME_TOO_LONG_FOR_16")
    rows = rows.with_columns(
        ticker=long_name
        if too_long == "every_row"
        else pl.when(pl.int_range(20) == 7).then(long_name).otherwise(pl.lit("SPY"))
    )
    with pytest.raises(ResultsStoreError, match="results.*(too long|truncated|warning)"):
        store.upsert(schema.results, rows)
    assert read_results(store).height == 0
    store.dispose()


def test_parallel_connections_write_exactly_the_rows(mysql_database, tmp_path):
    """Three connections, many small batches: the same table as one SQLite writer produces."""
    store = mysql_store(mysql_database, batch_rows=97, write_connections=3)
    reference = SqliteResultsStore(path=str(tmp_path / "reference.sqlite"))
    for target in (store, reference):
        target.ensure_tables()
        target.upsert(schema.results, result_rows(1000, run_id="first"))
        report = target.upsert(schema.results, result_rows(1000, run_id="again", profit_offset=2.0))
    assert report.rows == 1000
    written = read_results(store)
    assert written.height == 1000 and written["run_id"].unique().to_list() == ["again"]
    assert_frame_equal(
        written.drop("window_start", "window_end"),
        read_results(reference).drop("window_start", "window_end"),
    )
    store.dispose()
    reference.dispose()


def test_a_failed_batch_stops_every_connection_and_a_rerun_completes(mysql_database):
    store = mysql_store(mysql_database, batch_rows=50, write_connections=2)
    store.ensure_tables()
    rows = result_rows(1000).sort("backtest_id")
    bad = rows.with_columns(  # row 30 sits in the first connection's first batch
        ticker=pl.when(pl.int_range(1000) == 30).then(pl.lit("X" * 40)).otherwise(pl.col("ticker"))
    )
    with pytest.raises(ResultsStoreError, match="too long for column 'ticker'"):
        store.upsert(schema.results, bad)
    # The second connection stopped after the batch it was writing (500 rows if it had gone on;
    # one more batch of margin for thread scheduling).
    assert read_results(store).height <= 100
    store.upsert(schema.results, rows)
    assert read_results(store)["backtest_id"].to_list() == rows["backtest_id"].to_list()
    store.dispose()


def test_boolean_columns_round_trip_on_every_path(results_store):
    flags = sa.Table(
        "flag_rows",
        sa.MetaData(),
        sa.Column("row_id", sa.String(8), primary_key=True),
        sa.Column("promotion_ready", sa.Boolean, nullable=False),
        sa.Column("maybe", sa.Boolean, nullable=True),
    )
    results_store.ensure_tables(flags)
    frame = pl.DataFrame(
        {
            "row_id": ["a", "b", "c"],
            "promotion_ready": [True, False, True],
            "maybe": [None, True, False],
        }
    )
    results_store.upsert(flags, frame)
    stored = results_store.read(sa.select(flags).order_by(flags.c.row_id))
    assert [bool(v) for v in stored["promotion_ready"].to_list()] == [True, False, True]
    assert [None if v is None else bool(v) for v in stored["maybe"].to_list()] == [
        None,
        True,
        False,
    ]


def damage_sqlite(path) -> None:
    """Overwrite the file's pages after the first two with garbage (a damaged disk or copy)."""
    with open(path, "r+b") as handle:
        handle.seek(2 * 4096)
        size = handle.seek(0, 2) - 2 * 4096
        handle.seek(2 * 4096)
        handle.write(bytes(range(256)) * (size // 256))


def damaged_sqlite_store(path) -> None:
    """A results SQLite file at ``path`` with 3,000 rows, then damaged."""
    store = SqliteResultsStore(path=str(path))
    store.ensure_tables()
    store.upsert(schema.results, result_rows(3000))
    store.dispose()
    damage_sqlite(path)


def test_a_damaged_sqlite_file_is_named_with_what_to_do(tmp_path):
    """Issue 15: "database disk image is malformed" came with no path."""
    path = tmp_path / "results.sqlite"
    damaged_sqlite_store(path)
    store = SqliteResultsStore(path=str(path))
    with pytest.raises(ResultsStoreCorruptError, match=f"SQLite {path} is damaged .*restore it"):
        read_results(store)
    store.dispose()


def test_read_in_batches_equals_one_batch(results_store):
    """Issue 15: ``read`` streams rows in batches (a 1 M-row window read 4 GB as Python rows);
    any batch size gives the frame of one batch: values, order, and column types inferred over
    every row (the first batch's ``sharpe`` is all NULL, a JSON column comes back as text)."""
    results_store.ensure_tables()
    rows = result_rows(23).with_columns(
        sharpe=pl.Series([None] * 5 + [0.25 * i for i in range(18)], dtype=pl.Float64),
        trade_stats=pl.Series([{"n": i} if i % 2 else None for i in range(23)]),
    )
    results_store.upsert(schema.results, rows)
    # NULLs sort first on both dialects: the first batches hold no sharpe at all.
    statement = sa.select(schema.results).order_by(
        schema.results.c.sharpe, schema.results.c.backtest_id
    )
    whole = results_store.read(statement, batch_rows=1_000)
    assert whole["sharpe"].head(5).null_count() == 5
    assert whole.height == 23 and whole.schema["sharpe"] == pl.Float64
    assert whole["sharpe"].null_count() == 5
    assert sorted(v for v in whole["trade_stats"].to_list() if v) == sorted(
        f'{{"n": {i}}}' for i in range(1, 23, 2)
    )
    for batch_rows in (1, 4, 5, 22):
        assert_frame_equal(results_store.read(statement, batch_rows=batch_rows), whole)
    empty = results_store.read(statement.where(schema.results.c.ticker == "NONE"), batch_rows=4)
    assert empty.height == 0 and empty.columns == whole.columns
