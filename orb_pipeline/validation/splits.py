"""Session splits of a ticker's window: one train/test split by ratio, or rolling walk-forward folds.

Splits are by session and never inside one. A window of ``n`` sessions is indexed ``0 .. n-1`` in
session order; every fold holds half-open index ranges ``[start, stop)`` into that order, train
strictly before test, and the two never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fold:
    """One train/test pair of session index ranges, ``[train_start, train_stop)`` then ``[test_start, test_stop)``."""

    index: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int

    @property
    def train(self) -> range:
        return range(self.train_start, self.train_stop)

    @property
    def test(self) -> range:
        return range(self.test_start, self.test_stop)


def _require_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def train_test_split(session_count: int, train_ratio: float) -> list[Fold]:
    """A single split: the first ``floor(train_ratio * session_count)`` sessions train, the rest test.

    Both sides must hold at least one session; otherwise a ``ValueError`` names ``train_ratio``.
    """
    _require_int("session_count", session_count, 0)
    if isinstance(train_ratio, bool) or not isinstance(train_ratio, int | float):
        raise ValueError(f"train_ratio must be a number in (0, 1), got {train_ratio!r}")
    if not 0.0 < float(train_ratio) < 1.0:
        raise ValueError(f"train_ratio must be in (0, 1), got {train_ratio}")
    train_count = int(float(train_ratio) * session_count)
    if train_count < 1:
        raise ValueError(
            f"train_ratio={train_ratio} leaves no training session in a window of {session_count}"
        )
    if session_count - train_count < 1:
        raise ValueError(
            f"train_ratio={train_ratio} leaves a test window shorter than one session "
            f"in a window of {session_count}"
        )
    return [Fold(0, 0, train_count, train_count, session_count)]


def walk_forward_folds(
    session_count: int,
    train_sessions: int,
    test_sessions: int,
    folds: int | None = None,
    anchored: bool = False,
) -> list[Fold]:
    """Rolling folds: train on ``train_sessions``, test on the next ``test_sessions``, roll by ``test_sessions``.

    Test windows therefore tile the window without overlap, which is what lets their results be
    stitched into one out-of-sample equity curve. ``folds=None`` takes as many folds as fit, an
    explicit ``folds`` that many; either way the folds are aligned to the window's *end*, so the
    most recent sessions are always tested (leftover sessions at the start only ever train).
    ``anchored=True`` starts every training window at session 0 (expanding window) instead of
    rolling it.

    Raises ``ValueError`` naming the parameter when folds do not fit the window.
    """
    _require_int("session_count", session_count, 0)
    _require_int("train_sessions", train_sessions, 1)
    _require_int("test_sessions", test_sessions, 1)
    if folds is not None:
        _require_int("folds", folds, 1)
    fitting = (session_count - train_sessions) // test_sessions
    if fitting < 1:
        raise ValueError(
            f"folds do not fit the window: train_sessions={train_sessions} + "
            f"test_sessions={test_sessions} exceeds the window's {session_count} sessions"
        )
    if folds is None:
        folds = fitting
    elif folds > fitting:
        raise ValueError(
            f"folds={folds} do not fit the window: train_sessions={train_sessions} + "
            f"{folds} x test_sessions={test_sessions} = "
            f"{train_sessions + folds * test_sessions} > {session_count} sessions"
        )
    first_test = session_count - folds * test_sessions
    result = []
    for index in range(folds):
        test_start = first_test + index * test_sessions
        train_start = 0 if anchored else test_start - train_sessions
        result.append(Fold(index, train_start, test_start, test_start, test_start + test_sessions))
    return result
