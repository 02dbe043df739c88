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

# Parameter domains (docs/STRATEGY.md), bounded so that the int64 unit arithmetic cannot overflow:
# prices are at most units.MAX_PRICE_DOLLARS (1e12 units), a distance at most MAX_DISTANCE in any unit
# (dollars, percent of the entry, expected moves of at most MAX_PRICE_DOLLARS), so a stop or limit
# level stays below ~1e18 units, far from int64's 9.2e18.
MAX_DISTANCE = 1_000_000.0
MAX_SECONDS = 86_400  # range_seconds and stop_cooloff_period: no session is longer than a day
MAX_STOP_COUNT = 1_000_000
INTEGER_DOMAINS = {  # inclusive (lowest, highest)
    "range_seconds": (1, MAX_SECONDS),
    "stop_count_limit": (1, MAX_STOP_COUNT),
    "stop_cooloff_period": (0, MAX_SECONDS),
}
DISTANCE_COLUMNS = ("stop_distance", "limit_distance")


def domain_error(name: str, values: np.ndarray) -> str | None:
    """Why ``values`` of grid parameter ``name`` leave its domain (message naming the parameter
    and the first bad values), or None when every value is inside it."""
    values = np.asarray(values)
    if name in INTEGER_DOMAINS:
        lowest, highest = INTEGER_DOMAINS[name]
        as_float = values.astype(np.float64)
        bad = ~((as_float >= lowest) & (as_float <= highest) & (np.floor(as_float) == as_float))
        if values.dtype.kind in "iu":  # exact for integers beyond float64's 2**53
            bad = ~((values >= lowest) & (values <= highest))
        domain = f"integers in [{lowest}, {highest}]"
    else:
        as_float = values.astype(np.float64)
        bad = ~((as_float > 0) & (as_float <= MAX_DISTANCE))  # also refuses NaN
        domain = f"finite, > 0 and <= {MAX_DISTANCE:,.0f}"
    if not bad.any():
        return None
    return f"grid parameter {name!r} must be {domain}, got {values[bad][:3].tolist()}"


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
    if any(
        isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating)
        for v in values
    ):
        raise ValueError(f"{name}: values must be numbers (not booleans), got {values[:3]!r}")
    problem = domain_error(
        name, np.asarray(values, dtype=object if name in INTEGER_DOMAINS else np.float64)
    )
    if problem:
        raise ValueError(problem)
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

    Built with numpy repeat/tile, so grids of millions of rows take milliseconds. Values outside
    the parameter domains (``INTEGER_DOMAINS``, ``MAX_DISTANCE``) raise ``ValueError`` naming the
    parameter; ``sweep`` checks any grid frame the same way.
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
