"""Exact price arithmetic: integer units of $0.0001.

``units(x) = round_half_away_from_zero(x * 10000)`` where ``x * 10000`` is the float64 product.
Every comparison that decides a trade is made on int64 units; dollars appear only when results
are reported (``units / 10000``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

UNITS_PER_DOLLAR = 10_000
# Highest price accepted (dollars); a price of 1e12 units leaves int64 room for every level and sum
# (orb_pipeline.engine.grid's parameter domains).
MAX_PRICE_DOLLARS = 100_000_000.0


@njit(cache=True)
def round_half_away_nb(x: float) -> int:
    """Round a finite float to the nearest int64, halves away from zero (scalar, numba)."""
    if x >= 0.0:
        floor = np.floor(x)
        return np.int64(floor + 1.0) if x - floor >= 0.5 else np.int64(floor)
    floor = np.floor(-x)
    return -(np.int64(floor + 1.0) if -x - floor >= 0.5 else np.int64(floor))


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Vectorized ``round_half_away_nb`` on a float64 array -> int64 array (finite input)."""
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(values)
    floor = np.floor(magnitude)
    rounded = floor + (magnitude - floor >= 0.5)
    return (np.sign(values) * rounded).astype(np.int64)


def to_units(dollars: np.ndarray) -> np.ndarray:
    """Dollars (float64) -> int64 units of $0.0001, ``round_half_away(dollars * 10000)``."""
    return round_half_away(np.asarray(dollars, dtype=np.float64) * UNITS_PER_DOLLAR)


def dollars_to_units(dollars: float) -> int:
    """One dollar amount -> int units of $0.0001 (:func:`to_units` on a scalar)."""
    return int(to_units(np.array([dollars], dtype=np.float64))[0])


def units_to_dollars(units):
    """Units of $0.0001 (an int, an int array or a polars integer expression/series) -> dollars."""
    return units / UNITS_PER_DOLLAR


@njit(cache=True)
def ticks_to_units_nb(times, prices):
    """One pass over a window's ticks: prices in units, plus the first index where ``times``
    decreases and the first index of a price that is not finite, below 1 unit or above
    ``MAX_PRICE_DOLLARS`` (-1: none)."""
    n = prices.shape[0]
    out = np.empty(n, dtype=np.int64)
    unsorted = -1
    bad = -1
    for i in range(n):
        p = prices[i]
        if not (p > 0.0 and p <= MAX_PRICE_DOLLARS):  # also false for NaN
            if bad < 0:
                bad = i
            out[i] = 0
            continue
        u = round_half_away_nb(p * 10000.0)
        if u <= 0 and bad < 0:
            bad = i
        out[i] = u
        if i > 0 and times[i] < times[i - 1] and unsorted < 0:
            unsorted = i
    return out, unsorted, bad
