"""Opening ranges of one session from its compressed series (engine) and its bars (IV).

The range (high, low, open price, tick count) is ``engine.opening_ranges`` on the compressed
series: the ticks the sweep sees, ``open_utc <= t <= open_utc + R``. Compression only drops a tick
equal to the one before it in the same session, so high, low and open price equal those of the bar
closes; ``tick_count`` counts compressed ticks. ``atm_iv`` is the mean IV of the warehouse rows with
``0.4 < |delta| < 0.6`` in the same inclusive window (from the bars' per-second sums and counts),
null when fewer than 2 such rows.
"""

from __future__ import annotations

import polars as pl

from orb_pipeline import engine

RANGES_SCHEMA = {
    "session_date": pl.Date,
    "range_seconds": pl.Int64,
    "open_utc": pl.Int64,
    "range_high": pl.Float64,
    "range_low": pl.Float64,
    "open_price": pl.Float64,
    "tick_count": pl.Int64,
    "atm_iv": pl.Float64,
    "atm_iv_rows": pl.Int64,
}
MIN_IV_ROWS = 2


def session_ranges(
    series: pl.DataFrame, bars: pl.DataFrame, session: pl.DataFrame, range_seconds: list[int]
) -> pl.DataFrame:
    """One row per range length for the single session in ``session`` (``session_date``,
    ``open_utc``, ``close_utc``)."""
    if session.height != 1:
        raise ValueError(f"session must have exactly one row, got {session.height}")
    open_utc = int(session["open_utc"][0])
    rows = []
    for seconds in range_seconds:
        ranges = engine.opening_ranges(series, session, seconds)
        in_window = bars.filter(pl.col("timestamp_utc").is_between(open_utc, open_utc + seconds))
        iv_rows = int(in_window["atm_iv_count"].sum()) if in_window.height else 0
        iv_sum = float(in_window["atm_iv_sum"].sum()) if in_window.height else 0.0
        rows.append(
            ranges.with_columns(
                pl.lit(seconds, dtype=pl.Int64).alias("range_seconds"),
                pl.lit(open_utc, dtype=pl.Int64).alias("open_utc"),
                pl.lit(
                    iv_sum / iv_rows if iv_rows >= MIN_IV_ROWS else None, dtype=pl.Float64
                ).alias("atm_iv"),
                pl.lit(iv_rows, dtype=pl.Int64).alias("atm_iv_rows"),
            )
        )
    return pl.concat(rows).select(list(RANGES_SCHEMA)).cast(RANGES_SCHEMA)


def ranges_problems(ranges: pl.DataFrame) -> list[str]:
    """What is wrong with one session's stored ranges (empty list when valid)."""
    traded = ranges.filter(pl.col("tick_count") > 0)
    problems = []
    if traded.height:
        for column in ("range_high", "range_low", "open_price"):
            values = traded[column]
            if values.null_count() or not (values.is_finite() & (values > 0)).all():
                problems.append(f"{column} not finite and positive")
        if not (traded["range_high"] >= traded["range_low"]).all():
            problems.append("range_high below range_low")
        inside = (traded["open_price"] >= traded["range_low"]) & (
            traded["open_price"] <= traded["range_high"]
        )
        if not inside.all():
            problems.append("open_price outside [range_low, range_high]")
    untraded = ranges.filter(pl.col("tick_count") == 0)
    if untraded.height and untraded["range_high"].null_count() != untraded.height:
        problems.append("a range without ticks has prices")
    iv = ranges["atm_iv"].drop_nulls()
    if iv.len() and not (iv.is_finite() & (iv > 0)).all():
        problems.append("atm_iv not finite and positive")
    return problems
