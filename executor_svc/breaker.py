"""The circuit breaker: a run of HTTP failures pauses trading until a person resumes it.

Pure: no I/O, no clock. It opens after `failures_to_open` consecutive failures (ExecutorConfig
breaker_failures) and then stays open: there is no timed half-open state, because CONTRACT.md
makes closing it a person's decision, SetTradingEnabled(true), which calls `reset()`.
A success resets the run of failures but does not close an open circuit.
"""

from __future__ import annotations

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    __slots__ = ("_failures", "_failures_to_open", "_open")

    def __init__(self, failures_to_open: int = 3) -> None:
        self._failures = 0
        self._open = False
        self._failures_to_open = 1
        self.failures_to_open = failures_to_open

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def failures_to_open(self) -> int:
        return self._failures_to_open

    @failures_to_open.setter
    def failures_to_open(self, value: int) -> None:
        """From UpdateConfig. Lowering it to the current run of failures or below opens the circuit
        at once: the run already meets the new condition."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"failures_to_open must be an integer >= 1, got {value!r}")
        self._failures_to_open = value
        if self._failures >= value:
            self._open = True

    def record_success(self) -> None:
        self._failures = 0

    def record_failure(self) -> bool:
        """Count one HTTP failure (timeout, 5xx, connection error); True when the circuit is open."""
        self._failures += 1
        if self._failures >= self._failures_to_open:
            self._open = True
        return self._open

    def reset(self) -> None:
        """SetTradingEnabled(true): close the circuit and forget the run of failures."""
        self._failures = 0
        self._open = False
