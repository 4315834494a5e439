"""Keeping a secret out of a stream of output (pure).

A secret typed to a node (the joining code) may come back in its output — echoed by a
terminal, or repeated by the appliance — and it may arrive split across two chunks. A
per-chunk replace would let the two halves through; this holds back only the shortest
tail that could still be the start of the secret.
"""

from __future__ import annotations

import re

MASK = "[joining code]"
#: What may stand between two of the secret's letters or digits in an echo and still show
#: it whole to a reader: terminal escapes (a redraw between each character), spaces,
#: dashes, any other punctuation or control character.
_BETWEEN = (
    r"(?:\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: erase, colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|[^0-9A-Za-z\x1b])*"
)


class Redactor:
    """Feed chunks in order; what comes out never holds the secret, even split."""

    def __init__(self, secret: str | None, mask: str = MASK) -> None:
        self._secret = secret or ""
        self._mask = mask
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The part of the stream that is safe to pass on now."""
        if not self._secret:
            return chunk
        text = (self._held + chunk).replace(self._secret, self._mask)
        keep = _unfinished(text, self._secret)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The held-back tail, once the stream has ended (it was not the secret)."""
        held, self._held = self._held, ""
        return held


def _unfinished(text: str, secret: str) -> int:
    """The length of the longest tail of ``text`` that begins ``secret``."""
    for size in range(min(len(secret) - 1, len(text)), 0, -1):
        if text.endswith(secret[:size]):
            return size
    return 0


def disguised(secret: str | None) -> re.Pattern[str] | None:
    """A pattern for the secret however an echo disguises it: its letters and digits in
    order, in any case, with anything a reader does not see as a letter or digit (terminal
    escapes, spaces, dashes, control characters) between them. None when there is nothing
    to look for."""
    core = [c for c in secret or "" if c.isalnum()]
    if len(core) < 4:  # too short to tell from ordinary text; the exact mask still applies
        return None
    return re.compile(_BETWEEN.join(re.escape(c) for c in core), re.IGNORECASE)


def hide(text: str, pattern: re.Pattern[str] | None) -> str:
    """``text`` with every disguised appearance of the secret masked."""
    return pattern.sub(MASK, text) if pattern is not None else text
