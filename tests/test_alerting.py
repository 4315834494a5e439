"""Readings become alert messages in the outbox: one card per incident, recovery in its
thread, nothing re-raised after a restart; and, end to end, a stopped node alerts."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from habot.config import Settings, parse_settings
from habot.core.alert_cards import alert_card
from habot.core.alerts import Acknowledgement, AlertState, Incident
from habot.core.blocks import mrkdwn
from habot.core.model import Verdict
from habot.core.outbox import Delivery, MessageKind, Next
from habot.core.roles import Access
from habot.errors import ConfigError
from habot.services.alerting import Alerter
from habot.services.ports import Caller, Outbox, Stores
from habot.sim.simulator import Simulator
from habot.store.alert_state import decode, encode
from tests.kit.botproc import CHANNEL, ROLES, SECRET, Bot, start_bot
from tests.kit.factories import Clock
from tests.kit.fakeslack import (
    ApiCall,
    FakeSlack,
    block_action,
    form_body,
    interaction_body,
    signed_headers,
    slash_command,
)
from tests.kit.readings import BAD, GOOD, T0, status
from tests.kit.slack import click, post
from tests.kit.slackcheck import problems_in_blocks

CONFIG = {
    "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
    "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
    "slack": {"alert_channel": "C0ALERTS"},
}


async def queued(outbox: Outbox) -> list[tuple[str, str]]:
    """(kind, text) of everything queued in lane prod, in order (each then marked sent)."""
    rows = []
    while (head := await outbox.head("prod")) is not None:
        rows.append((head.kind, head.payload.get("text", "")))
        await outbox.record(head.id, Next(Delivery.SENT, T0), f"17.{head.id}", None)
    return rows


def alerter(settings: Settings, memory: Stores, clock: Clock) -> Alerter:
    return Alerter(settings=settings, states=memory.alerts, outbox=memory.outbox, clock=clock)


async def test_incident_queues_one_card_updates_and_a_recovery(memory: Stores) -> None:
    """bad, bad, bad, good, good → post, update, update(resolved), thread reply."""
    settings = parse_settings(CONFIG, env={})
    clock = Clock()
    watching = alerter(settings, memory, clock)
    for reading in (BAD, BAD, BAD, GOOD, GOOD):
        await watching.observe(reading)
        clock.now += timedelta(minutes=5)
    kinds = [kind for kind, _ in await queued(memory.outbox)]
    assert kinds == ["post", "update", "update", "reply"]


async def test_restart_mid_incident_does_not_re_alert(memory: Stores) -> None:
    """A new Alerter (after a restart) continues the incident: an update, not a new post."""
    settings = parse_settings(CONFIG, env={})
    clock = Clock()
    first = alerter(settings, memory, clock)
    await first.observe(BAD)
    await first.observe(BAD)
    assert [k for k, _ in await queued(memory.outbox)] == ["post"]
    restarted = alerter(settings, memory, clock)
    await restarted.observe(BAD)
    assert [k for k, _ in await queued(memory.outbox)] == ["update"]


async def test_no_alert_channel_means_no_alerts(memory: Stores) -> None:
    """Without [slack] alert_channel nothing is queued."""
    settings = parse_settings({k: v for k, v in CONFIG.items() if k != "slack"}, env={})
    quiet = alerter(settings, memory, Clock())
    for _ in range(3):
        await quiet.observe(BAD)
    assert await memory.outbox.lanes() == []


def test_alert_state_round_trips() -> None:
    """What is saved is what is loaded."""
    from habot.core.alerts import AlertState

    state = AlertState(3, 0, T0, Incident("why", T0, T0 + timedelta(minutes=9), 3))
    assert decode(encode(state)) == state


async def test_a_mute_and_a_concurrent_poll_do_not_undo_each_other(stores: Stores) -> None:
    """The poll read the state, a mute landed, the poll saved: the mute stays — and a mute
    never resets the poll's streaks or open card (on every store)."""
    store = stores.alerts
    await store.save("prod", AlertState(bad_streak=1), 7)
    state, card = await store.load("prod")  # the poll reads …
    await store.set_mute("prod", T0 + timedelta(hours=1))  # … /ha mute lands …
    await store.save("prod", replace(state, bad_streak=2), card)  # … the poll writes back
    after, card = await store.load("prod")
    assert (after.muted_until, after.bad_streak, card) == (T0 + timedelta(hours=1), 2, 7)
    await store.set_mute("prod", None)
    assert await store.load("prod") == (AlertState(bad_streak=2), 7)
    await store.set_mute("dr", T0)  # a pair never polled yet can be muted
    assert await store.load("dr") == (AlertState(muted_until=T0), None)


