"""Table definitions of the results store: one SQLAlchemy Core definition serves MySQL and SQLite.

``results`` extends the original engine's ``results`` table (same names for the old columns:
``backtest_profit``, ``average_holding_period``, ``win_rate_percent``, ``stop_distance``,
``stop_count_limit``, ``stop_cooloff_period``, ``limit_distance``, ``trade_stats``) with the
metrics of docs/STRATEGY.md, the ticker, the window (inclusive session dates), range length, data
and engine versions and the Dagster run id. Money is dollars per share; times are seconds.
``trades`` holds the per-trade ledger of the leaderboard's top backtests.

``results`` has no secondary index, on purpose: a sweep writes up to millions of rows per window,
and the two indexes it once had, on (ticker, backtest_profit) and (ticker, sharpe), made MariaDB's
loads 4.5x slower (a million rows: 30 s against 6.7 s, ``benchmarks.sweep_chain``). A window's rows
are one primary-key range instead (:func:`orb_pipeline.results.ids.window_id_range`), which is how
the leaderboard and every stage read them. Ad-hoc queries across windows scan the table.

Other stages add their own tables to :data:`metadata` (or their own ``MetaData``) and create them
with :meth:`orb_pipeline.results.resource.ResultsStore.ensure_tables`.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID_LENGTH = 32

results = sa.Table(
    "results",
    metadata,
    sa.Column("backtest_id", sa.String(ID_LENGTH), primary_key=True, comment="see results/ids.py"),
    sa.Column("ticker", sa.String(16), nullable=False),
    sa.Column("window_start", sa.Date, nullable=False, comment="first session, inclusive"),
    sa.Column("window_end", sa.Date, nullable=False, comment="last session, inclusive"),
    sa.Column("range_seconds", sa.Integer, nullable=False),
    sa.Column("stop_distance", sa.Double, nullable=False),
    sa.Column("stop_count_limit", sa.Integer, nullable=False),
    sa.Column("stop_cooloff_period", sa.Integer, nullable=False),
    sa.Column("limit_distance", sa.Double, nullable=False),
    sa.Column("backtest_profit", sa.Double, comment="total_profit, dollars per share"),
    sa.Column("trades", sa.Integer),
    sa.Column("stops", sa.Integer),
    sa.Column("days_traded", sa.Integer),
    sa.Column("win_rate_percent", sa.Double),
    sa.Column("trade_win_rate_percent", sa.Double),
    sa.Column("average_holding_period", sa.Double, comment="seconds"),
    sa.Column("max_drawdown", sa.Double),
    sa.Column("sharpe", sa.Double),
    sa.Column("profit_factor", sa.Double, comment="NULL when there is no losing trade"),
    # Metrics of docs/SEMANTICS_EXTENSIONS.md section 5 (net of the row's costs).
    sa.Column("gross_profit", sa.Double, comment="total profit before costs, dollars per share"),
    sa.Column("expectancy", sa.Double, comment="net profit per trade, dollars per share"),
    sa.Column("return_percent", sa.Double, comment="sum of per-trade net returns, % of entry"),
    sa.Column("profit_r", sa.Double, comment="sum of per-trade R-multiples; NULL: a zero stop"),
    sa.Column("sortino", sa.Double, comment="annualized; NULL when no session lost"),
    sa.Column("calmar", sa.Double, comment="annualized net / max drawdown; NULL: no drawdown"),
    sa.Column("exposure", sa.Double, comment="share of session time in a position, 0..1"),
    sa.Column("longest_drawdown_sessions", sa.Integer),
    sa.Column("pnl_skewness", sa.Double, comment="of per-session net P&L"),
    sa.Column("pnl_kurtosis", sa.Double, comment="non-excess (3 = normal), per-session net P&L"),
    # The cost model and distance unit the row was computed with (part of backtest_id).
    sa.Column("commission_per_share", sa.Double, nullable=False, comment="dollars, per side"),
    sa.Column("slippage", sa.Double, nullable=False, comment="per side, in slippage_unit"),
    sa.Column("slippage_unit", sa.String(8), nullable=False, comment="dollars or bps"),
    sa.Column("distance_unit", sa.String(16), nullable=False, comment="unit of the distances"),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("engine_version", sa.String(32), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("trade_stats", sa.JSON, comment="filled for the leaderboard's top backtests"),
    comment="Backtest results, one row per backtest_id (upserted).",
)

trades = sa.Table(
    "trades",
    metadata,
    sa.Column("backtest_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("trade_index", sa.Integer, primary_key=True, comment="0-based, in time order"),
    sa.Column("session_date", sa.Date, nullable=False),
    sa.Column("side", sa.String(5), nullable=False, comment="long or short"),
    sa.Column("entry_utc", sa.BigInteger, nullable=False, comment="UTC seconds"),
    sa.Column("entry_price", sa.Double, nullable=False),
    sa.Column("exit_utc", sa.BigInteger, nullable=False, comment="UTC seconds"),
    sa.Column("exit_price", sa.Double, nullable=False),
    sa.Column("exit_reason", sa.String(8), nullable=False, comment="limit, stop or eod"),
    sa.Column("profit", sa.Double, nullable=False, comment="net of costs, dollars per share"),
    sa.Column("holding_seconds", sa.BigInteger, nullable=False),
    sa.Column("gross_profit", sa.Double, comment="before costs, dollars per share"),
    sa.Column("return_percent", sa.Double, comment="net profit in % of the entry price"),
    sa.Column("profit_r", sa.Double, comment="net profit / stop distance at entry"),
    comment="Per-trade ledgers of the top backtests (replaced per backtest_id).",
)


def _parameter_columns() -> list[sa.Column]:
    return [
        sa.Column("range_seconds", sa.Integer, nullable=False),
        sa.Column("stop_distance", sa.Double, nullable=False),
        sa.Column("stop_count_limit", sa.Integer, nullable=False),
        sa.Column("stop_cooloff_period", sa.Integer, nullable=False),
        sa.Column("limit_distance", sa.Double, nullable=False),
    ]


SELECTION_ID_LENGTH = 32

selection_windows = sa.Table(
    "selection_windows",
    metadata,
    sa.Column(
        "selection_id",
        sa.String(SELECTION_ID_LENGTH),
        primary_key=True,
        comment="results/selection_store.py: ticker, window, engine version",
    ),
    sa.Column("ticker", sa.String(16), nullable=False),
    sa.Column("window_start", sa.Date, nullable=False, comment="first session, inclusive"),
    sa.Column("window_end", sa.Date, nullable=False, comment="last session, inclusive"),
    sa.Column("engine_version", sa.String(32), nullable=False),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("sessions", sa.Integer, nullable=False),
    sa.Column("n_trials", sa.Integer, nullable=False, comment="every backtest of the window"),
    sa.Column(
        "sharpe_variance",
        sa.Double,
        nullable=False,
        comment="variance (ddof 1) of the trials' per-session Sharpe ratios",
    ),
    sa.Column(
        "expected_max_sharpe",
        sa.Double,
        nullable=False,
        comment="SR0 per session: expected best Sharpe of n_trials unskilled trials",
    ),
    sa.Column("pbo", sa.Double, comment="NULL when the window is too short for CSCV"),
    sa.Column("pbo_blocks", sa.Integer, nullable=False),
    sa.Column("pbo_splits", sa.Integer, nullable=False),
    sa.Column("pbo_trials", sa.Integer, nullable=False, comment="backtests in the PBO (sample)"),
    sa.Column("pbo_sampled", sa.Boolean, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    comment="Selection-bias statistics of one ticker-window (replaced per selection_id).",
)

leaderboard_rows = sa.Table(
    "leaderboard_rows",
    metadata,
    sa.Column("selection_id", sa.String(SELECTION_ID_LENGTH), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True, comment="1 = highest deflated Sharpe"),
    sa.Column("backtest_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("ticker", sa.String(16), nullable=False),
    sa.Column("window_start", sa.Date, nullable=False),
    sa.Column("window_end", sa.Date, nullable=False),
    *_parameter_columns(),
    sa.Column("sharpe", sa.Double, nullable=False, comment="raw, annualized"),
    sa.Column("deflated_sharpe", sa.Double, nullable=False, comment="probability, 0..1"),
    sa.Column("pbo", sa.Double, comment="the window's"),
    sa.Column("stability", sa.Double, comment="share of grid neighbours keeping half the Sharpe"),
    sa.Column("neighbours", sa.Integer, nullable=False),
    sa.Column("backtest_profit", sa.Double, comment="dollars per share"),
    sa.Column("pnl_skewness", sa.Double, nullable=False),
    sa.Column("pnl_kurtosis", sa.Double, nullable=False, comment="non-excess"),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    # Filled by the verdict asset (validation/verdict_assets.py); NULL until it ran.
    sa.Column("walk_forward_folds", sa.Integer, comment="folds of the latest walk-forward"),
    sa.Column("walk_forward_passed", sa.Integer, comment="folds where these parameters passed"),
    sa.Column("verdict", sa.String(8), comment="promote, watch or reject"),
    sa.Column("verdict_reason", sa.String(1000)),
    comment="The leaderboard of one ticker-window, ranked by deflated Sharpe ratio.",
)

window_deflated = sa.Table(
    "window_deflated",
    metadata,
    sa.Column("selection_id", sa.String(SELECTION_ID_LENGTH), primary_key=True),
    sa.Column("backtest_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("deflated_sharpe", sa.Double, nullable=False),
    comment="Deflated Sharpe ratio of every ranked backtest of a window (the universe view's input).",
)

SELECTION_TABLES = (selection_windows, leaderboard_rows, window_deflated)


# Engine metric name -> results column (the old table called total profit backtest_profit).
METRIC_COLUMNS = {
    "total_profit": "backtest_profit",
    "trades": "trades",
    "stops": "stops",
    "days_traded": "days_traded",
    "win_rate_percent": "win_rate_percent",
    "trade_win_rate_percent": "trade_win_rate_percent",
    "average_holding_period": "average_holding_period",
    "max_drawdown": "max_drawdown",
    "sharpe": "sharpe",
    "profit_factor": "profit_factor",
    "gross_profit": "gross_profit",
    "expectancy": "expectancy",
    "return_percent": "return_percent",
    "profit_r": "profit_r",
    "sortino": "sortino",
    "calmar": "calmar",
    "exposure": "exposure",
    "longest_drawdown_sessions": "longest_drawdown_sessions",
    "pnl_skewness": "pnl_skewness",
    "pnl_kurtosis": "pnl_kurtosis",
}
# Columns that name the cost model and distance unit of a row (constant within one sweep).
COST_MODEL_COLUMNS = ("commission_per_share", "slippage", "slippage_unit", "distance_unit")
