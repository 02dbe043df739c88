"""The engine's public API on polars frames (validation, conversion, kernels, reporting)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
import polars as pl

from orb_pipeline.engine import nb, rules
from orb_pipeline.engine.costs import NO_COSTS, Costs
from orb_pipeline.engine.enums import EXIT_REASON_NAMES
from orb_pipeline.engine.grid import GRID_COLUMNS
from orb_pipeline.engine.inputs import (
    Window,
    _require_frame,
    check_distance_unit,
    grid_from_params,
    prepare_grid,
    prepare_window,
)
from orb_pipeline.engine.metrics import (
    ACC_DAYS_TRADED,
    ACC_GROSS,
    ACC_HOLDING,
    ACC_LONGEST_DRAWDOWN,
    ACC_LOSS_UNITS,
    ACC_MAX_DRAWDOWN,
    ACC_NET,
    ACC_STOPS,
    ACC_TRADES,
    ACC_WIN_UNITS,
    ACC_WINNING_DAYS,
    ACC_WINNING_TRADES,
    FSTAT_R,
    FSTAT_RETURN,
    N_ACC,
    N_FSTAT,
    N_SERIES,
    N_STAT,
    metrics_frame,
    session_series_columns_nb,
)
from orb_pipeline.engine.plan import CHUNK_BYTES, plan_paths
from orb_pipeline.engine.units import to_units


def _costs(costs: Costs | None) -> tuple[float, float, bool]:
    if costs is None:
        costs = NO_COSTS
    if not isinstance(costs, Costs):
        raise ValueError(f"costs must be an orb_pipeline.engine.Costs, got {type(costs).__name__}")
    return costs.kernel_args()


def _trade_rules(unit: int, costs: Costs | None) -> rules.TradeRules:
    return rules.TradeRules(int(unit), *_costs(costs))


def _window_arrays(window: Window) -> nb.WindowArrays:
    return nb.WindowArrays(
        window.times, window.prices, window.offsets, window.sessions.expected_move
    )


def _tables(window: Window, range_lengths: np.ndarray) -> nb.SearchTables:
    block_max, block_min = nb.build_block_tables_nb(window.prices, nb.table_levels(window.offsets))
    first, high, low, entry, last = nb.session_tables_nb(
        window.times,
        window.prices,
        window.offsets,
        window.sessions.open_utc,
        range_lengths,
        block_max,
        block_min,
    )
    return nb.SearchTables(block_max, block_min, first, high, low, entry, last)


# Scratch limits of the sweep kernel (``nb.KernelLimits``); results never depend on them.
KernelLimits = nb.KernelLimits
DEFAULT_KERNEL_LIMITS = nb.KernelLimits()


def _prepare(series, sessions, grid, costs, distance_unit):
    unit = check_distance_unit(distance_unit)
    _costs(costs)
    grid = prepare_grid(grid)
    window = prepare_window(series, sessions, distance_unit)
    return window, grid, unit


def sweep(
    series,
    sessions,
    grid,
    *,
    costs: Costs | None = None,
    distance_unit: str = "dollars",
    kernel_limits: KernelLimits = DEFAULT_KERNEL_LIMITS,
) -> pl.DataFrame:
    """Backtest every grid row over the window; one row per grid row, in grid order.

    ``series``: ``session_date`` (Date), ``timestamp_utc`` (Int64 s), ``price`` (Float64), sorted by
    time, used as given. ``sessions``: ``session_date``, ``open_utc`` (+ optional ``close_utc``,
    ``expected_move``), every session of the window (a session without ticks counts as flat).
    Returns the grid's columns plus the metrics of docs/STRATEGY.md (``profit_factor`` null when no
    trade lost) and those of docs/SEMANTICS_EXTENSIONS.md section 5. Costs and distance units:
    docs/SEMANTICS_EXTENSIONS.md. ``kernel_limits`` bounds the kernel's scratch memory (results
    never depend on it; tests shrink it to reach the fallbacks).
    """
    window, prepared, unit = _prepare(series, sessions, grid, costs, distance_unit)
    plan = plan_paths(prepared, unit)
    tables = _tables(window, plan.range_lengths)
    groups = max(1, min(numba.get_num_threads(), window.n_sessions))
    window_arrays = _window_arrays(window)
    trade_rules = _trade_rules(unit, costs)
    acc = np.zeros((len(prepared), N_ACC), dtype=np.int64)
    series_metrics = np.zeros((len(prepared), N_SERIES), dtype=np.float64)
    unused = np.zeros((N_STAT, 1, 1), dtype=np.int64)
    funused = np.zeros((N_FSTAT, 1, 1), dtype=np.float64)
    # Per chunk: per-session nets (int64) and N_FSTAT float arrays of the same shape.
    for chunk in plan.chunks(window.n_sessions, CHUNK_BYTES // (1 + N_FSTAT)):
        members = len(chunk.member_combo)
        # Accumulators per member (in plan order) and per session group; summed below.
        member_acc = np.zeros((groups, members, N_ACC), dtype=np.int64)
        nets = np.zeros((window.n_sessions, members), dtype=np.int64)
        fnets = np.zeros((N_FSTAT, window.n_sessions, members), dtype=np.float64)
        outputs = nb.SweepOutputs(False, member_acc, nets, fnets, unused, funused)
        nb.sweep_trios_nb(window_arrays, tables, chunk, trade_rules, outputs, kernel_limits)
        drawdown, longest, member_series = session_series_columns_nb(
            nets, fnets[FSTAT_RETURN], fnets[FSTAT_R]
        )
        member_acc = member_acc.sum(axis=0)
        member_acc[:, ACC_MAX_DRAWDOWN] = drawdown
        member_acc[:, ACC_LONGEST_DRAWDOWN] = longest
        acc[chunk.member_combo] = member_acc
        series_metrics[chunk.member_combo] = member_series
    return metrics_frame(
        prepared.frame, acc, series_metrics, window.n_sessions, int(window.session_seconds.sum())
    )


def ledger(
    series, sessions, params: dict, *, costs: Costs | None = None, distance_unit: str = "dollars"
) -> pl.DataFrame:
    """Every trade of one parameter set (a dict of the five grid columns), in time order.

    Columns: ``session_date``, ``side`` (long/short), ``entry_utc``, ``entry_price``, ``exit_utc``,
    ``exit_price``, ``exit_reason`` (limit/stop/eod), ``profit`` (net of costs, dollars per share),
    ``holding_seconds``, ``gross_profit`` (before costs), ``return_percent`` (net profit in percent
    of the entry price) and ``profit_r`` (net profit / stop distance at entry; null when that
    distance is 0). Prices are the engine's exact unit prices in dollars.
    """
    window, prepared, unit = _prepare(
        series, sessions, grid_from_params(params), costs, distance_unit
    )
    tables = _tables(window, prepared.range_seconds)
    combination = nb.Combination(
        float(prepared.stop_distance[0]),
        int(prepared.stop_units[0]),
        float(prepared.limit_distance[0]),
        int(prepared.limit_units[0]),
        int(prepared.stop_cooloff_period[0]),
        int(prepared.stop_count_limit[0]),
    )
    rows, session_index = nb.ledger_nb(
        _window_arrays(window), tables, combination, _trade_rules(unit, costs)
    )
    entry = rows[:, rules.TRADE_ENTRY]
    exit_ = rows[:, rules.TRADE_EXIT]
    net = rows[:, rules.TRADE_NET]
    stop_units = rows[:, rules.TRADE_STOP_UNITS]
    entry_units = window.prices[entry]
    with np.errstate(divide="ignore", invalid="ignore"):
        r_multiple = np.where(
            stop_units != 0, net / np.where(stop_units != 0, stop_units, 1), np.nan
        )
    return pl.DataFrame(
        {
            "session_date": window.sessions.dates.gather(session_index),
            "side": np.where(rows[:, rules.TRADE_SIDE] > 0, "long", "short"),
            "entry_utc": window.times[entry],
            "entry_price": window.prices[entry] / 10000.0,
            "exit_utc": window.times[exit_],
            "exit_price": window.prices[exit_] / 10000.0,
            "exit_reason": np.asarray(EXIT_REASON_NAMES)[rows[:, rules.TRADE_REASON]],
            "profit": net / 10000.0,
            "holding_seconds": window.times[exit_] - window.times[entry],
            "gross_profit": rows[:, rules.TRADE_GROSS] / 10000.0,
            "return_percent": net * 100.0 / entry_units,
            "profit_r": r_multiple,
        },
        schema={
            "session_date": pl.Date,
            "side": pl.String,
            "entry_utc": pl.Int64,
            "entry_price": pl.Float64,
            "exit_utc": pl.Int64,
            "exit_price": pl.Float64,
            "exit_reason": pl.String,
            "profit": pl.Float64,
            "holding_seconds": pl.Int64,
            "gross_profit": pl.Float64,
            "return_percent": pl.Float64,
            "profit_r": pl.Float64,
        },
    ).with_columns(pl.col("profit_r").fill_nan(None))


@dataclass(frozen=True)
class SessionStats:
    """Per combination x session results of one kernel pass (``session_stats``).

    The per-session arrays have shape ``(n_combos, n_sessions)``; rows follow ``grid`` order,
    columns ``session_dates`` (chronological). Money is in units of $0.0001, net of costs unless
    stated. int64:

    - ``net_units``: sum of net trade profits of the session (0 when flat)
    - ``trades``, ``stops``: trades, and trades that exited at their stop
    - ``winning_trades``: trades with net profit > 0
    - ``win_units`` / ``loss_units``: sums of the net profits of winning (> 0) / losing (< 0) trades
    - ``holding_seconds``: sum of the trades' holding periods
    - ``gross_units``: sum of gross trade profits (before costs)

    float64, sums over the session's trades in trade order:

    - ``return_percent``: net profit in percent of the entry price
    - ``profit_r``: net profit in R-multiples (NaN when a trade's stop distance was 0)

    and ``session_seconds`` (int64, ``(n_sessions,)``): each session's length, the denominator of
    ``exposure`` (docs/SEMANTICS_EXTENSIONS.md section 5).
    """

    grid: pl.DataFrame
    session_dates: pl.Series
    net_units: np.ndarray
    trades: np.ndarray
    stops: np.ndarray
    winning_trades: np.ndarray
    win_units: np.ndarray
    loss_units: np.ndarray
    holding_seconds: np.ndarray
    gross_units: np.ndarray
    return_percent: np.ndarray
    profit_r: np.ndarray
    session_seconds: np.ndarray

    @property
    def n_sessions(self) -> int:
        return self.net_units.shape[1]


# Bytes ``session_stats`` keeps per combination and session: N_STAT int64 + N_FSTAT float64 arrays.
SESSION_STATS_BYTES_PER_CELL = 8 * (N_STAT + N_FSTAT)


def _stats_of(window: Window, prepared, unit, costs, kernel_limits) -> SessionStats:
    plan = plan_paths(prepared, unit)
    tables = _tables(window, plan.range_lengths)
    values = np.zeros((N_STAT, len(prepared), window.n_sessions), dtype=np.int64)
    fvalues = np.zeros((N_FSTAT, len(prepared), window.n_sessions), dtype=np.float64)
    groups = max(1, min(numba.get_num_threads(), window.n_sessions))
    outputs = nb.SweepOutputs(
        True,
        np.zeros((groups, 1, N_ACC), dtype=np.int64),
        np.zeros((1, 1), dtype=np.int64),
        np.zeros((N_FSTAT, 1, 1), dtype=np.float64),
        values,
        fvalues,
    )
    nb.sweep_trios_nb(
        _window_arrays(window), tables, plan, _trade_rules(unit, costs), outputs, kernel_limits
    )
    return SessionStats(
        prepared.frame, window.sessions.dates, *values, *fvalues, window.session_seconds
    )


def session_stats(
    series,
    sessions,
    grid,
    *,
    costs: Costs | None = None,
    distance_unit: str = "dollars",
    kernel_limits: KernelLimits = DEFAULT_KERNEL_LIMITS,
) -> SessionStats:
    """One kernel pass keeping each combination's per-session results, so that metrics over any
    subset of sessions (walk-forward folds) are a cheap ``aggregate`` away. Memory is
    ``SESSION_STATS_BYTES_PER_CELL`` (80) bytes per combination and session: for huge grids use
    ``session_stats_blocks`` (``sweep`` does not need this)."""
    window, prepared, unit = _prepare(series, sessions, grid, costs, distance_unit)
    return _stats_of(window, prepared, unit, costs, kernel_limits)


def session_stats_blocks(
    series,
    sessions,
    grid,
    rows_per_block: int,
    *,
    costs: Costs | None = None,
    distance_unit: str = "dollars",
    kernel_limits: KernelLimits = DEFAULT_KERNEL_LIMITS,
) -> Iterator[tuple[int, SessionStats]]:
    """``session_stats`` of ``grid`` in consecutive blocks of at most ``rows_per_block`` rows:
    yields ``(first grid row of the block, SessionStats of the block)`` in grid order. Each
    block's arrays equal rows ``[start, start + height)`` of one ``session_stats`` call exactly
    (every combination is computed independently); the window is prepared once, and memory is
    one block's ``SESSION_STATS_BYTES_PER_CELL x rows_per_block x sessions`` bytes at a time
    (a block is freed when the caller drops it)."""
    if isinstance(rows_per_block, bool) or not isinstance(rows_per_block, int | np.integer):
        raise ValueError(f"rows_per_block must be an integer >= 1, got {rows_per_block!r}")
    if rows_per_block < 1:
        raise ValueError(f"rows_per_block must be an integer >= 1, got {rows_per_block!r}")
    unit = check_distance_unit(distance_unit)
    _costs(costs)
    grid = _require_frame(grid, "grid")
    if grid.height == 0:
        prepare_grid(grid)  # the engine's own "grid is empty" error
    window = prepare_window(series, sessions, distance_unit)
    for start in range(0, grid.height, rows_per_block):
        prepared = prepare_grid(grid.slice(start, rows_per_block))
        yield start, _stats_of(window, prepared, unit, costs, kernel_limits)


def _session_index(stats: SessionStats, sessions) -> np.ndarray:
    n = stats.n_sessions
    if isinstance(sessions, pl.Series):
        sessions = sessions.to_numpy()
    index = np.asarray(sessions)
    if index.dtype == bool:
        if index.shape != (n,):
            raise ValueError(f"sessions mask must have length {n}, got shape {index.shape}")
        return np.flatnonzero(index)
    if index.ndim != 1 or (index.size and not np.issubdtype(index.dtype, np.integer)):
        raise ValueError("sessions must be a boolean mask or a 1-D array of session indices")
    index = np.unique(index.astype(np.int64))
    if index.size and (index[0] < 0 or index[-1] >= n):
        raise ValueError(f"sessions indices must be in [0, {n}), got {index[0]}..{index[-1]}")
    return index


def aggregate(stats: SessionStats, sessions=None) -> pl.DataFrame:
    """The ``sweep`` metrics over a subset of ``stats``' sessions, one row per combination.

    ``sessions``: a boolean mask over ``stats.session_dates`` or integer session indices (taken in
    chronological order, duplicates ignored); ``None`` = all. With all sessions the result equals
    ``sweep`` on the same inputs exactly.
    """
    index = np.arange(stats.n_sessions) if sessions is None else _session_index(stats, sessions)
    net = stats.net_units[:, index]
    trades = stats.trades[:, index]
    acc = np.zeros((net.shape[0], N_ACC), dtype=np.int64)
    acc[:, ACC_NET] = net.sum(axis=1)
    acc[:, ACC_TRADES] = trades.sum(axis=1)
    acc[:, ACC_STOPS] = stats.stops[:, index].sum(axis=1)
    acc[:, ACC_DAYS_TRADED] = (trades > 0).sum(axis=1)
    acc[:, ACC_WINNING_DAYS] = (net > 0).sum(axis=1)
    acc[:, ACC_WINNING_TRADES] = stats.winning_trades[:, index].sum(axis=1)
    acc[:, ACC_WIN_UNITS] = stats.win_units[:, index].sum(axis=1)
    acc[:, ACC_LOSS_UNITS] = stats.loss_units[:, index].sum(axis=1)
    acc[:, ACC_HOLDING] = stats.holding_seconds[:, index].sum(axis=1)
    acc[:, ACC_GROSS] = stats.gross_units[:, index].sum(axis=1)
    drawdown, longest, series = session_series_columns_nb(
        np.ascontiguousarray(net.T),
        np.ascontiguousarray(stats.return_percent[:, index].T),
        np.ascontiguousarray(stats.profit_r[:, index].T),
    )
    acc[:, ACC_MAX_DRAWDOWN] = drawdown
    acc[:, ACC_LONGEST_DRAWDOWN] = longest
    return metrics_frame(
        stats.grid, acc, series, len(index), int(stats.session_seconds[index].sum())
    )


def opening_ranges(series, sessions, range_seconds: int) -> pl.DataFrame:
    """Per session (chronological): ``session_date``, ``range_high``, ``range_low``,
    ``open_price`` (first price) over ticks with ``open_utc <= t <= open_utc + range_seconds``, and
    ``tick_count``; prices null and ``tick_count`` 0 when that window has no tick."""
    if (
        isinstance(range_seconds, bool)
        or not isinstance(range_seconds, int | np.integer)
        or range_seconds < 1
    ):
        raise ValueError(f"range_seconds must be an integer >= 1, got {range_seconds!r}")
    window = prepare_window(series, sessions)
    high, low, first, count = nb.opening_ranges_nb(
        window.times, window.prices, window.offsets, window.sessions.open_utc, int(range_seconds)
    )
    empty = count == 0
    return pl.DataFrame(
        {
            "session_date": window.sessions.dates,
            "range_high": np.where(empty, np.nan, high / 10000.0),
            "range_low": np.where(empty, np.nan, low / 10000.0),
            "open_price": np.where(empty, np.nan, first / 10000.0),
            "tick_count": count,
        },
        schema={
            "session_date": pl.Date,
            "range_high": pl.Float64,
            "range_low": pl.Float64,
            "open_price": pl.Float64,
            "tick_count": pl.Int64,
        },
    ).with_columns(pl.col("range_high", "range_low", "open_price").fill_nan(None))


def compress_series(bars) -> pl.DataFrame:
    """Bars (``session_date``, ``timestamp_utc``, ``close``; sorted by time) -> the compressed
    series (``session_date``, ``timestamp_utc``, ``price``): within each session, runs of
    consecutive equal closes (compared in units of $0.0001) keep only their first bar, and the
    session's last bar is always kept. Nothing carries over from one session to the next."""
    if isinstance(bars, pl.LazyFrame):
        bars = bars.collect()
    if not isinstance(bars, pl.DataFrame):
        raise ValueError(f"bars must be a polars DataFrame, got {type(bars).__name__}")
    from orb_pipeline.engine.inputs import _FLOAT_TYPES, _INTEGER_TYPES, _require_column

    _require_column(bars, "bars", "session_date", (pl.Date,), "Date")
    _require_column(bars, "bars", "timestamp_utc", _INTEGER_TYPES, "an integer (Int64) type")
    _require_column(bars, "bars", "close", _FLOAT_TYPES, "Float64")
    times = bars["timestamp_utc"].cast(pl.Int64).to_numpy()
    if len(times) > 1 and np.any(times[1:] < times[:-1]):
        raise ValueError("bars column 'timestamp_utc' is not sorted ascending")
    close = bars["close"].cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(close)) or np.any(close <= 0):
        raise ValueError("bars column 'close' must be finite and > 0")
    units = to_units(close)
    days = bars["session_date"].to_physical().to_numpy()
    n = len(units)
    keep = np.ones(n, dtype=bool)
    if n > 1:
        same_session = days[1:] == days[:-1]
        keep[1:] = ~same_session | (units[1:] != units[:-1])
        keep[:-1] |= ~same_session  # the last bar of each session
    if n:
        keep[-1] = True
    out = bars.select(
        "session_date",
        pl.col("timestamp_utc").cast(pl.Int64),
        pl.col("close").cast(pl.Float64).alias("price"),
    )
    return out.filter(pl.Series(keep))


__all__ = [
    "GRID_COLUMNS",
    "SessionStats",
    "aggregate",
    "compress_series",
    "ledger",
    "opening_ranges",
    "session_stats",
    "sweep",
]
