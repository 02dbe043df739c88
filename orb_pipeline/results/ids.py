"""Deterministic backtest ids: the same ticker, window, parameters, cost model, distance unit and
engine version give the same id.

An id is 32 lowercase hex characters: the first 8 are the SHA-256 digest of
``ticker|window_start|window_end|engine_version`` (the "window key"), the other 24 a BLAKE2b digest
(96 bits) keyed by that whole digest of the five parameters followed by the cost model and distance
unit (:func:`cost_model_words`), so the same parameters under other costs are another backtest. The shared prefix keeps one sweep's rows
in one contiguous range of the primary key, so a new window's upsert touches its own B-tree pages
instead of pages all over a large table. Distances
are hashed as integer units of $0.0001 (``round_half_away_from_zero(x * 10000)``, the semantics'
exact arithmetic), so ``0.30000000000000004`` and ``0.3`` name the same backtest. Never random:
re-running a sweep replaces its rows instead of adding new ones.

:func:`backtest_id` computes one id with ``hashlib`` (the reference); :func:`backtest_ids` computes
a grid's ids with the numba BLAKE2b of :mod:`orb_pipeline.results.blake2b_nb` (0.3 s instead of
1.3 s for a million rows), and the tests hold the two equal.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import polars as pl

from orb_pipeline import engine
from orb_pipeline.engine.units import dollars_to_units, to_units
from orb_pipeline.results.blake2b_nb import hex_ids

ID_SCHEME = "orb-backtest-v1"
PARAMETER_COLUMNS = (
    "range_seconds",
    "stop_distance",
    "stop_count_limit",
    "stop_cooloff_period",
    "limit_distance",
)
_DISTANCE_COLUMNS = ("stop_distance", "limit_distance")


def cost_model_words(costs: engine.Costs | None, distance_unit: str) -> list[int]:
    """The cost model and distance unit as four int64 words of the hashed record: the distance
    unit's index in ``engine.DISTANCE_UNITS``, the IEEE bits of ``commission_per_share`` and of
    ``slippage`` (``-0.0`` read as ``0.0``), and the slippage unit's index (0 dollars, 1 bps)."""
    if distance_unit not in engine.DISTANCE_UNITS:
        raise ValueError(
            f"distance_unit must be one of {engine.DISTANCE_UNITS}, got {distance_unit!r}"
        )
    costs = engine.Costs() if costs is None else costs
    bits = np.array([costs.commission_per_share + 0.0, costs.slippage + 0.0], dtype="<f8")
    return [
        engine.DISTANCE_UNITS.index(distance_unit),
        *(int(word) for word in bits.view("<i8")),
        ("dollars", "bps").index(costs.slippage_unit),
    ]


def _window_key(
    ticker: str, window_start: dt.date, window_end: dt.date, engine_version: str
) -> bytes:
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
    *,
    costs: engine.Costs | None = None,
    distance_unit: str = "dollars",
) -> str:
    """The id of one backtest; ``params`` holds the five parameter columns, ``costs`` and
    ``distance_unit`` the sweep's cost model (``None``: no costs) (see module docstring)."""
    record = np.array(
        [
            dollars_to_units(float(params[name]))
            if name in _DISTANCE_COLUMNS
            else int(params[name])
            for name in PARAMETER_COLUMNS
        ]
        + cost_model_words(costs, distance_unit),
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
    *,
    costs: engine.Costs | None = None,
    distance_unit: str = "dollars",
) -> pl.Series:
    """Ids for every row of ``grid``: :func:`backtest_id` of each row (the reference, hashlib),
    computed by a numba BLAKE2b over all rows at once."""
    units = []
    for name in PARAMETER_COLUMNS:
        column = grid.get_column(name)
        if name in _DISTANCE_COLUMNS:
            units.append(to_units(column.cast(pl.Float64).to_numpy()).astype("<i8"))
        else:
            units.append(column.cast(pl.Int64).to_numpy().astype("<i8"))
    units.extend(
        np.full(grid.height, word, dtype="<i8") for word in cost_model_words(costs, distance_unit)
    )
    records = np.ascontiguousarray(np.stack(units, axis=1), dtype="<i8").view(np.uint64)
    key = _window_key(ticker, window_start, window_end, engine_version)
    hex_text = hex_ids(key[:4], key, records)  # numba; hashlib's result (tests compare)
    return pl.Series("backtest_id", hex_text.view("S32")[:, 0]).cast(pl.String)


def window_id_range(
    ticker: str, window_start: dt.date, window_end: dt.date, engine_version: str
) -> tuple[str, str]:
    """Inclusive bounds of every id of one window (its 8-character prefix, then 24 ``0`` or
    ``f``): a primary-key range that holds all of the window's rows. Other windows fall inside
    only if their 32-bit prefix collides, so filter on the window's columns as well."""
    prefix = _window_key(ticker, window_start, window_end, engine_version)[:4].hex()
    return prefix + "0" * 24, prefix + "f" * 24
