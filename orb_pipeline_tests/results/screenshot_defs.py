"""Code location for the screenshot test's web server: the chain's assets on the resources of
the JSON spec named by ``ORB_SCREENSHOT_SPEC`` (read when the web server loads this module)."""

import json
import os
from pathlib import Path

import dagster as dg

from orb_pipeline.results.assets import leaderboard
from orb_pipeline.staging.assets import staged_window
from orb_pipeline.sweeps.assets import build_sweep_results
from orb_pipeline_tests.sweeps.chain import Chain

chain = Chain(json.loads(Path(os.environ["ORB_SCREENSHOT_SPEC"]).read_text()))
defs = dg.Definitions(
    assets=[staged_window, build_sweep_results(chain.settings), leaderboard],
    resources=chain.resources(),
)
