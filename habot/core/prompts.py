"""Recognising an appliance's confirmation question in command output.

Only ``ha-failover``'s prompt is documented ("asks for y + Enter"), so any ``[y/N]``-style
question is taken as *the* confirmation; any other question is unrecognised.
"""

from __future__ import annotations

import re

_YES_NO = re.compile(
    r"(?:\[\s*y(?:es)?\s*/\s*n(?:o)?\s*\]|\(\s*y(?:es)?\s*/\s*n(?:o)?\s*\))\s*[?:]?\s*$", re.I
)
_QUESTION = re.compile(r"[?:>]\s*$")


def pending_line(output: str) -> str:
    """The unfinished last line of output (what a prompt waiting for input looks like)."""
    return output.rsplit("\n", 1)[-1]


def is_confirmation_prompt(output: str) -> bool:
    """Whether the output ends in a y/N question waiting for an answer."""
    return bool(_YES_NO.search(pending_line(output)))


def looks_like_question(output: str) -> bool:
    """Whether the output ends in some other question (``Password:``, ``Continue?``)."""
    line = pending_line(output)
    return (
        bool(line.strip()) and bool(_QUESTION.search(line)) and not is_confirmation_prompt(output)
    )
