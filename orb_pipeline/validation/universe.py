"""Which parameter sets hold up across a universe of tickers (Dagster-free).

For one window (inclusive session dates) and engine version, every ticker with a stored
leaderboard selection (``selection_windows``) contributes every ranked backtest with its deflated
Sharpe ratio (``window_deflated``, computed against that ticker's own number of trials). Per
parameter set (the five parameters, the distance unit and the cost model):

- ``tickers_beating_noise``: tickers where its deflated Sharpe ratio is above 0.5, i.e. its
  Sharpe ratio is above the expected best of that ticker's trials on noise;
- ``share_beating_noise``: that count over every ticker of the window (a ticker where the
  parameter set was not ranked counts as not holding up);
- ``tickers_positive_sharpe``, ``median_deflated_sharpe``, ``mean_sharpe``, ``worst_sharpe``
  (annualized) over the tickers where it was ranked.

Ranking: share beating noise, then median deflated Sharpe, then mean Sharpe (all descending),
then the parameters ascending. Stored in ``universe_rankings`` (the best ``keep``), replaced per
``universe_id`` (window + engine version), so re-runs lose and duplicate nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from orb_pipeline import engine
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.resource import ResultsStore
from orb_pipeline.results.selection import window_rows
from orb_pipeline.validation import schema

NOISE_LEVEL = 0.5
# What the universe view shows (the demo's text, the asset's metadata with "parameters" added).
SHOWN_COLUMNS = (
    "rank",
    "share_beating_noise",
    "tickers_beating_noise",
    "tickers_ranked",
    "median_deflated_sharpe",
    "mean_sharpe",
    "worst_sharpe",
)
KEY_COLUMNS = (
    *engine.GRID_COLUMNS,
    "distance_unit",
    "commission_per_share",
    "slippage",
    "slippage_unit",
)


def universe_id(
    window_start: dt.date, window_end: dt.date, engine_version: str = engine.ENGINE_VERSION
) -> str:
    """32 hex characters naming one window's universe view."""
    parts = ("orb-universe-v1", window_start.isoformat(), window_end.isoformat(), engine_version)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def latest_window(store: ResultsStore) -> tuple[dt.date, dt.date] | None:
    """The window with the most tickers in ``selection_windows`` (ties: the latest end), or None."""
    table = results_schema.selection_windows
    if not sa.inspect(store.engine()).has_table(table.name):
        return None
    found = store.read(
        sa.select(table.c.window_start, table.c.window_end, sa.func.count().label("tickers"))
        .where(table.c.engine_version == engine.ENGINE_VERSION)
        .group_by(table.c.window_start, table.c.window_end)
    )
    if found.height == 0:
        return None
    best = found.with_columns(
        pl.col("window_start", "window_end").cast(pl.String).str.to_date()
    ).sort(["tickers", "window_end", "window_start"], descending=True)
    return best["window_start"][0], best["window_end"][0]


def ticker_results(store: ResultsStore, window_start: dt.date, window_end: dt.date) -> pl.DataFrame:
    """Every ranked backtest of every ticker of the window: ``ticker``, the key columns,
    ``sharpe`` and ``deflated_sharpe``."""
    windows = results_schema.selection_windows
    deflated = results_schema.window_deflated
    selections = store.read(
        sa.select(windows.c.selection_id, windows.c.ticker).where(
            windows.c.window_start == window_start,
            windows.c.window_end == window_end,
            windows.c.engine_version == engine.ENGINE_VERSION,
        )
    )
    frames = []
    for sid, ticker in selections.iter_rows():
        values = store.read(
            sa.select(deflated.c.backtest_id, deflated.c.deflated_sharpe).where(
                deflated.c.selection_id == sid
            )
        )
        rows = window_rows(store, ticker, window_start, window_end)
        frames.append(
            rows.join(values, on="backtest_id", how="inner").select(
                "ticker", *KEY_COLUMNS, "sharpe", "deflated_sharpe"
            )
        )
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed")


