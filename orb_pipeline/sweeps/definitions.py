"""Dagster definitions of the sweeps stage (assets, checks, schedules, sensors).

The grid and chunk count are read here, when definitions load (``ORB_SWEEP_GRID``,
``ORB_SWEEP_CHUNKS``; see ``orb_pipeline/sweeps/grid.py``), so a bad grid fails before any run.
"""

import dagster as dg

from orb_pipeline.sweeps.assets import build_sweep_results
from orb_pipeline.sweeps.grid import load_settings

settings = load_settings()
defs = dg.Definitions(assets=[build_sweep_results(settings)])
