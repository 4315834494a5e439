"""Audit anchors: one line naming the chain's head (sequence number and hash), to be kept
outside the database — posted to a channel, pasted in a ticket. A later check against it
notices what the chain alone cannot: rows deleted from the end, or the whole log
rewritten and its hashes recomputed. With a key (keyring or environment, never in the
database) the line carries an HMAC, so nobody without the key can forge an anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from habot.core.audit import AuditRecord

_LINE = re.compile(
    r"^habot-audit-anchor v1 seq=(?P<seq>\d+) hash=(?P<hash>[0-9a-f]{64})"
    r"(?: mac=(?P<mac>[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment."""

    seq: int
    hash: str
    mac: str | None = None

    def line(self) -> str:
        """The one-line form."""
        mac = f" mac={self.mac}" if self.mac else ""
        return f"habot-audit-anchor v1 seq={self.seq} hash={self.hash}{mac}"


def _mac(key: str, seq: int, head: str) -> str:
    return hmac.new(key.encode(), f"{seq}:{head}".encode(), hashlib.sha256).hexdigest()


def make_anchor(head: AuditRecord, key: str | None) -> Anchor:
    """The anchor for a chain whose newest row is ``head`` (keyed when a key is given)."""
    return Anchor(head.seq, head.hash, _mac(key, head.seq, head.hash) if key else None)


def parse_anchor(line: str) -> Anchor:
    """An anchor line back; ValueError says what a valid one looks like."""
    match = _LINE.match(line.strip())
    if match is None:
        raise ValueError(
            "not an anchor line; it looks like "
            "'habot-audit-anchor v1 seq=N hash=<64 hex> [mac=<64 hex>]'"
        )
    return Anchor(int(match["seq"]), match["hash"], match["mac"])


def check_anchor(records: Iterable[AuditRecord], anchor: Anchor, key: str | None) -> str | None:
    """Why the log does not hold what the anchor saw (None when it does)."""
    if anchor.mac is not None:
        if key is None:
            return "the anchor is keyed but no audit key is configured to check it"
        if not hmac.compare_digest(anchor.mac, _mac(key, anchor.seq, anchor.hash)):
            return "the anchor's MAC does not match: it was not made with this key"
    for record in records:
        if record.seq == anchor.seq:
            if record.hash != anchor.hash:
                return f"row {anchor.seq} is not the row the anchor saw (rewritten)"
            return None
    return f"row {anchor.seq} is missing (the log was truncated)"
