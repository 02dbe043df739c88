"""Validation of the engine's inputs and their conversion to flat numpy arrays.

Every bad input raises ``ValueError`` naming the column or parameter. The converted window
(``Window``) holds the ticks of all sessions back to back in chronological order:
``times``/``prices`` (int64 seconds / int64 units) with ``offsets[s]:offsets[s+1]`` the ticks of
session ``s``; sessions are sorted by ``session_date``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from orb_pipeline.engine.enums import DISTANCE_UNITS, DistanceUnit
from orb_pipeline.engine.grid import (
    DISTANCE_COLUMNS,
    GRID_COLUMNS,
    GRID_SCHEMA,
    INTEGER_DOMAINS,
    domain_error,
)
from orb_pipeline.engine.units import MAX_PRICE_DOLLARS, ticks_to_units_nb, to_units

_INTEGER_TYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
_FLOAT_TYPES = (pl.Float32, pl.Float64)


def _require_frame(frame, what: str) -> pl.DataFrame:
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"{what} must be a polars DataFrame, got {type(frame).__name__}")
    return frame


def _require_column(
    frame: pl.DataFrame, what: str, name: str, kinds, kind_name: str, *, nulls=False
):
    if name not in frame.columns:
        raise ValueError(f"{what} is missing column {name!r} (columns: {frame.columns})")
    dtype = frame.schema[name]
    if not any(dtype == k for k in kinds):
        raise ValueError(f"{what} column {name!r} must be {kind_name}, got {dtype}")
    if not nulls and frame[name].null_count():
        raise ValueError(f"{what} column {name!r} has {frame[name].null_count()} null value(s)")


def _dates_as_int(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Date).to_physical().to_numpy().astype(np.int64)


# Arrays handed to kernels are always writable copies: numba compiles read-only arrays (polars'
# zero-copy views) as a separate type, which would double the compile time.


def check_distance_unit(distance_unit: str) -> DistanceUnit:
    if distance_unit not in DISTANCE_UNITS:
        raise ValueError(f"distance_unit must be one of {DISTANCE_UNITS}, got {distance_unit!r}")
    return DistanceUnit(DISTANCE_UNITS.index(distance_unit))


@dataclass(frozen=True)
class Sessions:
    """The window's sessions in chronological order (after dropping skipped ones)."""

    dates: pl.Series  # Date
    day_numbers: np.ndarray  # int64 days since epoch, strictly increasing
    open_utc: np.ndarray  # int64
    close_utc: np.ndarray | None  # int64 or None when the column is absent
    expected_move: np.ndarray  # float64 dollars (zeros unless distance_unit="expected_move")
    skipped_days: np.ndarray  # int64 day numbers of the sessions dropped for a null expected_move

    @property
    def skipped(self) -> int:
        return len(self.skipped_days)


def prepare_sessions(sessions, distance_unit: str = "dollars") -> Sessions:
    sessions = _require_frame(sessions, "sessions")
    unit = check_distance_unit(distance_unit)
    _require_column(sessions, "sessions", "session_date", (pl.Date,), "Date")
    _require_column(sessions, "sessions", "open_utc", _INTEGER_TYPES, "an integer (Int64) type")
    if "close_utc" in sessions.columns:
        _require_column(
            sessions, "sessions", "close_utc", _INTEGER_TYPES, "an integer (Int64) type"
        )
    skipped_days = np.zeros(0, dtype=np.int64)
    if unit == DistanceUnit.EXPECTED_MOVE:
        if "expected_move" not in sessions.columns:
            raise ValueError(
                "sessions is missing column 'expected_move', required by distance_unit='expected_move'"
            )
        _require_column(sessions, "sessions", "expected_move", _FLOAT_TYPES, "Float64", nulls=True)
        keep = sessions["expected_move"].is_not_null()
        skipped_days = _dates_as_int(sessions.filter(~keep)["session_date"])
        sessions = sessions.filter(keep)
        em = sessions["expected_move"].cast(pl.Float64).to_numpy(writable=True)
        if not np.all((em > 0) & (em <= MAX_PRICE_DOLLARS)):
            raise ValueError(
                f"sessions column 'expected_move' must be finite, > 0 and <= {MAX_PRICE_DOLLARS:,.0f} "
                "(or null to skip)"
            )
    sessions = sessions.sort("session_date")
    days = _dates_as_int(sessions["session_date"])
    if len(days) > 1 and np.any(days[1:] == days[:-1]):
        raise ValueError("sessions column 'session_date' has duplicate dates")
    open_utc = sessions["open_utc"].cast(pl.Int64).to_numpy(writable=True)
    close_utc = None
    if "close_utc" in sessions.columns:
        close_utc = sessions["close_utc"].cast(pl.Int64).to_numpy(writable=True)
        if np.any(close_utc < open_utc):
            raise ValueError("sessions column 'close_utc' is before 'open_utc' in some session")
    if unit == DistanceUnit.EXPECTED_MOVE:
        em = sessions["expected_move"].cast(pl.Float64).to_numpy(writable=True)
    else:
        em = np.zeros(len(days), dtype=np.float64)
    return Sessions(
        sessions["session_date"], days, open_utc, close_utc, np.ascontiguousarray(em), skipped_days
    )


