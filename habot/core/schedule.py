"""Operations asked for later (`/ha switchover prod at sat 02:00`): which may be, when a
time is refused, and what the sweep does with one as its time comes (pure).

Approvals are collected now; at its time the run re-reads both nodes and goes ahead only
if the pair still has the shape its approvers saw. Past its time + ``run_window`` it
expires: a scheduled operation never runs late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from habot.core.approvals import WAITING, Request, RequestState
from habot.core.durations import format_duration
from habot.core.freeze import Freeze
from habot.core.operations import SCHEDULABLE, Operation
from habot.core.replies import Code, Part, When


@dataclass(frozen=True)
class Timing:
    """[approval] schedule_within, run_window and remind_before."""

    within: timedelta = timedelta(days=14)
    run_window: timedelta = timedelta(minutes=15)
    remind_before: timedelta = timedelta(minutes=15)


def schedule_refusal(
    operation: Operation,
    run_at: datetime,
    now: datetime,
    timing: Timing,
    freeze: Freeze | None,
    command: str = "/ha",
) -> tuple[Part, ...] | None:
    """Why ``operation`` cannot be asked for at ``run_at`` (``freeze``: the one that will
    hold the pair then, if any), or None."""
    if operation not in SCHEDULABLE:
        return (
            Code(operation.value), " runs when it is approved; only ",
            ", ".join(sorted(o.value for o in SCHEDULABLE)), " can be asked for later.",
        )  # fmt: skip
    if run_at <= now:
        return ("That moment (", When(run_at), ") has already passed: give a time to come, or "
                "leave out ", Code("at WHEN"), " to ask for it now.")  # fmt: skip
    if run_at - now > timing.within:
        return (
            When(run_at), f" is more than {format_duration(timing.within)} away "
            "([approval] schedule_within): ask nearer the time, so the approvers judge the "
            "pair as it will be.",
        )  # fmt: skip
    if freeze is not None:
        return (
            f"A change freeze holds {freeze.scope} then ({freeze.reason}) until ",
            When(freeze.ends_at), ": choose a time after it, or ", Code(f"{command} unfreeze"),
            " first if it no longer applies.",
        )  # fmt: skip
    return None


def deadline(run_at: datetime, timing: Timing) -> datetime:
    """When a request asked for ``run_at`` expires if it has not run: its run window's end."""
    return run_at + timing.run_window


class Step(StrEnum):
    """What the sweep does with a request that has a time, now."""

    WAIT = "wait"
    REMIND = "remind"  # its thread is told it runs soon, once
    RUN = "run"  # approved, and its time has come
    EXPIRE = "expire"  # its run window has passed without a run: it never runs late


def step(request: Request, now: datetime, timing: Timing) -> Step:
    """The one rule for a request with a time: expire past its window, run from its time
    (approved ones only), remind once within ``remind_before`` of it, else wait."""
    if request.run_at is None or request.state not in WAITING:
        return Step.WAIT
    if now >= request.expires_at:
        return Step.EXPIRE
    if now >= request.run_at:
        return Step.RUN if request.state is RequestState.SCHEDULED else Step.WAIT
    if request.run_reminded is None and now >= request.run_at - timing.remind_before:
        return Step.REMIND
    return Step.WAIT


def countdown(run_at: datetime, now: datetime) -> str:
    """How long until ``run_at``, coarsely, as people say it ("in 3 days", "in 2 h",
    "in 25 min", "in 4 min", "now"); the sweep edits a card when its countdown changes."""
    left = run_at - now
    if left <= timedelta(0):
        return "now"
    if left >= timedelta(days=2):
        return f"in {left.days} days"
    if left >= timedelta(hours=2):
        return f"in {int(left.total_seconds() // 3600)} h"
    minutes = max(int(left.total_seconds() // 60), 1)
    if minutes > 10:  # in steps of 5: the card is edited every 5 minutes, not every one
        minutes -= minutes % 5
    return f"in {minutes} min"
