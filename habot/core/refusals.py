"""Why a `/ha` command is not run before it starts (pure): the wrong channel, a missing
role, too many commands in a minute. Each refusal says why and what to do instead."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import timedelta

from habot.core.grammar import ParsedCommand, Sub
from habot.core.replies import Code, Reply, Room, Strong, Tone, joined, refused, say
from habot.core.roles import NEEDS, Access, missing_role


def refusal(
    parsed: ParsedCommand,
    channel: str | None,
    roles: frozenset[Access],
    allowed_channels: Collection[str],
    command: str,
    needs: Mapping[Sub, Access | None] = NEEDS,
) -> Reply | None:
    """The refusal for this command from this person in this channel, or None to run it
    (help is answered anywhere)."""
    if parsed.sub is not Sub.HELP and allowed_channels and channel not in allowed_channels:
        where = joined([Room(c) for c in allowed_channels])
        return refused("habot only takes commands in ", *where, ". Run it there.")
    if role := missing_role(parsed.sub, roles, needs):
        return role_refusal(parsed.sub, role, roles, command)
    return None


def role_refusal(sub: Sub, role: Access, roles: frozenset[Access], command: str) -> Reply:
    """Why a person lacking ``role`` may not use ``sub`` (typed, or its button)."""
    have = ", ".join(sorted(roles)) or "none"
    return refused(
        Code(f"{command} {sub.value}"), " needs the ", Strong(role),
        f" role; your roles: {have}. Ask an admin to add you (or a user group you are in) "
        "to ", Code(f"[roles] {role}s"), ".",
    )  # fmt: skip


def slow_down(wait: timedelta, per_minute: int, command: str) -> Reply:
    """Over the per-person limit: not run, and when to try again."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    return say(
        f"That is more than {per_minute} ", Code(command),
        " commands from you in a minute, so this one was not run: habot spares the "
        f"appliances during an incident. Try again in {seconds}s — a status card already "
        "in the channel shows how old its reading is.",
        tone=Tone.WAIT,
    )  # fmt: skip
