"""Paging the on-call: one page per pair incident — triggered when the alert opens,
acknowledged from Slack, resolved on recovery — delivered through the outbox, never twice,
and said in the alert's thread when it cannot be delivered."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from habot.config import parse_settings
from habot.core.alerts import Incident
from habot.core.outbox import Attempt, Delivery, MessageKind, Next, OutboxMessage
from habot.core.paging import (
    Page,
    PageAction,
    Pager,
    Severity,
    incident_key,
    page_lane,
    trigger,
)
from habot.core.roles import Access
from habot.core.verdict import PairStatus
from habot.errors import ConfigError
from habot.pager.http import PageSender
from habot.services.alerting import Alerter
from habot.services.outbox import PAGE_WAITS_FOR_CARD, OutboxWorker, PagesApart
from habot.services.ports import Caller, Outbox, Stores
from habot.sim.simulator import Simulator
from tests.kit.botproc import Bot, start_bot
from tests.kit.cli import habot
from tests.kit.factories import Clock, fast_config_file
from tests.kit.fakepager import GENIE_KEY, ROUTING_KEY, FakePagers
from tests.kit.fakeslack import FakeSlack
from tests.kit.metrics import scrape
from tests.kit.paging import CONFIG, PAGE_ENV, Sent, T, alert_cards, drain, paging_config, settings
from tests.kit.readings import BAD, GOOD, T0
from tests.kit.slack import click

KEYS = {Pager.PAGERDUTY: ROUTING_KEY, Pager.OPSGENIE: GENIE_KEY}
OPERATOR = Caller("U0OPS1", "C0ALERTS", frozenset({Access.OPERATOR}))


def pages_in(
    rows: list[tuple[MessageKind, str, dict[str, Any]]], pager: str | None = None
) -> list[tuple[str, str]]:
    """(pager, action) of the pages among what went out (to one pager)."""
    return [(c, p["action"]) for k, c, p in rows
            if k == MessageKind.PAGE and pager in (None, c)]  # fmt: skip


# -- the page itself -------------------------------------------------------------------


def test_an_incidents_key_is_the_same_wherever_and_whenever_it_is_derived() -> None:
    """Every poll, restart and replica derives the same key from the pair and the
    incident's start, so the paging tool folds repeats into one incident."""
    since = datetime(2026, 12, 3, 3, 0, 7, 123456, tzinfo=UTC)
    assert incident_key("prod", since) == "habot/prod/20261203T030007Z"
    assert incident_key("prod", since.astimezone()) == incident_key("prod", since)
    assert incident_key("dr", since) != incident_key("prod", since)
    assert page_lane(Pager.OPSGENIE, "k") != page_lane(Pager.PAGERDUTY, "k")


def test_a_trigger_carries_both_nodes_words_the_verdict_in_words_and_no_secret() -> None:
    """The responder sees, before logging in, what each node said and the verdict in the
    words people use; the stored payload has no key of any kind."""
    incident = Incident("Primary unreachable", T0, T0, 2)
    page = trigger(BAD, incident, card=7)
    assert page.severity is Severity.CRITICAL
    assert page.summary.startswith("prod: Primary down")
    assert "primary_down" not in json.dumps(page.payload())
    assert page.details["primary"].startswith("a: Unreachable")
    assert "connection refused" in page.details["primary"]
    assert page.details["secondary"].startswith("b: Standby")
    assert Page.of(page.payload()) == page
    stored = json.dumps(page.payload())
    assert ROUTING_KEY not in stored
    assert GENIE_KEY not in stored


# -- the alerter queues pages ------------------------------------------------------------


