"""What habot tells systems other than Slack: paging tools ([paging]) and a SIEM ([siem])."""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from habot.config.base import Section
from habot.core.paging import Pager


def _endpoint(value: str) -> str:
    """A paging tool's URL: https, or http to this machine only (a test or the demo)."""
    parsed = urllib.parse.urlsplit(value)
    local = parsed.hostname in {"127.0.0.1", "localhost", "::1"}
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
        raise ValueError(
            f"{value!r}: use an https:// URL (http:// only to 127.0.0.1, for tests and the demo)"
        )
    return value


class PagingSettings(Section):
    """Paging the on-call when an alert opens (off unless a paging tool is turned on). Keys
    come from the keyring or the environment, never from here."""

    #: Page through PagerDuty's Events API v2 (routing key: keyring pagerduty_routing_key).
    pagerduty: bool = False
    #: Page through Opsgenie's Alert API (key: keyring opsgenie_api_key).
    opsgenie: bool = False
    #: PagerDuty's Events API endpoint.
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_url: str = "https://api.opsgenie.com"  # the EU instance: https://api.eu.opsgenie.com
    #: Page the approvers too: for a request for failover (the emergency verb), and for
    #: any request while its pair is not BAU; resolved when the request stops waiting.
    page_approvers: bool = False
    #: The keyring entry (and HABOT_<NAME> variable) of the approvers' own PagerDuty
    #: service's routing key; unset: the same service as the alerts.
    approvers_routing_key: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    #: PagerDuty schedules whose on-call people (those holding the approver role) are
    #: escalation level 1, looked up through PagerDuty's REST API with the keyring entry
    #: pagerduty_api_token (HABOT_PAGERDUTY_API_TOKEN), matched to Slack users by email.
    oncall_schedules: tuple[Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$")], ...] = Field(
        (), max_length=10
    )
    #: PagerDuty's REST API (for oncall_schedules).
    pagerduty_api_url: str = "https://api.pagerduty.com"

    @field_validator("pagerduty_events_url", "opsgenie_url", "pagerduty_api_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _endpoint(value)

    @property
    def pagers(self) -> tuple[Pager, ...]:
        """The paging tools turned on."""
        return tuple(p for p, on in ((Pager.PAGERDUTY, self.pagerduty),
                                     (Pager.OPSGENIE, self.opsgenie)) if on)  # fmt: skip


_SIEM_TARGET = r"(tcp|tls)://[A-Za-z0-9.:\[\]_-]+:\d{1,5}"


class SiemSettings(Section):
    """Forwarding every audit event to a SIEM: RFC 5424 syslog over TCP (octet-counted),
    optionally TLS. Off while ``target`` is unset."""

    #: "tcp://HOST:PORT" or "tls://HOST:PORT".
    target: str | None = None
    #: "json" or "cef" (each message carries its sequence number and chain hash).
    format: Literal["json", "cef"] = "json"
    #: TLS: the CA that signed the SIEM's certificate (else the system's CAs).
    ca_file: str | None = None
    #: TLS: habot's own certificate, when the SIEM asks for one.
    cert_file: str | None = None
    #: TLS: that certificate's key.
    key_file: str | None = None
    #: The HOSTNAME habot's messages carry (else this machine's name).
    hostname: str | None = None

    @field_validator("target")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"(tcp|tls)://[A-Za-z0-9.:\[\]_-]+:\d{1,5}", value
        ):
            raise ValueError(
                f"{value!r} is not a SIEM target: write tcp://HOST:PORT or tls://HOST:PORT"
            )
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> SiemSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (habot's own certificate)")
        tls_only = self.ca_file or self.cert_file
        if tls_only and self.target is not None and not self.target.startswith("tls://"):
            raise ValueError("ca_file, cert_file and key_file are for a tls:// target")
        return self

    @property
    def endpoint(self) -> tuple[str, str, int] | None:
        """(scheme, host, port), or None when forwarding is off."""
        if self.target is None:
            return None
        scheme, rest = self.target.split("://", 1)
        host, _, port = rest.rpartition(":")
        return scheme, host.strip("[]"), int(port)
