"""Crontab lines are checked in the core, field by field, the way cron reads them — so
loading the configuration needs no scheduler, and what the core accepts the scheduler
runs."""

from __future__ import annotations

import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from habot.core.cron import parse_crontab
from habot.scheduling import cron_trigger


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("60 9 * * 1", "minute '60': must be 0-59"),
        ("0 24 * * *", "hour '24': must be 0-23"),
        ("0 9 0 * *", "day of month '0': must be 1-31"),
        ("0 9 32 * *", "day of month '32': must be 1-31"),
        ("0 9 * 13 *", "month '13': must be 1-12 or jan-dec"),
        ("0 9 * smarch *", "month 'smarch'"),
        ("30-10 9 * * *", "minute '30-10': a range must run forwards"),
        ("*/0 9 * * *", "minute '\\*/0': a step must be a number of at least 1"),
        ("0 9-x * * *", "hour 'x'"),
        ("0 9 * * 9", "weekdays are 0-7"),
        ("0 9 * *", "expected 5 fields"),
    ],
)
def test_a_bad_field_is_refused_naming_it(line: str, why: str) -> None:
    """A crontab line with a bad field is refused, naming the field."""
    with pytest.raises(ValueError, match=why):
        parse_crontab(line)


_VALUE = {
    "minute": st.integers(0, 59),
    "hour": st.integers(0, 23),
    "day": st.integers(1, 31),
    "month": st.integers(1, 12),
    "weekday": st.integers(0, 7),
}


def _field(values: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    single = values.map(str)
    ranged = st.tuples(values, values).map(lambda p: f"{min(p)}-{max(p)}")
    stepped = st.tuples(st.sampled_from(["*"]), st.integers(1, 10)).map(lambda p: f"*/{p[1]}")
    part = st.one_of(st.just("*"), single, ranged, stepped)
    return st.lists(part, min_size=1, max_size=3).map(",".join)


@given(st.tuples(*(_field(v) for v in _VALUE.values())).map(" ".join))
def test_every_line_the_core_accepts_the_scheduler_accepts(line: str) -> None:
    """Every crontab line the core accepts, APScheduler can run."""
    parse_crontab(line)
    cron_trigger(line, ZoneInfo("UTC"))  # raises if APScheduler could not run it


def test_loading_the_configuration_does_not_load_the_scheduler() -> None:
    """config ↔ scheduling is one-way: the scheduler reads the config, never the reverse."""
    code = "import sys, habot.config; print(any(m.startswith('apscheduler') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