async def test_an_acknowledgement_and_a_concurrent_poll_do_not_undo_each_other(
    stores: Stores,
) -> None:
    """The leader's poll loaded the state, someone acknowledged on another replica, the poll
    saved: the acknowledgement stays. The first acknowledgement stands; a later incident
    starts unacknowledged (on every store)."""
    store = stores.alerts
    open_ = AlertState(2, 0, T0, Incident("down", T0, T0, 2))
    await store.save("prod", open_, 7)
    state, card = await store.load("prod")  # the poll reads …
    first = Acknowledgement(T0, "U0OPS1", T0 + timedelta(minutes=1))
    assert await store.acknowledge("prod", first) is True  # … Acknowledge lands …
    assert await store.acknowledge("prod", replace(first, by="U0OPS2")) is False
    await store.save("prod", replace(state, bad_streak=3), card)  # … the poll writes back
    after, _ = await store.load("prod")
    assert after.incident is not None
    assert (after.incident.acknowledged_by, after.bad_streak) == ("U0OPS1", 3)
    later = T0 + timedelta(hours=2)
    await store.save("prod", AlertState(2, 0, later, Incident("again", later, later, 2)), 8)
    fresh, _ = await store.load("prod")
    assert fresh.incident is not None
    assert fresh.incident.acknowledged_by is None  # not the earlier incident's
    assert await store.acknowledge("prod", Acknowledgement(later, "U0OPS2", later)) is True


@pytest.mark.parametrize("resolved", [False, True])
@pytest.mark.parametrize("verdict", list(Verdict))
def test_alert_cards_are_valid_block_kit(verdict: Verdict, resolved: bool) -> None:
    """Open and resolved cards for every verdict pass the Block Kit checks; operators get
    a remedy button where one applies."""
    card = alert_card(status(verdict), Incident("r" * 4000, T0, T0, 2), resolved=resolved)
    assert problems_in_blocks(card.blocks) == []
    text = json.dumps(card.blocks)
    if verdict is Verdict.PRIMARY_DOWN and not resolved:
        assert "failover prod" in text


FAST = ROLES.replace("alert_channel", "x_unused") + '\n[schedule]\nstatus_every = "1s"\n'
FAST = FAST.replace('channels = ["C0HAOPS"]', 'channels = ["C0HAOPS"]\nalert_channel = "C0HAOPS"')


async def test_stopped_node_alerts_once_and_recovers_in_the_thread(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """End to end: stop the Primary → one alert card (updated while it stays down); start
    it again → the card says resolved and a recovery reply lands in its thread."""
    bot: Bot = await start_bot(sim, fake, tmp_path, http=True, extra=FAST)
    try:
        await sim.apply("prod", "primary", "down")

        def alerts() -> list[Any]:
            return [
                c
                for c in fake.calls_to("chat.postMessage")
                if "prod alert" in c.args.get("text", "") and "thread_ts" not in c.args
            ]

        [alert] = await fake.wait_for(alerts)
        assert alert.args["channel"] == "C0HAOPS"
        assert "Primary down" in alert.args["text"]
        await fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= 2)  # still one card
        assert len(alerts()) == 1
        await sim.apply("prod", "primary", "up")
        replies = await fake.wait_for(
            lambda: [
                c
                for c in fake.calls_to("chat.postMessage")
                if "recovered" in c.args.get("text", "") and "thread_ts" in c.args
            ]
        )
        assert replies[0].args["thread_ts"]
        resolved = [
            u
            for u in fake.calls_to("chat.update")
            if "resolved after" in json.dumps(u.args.get("blocks", ""))
        ]
        assert resolved
        assert len(alerts()) == 1
        assert fake.invalid == []
    finally:
        await bot.stop()


