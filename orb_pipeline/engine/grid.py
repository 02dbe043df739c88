"""Parameter grids: the original's default sweep and cartesian products of parameter ranges.

A grid is a polars DataFrame with one row per backtest: ``range_seconds`` (Int64),
``stop_distance`` (Float64), ``stop_count_limit`` (Int64), ``stop_cooloff_period`` (Int64),
``limit_distance`` (Float64). Products enumerate in the order of ``GRID_COLUMNS`` with the first
column varying slowest, so a grid's row order is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import numpy as np
import polars as pl

GRID_COLUMNS = (
    "range_seconds",
    "stop_distance",
    "stop_count_limit",
    "stop_cooloff_period",
    "limit_distance",
)
GRID_SCHEMA = {
    "range_seconds": pl.Int64,
    "stop_distance": pl.Float64,
    "stop_count_limit": pl.Int64,
    "stop_cooloff_period": pl.Int64,
    "limit_distance": pl.Float64,
}


def inclusive_range(start: float, stop: float, step: float) -> list[float]:
    """``start, start+step, ... <= stop`` (both ends inclusive), computed in decimal so that
    ``inclusive_range(0.1, 1.9, 0.1)`` gives exactly the floats 0.1, 0.2, ..., 1.9."""
    lo, hi, inc = (Decimal(repr(v)) for v in (start, stop, step))
    if inc <= 0:
        raise ValueError(f"step must be > 0, got {step!r}")
    count = int((hi - lo) / inc) + 1 if hi >= lo else 0
    return [float(lo + inc * i) for i in range(count)]


def _values(name: str, value) -> np.ndarray:
    if isinstance(value, int | float | np.integer | np.floating):
        value = [value]
    values = list(value) if isinstance(value, Iterable) else None
    if not values:
        raise ValueError(f"{name}: give a number or a non-empty sequence of numbers")
    dtype = np.int64 if GRID_SCHEMA[name] == pl.Int64 else np.float64
    return np.asarray(values, dtype=dtype)


def make_grid(
    *,
    range_seconds,
    stop_distance,
    stop_count_limit,
    stop_cooloff_period,
    limit_distance,
) -> pl.DataFrame:
    """Cartesian product of the given values (scalars or sequences), first column slowest.

    Built with numpy repeat/tile, so grids of millions of rows take milliseconds. Values are
    validated by ``sweep`` (domains in docs/STRATEGY.md), not here.
    """
    given = {
        "range_seconds": range_seconds,
        "stop_distance": stop_distance,
        "stop_count_limit": stop_count_limit,
        "stop_cooloff_period": stop_cooloff_period,
        "limit_distance": limit_distance,
    }
    axes = [_values(name, given[name]) for name in GRID_COLUMNS]
    total = int(np.prod([len(a) for a in axes]))
    columns = {}
    inner = total
    for name, axis in zip(GRID_COLUMNS, axes, strict=True):
        inner //= len(axis)
        outer = total // (inner * len(axis))
        columns[name] = np.tile(np.repeat(axis, inner), outer)
    return pl.DataFrame(columns, schema=GRID_SCHEMA)


def default_grid() -> pl.DataFrame:
    """The original engine's sweep: 9,747 backtests (docs/STRATEGY.md, "The default grid")."""
    return make_grid(
        range_seconds=30,
        stop_distance=inclusive_range(0.1, 1.9, 0.1),
        stop_count_limit=[1, 2, 3],
        stop_cooloff_period=list(range(30, 271, 30)),
        limit_distance=inclusive_range(1, 19, 1),
    )
