"""Node addresses: "host", "host:port", "[v6addr]:port" (a bare IPv6 address is a host)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_SSH_PORT = 22
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$")


@dataclass(frozen=True)
class NodeAddress:
    """Where a node's SSH server listens."""

    host: str
    port: int = DEFAULT_SSH_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_SSH_PORT else f"{host}:{self.port}"


def parse_address(text: str) -> NodeAddress:
    """Parse a node address; raise ValueError naming what is wrong."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not _IPV6.match(host) or ":" not in host:
            raise ValueError(f"{text!r}: write an IPv6 address as [addr] or [addr]:port")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: expected ':port' after ']'")
        return NodeAddress(host, _port(text, rest[1:]) if rest else DEFAULT_SSH_PORT)
    if text.count(":") > 1:
        if not _IPV6.match(text):
            raise ValueError(f"{text!r} is not a valid IPv6 address")
        return NodeAddress(text)
    host, sep, port = text.partition(":")
    if not _HOSTNAME.match(host):
        raise ValueError(f"{text!r}: {host!r} is not a valid host name or IPv4 address")
    return NodeAddress(host, _port(text, port) if sep else DEFAULT_SSH_PORT)


def _port(text: str, port: str) -> int:
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: port must be a number from 1 to 65535, not {port!r}")
    return int(port)
