"""Deterministic backtest ids: the same ticker, window, parameters and engine version give the same id.

An id is 32 lowercase hex characters: the first 8 are the SHA-256 digest of
``ticker|window_start|window_end|engine_version`` (the "window key"), the other 24 a BLAKE2b digest
(96 bits) of the five parameters keyed by that whole digest. The shared prefix keeps one sweep's rows
in one contiguous range of the primary key, so a new window's upsert touches its own B-tree pages
instead of pages all over a large table. Distances
are hashed as integer units of $0.0001 (``round_half_away_from_zero(x * 10000)``, the semantics'
exact arithmetic), so ``0.30000000000000004`` and ``0.3`` name the same backtest. Never random:
re-running a sweep replaces its rows instead of adding new ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import polars as pl

ID_SCHEME = "orb-backtest-v1"
PARAMETER_COLUMNS = (
    "range_seconds",
    "stop_distance",
    "stop_count_limit",
    "stop_cooloff_period",
    "limit_distance",
)
_DISTANCE_COLUMNS = ("stop_distance", "limit_distance")


def price_units(value: float) -> int:
    """Dollars to integer units of $0.0001, rounding half away from zero."""
    scaled = value * 10000.0
    return int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))


def _window_key(ticker: str, window_start: dt.date, window_end: dt.date, engine_version: str) -> bytes:
    text = "|".join(
        (ID_SCHEME, ticker, window_start.isoformat(), window_end.isoformat(), str(engine_version))
    )
    return hashlib.sha256(text.encode()).digest()


def backtest_id(
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    params: dict,
    engine_version: str,
) -> str:
    """The id of one backtest; ``params`` holds the five parameter columns (see module docstring)."""
    record = np.array(
        [
            price_units(float(params[name])) if name in _DISTANCE_COLUMNS else int(params[name])
            for name in PARAMETER_COLUMNS
        ],
        dtype="<i8",
    ).tobytes()
    key = _window_key(ticker, window_start, window_end, engine_version)
    return key[:4].hex() + hashlib.blake2b(record, digest_size=12, key=key).hexdigest()


def backtest_ids(
    grid: pl.DataFrame,
    ticker: str,
    window_start: dt.date,
    window_end: dt.date,
    engine_version: str,
) -> pl.Series:
    """Ids for every row of ``grid`` (same result as :func:`backtest_id` per row, vectorized)."""
    units = []
    for name in PARAMETER_COLUMNS:
        column = grid.get_column(name)
        if name in _DISTANCE_COLUMNS:
            scaled = column.cast(pl.Float64).to_numpy() * 10000.0
            units.append(np.copysign(np.floor(np.abs(scaled) + 0.5), scaled).astype("<i8"))
        else:
            units.append(column.cast(pl.Int64).to_numpy().astype("<i8"))
    records = np.ascontiguousarray(np.stack(units, axis=1)).view(f"V{8 * len(PARAMETER_COLUMNS)}")
    key = _window_key(ticker, window_start, window_end, engine_version)
    prefix = key[:4].hex()
    blake2b = hashlib.blake2b
    ids = [prefix + blake2b(record.tobytes(), digest_size=12, key=key).hexdigest()
           for record in records[:, 0]]
    return pl.Series("backtest_id", ids, dtype=pl.String)
