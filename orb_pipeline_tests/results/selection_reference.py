"""Plain-Python expectation of the leaderboard's ranking (``results/selection.py``), from the
per-session nets of ``engine.session_stats`` and the papers' formulas
(``orb_pipeline_tests/statistics/overfitting_reference.py``)."""

from __future__ import annotations

import math
import statistics

import polars as pl

from orb_pipeline import engine
from orb_pipeline.results.leaderboard import engine_options_of
from orb_pipeline_tests.statistics import overfitting_reference as reference


def moments(values: list[float]) -> tuple[float, float]:
    """Population skewness and non-excess kurtosis; 0 and 3 when the values never vary."""
    n = len(values)
    mean = sum(values) / n
    m2 = sum((v - mean) ** 2 for v in values) / n
    if m2 == 0:
        return 0.0, 3.0
    m3 = sum((v - mean) ** 3 for v in values) / n
    m4 = sum((v - mean) ** 4 for v in values) / n
    return m3 / m2**1.5, m4 / m2**2


def expected_ranking(stored: pl.DataFrame, series, sessions, min_days_traded: int = 1) -> list:
    """``[(backtest_id, deflated_sharpe), ...]`` best first, over every stored row of a window."""
    options = engine_options_of(stored.row(0, named=True))  # one cost model in these tests
    stats = engine.session_stats(series, sessions, stored.select(engine.GRID_COLUMNS), **options)
    per_session = [
        None if s is None or math.isnan(s) else s / math.sqrt(252) for s in stored["sharpe"]
    ]
    variance = statistics.variance([s for s in per_session if s is not None])
    ranked = []
    for index, row in enumerate(stored.iter_rows(named=True)):
        if per_session[index] is None or row["days_traded"] < min_days_traded:
            continue
        skew, kurtosis = moments([float(v) for v in stats.net_units[index]])
        value = reference.deflated_sharpe_ratio(
            per_session[index], stored.height, variance, sessions.height, skew, kurtosis
        )
        ranked.append((value, row["sharpe"], row["backtest_profit"], row["backtest_id"]))
    # Profitable first, then the deflated figure to 3 decimals, then raw Sharpe, profit, id.
    ranked.sort(
        key=lambda item: (
            item[1] <= 0,
            -round(item[0], 3) if item[1] > 0 else 0.0,
            -item[1],
            -item[2],
            item[3],
        )
    )
    return [(item[3], item[0]) for item in ranked]
