"""Named codes the kernels use instead of bare integers (numba compiles ``IntEnum`` members as
integer constants).

- ``DistanceUnit``: how the grid's stop and limit distances are read (docs/SEMANTICS_EXTENSIONS.md
  section 2); ``DISTANCE_UNITS`` holds the public names in the same order.
- ``ExitReason``: why a trade closed; ``EXIT_REASON_NAMES`` are the ledger's ``exit_reason`` texts.
- ``TickAtState``: whether a session's second-to-tick table (``nb.fill_session_index_nb``) is
  built yet, built, or skipped because the session spans too many seconds.
"""

from __future__ import annotations

from enum import IntEnum


class DistanceUnit(IntEnum):
    DOLLARS = 0
    PERCENT = 1
    EXPECTED_MOVE = 2


DISTANCE_UNITS = ("dollars", "percent", "expected_move")


class ExitReason(IntEnum):
    LIMIT = 0
    STOP = 1
    EOD = 2


EXIT_REASON_NAMES = ("limit", "stop", "eod")


class TickAtState(IntEnum):
    UNKNOWN = 0
    READY = 1
    TOO_LONG = 2
