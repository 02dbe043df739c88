"""The ORB backtest engine: exact, fast opening-range-breakout sweeps (Dagster-free).

Contract: ``docs/STRATEGY.md`` and ``docs/SEMANTICS_EXTENSIONS.md`` (costs, scaled
distances, per-session statistics). Public API: ``sweep``, ``ledger``, ``session_stats``
(``session_stats_blocks`` for huge grids) + ``aggregate``, ``opening_ranges``, ``compress_series``, ``default_grid``, ``make_grid``,
``Costs``, ``count_skipped_sessions``, ``ENGINE_VERSION``.
"""

from orb_pipeline.engine._cache import engine_cache_dir

with engine_cache_dir():
    from orb_pipeline.engine.api import (
        DEFAULT_KERNEL_LIMITS,
        SESSION_STATS_BYTES_PER_CELL,
        KernelLimits,
        SessionStats,
        aggregate,
        compress_series,
        ledger,
        opening_ranges,
        session_stats,
        session_stats_blocks,
        sweep,
    )
    from orb_pipeline.engine.costs import Costs
    from orb_pipeline.engine.enums import DISTANCE_UNITS, DistanceUnit, ExitReason
    from orb_pipeline.engine.grid import GRID_COLUMNS, default_grid, inclusive_range, make_grid
    from orb_pipeline.engine.inputs import count_skipped_sessions

# Bump whenever results could change (results ids hash it).
ENGINE_VERSION = "1.1.0"

__all__ = [
    "DEFAULT_KERNEL_LIMITS",
    "DISTANCE_UNITS",
    "DistanceUnit",
    "ExitReason",
    "KernelLimits",
    "ENGINE_VERSION",
    "GRID_COLUMNS",
    "Costs",
    "SESSION_STATS_BYTES_PER_CELL",
    "SessionStats",
    "aggregate",
    "compress_series",
    "count_skipped_sessions",
    "default_grid",
    "inclusive_range",
    "ledger",
    "make_grid",
    "opening_ranges",
    "session_stats",
    "session_stats_blocks",
    "sweep",
]
