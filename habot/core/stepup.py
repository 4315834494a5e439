"""Step-up for the most dangerous verbs: the approver confirms by typing the pair's name in
a form that shows what will happen, rather than by one click a stolen session or a slipped
thumb can give (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from habot.core.operations import TYPED_BY_DEFAULT, Operation


class Confirm(StrEnum):
    """How an approver confirms an approval."""

    CLICK = "click"
    TYPE_PAIR_NAME = "type-pair-name"


#: The approval form's field: the pair's name, typed.
PAIR_NAME = "pair_name"


@dataclass(frozen=True)
class StepUp:
    """Each operation's confirmation (configured, or the default)."""

    per_operation: Mapping[Operation, Confirm] = field(default_factory=dict)
    #: Operations whose approval also needs the approver's authenticator code.
    codes: frozenset[Operation] = frozenset()

    def confirm(self, operation: Operation) -> Confirm:
        """How approving ``operation`` is confirmed."""
        if operation in self.per_operation:
            return self.per_operation[operation]
        return Confirm.TYPE_PAIR_NAME if operation in TYPED_BY_DEFAULT else Confirm.CLICK

    def needs_code(self, operation: Operation) -> bool:
        """Whether approving ``operation`` also needs an authenticator code."""
        return operation in self.codes


def name_problem(pair: str, typed: str | None) -> str | None:
    """Why the typed name does not confirm an approval on ``pair`` (None: it does)."""
    if not typed or not typed.strip():
        return f"Type the pair's name ({pair}) to approve."
    if typed.strip() != pair:
        return f"That is not this request's pair: type {pair} exactly. Nothing was approved."
    return None