async def test_one_incident_pages_once_however_many_polls_see_it(memory: Stores) -> None:
    """Ten bad readings: one card and one trigger per paging tool; Acknowledge in Slack
    acknowledges; recovery resolves — in that order, each once."""
    clock = Clock(T0)
    alerter = Alerter(settings=settings(), states=memory.alerts, outbox=memory.outbox, clock=clock)
    sent = []
    for _ in range(10):
        clock.now += 5 * T
        await alerter.observe(replace(BAD, observed_at=clock.now))
        sent += await drain(memory.outbox)
    assert sorted(pages_in(sent)) == [("opsgenie", "trigger"), ("pagerduty", "trigger")]
    await alerter.acknowledge(OPERATOR, "prod")
    for _ in range(2):
        clock.now += 5 * T
        await alerter.observe(replace(GOOD, observed_at=clock.now))
    sent += await drain(memory.outbox)
    for pager in ("pagerduty", "opsgenie"):
        actions = [a for _, a in pages_in(sent, pager)]
        assert actions == ["trigger", "acknowledge", "resolve"]
    keys = {p["key"] for k, _, p in sent if k == MessageKind.PAGE}
    assert len(keys) == 1
    cards = [p for k, _, p in sent if k == MessageKind.POST]
    assert "paged through PagerDuty and Opsgenie" in json.dumps(cards[0]["blocks"])


async def feed(alerter: Alerter, clock: Clock, *readings: PairStatus) -> None:
    """The alerter sees each reading, five seconds after the one before."""
    for reading in readings:
        clock.now += 5 * T
        await alerter.observe(replace(reading, observed_at=clock.now))


async def page_head(outbox: Outbox) -> tuple[str, OutboxMessage]:
    """The one paging lane, and the page at its head."""
    [lane] = [lane for lane in await outbox.lanes() if lane.startswith("page:")]
    head = await outbox.head(lane)
    assert head is not None
    return lane, head


async def test_a_page_not_delivered_is_withdrawn_when_the_incident_ends(stores: Stores) -> None:
    """The paging tool was unreachable for the whole incident: at recovery the undelivered
    trigger is withdrawn — nobody is woken for an incident already over. No resolve
    follows a trigger never tried; one does follow a trigger tried (a timed-out attempt
    may have reached the tool), and a delivered trigger is resolved after it."""
    clock = Clock(T0)
    alerter = Alerter(settings=settings(opsgenie=False), states=stores.alerts,
                      outbox=stores.outbox, clock=clock)  # fmt: skip

    async def incident(attempt: str | None) -> list[str]:
        await feed(alerter, clock, BAD, BAD)
        lane, head = await page_head(stores.outbox)
        if attempt == "sent":
            await stores.outbox.record(head.id, Next(Delivery.SENT, clock.now), None, None)
        elif attempt is not None:
            retry = Next(Delivery.QUEUED, clock.now + timedelta(minutes=5))
            await stores.outbox.record(head.id, retry, None, attempt)
        await feed(alerter, clock, GOOD, GOOD)
        actions = []
        while (head := await stores.outbox.head(lane)) is not None:
            actions.append(head.payload["action"])
            await stores.outbox.record(head.id, Next(Delivery.SENT, clock.now), None, None)
        return actions

    assert await incident(None) == []
    assert await incident("TimeoutError") == ["resolve"]
    assert await incident("sent") == ["resolve"]


async def test_a_page_whose_attempt_was_in_flight_at_recovery_is_overtaken(
    stores: Stores,
) -> None:
    """The trigger was being sent (its attempt in flight, the tool down) when the pair
    recovered: the resolve queues behind it, the attempt then fails — and when the tool is
    back only the resolve goes out. The trigger is never sent after its incident ended
    (found in CI: the paging fault suite saw the first incident's trigger arrive late)."""
    clock = Clock(T0)
    alerter = Alerter(settings=settings(opsgenie=False), states=stores.alerts,
                      outbox=stores.outbox, clock=clock)  # fmt: skip
    await feed(alerter, clock, BAD, BAD)
    lane, head = await page_head(stores.outbox)
    assert await stores.outbox.claim(head.id, "outbox-other", clock.now, timedelta(minutes=1))
    await feed(alerter, clock, GOOD, GOOD)
    refused = Next(Delivery.QUEUED, clock.now)
    await stores.outbox.record(head.id, refused, None, "ClientConnectorError")
    assert [m.payload["action"] for m in await stores.outbox.queued_in(lane)] == [
        "trigger", "resolve",
    ]  # fmt: skip
    assert pages_in(await drain(stores.outbox)) == [("pagerduty", "resolve")]
    assert await stores.outbox.queued_in(lane) == []
    assert not await stores.outbox.drop(head.id)  # gone: nothing to drop twice


