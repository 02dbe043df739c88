"""orb_pipeline: exact, fast opening-range-breakout backtests as Dagster assets."""

__version__ = "0.1.0"
