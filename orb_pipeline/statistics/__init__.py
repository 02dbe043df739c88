"""Dagster-free statistics over backtest results that more than one stage reads (the leaderboard
shows them, validation judges with them): ``overfitting`` (deflated Sharpe ratio, probability of
backtest overfitting). Imports numpy and numba only, never a stage, the engine or the core."""
