"""A monotonic clock a test moves by hand."""

from __future__ import annotations


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
