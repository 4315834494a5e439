"""How many slash commands one person may send in a minute (pure: time comes in, as
monotonic seconds — a wall clock stepped back must not hold everyone at their limit).

During an incident everyone types `/ha status`, some of them over and over; readings are
shared, so one person's fiftieth command adds nothing but load. A sliding window per user
answers the extra ones politely instead.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta

WINDOW = 60.0  # seconds


class RateLimit:
    """At most ``per_minute`` commands per user in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._swept: float | None = None

    def __len__(self) -> int:
        """How many people it keeps a window for."""
        return len(self._seen)

    def wait(self, user: str, now: float) -> timedelta | None:
        """None when ``user`` may send a command now (and count it); else how long until
        they may."""
        seen = self._seen.setdefault(user, deque())
        while seen and now - seen[0] >= WINDOW:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return timedelta(seconds=seen[0] + WINDOW - now)
        seen.append(now)
        self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        """Once a window, drop users with nothing left in it: memory follows the people
        active in the last minutes, and a crowd of one-off users costs no sweep each."""
        if self._swept is not None and now - self._swept < WINDOW:
            return
        self._swept = now
        self._seen = {u: s for u, s in self._seen.items() if s and now - s[-1] < WINDOW}
