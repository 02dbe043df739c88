"""orb_pipeline: exact, fast opening-range-breakout backtests as Dagster assets."""

import warnings

__version__ = "0.1.0"

# Dagster warns each time this package uses one of its beta or preview APIs (24 lines per
# `dagster asset materialize`); they are notes for this package's developers, not something a
# user of the command can act on. Dagster attributes most of them to its own decorator module,
# so the filter matches the message (API stability notes only), not the module.
warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
