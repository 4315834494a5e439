"""Paging settings, and delivering what the outbox holds to a recording sender."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from habot.config import Settings, parse_settings
from habot.core.outbox import Attempt, MessageKind
from habot.services.outbox import OutboxWorker
from habot.services.ports import Outbox
from tests.kit.botproc import ROLES
from tests.kit.factories import Clock
from tests.kit.fakepager import GENIE_KEY, ROUTING_KEY, FakePagers
from tests.kit.fakeslack import FakeSlack
from tests.kit.readings import T0

T = timedelta(seconds=1)


CONFIG = {
    "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
    "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
    "slack": {"alert_channel": "C0ALERTS"},
    "paging": {"pagerduty": True, "opsgenie": True},
}


def settings(**paging: Any) -> Settings:
    return parse_settings({**CONFIG, "paging": {**CONFIG["paging"], **paging}})


class Sent:
    """A Sender that takes everything (Slack's side), recording it."""

    def __init__(self) -> None:
        self.sent: list[tuple[MessageKind, str, dict[str, Any]]] = []

    async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
        self.sent.append((kind, channel, payload))
        return Attempt(True, ts=f"1700000000.{len(self.sent):06d}")


async def drain(outbox: Outbox) -> list[tuple[MessageKind, str, dict[str, Any]]]:
    """Deliver everything queued (all lanes), recording what went out."""
    sender = Sent()
    await OutboxWorker(
        store=outbox, sender=sender, clock=Clock(T0 + timedelta(days=1))
    ).deliver_due()
    return sender.sent


PAGING = (
    ROLES.replace('channels = ["C0HAOPS"]', 'channels = ["C0HAOPS"]\nalert_channel = "C0HAOPS"')
    + '\n[schedule]\nstatus_every = "1s"\n'
)


PAGE_ENV = {"HABOT_PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "HABOT_OPSGENIE_API_KEY": GENIE_KEY}


def paging_config(pagers: FakePagers) -> str:
    return PAGING + (
        f"\n[paging]\npagerduty = true\nopsgenie = true\n"
        f'pagerduty_events_url = "{pagers.pagerduty_url}"\nopsgenie_url = "{pagers.opsgenie_url}"\n'
    )


def alert_cards(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.calls_to("chat.postMessage")
            if "prod alert" in c.args.get("text", "") and "thread_ts" not in c.args]  # fmt: skip
