"""Helpers for tests that run the simulator: a clock that only moves when told to."""
from __future__ import annotations


class FakeClock:
    """Injectable clock (seconds since the epoch); set or advance `t` to move time."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