async def test_an_alert_for_lines_not_understood_pages_only_once_the_pair_is_in_trouble(
    memory: Stores,
) -> None:
    """Lines not understood in a pair still in BAU: the alert card, no page. The Primary
    then goes down while that incident is open: the page goes out then — once — and its
    card says it paged."""
    clock = Clock(T0)
    alerter = Alerter(settings=settings(opsgenie=False), states=memory.alerts,
                      outbox=memory.outbox, clock=clock)  # fmt: skip
    unread = replace(GOOD, primary=replace(GOOD.primary, not_understood=("Firmware: 9.1",)))
    down = replace(BAD, primary=replace(BAD.primary, not_understood=("Firmware: 9.1",)))
    await feed(alerter, clock, unread, unread, unread)
    sent = await drain(memory.outbox)
    assert pages_in(sent) == []
    assert "not understood" in json.dumps([p for k, _, p in sent if k == MessageKind.POST])
    await feed(alerter, clock, down, down, down)
    sent += await drain(memory.outbox)
    assert pages_in(sent) == [("pagerduty", "trigger")]
    edits = [p for k, _, p in sent if k == MessageKind.UPDATE]
    assert "paged through PagerDuty" in json.dumps(edits[-1])


async def test_paging_needs_an_alert_channel_and_https() -> None:
    """A page follows an alert card; a paging tool is reached over https (http only to
    this machine, for tests and the demo)."""
    with pytest.raises(ConfigError, match="alert_channel"):
        parse_settings({**CONFIG, "slack": {}})
    with pytest.raises(ConfigError, match="https"):
        settings(pagerduty_events_url="http://pager.example.com/v2/enqueue")
    assert settings(opsgenie_url="http://127.0.0.1:9/").paging.pagers == (
        Pager.PAGERDUTY, Pager.OPSGENIE,
    )  # fmt: skip
    assert parse_settings({**CONFIG, "paging": {}}).paging.pagers == ()


# -- the senders, against the fakes ------------------------------------------------------


def page_sender(pagers: FakePagers, keys: dict[Pager, str] = KEYS) -> PageSender:
    return PageSender(
        keys=lambda pager, route: keys.get(pager),
        pagerduty_url=pagers.pagerduty_url,
        opsgenie_url=pagers.opsgenie_url,
    )


async def test_each_tool_takes_the_incidents_three_events(pagers: FakePagers) -> None:
    """Against faithful fakes: PagerDuty gets trigger, acknowledge and resolve under one
    dedup_key (its incident ends resolved); Opsgenie gets create, acknowledge and close by
    alias; the trigger links to the alert card."""
    incident = Incident("Primary unreachable", T0, T0, 2, paged=("pagerduty", "opsgenie"))
    sender, key = page_sender(pagers), incident_key("prod", T0)
    events = [
        {**trigger(BAD, incident, card=1).payload(), "link": "https://slack.com/archives/C/p1"},
        Page(
            PageAction.ACKNOWLEDGE, incident_key("prod", T0), "prod", "ack", by="U0OPS1"
        ).payload(),
        Page(PageAction.RESOLVE, incident_key("prod", T0), "prod", "ok").payload(),
    ]
    try:
        for pager in Pager:
            for payload in events:
                assert (await sender.send(MessageKind.PAGE, pager.value, payload)).ok
    finally:
        await sender.close()
    assert pagers.refused == []
    assert [e.action for e in pagers.of("pagerduty")] == ["trigger", "acknowledge", "resolve"]
    assert pagers.incidents == {key: "resolved"}
    first = pagers.of("pagerduty")[0].body
    assert first["links"][0]["href"] == "https://slack.com/archives/C/p1"
    assert first["payload"]["custom_details"]["primary"].startswith("a: Unreachable")
    assert [e.action for e in pagers.of("opsgenie")] == ["trigger", "acknowledge", "resolve"]
    assert {e.key for e in pagers.of("opsgenie")} == {key}  # the alias, in the path too
    assert pagers.of("opsgenie")[0].body["priority"] == "P1"


