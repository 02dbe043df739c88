"""Work plan of a sweep: grid rows grouped into paths, paths cut into memory-bounded chunks.

A path is the set of grid rows sharing ``range_seconds``, stop and limit distance and
``stop_cooloff_period``; they differ only in ``stop_count_limit`` and are run once together
(``nb.run_path_session_nb``). Distances are compared in units for ``distance_unit="dollars"`` and
as given otherwise (they are scaled per entry or per session).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from orb_pipeline.engine.inputs import DISTANCE_DOLLARS, Grid

# Bytes of per-session nets a sweep chunk may hold (rows x sessions x 8).
CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Plan:
    range_lengths: np.ndarray  # distinct range_seconds, ascending
    path_range: np.ndarray  # index into range_lengths
    path_stop_value: np.ndarray
    path_stop_units: np.ndarray
    path_limit_value: np.ndarray
    path_limit_units: np.ndarray
    path_cooloff: np.ndarray
    path_members: np.ndarray  # (n_paths + 1,) offsets into member_*
    member_k: np.ndarray  # stop_count_limit, ascending within a path
    member_combo: np.ndarray  # grid row

    @property
    def n_paths(self) -> int:
        return len(self.path_range)

    def chunks(self, n_sessions: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Plan]:
        """Consecutive sub-plans of whole paths, each with at most ``chunk_bytes`` of nets
        (at least one path)."""
        rows = max(1, chunk_bytes // (8 * max(n_sessions, 1)))
        q = 0
        while q < self.n_paths:
            lo_member = self.path_members[q]
            end = int(np.searchsorted(self.path_members, lo_member + rows, side="right")) - 1
            end = min(max(end, q + 1), self.n_paths)
            hi_member = self.path_members[end]
            yield Plan(
                self.range_lengths,
                self.path_range[q:end],
                self.path_stop_value[q:end],
                self.path_stop_units[q:end],
                self.path_limit_value[q:end],
                self.path_limit_units[q:end],
                self.path_cooloff[q:end],
                self.path_members[q:end + 1] - lo_member,
                self.member_k[lo_member:hi_member],
                self.member_combo[lo_member:hi_member],
            )
            q = end


def plan_paths(grid: Grid, distance_unit: int) -> Plan:
    range_lengths = np.unique(grid.range_seconds)
    range_index = np.searchsorted(range_lengths, grid.range_seconds)
    if distance_unit == DISTANCE_DOLLARS:
        stop_key = grid.stop_units
        limit_key = grid.limit_units
    else:
        stop_key = grid.stop_distance
        limit_key = grid.limit_distance
    order = np.lexsort(
        (grid.stop_count_limit, grid.stop_cooloff_period, limit_key, stop_key, range_index)
    )
    keys = (range_index, stop_key, limit_key, grid.stop_cooloff_period)
    new_path = np.zeros(len(order), dtype=bool)
    new_path[0] = True
    for key in keys:
        ordered = key[order]
        new_path[1:] |= ordered[1:] != ordered[:-1]
    heads = order[new_path]
    path_members = np.append(np.flatnonzero(new_path), len(order)).astype(np.int64)
    return Plan(
        range_lengths=range_lengths.astype(np.int64),
        path_range=range_index[heads].astype(np.int64),
        path_stop_value=grid.stop_distance[heads],
        path_stop_units=grid.stop_units[heads],
        path_limit_value=grid.limit_distance[heads],
        path_limit_units=grid.limit_units[heads],
        path_cooloff=grid.stop_cooloff_period[heads],
        path_members=path_members,
        member_k=grid.stop_count_limit[order].astype(np.int64),
        member_combo=order.astype(np.int64),
    )