async def test_muted_pair_does_not_alert(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> None:
    """A pair muted for maintenance stays silent while its Primary is down."""

    bot: Bot = await start_bot(sim, fake, tmp_path, http=True, extra=FAST)
    try:
        url, rid = fake.response_url()
        body = form_body(slash_command("mute prod 1h planned maintenance", "U0OPS1", CHANNEL, url))
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                bot.events_url, data=body.encode(), headers=signed_headers(SECRET, body)
            ) as resp,
        ):
            assert resp.status == 200
        assert "muted until" in json.dumps((await fake.response(rid))["blocks"])
        await sim.apply("prod", "primary", "down")
        polled = len(sim.pairs["prod"].runs)
        async with asyncio.timeout(30):  # four more polling rounds of the Secondary
            while len(sim.pairs["prod"].runs) < polled + 4:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
    finally:
        await bot.stop()
    posts = [c for c in fake.calls_to("chat.postMessage") if "prod alert" in c.args.get("text", "")]
    assert posts == []


@pytest.mark.parametrize(
    ("target", "shown"),
    [("S0ONCALL", "<!subteam^S0ONCALL>"), ("U0LEAD1", "<@U0LEAD1>"), ("!here", "<!here>")],
)
async def test_a_new_alert_names_who_should_look_and_the_resolution_does_not(
    memory: Stores, target: str, shown: str
) -> None:
    """[slack] alert_mention is named in a new alert (text and card, so Slack notifies);
    its later edits and its resolution name nobody."""
    settings = parse_settings({**CONFIG, "slack": {**CONFIG["slack"], "alert_mention": target}})
    clock = Clock()
    watching = alerter(settings, memory, clock)
    for reading in (BAD, BAD, GOOD):
        await watching.observe(reading)
        clock.now += timedelta(minutes=5)
    posted = []
    while (head := await memory.outbox.head("prod")) is not None:
        posted.append(head.payload)
        await memory.outbox.record(head.id, Next(Delivery.SENT, T0), f"1.{head.id}", None)
    first, *later = posted
    assert first["text"].startswith(f"{shown} prod alert:")
    assert f"For {shown}" in json.dumps(first["blocks"])
    assert problems_in_blocks(first["blocks"]) == []
    assert not any(shown in json.dumps(p) for p in later)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("alert_mention", "@here", "not a user .* or !here or !channel"),
        ("approvers_mention", ["C0HAOPS"], "'C0HAOPS' is not a user .* or user group"),
    ],
)
def test_a_mention_that_is_not_an_id_is_refused(key: str, value: object, message: str) -> None:
    """A mention setting that is not a Slack ID is a load-time error naming the key."""
    with pytest.raises(ConfigError, match=f"slack.{key}.*{message}"):
        parse_settings({**CONFIG, "slack": {**CONFIG["slack"], key: value}})


OPERATOR = Caller("U0OPS1", "C0ALERTS", frozenset({Access.VIEWER, Access.OPERATOR}))