async def test_a_refused_page_says_why_and_a_missing_key_is_never_sent(
    pagers: FakePagers,
) -> None:
    """A 400 is the tool's final word (set aside, not retried); a 429 or 5xx is retried;
    a pager with no key sends nothing at all."""
    page = trigger(BAD, Incident("x", T0, T0, 1), None).payload()
    sender, good = page_sender(pagers, {Pager.PAGERDUTY: "too-short"}), page_sender(pagers)
    try:
        refused = await sender.send(MessageKind.PAGE, "pagerduty", page)
        pagers.fail_next[:] = [429]
        busy = await good.send(MessageKind.PAGE, "pagerduty", page)
        nokey = await sender.send(MessageKind.PAGE, "opsgenie", page)
    finally:
        await sender.close()
        await good.close()
    assert (refused.ok, refused.error) == (False, "invalid_event")
    assert (busy.ok, busy.error) == (False, "http_429")
    assert (nokey.ok, nokey.error) == (False, "no_key")
    assert len(pagers.refused) == 1
    assert pagers.events == []


async def test_a_page_that_cannot_be_delivered_is_said_in_the_alerts_thread(
    memory: Stores, pagers: FakePagers
) -> None:
    """PagerDuty refuses the event for good: the alert's thread says the on-call was not
    woken by habot, so nobody believes they were."""
    clock = Clock(T0)
    alerter = Alerter(settings=settings(opsgenie=False), states=memory.alerts,
                      outbox=memory.outbox, clock=clock)  # fmt: skip
    for _ in range(2):
        await alerter.observe(BAD)
    slack = Sent()
    pages = page_sender(pagers, {Pager.PAGERDUTY: "not-a-routing-key"})
    worker = OutboxWorker(store=memory.outbox, sender=PagesApart(slack, pages), clock=clock)
    try:
        for _ in range(3):  # the card; the page, refused; the thread reply it gives
            await worker.deliver_due()
    finally:
        await pages.close()
    replies = [p["text"] for k, _, p in slack.sent if k == MessageKind.REPLY]
    assert any("could not send PagerDuty the page" in r and "call the on-call yourself" in r
               for r in replies), replies  # fmt: skip


async def test_a_trigger_waits_briefly_for_its_card_to_link_to_it(memory: Stores) -> None:
    """The page goes out with the card's link once the card is posted — but a Slack that
    does not take the card holds the page back no longer than PAGE_WAITS_FOR_CARD."""
    clock = Clock(T0)
    alerter = Alerter(settings=settings(opsgenie=False), states=memory.alerts,
                      outbox=memory.outbox, clock=clock)  # fmt: skip
    for _ in range(2):
        await alerter.observe(BAD)

    class SlackDown(Sent):
        async def send(self, kind: MessageKind, channel: str, payload: dict[str, Any]) -> Attempt:
            if kind == MessageKind.PAGE:
                return await super().send(kind, channel, payload)
            return Attempt(False, error="http_503")

    down = SlackDown()
    worker = OutboxWorker(store=memory.outbox, sender=down, clock=clock)
    await worker.deliver_due()
    assert pages_in(down.sent) == []  # waiting for the card
    clock.now += PAGE_WAITS_FOR_CARD + T
    await worker.deliver_due()
    assert pages_in(down.sent) == [("pagerduty", "trigger")]
    assert down.sent[-1][2]["link"] is None


# -- end to end: the bot as a process ----------------------------------------------------


