"""Who is on call now, as escalation level 1 (pure).

With ``[paging] oncall_schedules``, level 1 of ``[approval] escalation`` is whoever
PagerDuty has on call in those schedules *and* holds the approver role here. When the
lookup fails, or nobody on call is an approver, level 1 is asked as configured — and the
card says why.

PagerDuty's REST API (GET ``/oncalls``, API version 2) answers ``{"oncalls": [{"user":
{"id", "summary", "email"}, "schedule": {"id"}, "escalation_level", "start", "end"}, …],
"limit", "offset", "more"}``; ``include[]=users`` puts the email on each user.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OnCall:
    """PagerDuty's answer as Slack users, or why there is none."""

    users: frozenset[str] = frozenset()
    failure: str | None = None


@dataclass(frozen=True)
class FirstLevel:
    """Who level 1 asked about a request, and — when it was not who is on call — why."""

    entries: tuple[str, ...]
    fallback: str | None = None

    def to_json(self) -> str:
        """As stored with the request."""
        return json.dumps({"entries": list(self.entries), "fallback": self.fallback})

    @classmethod
    def from_json(cls, text: str | None) -> FirstLevel | None:
        """The stored form back (None when the request has none)."""
        if not text:
            return None
        data = json.loads(text)
        return cls(tuple(data["entries"]), data.get("fallback"))


def first_level(
    configured: tuple[str, ...], oncall: OnCall, approvers: frozenset[str] | None
) -> FirstLevel:
    """Level 1: the on-call people who may approve (``approvers`` None: everyone may), or
    the configured level with the reason it is used instead."""
    if oncall.failure is not None:
        why = f"the PagerDuty on-call lookup failed ({oncall.failure}): asked level 1 as configured"
        return FirstLevel(configured, why)
    asked = oncall.users if approvers is None else oncall.users & approvers
    if not asked:
        return FirstLevel(configured, "nobody on call in PagerDuty holds the approver role "
                                      "here: asked level 1 as configured")  # fmt: skip
    return FirstLevel(tuple(sorted(asked)))


@dataclass(frozen=True)
class OnCallPage:
    """One page of PagerDuty's answer: each on-call person's email (or, without one, their
    PagerDuty id), and whether more pages follow."""

    people: tuple[str, ...]
    more: bool


def parse_oncalls(body: Mapping[str, Any]) -> OnCallPage:
    """PagerDuty's `/oncalls` answer, parsed once; ValueError when it is not one."""
    entries = body.get("oncalls")
    if not isinstance(entries, list):
        raise ValueError("the answer has no 'oncalls' list")
    people = []
    for entry in entries:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            raise ValueError("an on-call entry has no user")
        people.append(str(user.get("email") or user.get("id") or ""))
    return OnCallPage(tuple(_unique(p for p in people if p)), bool(body.get("more")))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
