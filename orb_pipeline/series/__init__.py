"""Compressed series stage: bar closes with runs of equal prices dropped (last bar kept), and the window reader the sweeps use."""