async def test_acknowledging_an_alert_says_who_is_on_it(memory: Stores) -> None:
    """An operator acknowledges the open alert: the incident keeps who and when, the card
    shows it at once (without the button, still "For @…"), its thread says it, and it is
    audited; a second click, a viewer, or a pair with no open alert get told why."""
    slack = {**CONFIG["slack"], "alert_mention": "S0ONCALL"}
    settings = parse_settings({**CONFIG, "slack": slack}, env={})
    clock = Clock()
    alerts = Alerter(
        settings=settings, states=memory.alerts, outbox=memory.outbox, clock=clock,
        audit=memory.audit,
    )  # fmt: skip
    viewer = Caller("U0VIEW", "C0ALERTS", frozenset({Access.VIEWER}))
    assert "no open alert" in mrkdwn(await alerts.acknowledge(OPERATOR, "prod"))
    for reading in (BAD, BAD):
        await alerts.observe(reading)
    assert "needs the *operator* or *approver* role" in mrkdwn(
        await alerts.acknowledge(viewer, "prod")
    )
    clock.now += timedelta(minutes=2)
    said = mrkdwn(await alerts.acknowledge(OPERATOR, "prod"))
    when = "<!date^1795662120^{date_short_pretty} at {time}|03:02 UTC>"  # each reader's zone
    assert said == f"Acknowledged by <@U0OPS1> {when}."
    again = mrkdwn(await alerts.acknowledge(OPERATOR, "prod"))
    assert again == f"Already acknowledged by <@U0OPS1> {when}."
    incident = (await memory.alerts.load("prod"))[0].incident
    assert incident is not None
    assert (incident.acknowledged_by, incident.acknowledged_at) == ("U0OPS1", clock.now)
    sent = []  # before any further reading
    while (head := await memory.outbox.head("prod")) is not None:
        sent.append((head.kind, head.payload))
        await memory.outbox.record(head.id, Next(Delivery.SENT, T0), f"1.{head.id}", None)
    assert [kind for kind, _ in sent] == ["post", "update", "reply"]
    assert sent[2][1]["text"] == said
    card = json.dumps(sent[1][1]["blocks"])
    assert "Acknowledged by <@U0OPS1> <!date^" in card
    assert "|03:02 UTC>" in card
    assert "alert_acknowledge" not in card
    assert "For <!subteam^S0ONCALL>" in card  # kept on the edit
    await alerts.observe(BAD)  # the next reading's edit keeps both
    head = await memory.outbox.head("prod")
    assert head is not None
    later = json.dumps(head.payload["blocks"])
    assert ("Acknowledged by <@U0OPS1>" in later, "For <!subteam^S0ONCALL>" in later) == (
        True,
        True,
    )
    [event] = [r.event for r in await memory.audit.recent(10) if r.event.kind == "acknowledged"]
    assert (event.actor, event.pair) == ("U0OPS1", "prod")


