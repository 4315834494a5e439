"""An outbox worker against the fake Slack."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from habot.services.outbox import OutboxWorker
from habot.services.ports import Outbox
from habot.slack.sender import SlackSender
from tests.kit.botproc import BOT_TOKEN
from tests.kit.factories import Clock
from tests.kit.fakeslack import FakeSlack


def worker(store: Outbox, fake: FakeSlack, clock: Clock) -> OutboxWorker:
    """A worker sending through a client with no retries of its own."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url, retry_handlers=[])
    return OutboxWorker(store=store, sender=SlackSender(client), clock=clock)
