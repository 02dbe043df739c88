"""Each session's expected move from its opening range's implied volatility, for IV-scaled grids.

``expected_move = open_price x IV / sqrt(252)`` in dollars, where ``open_price`` is the first price
of the opening range and IV the range's ATM implied volatility as a decimal annual figure
(0.25 = 25 %), both from the ``opening_ranges`` data (``series.read_opening_ranges``). A session
whose range has no IV (or no range at all) gets a null expected move; the engine excludes such
sessions from ``distance_unit="expected_move"`` sweeps, and callers report how many there were.
"""

from __future__ import annotations

import math

import polars as pl

SQRT_252 = math.sqrt(252.0)


def with_expected_move(
    sessions: pl.DataFrame,
    opening_ranges: pl.DataFrame,
    range_seconds: int,
    iv_column: str = "atm_iv",
) -> pl.DataFrame:
    """``sessions`` with an ``expected_move`` column (Float64 dollars, null where IV is missing).

    Rows of ``opening_ranges`` with ``range_seconds`` are joined on ``session_date``; sessions keep
    their order. Raises ``ValueError`` naming ``range_seconds`` / the column when inputs lack them.
    """
    for column in ("session_date", "range_seconds", "open_price", iv_column):
        if column not in opening_ranges.columns:
            raise ValueError(f"opening_ranges lacks column {column!r}")
    if "session_date" not in sessions.columns:
        raise ValueError("sessions lacks column 'session_date'")
    ranges = opening_ranges.filter(pl.col("range_seconds") == range_seconds)
    if opening_ranges.height and ranges.height == 0:
        available = sorted(opening_ranges["range_seconds"].unique().to_list())
        raise ValueError(
            f"range_seconds={range_seconds} has no opening ranges (available: {available})"
        )
    iv = pl.col(iv_column)
    moves = ranges.select(
        "session_date",
        pl.when(iv.is_not_null() & iv.is_finite() & (iv > 0))
        .then(pl.col("open_price") * iv / SQRT_252)
        .otherwise(None)
        .cast(pl.Float64)
        .alias("expected_move"),
    )
    base = sessions.drop("expected_move") if "expected_move" in sessions.columns else sessions
    return base.join(moves, on="session_date", how="left", maintain_order="left")


def sessions_without_iv(sessions_with_move: pl.DataFrame) -> int:
    """How many sessions an IV-scaled grid skips (null ``expected_move``)."""
    return int(sessions_with_move["expected_move"].null_count())