async def test_an_unacknowledged_alert_calls_its_people_again_until_someone_acks(
    memory: Stores,
) -> None:
    """[schedule] nudge_every = "30m": every half hour an open alert nobody acknowledged
    gets a thread reply naming [slack] alert_mention; Acknowledge stops them."""
    config = {
        **CONFIG,
        "slack": {"alert_channel": "C0ALERTS", "alert_mention": "S0ONCALL"},
        "schedule": {"nudge_every": "30m"},
    }
    clock = Clock()
    alerts = Alerter(
        settings=parse_settings(config, env={}), states=memory.alerts, outbox=memory.outbox,
        clock=clock, audit=memory.audit,
    )  # fmt: skip

    async def replies_after(minutes: int) -> list[str]:
        for _ in range(minutes // 5):
            await alerts.observe(BAD)
            clock.now += timedelta(minutes=5)
        texts = []
        while (head := await memory.outbox.head("prod")) is not None:
            if head.kind is MessageKind.REPLY:
                texts.append(head.payload["text"])
            await memory.outbox.record(head.id, Next(Delivery.SENT, T0), f"1.{head.id}", None)
        return texts

    [nudge] = await replies_after(40)  # raised at 5 min; called again at 35
    assert nudge.startswith(":bell: <!subteam^S0ONCALL> Still open after 35 min ")
    assert "nobody has acknowledged it" in nudge
    assert len(await replies_after(30)) == 1  # and again half an hour later
    await alerts.acknowledge(OPERATOR, "prod")
    [said] = await replies_after(120)  # two hours on: the acknowledgement, no nudge
    assert said.startswith("Acknowledged by <@U0OPS1>")


def test_an_acknowledgement_survives_a_restart() -> None:
    """What is saved is what is loaded, the acknowledgement included."""
    incident = Incident("why", T0, T0, 3, "U0OPS1", T0 + timedelta(minutes=1))
    assert decode(encode(AlertState(3, 0, T0, incident))).incident == incident


async def test_the_acknowledge_button_works_from_the_alert_card(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """End to end: the Primary stops, the alert card has Acknowledge; an operator clicks
    it in the alert channel and is answered; the thread says who; a click from elsewhere
    is refused."""
    bot: Bot = await start_bot(sim, fake, tmp_path, http=True, extra=FAST)
    try:
        await sim.apply("prod", "primary", "down")
        alert = await alert_posted(fake)
        answer = await click(bot, fake, alert.args, "alert_acknowledge", "U0OPS1")
        assert "Acknowledged by <@U0OPS1>" in answer
        replies = await fake.wait_for(
            lambda: [c for c in fake.calls_to("chat.postMessage")
                     if "Acknowledged by" in c.args.get("text", "") and "thread_ts" in c.args]
        )  # fmt: skip
        assert replies[0].args["channel"] == "C0HAOPS"
        url, rid = fake.response_url()  # the same button, clicked from another channel
        payload = block_action("alert_acknowledge", "prod", "alert-prod", "U0OPS1", "C0ELSE", url)
        assert await post(bot, interaction_body(payload)) == 200
        elsewhere = json.dumps((await fake.response(rid))["blocks"])
        assert "from its card in the alert channel" in elsewhere
        assert fake.invalid == []
    finally:
        await bot.stop()


async def alert_posted(fake: FakeSlack) -> ApiCall:
    """The prod alert card, once posted (a top-level message, not a thread reply)."""
    [alert] = await fake.wait_for(
        lambda: [c for c in fake.calls_to("chat.postMessage")
                 if "prod alert" in c.args.get("text", "") and "thread_ts" not in c.args]
    )  # fmt: skip
    return alert


def thread_of(fake: FakeSlack, ts: str, words: str) -> list[str]:
    """Replies in the thread of the message at ``ts`` that hold ``words`` (their text and
    blocks, as JSON)."""
    return [
        said
        for c in fake.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == ts
        and words
        in (said := json.dumps([c.args.get("text"), c.args.get("blocks")], ensure_ascii=False))
    ]


async def test_the_alerts_thread_holds_the_incident(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """End to end: the Primary stops and alerts. "Fresh status" on the alert card answers
    in the alert's thread (not a new card in the channel); "Request failover" there opens
    the request, and the alert's thread says who asked, with a link to its card — and,
    once it ran, how it ended."""
    bot: Bot = await start_bot(sim, fake, tmp_path, http=True, extra=FAST)
    try:
        await sim.apply("prod", "primary", "down")
        alert = await alert_posted(fake)
        ts = str(alert.ts)

        def in_channel() -> list[Any]:
            return [c for c in fake.calls_to("chat.postMessage")
                    if "thread_ts" not in c.args and c.args["channel"] == CHANNEL]  # fmt: skip

        top_level = len(in_channel())
        url, _ = fake.response_url()
        fresh = block_action(
            "alert_fresh_status", "prod", "alert-prod", "U0VIEW1", CHANNEL, url, ts
        )
        assert await post(bot, interaction_body(fresh)) == 200
        [status_reply] = await fake.wait_for(lambda: thread_of(fake, ts, "Primary down"))
        assert "Raw" in status_reply  # the whole status card, in the thread
        url, rid = fake.response_url()
        ask = block_action("alert_open_request", "failover prod", "alert-prod", "U0OPS1",
                           CHANNEL, url, ts)  # fmt: skip
        assert await post(bot, interaction_body(ask)) == 200
        assert "approval needed" in json.dumps((await fake.response(rid))["blocks"])
        [asked] = await fake.wait_for(lambda: thread_of(fake, ts, "asked for"))
        assert "<@U0OPS1> asked for `failover` on prod (request `" in asked
        assert "|its card>" in asked
        cards = in_channel()
        assert len(cards) == top_level + 1  # the request's card; the fresh status was none
        answer = await click(bot, fake, cards[-1].args, "approve_request", "U0LEAD1")
        assert "is running" in answer
        [ended] = await fake.wait_for(lambda: thread_of(fake, ts, "ended"))
        assert ":white_check_mark: `failover` on prod (request `" in ended
        assert ") ended — succeeded: the pair is now Failed over — <" in ended
        assert fake.invalid == []
    finally:
        await bot.stop()
