"""Opening ranges stage: per ticker, session and range length, computed with the engine's opening_ranges."""

from orb_pipeline.ranges.reader import read_opening_ranges

__all__ = ["read_opening_ranges"]