def count_skipped_sessions(sessions, distance_unit: str = "dollars") -> int:
    """Sessions of ``sessions`` that ``sweep``/``ledger`` leave out of the window: those whose
    ``expected_move`` is null when ``distance_unit="expected_move"`` (0 for other units)."""
    return prepare_sessions(sessions, distance_unit).skipped


@dataclass(frozen=True)
class Window:
    sessions: Sessions
    times: np.ndarray  # int64 seconds, sorted
    prices: np.ndarray  # int64 units
    offsets: np.ndarray  # int64 [n_sessions + 1]

    @property
    def n_sessions(self) -> int:
        return len(self.sessions.open_utc)

    @property
    def session_seconds(self) -> np.ndarray:
        """Length of each session in seconds, the denominator of ``exposure``: ``close_utc -
        open_utc`` when ``sessions`` has ``close_utc``, else the last tick's time - ``open_utc``
        (0 for a session without ticks)."""
        if self.sessions.close_utc is not None:
            return self.sessions.close_utc - self.sessions.open_utc
        counts = np.diff(self.offsets)
        last_time = self.times[np.maximum(self.offsets[1:] - 1, 0)] if len(self.times) else counts
        return np.where(counts > 0, last_time - self.sessions.open_utc, 0).astype(np.int64)


def prepare_window(
    series, sessions, distance_unit: str = "dollars", *, price_column="price"
) -> Window:
    """Validate ``series`` against ``sessions`` and convert both (see module docstring)."""
    prepared = prepare_sessions(sessions, distance_unit)
    series = _require_frame(series, "series")
    _require_column(series, "series", "session_date", (pl.Date,), "Date")
    _require_column(series, "series", "timestamp_utc", _INTEGER_TYPES, "an integer (Int64) type")
    _require_column(series, "series", price_column, _FLOAT_TYPES, "Float64")
    tick_days = _dates_as_int(series["session_date"])
    times = series["timestamp_utc"].cast(pl.Int64).to_numpy(writable=True)
    prices = series[price_column].cast(pl.Float64).to_numpy(writable=True)
    if len(prepared.skipped_days):
        # Ticks of sessions skipped for a null expected_move leave the window with them.
        keep = ~np.isin(tick_days, prepared.skipped_days)
        tick_days, times, prices = tick_days[keep], times[keep], prices[keep]
    units, unsorted, bad = ticks_to_units_nb(times, prices)
    if unsorted >= 0:
        raise ValueError(f"series column 'timestamp_utc' is not sorted ascending (row {unsorted})")
    if bad >= 0:
        raise ValueError(
            f"series column {price_column!r} must be finite, at least $0.00005 and at most "
            f"${MAX_PRICE_DOLLARS:,.0f}, "
            f"got {prices[bad]!r} at row {bad}"
        )

    n_sessions = len(prepared.day_numbers)
    # Runs of equal session_date; each run must be a known session, runs in chronological order.
    if len(tick_days):
        starts = np.concatenate(([0], np.flatnonzero(tick_days[1:] != tick_days[:-1]) + 1))
        run_days = tick_days[starts]
        run_session = np.searchsorted(prepared.day_numbers, run_days)
        known = run_session < n_sessions
        known[known] &= prepared.day_numbers[run_session[known]] == run_days[known]
        if not known.all():
            bad = pl.Series(run_days[~known][:1].astype("datetime64[D]")).to_list()[0]
            raise ValueError(
                f"series column 'session_date' has ticks of session {bad}, which is not in sessions"
            )
        if np.any(run_session[1:] <= run_session[:-1]):
            raise ValueError(
                "series column 'session_date' is out of order: each session's ticks must be "
                "contiguous and sessions in chronological order (sorted by timestamp_utc)"
            )
        counts = np.zeros(n_sessions, dtype=np.int64)
        ends = np.concatenate((starts[1:], [len(tick_days)]))
        counts[run_session] = ends - starts
        first_time = times[starts]
        last_time = times[ends - 1]
        if np.any(first_time < prepared.open_utc[run_session]):
            raise ValueError(
                "series column 'timestamp_utc' has a tick before its session's open_utc"
            )
        if prepared.close_utc is not None and np.any(last_time > prepared.close_utc[run_session]):
            raise ValueError(
                "series column 'timestamp_utc' has a tick after its session's close_utc"
            )
    else:
        counts = np.zeros(n_sessions, dtype=np.int64)
    offsets = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Window(prepared, np.ascontiguousarray(times), np.ascontiguousarray(units), offsets)


