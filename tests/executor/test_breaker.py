"""The circuit breaker: opens after N consecutive failures and stays open until a person resets it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executor_svc.breaker import CircuitBreaker


def test_opens_after_n_consecutive_failures():
    breaker = CircuitBreaker(3)
    assert not breaker.is_open and breaker.consecutive_failures == 0
    assert breaker.record_failure() is False
    assert breaker.record_failure() is False
    assert breaker.record_failure() is True
    assert breaker.is_open and breaker.consecutive_failures == 3


def test_a_success_breaks_the_run():
    breaker = CircuitBreaker(3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    assert breaker.consecutive_failures == 0
    breaker.record_failure()
    breaker.record_failure()
    assert not breaker.is_open


def test_stays_open_after_a_success_until_reset():
    breaker = CircuitBreaker(1)
    breaker.record_failure()
    breaker.record_success()
    assert breaker.is_open  # only SetTradingEnabled(true) closes it (CONTRACT.md)
    breaker.reset()
    assert not breaker.is_open and breaker.consecutive_failures == 0
    assert breaker.record_failure() is True


def test_default_is_the_contract_default():
    assert CircuitBreaker().failures_to_open == 3


def test_threshold_from_config():
    breaker = CircuitBreaker(5)
    breaker.record_failure()
    breaker.record_failure()
    breaker.failures_to_open = 4
    assert not breaker.is_open
    breaker.failures_to_open = 2  # the current run already meets the new threshold
    assert breaker.is_open
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError):
            CircuitBreaker(bad)
        with pytest.raises(ValueError):
            breaker.failures_to_open = bad
    assert breaker.failures_to_open == 2


@given(st.integers(1, 5), st.lists(st.sampled_from(["fail", "ok", "reset"]), max_size=50))
@settings(max_examples=300, deadline=None)
def test_breaker_matches_its_definition(n, events):
    breaker = CircuitBreaker(n)
    run, is_open = 0, False
    for event in events:
        if event == "fail":
            run += 1
            is_open = is_open or run >= n
            assert breaker.record_failure() is is_open
        elif event == "ok":
            run = 0
            breaker.record_success()
        else:
            run, is_open = 0, False
            breaker.reset()
        assert (breaker.is_open, breaker.consecutive_failures) == (is_open, run)
