"""The one retry loop: call an action again after a failure the caller calls transient."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry(
    action: Callable[[], T],
    *,
    attempts: int,
    transient: Callable[[BaseException], bool],
    first_delay_seconds: float = 0.0,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``action()``, called at most ``attempts`` times (at least once). After an exception for
    which ``transient(error)`` is true, and while attempts remain, ``on_retry(error, attempt,
    delay)`` is called (``attempt`` counts from 1: the one that failed), then it waits ``delay``
    seconds (``first_delay_seconds``, doubling each time) and tries again. Any other exception, or
    the last attempt's, propagates unchanged."""
    delay = first_delay_seconds
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return action()
        except Exception as error:
            if attempt >= attempts or not transient(error):
                raise
            if on_retry is not None:
                on_retry(error, attempt, delay)
            if delay > 0:
                sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
