"""Words people read: no message habot sends carries a bare internal identifier — a
verdict or node state as the code names it (``primary_down``, ``promoted_active``) —
where a person reads it. Identifiers stay in JSON, metrics, button values and the audit."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from habot.core.model import NodeState, Verdict

#: Keys whose values no person reads: where identifiers belong.
_MACHINE_KEYS = frozenset(
    {"value", "action_id", "block_id", "private_metadata", "callback_id", "url", "metadata",
     "external_id", "initial_value"}
)  # fmt: skip
_NAMES = sorted({v.value for v in (*Verdict, *NodeState) if "_" in v.value} | {"bau"})
IDENTIFIER = re.compile(r"(?<![\w-])(" + "|".join(_NAMES) + r")(?![\w-])")


def readable(payload: Any) -> Iterator[str]:
    """Every text a person reads in a Slack payload (message, view, or its JSON string)."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            yield payload
            return
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in _MACHINE_KEYS:
                continue
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from readable(value) if isinstance(value, dict | list) else ()
    elif isinstance(payload, list):
        for item in payload:
            yield from readable(item)


def identifiers_in(*payloads: Any) -> list[str]:
    """The bare identifiers in what people read of ``payloads``."""
    return [m for p in payloads for text in readable(p) for m in IDENTIFIER.findall(text)]


#: Identifiers heard by the fakes that are not a fake Slack (the Notifier recorders), for
#: the suite-wide check in conftest.py.
HEARD: list[tuple[str, str]] = []


def hear(where: str, *payloads: Any) -> None:
    """Note the identifiers in what a fake was given to show people."""
    HEARD.extend((where, i) for i in identifiers_in(*payloads))
