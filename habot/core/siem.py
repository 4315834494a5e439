"""The audit as a SIEM reads it (pure): each event one RFC 5424 syslog message — its
sequence number and chain hash in structured data, so a SIEM can drop a duplicate and
anchor the chain outside habot's database — with the event as JSON or as CEF, framed by
octet counting (RFC 6587) for TCP.

The framing is written here, not taken from a library: Python's SysLogHandler speaks RFC
3164 over UDP or with newline framing, and the RFC 5424 handlers on PyPI are synchronous
logging handlers that own their socket; habot needs to frame a message it then sends over
its own asyncio connection, from a durable cursor, so it can resend what a dropped
connection may have lost. The whole format is the few lines below, checked against a
real rsyslog in tests/test_siem.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from habot import __version__
from habot.core.audit import AuditRecord

#: RFC 5424: facility 13 (log audit); severity 5 (notice), 4 (warning) for a refusal.
FACILITY = 13
#: The structured-data id: "name@enterprise number"; 32473 is the number RFC 5612 sets
#: aside for examples and documentation (habot has none of its own).
SD_ID = "habot@32473"
APP_NAME = "habot"


class SiemFormat(StrEnum):
    """What a forwarded message's MSG part holds."""

    JSON = "json"
    CEF = "cef"


def severity(record: AuditRecord) -> int:
    """Syslog severity: 4 (warning) for refusals and outcomes that went wrong, else 5."""
    e = record.event
    troubled = e.outcome in {"refused", "failed", "unknown", "unverified", "aborted"}
    return 4 if troubled or e.kind.endswith("_refused") else 5


def syslog_message(
    record: AuditRecord,
    fmt: SiemFormat,
    hostname: str,
    scrub: Callable[[str], str] = lambda text: text,
) -> bytes:
    """One audit event as an RFC 5424 message (UTF-8), its text passed through ``scrub``
    (which takes out any secret habot knows, should one ever be in an event)."""
    e = record.event
    pri = FACILITY * 8 + severity(record)
    stamp = e.at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    sd = (f'[{SD_ID} seq="{record.seq}" hash="{record.hash}" prev="{record.prev_hash}"'
          f' kind="{_sd_value(e.kind)}"]')  # fmt: skip
    body = _json(record) if fmt is SiemFormat.JSON else _cef(record)
    header = f"<{pri}>1 {stamp} {_token(hostname, 255)} {APP_NAME} - {_token(e.kind, 32)} {sd}"
    return f"{header} {scrub(body)}".encode()


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting: the message's length in bytes, a space, the message."""
    return str(len(message)).encode() + b" " + message


def _json(record: AuditRecord) -> str:
    return json.dumps(record.as_dict(), sort_keys=True, ensure_ascii=False, default=str)


#: CEF header fields: vendor, product, version (then the event's class id and name).
_CEF_DEVICE = ("Osirium PAM HA", "habot", __version__)
#: CEF severity (0-10) from the syslog one.
_CEF_SEVERITY = {4: 6, 5: 3}


def _cef(record: AuditRecord) -> str:
    """ArcSight CEF: ``CEF:0|vendor|product|version|class|name|severity|extensions``,
    with the standard keys where one fits and habot's own (cs1…) labelled."""
    e = record.event
    header = [*_CEF_DEVICE, e.kind, e.kind.replace("_", " "), str(_CEF_SEVERITY[severity(record)])]
    ext: dict[str, Any] = {
        "rt": int(e.at.timestamp() * 1000),
        "suser": e.actor,
        "outcome": e.outcome,
        "cs1Label": "pair", "cs1": e.pair,
        "cs2Label": "node", "cs2": e.node,
        "cs3Label": "detail", "cs3": json.dumps(dict(e.detail), sort_keys=True, default=str),
        "cs4Label": "hash", "cs4": record.hash,
        "cs5Label": "prev_hash", "cs5": record.prev_hash,
        "cn1Label": "seq", "cn1": record.seq,
        "cs6Label": "channel", "cs6": e.channel,
    }  # fmt: skip
    unset = {k for k, v in ext.items() if v is None} | {
        f"{k}Label" for k, v in ext.items() if v is None
    }
    pairs = " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if k not in unset)
    return "CEF:0|" + "|".join(_cef_header(h) for h in header) + "|" + pairs


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _sd_value(text: str) -> str:
    """An SD-PARAM value: '"', '\\' and ']' escaped (RFC 5424 §6.3.3)."""
    return re.sub(r'(["\\\]])', r"\\\1", text)


def _token(text: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most ``limit``; "-" if none."""
    cleaned = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"
