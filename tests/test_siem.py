"""The audit to a SIEM: RFC 5424 messages (seq and chain hash in structured data; JSON or
CEF) over TCP or TLS, into a real rsyslog — every event once, in order; a wrong CA refused
and said; a stopped rsyslog loses nothing; no secret ever leaves."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from habot.config import parse_settings
from habot.config.outside import (
    SiemSettings,
)
from habot.core.audit import AuditEvent, chain
from habot.core.siem import SiemFormat, octet_counted, syslog_message
from habot.errors import ConfigError
from habot.secrets import Secrets
from habot.services.ports import NoTelemetry, Stores
from habot.services.siem import SiemForwarder
from habot.siem.link import SyslogLink, check_siem
from habot.store.memory import memory_stores
from tests.kit.rsyslog import Received, Rsyslog, make_ca, running_rsyslog

T0 = datetime(2026, 12, 4, 7, 5, tzinfo=UTC)


def record(seq: int = 12, **detail: object) -> object:
    event = AuditEvent("approved", "U0AMIR", "counted", T0, pair="prod", detail=detail)
    return chain(seq, event, "0" * 64)


# -- the format (pure) --------------------------------------------------------------------


def test_a_message_is_rfc5424_with_its_place_in_the_chain() -> None:
    """<PRI>1 TIMESTAMP HOSTNAME APP - MSGID [SD] MSG: facility log audit, notice; the
    sequence number and hashes in structured data (a quote escaped); MSG the event."""
    r = record(reason='said "now"]')
    message = syslog_message(r, SiemFormat.JSON, "pam-ops").decode()
    head, sd_and_msg = message.split(" [", 1)
    assert head == "<109>1 2026-12-04T07:05:00.000000Z pam-ops habot - approved"
    assert sd_and_msg.startswith(f'habot@32473 seq="12" hash="{r.hash}" prev="{"0" * 64}"')
    body = json.loads(message.split("] ", 1)[1])
    assert body == r.as_dict()
    assert octet_counted(b"abc") == b"3 abc"
    assert octet_counted("é".encode()) == b"2 \xc3\xa9"  # bytes, not characters


def test_cef_escapes_what_would_break_its_fields() -> None:
    """CEF escapes what would break its fields and extensions."""
    message = syslog_message(record(reason="a|b=c\nd"), SiemFormat.CEF, "h").decode()
    cef = message.split("] ", 1)[1]
    assert cef.startswith("CEF:0|Osirium PAM HA|habot|")
    fields = re.split(r"(?<!\\)\|", cef, maxsplit=7)  # extensions may hold a bare |
    assert fields[4:7] == ["approved", "approved", "3"]
    ext = fields[7]
    assert "suser=U0AMIR" in ext
    assert "cn1Label=seq cn1=12" in ext
    assert 'cs3={"reason": "a|b\\=c\\\\nd"}' in ext  # "=" and "\\" escaped; a bare | is fine


def test_no_secret_habot_holds_leaves_in_a_message() -> None:
    """A secret habot holds (here a pair's SSH password, in the environment), pasted into
    a reason, is taken out of what goes to the SIEM — in both formats."""
    secrets = Secrets({"HABOT_SSH_PASSWORD": "correct-horse-battery"}, lambda _s, _n: None)
    scrub = secrets.scrubber(["prod"])
    for fmt in SiemFormat:
        message = syslog_message(record(reason="pw is correct-horse-battery"), fmt, "h", scrub)
        assert b"correct-horse-battery" not in message
        assert b"pw is [secret]" in message


# -- against a real rsyslog ---------------------------------------------------------------


@pytest.fixture
async def rsyslog(tmp_path: Path) -> AsyncIterator[Rsyslog]:
    async with running_rsyslog(tmp_path / "rsyslog") as server:
        yield server


async def audited(stores: Stores, count: int) -> None:
    for n in range(count):
        event = AuditEvent("status", "U0OPS", "bau", T0 + timedelta(seconds=n), pair="prod",
                           detail={"n": n})  # fmt: skip
        await stores.audit.append(event)


class Gauges(NoTelemetry):
    def __init__(self) -> None:
        self.backlog: list[int] = []
        self.failures = 0

    def siem_backlog(self, events: int) -> None:
        self.backlog.append(events)

    def siem_failed(self) -> None:
        self.failures += 1


@contextlib.asynccontextmanager
async def forwarder(
    stores: Stores, settings: SiemSettings, gauges: Gauges
) -> AsyncIterator[SiemForwarder]:
    """A forwarder to ``settings``' target over a real socket, closed afterwards."""
    link = SyslogLink(settings)
    try:
        yield SiemForwarder(settings=settings, hostname="habot-test", audit=stores.audit,
                            cursors=stores.cursors, link=link, gauges=gauges)  # fmt: skip
    finally:
        await link.close()


def in_order_once(got: list[Received], count: int) -> None:
    assert [m.seq for m in got] == list(range(1, count + 1))


async def test_every_event_arrives_once_in_order_as_json_over_tcp_and_as_cef_over_tls(
    rsyslog: Rsyslog,
) -> None:
    """450 events (more than one batch) to the plain listener as JSON, then the same
    audit to the TLS listener as CEF: each arrives once, in chain order, and parses."""
    stores, gauges = memory_stores(), Gauges()
    await audited(stores, 450)
    plain = SiemSettings(target=f"tcp://127.0.0.1:{rsyslog.plain}")
    async with forwarder(stores, plain, gauges) as sending:
        assert await sending.forward() == 450
    got = await rsyslog.wait_for(450)
    assert {m.listener for m in got} == {"plain"}
    in_order_once(got, 450)
    records = [r async for r in stores.audit.records()]
    assert [json.loads(m.msg) for m in got] == [r.as_dict() for r in records]
    assert [m.hash for m in got] == [r.hash for r in records]
    assert gauges.backlog[-1] == 0
    tls = SiemSettings(target=f"tls://127.0.0.1:{rsyslog.tls}", format="cef",
                       ca_file=str(rsyslog.ca))  # fmt: skip
    async with forwarder(stores, tls, gauges) as sending:
        assert await sending.forward() == 450
    over_tls = [m for m in await rsyslog.wait_for(900) if m.listener == "tls"]
    in_order_once(over_tls, 450)
    assert all(m.msg.startswith("CEF:0|Osirium PAM HA|habot|") for m in over_tls)
    assert [int(m.msg.split("cn1=")[1].split()[0]) for m in over_tls] == list(range(1, 451))
    assert gauges.failures == 0


async def test_a_siem_with_a_certificate_from_another_ca_is_refused_and_said(
    rsyslog: Rsyslog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """TLS checks the SIEM's certificate against ca_file: one from another CA is refused,
    nothing is sent, the failure is counted and said once — and `habot check` says it."""
    other, _, _ = make_ca(tmp_path, "another CA")
    settings = SiemSettings(target=f"tls://127.0.0.1:{rsyslog.tls}", ca_file=str(other))
    stores, gauges = memory_stores(), Gauges()
    await audited(stores, 3)
    caplog.set_level(logging.WARNING)
    async with forwarder(stores, settings, gauges) as sending:
        assert await sending.forward() == 0
        assert await sending.forward() == 0
    assert gauges.failures == 2
    said = [r.getMessage() for r in caplog.records if "SIEM" in r.getMessage()]
    assert len(said) == 1  # once per outage
    assert "TLS: the SIEM's certificate was not accepted" in said[0]
    assert await stores.cursors.get(settings.target or "") == 0
    [checked] = await check_siem(settings)
    assert checked.ok is False
    assert "TLS: the SIEM's certificate was not accepted" in checked.detail
    [good] = await check_siem(SiemSettings(target=settings.target, ca_file=str(rsyslog.ca)))
    assert good.ok is True
    assert rsyslog.received() == []


@pytest.mark.parametrize(
    ("siem", "said"),
    [
        ({"target": "syslog.example:514"}, "write tcp://HOST:PORT or tls://HOST:PORT"),
        ({"target": "udp://siem:514"}, "write tcp://HOST:PORT or tls://HOST:PORT"),
        (
            {"target": "tls://siem:6514", "cert_file": "/c.pem"},
            "cert_file and key_file go together",
        ),
        ({"target": "tcp://siem:514", "ca_file": "/ca.pem"}, "are for a tls:// target"),
        ({"target": "tcp://siem:514", "format": "leef"}, "json"),
    ],
)
def test_a_bad_siem_setting_is_refused_at_load_naming_it(siem: dict[str, str], said: str) -> None:
    """A bad [siem] setting is refused at load, naming it."""
    with pytest.raises(ConfigError, match=re.escape(said)) as info:
        parse_settings({"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
                        "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
                        "siem": siem}, "test")  # fmt: skip
    assert "siem" in str(info.value)


def test_a_siem_target_names_its_endpoint() -> None:
    """A SIEM target names its scheme, host and port; none when unset."""
    assert SiemSettings(target="tls://[::1]:6514").endpoint == ("tls", "::1", 6514)
    assert SiemSettings(target="tcp://siem.example:514").endpoint == ("tcp", "siem.example", 514)
    assert SiemSettings().endpoint is None
