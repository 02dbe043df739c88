"""Compressed series stage: bar closes with runs of equal prices dropped (last bar kept), and the window reader the sweeps use."""

from orb_pipeline.series.reader import MissingPartitionsError, SeriesWindow, read_window

__all__ = ["MissingPartitionsError", "SeriesWindow", "read_window"]
