"""Work plan of a sweep: grid rows grouped into trios and paths, cut into memory-bounded chunks.

- A *path* is the set of grid rows sharing ``range_seconds``, stop and limit distance and
  ``stop_cooloff_period``: they differ only in ``stop_count_limit`` and are run once together,
  the statistics snapshotted at each stop (``members`` sorted by ``k``).
- A *trio* is the set of paths sharing ``range_seconds``, stop and limit distance (they differ in
  the cool-off, paths sorted by it): all share the session's first trade, which the kernel reads
  from per-session first-passage tables over the *distinct* stop and limit values.

Distances are compared in units for ``distance_unit="dollars"`` and as given otherwise (they are
scaled per entry or per session).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from orb_pipeline.engine.enums import DistanceUnit
from orb_pipeline.engine.inputs import Grid

# Bytes of per-session nets a sweep chunk may hold (members x sessions x 8).
CHUNK_BYTES = 64 * 2**20


class Plan(NamedTuple):
    """The plan's arrays (all int64 but the float ``*_values``); a NamedTuple, so the kernels
    take it as one argument."""

    range_lengths: np.ndarray  # distinct range_seconds, ascending
    stop_values: np.ndarray  # distinct stop distances (float as given) ...
    stop_units: np.ndarray  # ... and their units (dollars)
    limit_values: np.ndarray
    limit_units: np.ndarray
    trio_range: np.ndarray  # index into range_lengths
    trio_stop: np.ndarray  # index into stop_values
    trio_limit: np.ndarray  # index into limit_values
    trio_paths: np.ndarray  # (n_trios + 1,) offsets into path_*
    path_cooloff: np.ndarray  # ascending within a trio
    path_members: np.ndarray  # (n_paths + 1,) offsets into member_*
    member_k: np.ndarray  # stop_count_limit, ascending within a path
    member_combo: np.ndarray  # grid row

    @property
    def n_trios(self) -> int:
        return len(self.trio_range)

    def chunks(self, n_sessions: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Plan]:
        """Consecutive sub-plans of whole trios, each with at most ``chunk_bytes`` of per-session
        nets (at least one trio)."""
        rows = max(1, chunk_bytes // (8 * max(n_sessions, 1)))
        trio_first_member = self.path_members[self.trio_paths]
        q = 0
        while q < self.n_trios:
            lo_member = trio_first_member[q]
            end = int(np.searchsorted(trio_first_member, lo_member + rows, side="right")) - 1
            end = min(max(end, q + 1), self.n_trios)
            lo_path, hi_path = self.trio_paths[q], self.trio_paths[end]
            hi_member = self.path_members[hi_path]
            yield Plan(
                self.range_lengths,
                self.stop_values,
                self.stop_units,
                self.limit_values,
                self.limit_units,
                self.trio_range[q:end],
                self.trio_stop[q:end],
                self.trio_limit[q:end],
                self.trio_paths[q : end + 1] - lo_path,
                self.path_cooloff[lo_path:hi_path],
                self.path_members[lo_path : hi_path + 1] - lo_member,
                self.member_k[lo_member:hi_member],
                self.member_combo[lo_member:hi_member],
            )
            q = end


def _starts(keys, order) -> np.ndarray:
    new = np.zeros(len(order), dtype=bool)
    new[0] = True
    for key in keys:
        ordered = key[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    return new


def plan_paths(grid: Grid, distance_unit: int) -> Plan:
    range_lengths, range_index = np.unique(grid.range_seconds, return_inverse=True)
    if distance_unit == DistanceUnit.DOLLARS:
        stop_key, limit_key = grid.stop_units, grid.limit_units
    else:
        stop_key, limit_key = grid.stop_distance, grid.limit_distance
    stop_distinct, stop_index, stop_first = _distinct(stop_key)
    limit_distinct, limit_index, limit_first = _distinct(limit_key)
    order = np.lexsort(
        (grid.stop_count_limit, grid.stop_cooloff_period, stop_index, limit_index, range_index)
    )
    trio_start = _starts((range_index, stop_index, limit_index), order)
    path_start = trio_start | _starts((grid.stop_cooloff_period,), order)
    path_heads = np.flatnonzero(path_start)
    trio_heads = np.flatnonzero(trio_start)
    return Plan(
        range_lengths=range_lengths.astype(np.int64),
        stop_values=grid.stop_distance[stop_first],
        stop_units=grid.stop_units[stop_first],
        limit_values=grid.limit_distance[limit_first],
        limit_units=grid.limit_units[limit_first],
        trio_range=range_index[order[trio_heads]].astype(np.int64),
        trio_stop=stop_index[order[trio_heads]].astype(np.int64),
        trio_limit=limit_index[order[trio_heads]].astype(np.int64),
        trio_paths=np.append(np.searchsorted(path_heads, trio_heads), len(path_heads)).astype(
            np.int64
        ),
        path_cooloff=grid.stop_cooloff_period[order[path_heads]].astype(np.int64),
        path_members=np.append(path_heads, len(order)).astype(np.int64),
        member_k=grid.stop_count_limit[order].astype(np.int64),
        member_combo=order.astype(np.int64),
    )


def _distinct(key: np.ndarray):
    """(distinct values, index of each row's value, a row holding each value)."""
    values, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return values, inverse.astype(np.int64), first