@dataclass(frozen=True)
class Grid:
    """A validated grid as kernel arrays (one entry per combination, grid order)."""

    frame: pl.DataFrame
    range_seconds: np.ndarray  # int64
    stop_distance: np.ndarray  # float64 as given (dollars, percent or expected-move multiples)
    limit_distance: np.ndarray  # float64
    stop_units: np.ndarray  # int64 units (meaningful for distance_unit="dollars")
    limit_units: np.ndarray  # int64
    stop_count_limit: np.ndarray  # int64
    stop_cooloff_period: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.range_seconds)


def prepare_grid(grid) -> Grid:
    grid = _require_frame(grid, "grid")
    for name in GRID_COLUMNS:
        if name in ("stop_distance", "limit_distance"):
            _require_column(grid, "grid", name, _FLOAT_TYPES + _INTEGER_TYPES, "Float64")
        else:
            _require_column(grid, "grid", name, _INTEGER_TYPES, "an integer (Int64) type")
    if grid.height == 0:
        raise ValueError("grid is empty: give at least one parameter combination")
    columns = {name: grid[name].to_numpy() for name in GRID_COLUMNS}
    for name in GRID_COLUMNS:
        problem = domain_error(name, columns[name])
        if problem:
            raise ValueError(problem.replace("grid parameter", "grid column", 1))
    ints = {n: columns[n].astype(np.int64) for n in INTEGER_DOMAINS}
    floats = {n: columns[n].astype(np.float64) for n in DISTANCE_COLUMNS}
    return Grid(
        frame=grid,
        range_seconds=ints["range_seconds"],
        stop_distance=floats["stop_distance"],
        limit_distance=floats["limit_distance"],
        stop_units=to_units(floats["stop_distance"]),
        limit_units=to_units(floats["limit_distance"]),
        stop_count_limit=ints["stop_count_limit"],
        stop_cooloff_period=ints["stop_cooloff_period"],
    )


def grid_from_params(params: dict) -> pl.DataFrame:
    """One-row grid from a parameter dict (``ledger``); names a missing parameter."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of the grid columns, got {type(params).__name__}")
    row = {}
    for name in GRID_COLUMNS:
        if name not in params:
            raise ValueError(f"params is missing parameter {name!r}")
        value = params[name]
        integer = name in ("range_seconds", "stop_count_limit", "stop_cooloff_period")
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
        if integer and not float(value).is_integer():
            raise ValueError(f"parameter {name!r} must be an integer, got {value!r}")
        row[name] = [int(value)] if integer else [float(value)]
    return pl.DataFrame(row, schema=GRID_SCHEMA)