async def test_a_power_cut_pages_once_is_acknowledged_from_slack_and_resolves(
    sim: Simulator, fake: FakeSlack, pagers: FakePagers, tmp_path: Path
) -> None:
    """The Primary's power is cut: one trigger to each tool however many polls see it —
    through a burst of 429s and 500s — linking to the alert card; Acknowledge on the card
    acknowledges; power back resolves. Each tool's events arrive in order."""
    pagers.fail_next[:] = [429, 500, 429, 503]
    bot: Bot = await start_bot(sim, fake, tmp_path, http=True, extra=paging_config(pagers),
                               env=PAGE_ENV)  # fmt: skip
    try:
        await sim.apply("prod", "primary", "down")
        [card] = await fake.wait_for(lambda: alert_cards(fake))
        await pagers.wait_for(lambda: pagers.of("opsgenie", "trigger"))
        await pagers.wait_for(lambda: pagers.of("pagerduty", "trigger"))
        await fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= 4)  # many polls
        assert "paged through PagerDuty and Opsgenie" in json.dumps(card.args["blocks"])
        await click(bot, fake, card.args, "alert_acknowledge", "U0OPS1")
        await pagers.wait_for(lambda: pagers.of("pagerduty", "acknowledge"))
        await pagers.wait_for(lambda: pagers.of("opsgenie", "acknowledge"))
        await sim.apply("prod", "primary", "up")
        await pagers.wait_for(lambda: pagers.of("pagerduty", "resolve"))
        await pagers.wait_for(lambda: pagers.of("opsgenie", "resolve"))
        for tool in ("pagerduty", "opsgenie"):
            assert [e.action for e in pagers.of(tool)] == ["trigger", "acknowledge", "resolve"]
        [trigger_event] = pagers.of("pagerduty", "trigger")
        assert trigger_event.body["links"][0]["href"].startswith(
            "https://habot-test.slack.com/archives/"
        )
        assert pagers.incidents == {trigger_event.key: "resolved"}
        assert pagers.refused == []
        assert len(alert_cards(fake)) == 1
        samples = (await scrape(bot))["habot_pages_total"]
        sent = {(labels["pager"], labels["action"]): value for labels, value in samples
                if labels["outcome"] == "sent"}  # fmt: skip
        assert sent[("pagerduty", "trigger")] == 1
        failed = {(labels["pager"], labels["action"]): value for labels, value in samples
                  if labels["outcome"] == "failed"}  # fmt: skip
        assert sum(failed.values()) == 4  # the burst, retried
    finally:
        log = await bot.stop()
    assert ROUTING_KEY not in log
    assert GENIE_KEY not in log


async def test_check_says_each_paging_tools_key_and_sends_a_test_page_on_request(
    sim: Simulator, pagers: FakePagers
) -> None:
    """`habot check` names a missing key and where to put it (exit 1) and never sends a
    page by itself; `--page-test` sends each tool one test page and resolves it."""
    extra = (f'[slack]\nalert_channel = "C0HAOPS"\n[paging]\npagerduty = true\n'
             f'opsgenie = true\npagerduty_events_url = "{pagers.pagerduty_url}"\n'
             f'opsgenie_url = "{pagers.opsgenie_url}"\n')  # fmt: skip
    config = str(fast_config_file(sim, "paging.toml", extra))
    ran = await habot("--config", config, "check", env={"HABOT_PAGERDUTY_ROUTING_KEY": "short"})
    assert ran.code == 1, ran.out + ran.err
    assert "✗ paging PagerDuty key: 5 characters, not 32" in ran.out
    assert (
        "✗ paging Opsgenie key: not set: put it in the keyring entry 'opsgenie_api_key'" in ran.out
    )
    assert pagers.events == []
    ran = await habot("--config", config, "check", "--page-test", "--json", env=PAGE_ENV)
    assert ran.code == 0, ran.out + ran.err
    checks = {c["step"]: c["ok"] for c in json.loads(ran.out)["paging"]}
    assert checks == {"PagerDuty key": True, "PagerDuty test page": True,
                      "Opsgenie key": True, "Opsgenie test page": True}  # fmt: skip
    for tool in ("pagerduty", "opsgenie"):
        assert [e.action for e in pagers.of(tool)] == ["trigger", "resolve"]
    assert pagers.incidents == {pagers.of("pagerduty")[0].key: "resolved"}
    assert GENIE_KEY not in ran.out
    assert ROUTING_KEY not in ran.out
