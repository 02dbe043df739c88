"""The one retry loop: attempts, doubling waits, what is retried and what propagates."""

import pytest

from orb_pipeline.core.retry import retry


class Flaky:
    def __init__(self, failures: list[Exception], result="done"):
        self.failures, self.result, self.calls = list(failures), result, 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def test_transient_failures_are_retried_with_doubling_waits():
    waits, retried = [], []
    action = Flaky([TimeoutError("a"), TimeoutError("b")])
    result = retry(
        action,
        attempts=3,
        transient=lambda e: isinstance(e, TimeoutError),
        first_delay_seconds=0.5,
        on_retry=lambda error, attempt, delay: retried.append((str(error), attempt, delay)),
        sleep=waits.append,
    )
    assert (result, action.calls) == ("done", 3)
    assert waits == [0.5, 1.0] and retried == [("a", 1, 0.5), ("b", 2, 1.0)]


def test_the_last_attempts_error_propagates_unchanged():
    action = Flaky([TimeoutError("1"), TimeoutError("2"), TimeoutError("3")])
    with pytest.raises(TimeoutError, match="^2$"):
        retry(action, attempts=2, transient=lambda e: True, sleep=lambda s: None)
    assert action.calls == 2


def test_a_permanent_failure_is_not_retried():
    action = Flaky([ValueError("bad input")])
    with pytest.raises(ValueError, match="bad input"):
        retry(action, attempts=5, transient=lambda e: isinstance(e, TimeoutError))
    assert action.calls == 1


def test_at_least_one_attempt_and_no_wait_without_a_delay():
    waits = []
    assert retry(Flaky([]), attempts=0, transient=lambda e: True, sleep=waits.append) == "done"
    action = Flaky([TimeoutError()])
    assert retry(action, attempts=2, transient=lambda e: True, sleep=waits.append) == "done"
    assert waits == []
