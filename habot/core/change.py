"""Change control on a request: the reason it must give and the ticket it must name
(``[approval] reason`` and ``ticket_pattern``, per operation overridable) — one rule,
used by the typed command, the form and the service alike (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from habot.core.operations import Operation

MIN_REASON = 10
#: The form's field names (its input blocks' ids).
REASON, TICKET = "reason", "ticket"


@dataclass(frozen=True)
class ChangeRule:
    """What one operation's request must carry."""

    reason_required: bool = False
    ticket_pattern: str | None = None

    @property
    def asks(self) -> bool:
        """Whether the form is needed: a reason or a ticket is required."""
        return self.reason_required or self.ticket_pattern is not None


@dataclass(frozen=True)
class ChangeControl:
    """Each operation's rule (the default for those not named)."""

    default: ChangeRule = ChangeRule()
    per_operation: Mapping[Operation, ChangeRule] = field(default_factory=dict)

    def rule(self, operation: Operation) -> ChangeRule:
        """The rule for ``operation``."""
        return self.per_operation.get(operation, self.default)


def problems(rule: ChangeRule, reason: str | None, ticket: str | None) -> dict[str, str]:
    """What is wrong with a request's reason and ticket, by field (empty: nothing)."""
    found: dict[str, str] = {}
    if rule.reason_required and not reason:
        found[REASON] = "Say why: a reason is required for this operation here."
    elif reason is not None and len(reason) < MIN_REASON:
        found[REASON] = f"Say a little more: at least {MIN_REASON} characters."
    if rule.ticket_pattern is None:
        if ticket:
            found[TICKET] = ("No change ticket is asked for here ([approval] ticket_pattern is "
                             "not set); put it in the reason instead.")  # fmt: skip
    elif not ticket:
        found[TICKET] = f"Name the change ticket (it must match {rule.ticket_pattern})."
    elif not re.fullmatch(rule.ticket_pattern, ticket):
        found[TICKET] = (
            f"{ticket[:40]!r} is not a change ticket here: it must match {rule.ticket_pattern}."
        )
    return found


def missing_only(found: Mapping[str, str], reason: str | None, ticket: str | None) -> bool:
    """Whether every problem is something not given at all (the form asks for it) rather
    than something given wrong (the typed command is refused, saying why)."""
    given = {REASON: reason, TICKET: ticket}
    return bool(found) and all(not given[name] for name in found)
