"""Recognising an appliance's confirmation question in command output.

Only ``ha-failover``'s prompt is documented ("asks for y + Enter"), so any ``[y/N]``-style
question is taken as *the* confirmation; any other question is unrecognised. A pair may
set its own confirmation pattern (``[ssh.patterns] confirmation``): then that question, and
only it, is the confirmation.
"""

from __future__ import annotations

import re

from habot.core.patterns import compiled

_YES_NO_WORDS = r"(?:\[\s*y(?:es)?\s*/\s*n(?:o)?\s*\]|\(\s*y(?:es)?\s*/\s*n(?:o)?\s*\))"
_YES_NO = re.compile(_YES_NO_WORDS + r"\s*[?:]?\s*$", re.I)
_YES_NO_ANYWHERE = re.compile(_YES_NO_WORDS, re.I)
_QUESTION = re.compile(r"[?:>]\s*$")
_JOINING_CODE = re.compile(r"\bjoining[\s_-]*code\b", re.I)
_CODE_LABELLED = re.compile(r"\bjoining[\s_-]*code\b[^:\n]*:[ \t]*(\S+)[ \t]*$", re.I | re.M)


def pending_line(output: str) -> str:
    """The unfinished last line of output (what a prompt waiting for input looks like)."""
    return output.rsplit("\n", 1)[-1]


def _confirmation(custom: str | None) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The confirmation question at the end of the output, and anywhere in it."""
    if custom is None:
        return _YES_NO, _YES_NO_ANYWHERE
    mine = compiled(custom)
    return mine, mine


def is_confirmation_prompt(output: str, custom: str | None = None) -> bool:
    """Whether the output ends in the confirmation question waiting for an answer."""
    return bool(_confirmation(custom)[0].search(pending_line(output)))


def asked_confirmation(output: str, custom: str | None = None) -> bool:
    """Whether the confirmation question appears anywhere in the output (answered or not)."""
    return bool(_confirmation(custom)[1].search(output))


def question_line(output: str, custom: str | None = None) -> str:
    """The line holding the last confirmation question, else the unfinished last line."""
    anywhere = _confirmation(custom)[1]
    lines = [line for line in output.split("\n") if anywhere.search(line)]
    return lines[-1] if lines else pending_line(output)


def looks_like_question(output: str, custom: str | None = None) -> bool:
    """Whether the output ends in some other question (``Password:``, ``Continue?``)."""
    line = pending_line(output)
    # With a pair's own confirmation, a [y/N] it did not name is another question too.
    asks = bool(_QUESTION.search(line)) or (custom is not None and bool(_YES_NO.search(line)))
    return bool(line.strip()) and asks and not is_confirmation_prompt(output, custom)


def asks_joining_code(output: str) -> bool:
    """Whether the output ends in a question for a joining code (ha-initialise's)."""
    line = pending_line(output)
    return bool(_JOINING_CODE.search(line)) and bool(_QUESTION.search(line))


def joining_code_in(output: str) -> str | None:
    """The joining code in ``ha-create-joining-code``'s output: the value after a
    "joining code:" label, else the only non-empty line; None when neither is clear."""
    labelled = _CODE_LABELLED.findall(output)
    if len(labelled) == 1:
        return str(labelled[0])
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if len(lines) == 1 and " " not in lines[0]:
        return lines[0]
    return None
