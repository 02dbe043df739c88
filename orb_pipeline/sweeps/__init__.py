"""Sweep stage: parameter grids, chunk partitions and the sweep asset (ticker x chunk)."""
