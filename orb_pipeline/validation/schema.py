"""Tables of the validation stage in the results database (one SQLAlchemy Core definition for
MySQL and SQLite), created idempotently through ``ResultsStore.ensure_tables``.

A walk-forward run is named by ``validation_id`` (32 hex characters, deterministic: ticker, window,
configuration, data and engine versions), so re-running the same validation replaces its rows
(delete-then-insert in one transaction) instead of adding new ones. Money is dollars per share.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID_LENGTH = 32


def _parameter_columns() -> list[sa.Column]:
    return [
        sa.Column("range_seconds", sa.Integer, nullable=False),
        sa.Column("stop_distance", sa.Double, nullable=False, comment="in the run's distance_unit"),
        sa.Column("stop_count_limit", sa.Integer, nullable=False),
        sa.Column("stop_cooloff_period", sa.Integer, nullable=False),
        sa.Column(
            "limit_distance", sa.Double, nullable=False, comment="in the run's distance_unit"
        ),
    ]


walk_forward_runs = sa.Table(
    "walk_forward_runs",
    metadata,
    sa.Column("validation_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("ticker", sa.String(16), nullable=False),
    sa.Column("window_start", sa.Date, nullable=False, comment="first session, inclusive"),
    sa.Column("window_end", sa.Date, nullable=False, comment="last session, inclusive"),
    sa.Column("mode", sa.String(16), nullable=False, comment="walk_forward or train_test"),
    sa.Column("distance_unit", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False, comment="the full validation configuration"),
    sa.Column("combinations", sa.Integer, nullable=False),
    sa.Column("sessions", sa.Integer, nullable=False, comment="sessions evaluated"),
    sa.Column(
        "sessions_without_iv", sa.Integer, nullable=False, comment="skipped by IV-scaled grids"
    ),
    sa.Column("folds", sa.Integer, nullable=False),
    sa.Column(
        "promotion_ready_folds", sa.Integer, nullable=False, comment="folds whose pick passes"
    ),
    sa.Column(
        "promotion_ready_results", sa.Integer, nullable=False, comment="(fold, combination) rows"
    ),
    sa.Column("oos_total_profit", sa.Double, nullable=False),
    sa.Column("oos_max_drawdown", sa.Double, nullable=False),
    sa.Column(
        "in_sample_total_profit",
        sa.Double,
        nullable=False,
        comment="full-window pick over the same out-of-sample sessions",
    ),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("engine_version", sa.String(32), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Index("ix_walk_forward_runs_ticker", "ticker"),
    comment="One row per walk-forward / train-test validation.",
)

walk_forward_folds = sa.Table(
    "walk_forward_folds",
    metadata,
    sa.Column("validation_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("fold", sa.Integer, primary_key=True),
    sa.Column("train_start", sa.Date, nullable=False, comment="inclusive"),
    sa.Column("train_end", sa.Date, nullable=False, comment="inclusive"),
    sa.Column("test_start", sa.Date, nullable=False, comment="inclusive"),
    sa.Column("test_end", sa.Date, nullable=False, comment="inclusive"),
    sa.Column(
        "combination", sa.Integer, nullable=False, comment="grid row of the chosen parameters"
    ),
    *_parameter_columns(),
    sa.Column("train_score", sa.Double, nullable=False),
    sa.Column("test_score", sa.Double, nullable=False),
    sa.Column("generalization_gap", sa.Double, nullable=False),
    sa.Column("train_total_profit", sa.Double, nullable=False),
    sa.Column("test_total_profit", sa.Double, nullable=False),
    sa.Column("test_max_drawdown", sa.Double, nullable=False),
    sa.Column("test_win_rate_percent", sa.Double, nullable=False),
    sa.Column("promotion_ready", sa.Boolean, nullable=False),
    comment="The parameters chosen on each fold's training sessions and how they fared on its test.",
)

walk_forward_results = sa.Table(
    "walk_forward_results",
    metadata,
    sa.Column("validation_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("fold", sa.Integer, primary_key=True),
    sa.Column("combination", sa.Integer, primary_key=True),
    *_parameter_columns(),
    *[
        sa.Column(prefix + name, kind)
        for prefix in ("train_", "test_")
        for name, kind in (
            ("total_profit", sa.Double),
            ("max_drawdown", sa.Double),
            ("win_rate_percent", sa.Double),
            ("trades", sa.Integer),
            ("days_traded", sa.Integer),
            ("sharpe", sa.Double),
        )
    ],
    sa.Column("train_score", sa.Double, nullable=False),
    sa.Column("test_score", sa.Double, nullable=False),
    sa.Column("generalization_gap", sa.Double, nullable=False),
    sa.Column("promotion_ready", sa.Boolean, nullable=False),
    sa.Index("ix_walk_forward_results_ready", "validation_id", "promotion_ready"),
    comment="Train and test metrics of every parameter set in every fold.",
)

walk_forward_equity = sa.Table(
    "walk_forward_equity",
    metadata,
    sa.Column("validation_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("session_date", sa.Date, primary_key=True),
    sa.Column("fold", sa.Integer, nullable=False),
    sa.Column("combination", sa.Integer, nullable=False),
    sa.Column("oos_net", sa.Double, nullable=False),
    sa.Column(
        "oos_equity", sa.Double, nullable=False, comment="stitched cumulative out-of-sample net"
    ),
    sa.Column("in_sample_net", sa.Double, nullable=False),
    sa.Column("in_sample_equity", sa.Double, nullable=False),
    comment="Stitched out-of-sample equity against the full-window pick, one row per test session.",
)

monte_carlo = sa.Table(
    "monte_carlo",
    metadata,
    sa.Column("backtest_id", sa.String(ID_LENGTH), primary_key=True, comment="results.backtest_id"),
    sa.Column("samples", sa.Integer, primary_key=True),
    sa.Column("seed", sa.BigInteger, primary_key=True),
    sa.Column("ticker", sa.String(16), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False, comment="position on the leaderboard, 1 = best"),
    sa.Column("sessions", sa.Integer, nullable=False),
    sa.Column("profit_p5", sa.Double, nullable=False),
    sa.Column("profit_p50", sa.Double, nullable=False),
    sa.Column("profit_p95", sa.Double, nullable=False),
    sa.Column("drawdown_p5", sa.Double, nullable=False),
    sa.Column("drawdown_p50", sa.Double, nullable=False),
    sa.Column("drawdown_p95", sa.Double, nullable=False),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Index("ix_monte_carlo_ticker", "ticker"),
    comment="Bootstrap percentiles of total profit and max drawdown of the leaderboard's top backtests.",
)

universe_rankings = sa.Table(
    "universe_rankings",
    metadata,
    sa.Column("universe_id", sa.String(ID_LENGTH), primary_key=True, comment="window + engine"),
    sa.Column("rank", sa.Integer, primary_key=True, comment="1 = holds up on most tickers"),
    sa.Column("window_start", sa.Date, nullable=False, comment="first session, inclusive"),
    sa.Column("window_end", sa.Date, nullable=False, comment="last session, inclusive"),
    sa.Column("engine_version", sa.String(32), nullable=False),
    *_parameter_columns(),
    sa.Column("distance_unit", sa.String(16), nullable=False),
    sa.Column("commission_per_share", sa.Double, nullable=False),
    sa.Column("slippage", sa.Double, nullable=False),
    sa.Column("slippage_unit", sa.String(8), nullable=False),
    sa.Column("tickers_in_window", sa.Integer, nullable=False),
    sa.Column("tickers_ranked", sa.Integer, nullable=False),
    sa.Column("tickers_beating_noise", sa.Integer, nullable=False, comment="deflated Sharpe > 0.5"),
    sa.Column("share_beating_noise", sa.Double, nullable=False, comment="of tickers_in_window"),
    sa.Column("tickers_positive_sharpe", sa.Integer, nullable=False),
    sa.Column("median_deflated_sharpe", sa.Double, nullable=False),
    sa.Column("mean_sharpe", sa.Double, nullable=False, comment="annualized"),
    sa.Column("worst_sharpe", sa.Double, nullable=False, comment="annualized"),
    sa.Column("run_id", sa.String(64), nullable=False),
    comment="Parameter sets ranked by how consistently they hold up across a window's tickers.",
)

WALK_FORWARD_TABLES = (
    walk_forward_runs,
    walk_forward_folds,
    walk_forward_results,
    walk_forward_equity,
)
ALL_TABLES = (*WALK_FORWARD_TABLES, monte_carlo, universe_rankings)