def universe_ranking(results: pl.DataFrame, tickers: int) -> pl.DataFrame:
    """Parameter sets of ``results`` (:func:`ticker_results`) ranked as in the module docstring,
    with ``rank`` (1 = most consistent); ``tickers`` is the window's ticker count."""
    grouped = results.group_by(list(KEY_COLUMNS)).agg(
        pl.len().alias("tickers_ranked"),
        (pl.col("deflated_sharpe") > NOISE_LEVEL).sum().alias("tickers_beating_noise"),
        (pl.col("sharpe") > 0).sum().alias("tickers_positive_sharpe"),
        pl.col("deflated_sharpe").median().alias("median_deflated_sharpe"),
        pl.col("sharpe").mean().alias("mean_sharpe"),
        pl.col("sharpe").min().alias("worst_sharpe"),
    )
    return (
        grouped.with_columns(
            share_beating_noise=pl.col("tickers_beating_noise") / tickers,
            tickers_in_window=pl.lit(tickers),
        )
        .sort(
            ["share_beating_noise", "median_deflated_sharpe", "mean_sharpe", *KEY_COLUMNS],
            descending=[True, True, True, *[False] * len(KEY_COLUMNS)],
        )
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )


def store_universe(
    store: ResultsStore,
    ranking: pl.DataFrame,
    *,
    window_start: dt.date,
    window_end: dt.date,
    keep: int,
    run_id: str,
) -> str:
    """Replace the window's rows of ``universe_rankings`` with the best ``keep`` of ``ranking``
    (one transaction); returns the ``universe_id``."""
    store.ensure_tables(schema.universe_rankings)
    uid = universe_id(window_start, window_end)
    frame = ranking.head(keep).with_columns(
        universe_id=pl.lit(uid),
        window_start=pl.lit(window_start, dtype=pl.Date),
        window_end=pl.lit(window_end, dtype=pl.Date),
        engine_version=pl.lit(engine.ENGINE_VERSION),
        run_id=pl.lit(run_id),
    )
    frame = frame.select([c.name for c in schema.universe_rankings.columns])
    store.replace_rows(schema.universe_rankings, "universe_id", [uid], frame)
    return uid


class UniverseError(ValueError):
    """Nothing to rank: no stored selection, or no ranked backtest in the window."""


@dataclass(frozen=True)
class UniverseRun:
    """One stored universe view: the window, its tickers (sorted), every parameter set ranked
    (``universe_ranking``), and the ``universe_id`` of the stored best ``keep``."""

    window_start: dt.date
    window_end: dt.date
    tickers: list[str]
    ranking: pl.DataFrame
    universe_id: str


def rank_universe(
    store: ResultsStore,
    window: tuple[dt.date, dt.date] | None,
    *,
    keep: int,
    run_id: str,
) -> UniverseRun:
    """Rank the parameter sets of ``window`` (inclusive session dates; None: the window most
    tickers share, ``latest_window``) across its tickers and store the best ``keep``."""
    if window is None:
        window = latest_window(store)
        if window is None:
            raise UniverseError(
                f"no leaderboard selections stored in {store.describe()}: materialize "
                "leaderboard for the tickers first"
            )
    start, end = window
    per_ticker = ticker_results(store, start, end)
    if per_ticker.height == 0:
        raise UniverseError(
            f"no ranked backtests stored for {start}..{end} (engine {engine.ENGINE_VERSION}): "
            "materialize leaderboard for the window's tickers first"
        )
    tickers = sorted(per_ticker["ticker"].unique().to_list())
    ranking = universe_ranking(per_ticker, len(tickers))
    uid = store_universe(
        store, ranking, window_start=start, window_end=end, keep=keep, run_id=run_id
    )
    return UniverseRun(start, end, tickers, ranking, uid)


def universe_text(
    store: ResultsStore, window_start: dt.date, window_end: dt.date, top: int = 5
) -> str:
    """The stored universe view of the window as text: the ``top`` most consistent parameter
    sets (labels and rounding of results/display.py), then each one's parameters in words."""
    from orb_pipeline.results import display

    title = (
        f"== universe {window_start}..{window_end}: parameter sets that hold up on most tickers =="
    )
    table = schema.universe_rankings
    if not sa.inspect(store.engine()).has_table(table.name):
        return f"{title}\nnot computed yet (materialize universe_ranking)"
    found = store.read(
        sa.select(table)
        .where(table.c.universe_id == universe_id(window_start, window_end))
        .order_by(table.c.rank)
        .limit(top)
    )
    if found.height == 0:
        return f"{title}\nnot computed yet (materialize universe_ranking)"
    rows = found.to_dicts()
    lines = [title, display.text_table(rows, SHOWN_COLUMNS)]
    lines += [f"  #{row['rank']}: {display.parameters_text(row)}" for row in rows]
    return "\n".join(lines)
