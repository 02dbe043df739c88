"""The lineage's names, one owner each: every asset key and every concurrency pool.

Stages, jobs, sensors and the demo import these constants; no module spells an asset key or a
pool name as a bare string.
"""

from __future__ import annotations

import dagster as dg

# ---- asset keys, in lineage order ----------------------------------------------------------------
CACHED_BARS = dg.AssetKey("cached_bars")
COMPRESSED_SERIES = dg.AssetKey("compressed_series")
OPENING_RANGES = dg.AssetKey("opening_ranges")
STAGED_WINDOW = dg.AssetKey("staged_window")
SWEEP_RESULTS = dg.AssetKey("sweep_results")
LEADERBOARD = dg.AssetKey("leaderboard")
WALK_FORWARD = dg.AssetKey("walk_forward")
MONTE_CARLO = dg.AssetKey("monte_carlo")
VERDICT = dg.AssetKey("verdict")
RESEARCH_REPORT = dg.AssetKey("research_report")
UNIVERSE_RANKING = dg.AssetKey("universe_ranking")

DATA_ASSETS = (CACHED_BARS, OPENING_RANGES, COMPRESSED_SERIES)  # the data stages' partitions
VALIDATION_ASSETS = (WALK_FORWARD, MONTE_CARLO, VERDICT, RESEARCH_REPORT)  # [ticker]

# ---- pools (limits: dagster.yaml / deploy/dagster.yaml, `dagster instance concurrency set`) -----
WAREHOUSE_POOL = "warehouse"  # steps that pull from the warehouse
RESULTS_POOL = "results_db"  # steps that write to the results store
POOLS = (WAREHOUSE_POOL, RESULTS_POOL)
