"""One person's slash commands per minute: the extra ones are answered politely, not run."""

from __future__ import annotations

from datetime import timedelta

from habot.core.ratelimit import RateLimit

T0 = 1000.0  # monotonic seconds


def test_the_command_over_the_limit_is_told_how_long_to_wait() -> None:
    """Three a minute: the fourth within the minute waits until the first leaves it."""
    limit = RateLimit(3)
    at = [T0, T0 + 10, T0 + 20]
    assert [limit.wait("U1", t) for t in at] == [None, None, None]
    assert limit.wait("U1", T0 + 30) == timedelta(seconds=30)
    assert limit.wait("U1", T0 + 60) is None  # the window slid on


def test_a_refused_command_does_not_count() -> None:
    """Hammering while refused does not push the wait further out."""
    limit = RateLimit(1)
    assert limit.wait("U1", T0) is None
    for second in range(1, 50):
        assert limit.wait("U1", T0 + second) is not None
    assert limit.wait("U1", T0 + 60) is None


def test_each_person_has_their_own_minute() -> None:
    """One person at the limit does not hold anyone else back."""
    limit = RateLimit(1)
    assert limit.wait("U1", T0) is None
    assert limit.wait("U1", T0) is not None
    assert limit.wait("U2", T0) is None


def test_memory_follows_the_active_people() -> None:
    """Thousands of one-off users are forgotten once their minute has passed."""
    limit = RateLimit(5)
    for n in range(3000):
        limit.wait(f"U{n}", T0)
    later = T0 + 120
    limit.wait("U-late", later)
    assert len(limit) == 1
