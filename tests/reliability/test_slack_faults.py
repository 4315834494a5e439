"""Slack misbehaves: bursts of 429, 500 and dropped connections while an operation runs, a
message Slack refuses for good, a Socket Mode connection dropped mid-operation, and the
same envelope or the same click delivered twice. The bot runs as a real process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from habot.sim.simulator import Simulator
from tests.kit.botproc import CHANNEL, Bot, start_bot
from tests.kit.fakeslack import RESET, FakeSlack, block_action, slash_command
from tests.kit.slack import (
    CONFIG,
    LEAD,
    OPS,
    ask,
    button,
    cards,
    click,
    direct_messages,
    final_card,
    opened_form,
    runs,
    send_form,
    started,
)
from tests.reliability.conftest import Ledger, Row
from tests.reliability.helpers import events, request_id


def card_edits(fake: FakeSlack) -> list[str]:
    """The status line of every card edit Slack accepted, in order."""
    shown = []
    for call in (c for c in fake.calls_to("chat.update") if not c.failed):
        text = json.dumps(call.args.get("blocks"))
        for words in ("Waiting", "Running now", "Succeeded", "Cancelled", "Outcome unknown"):
            if words in text:
                shown.append(words)
                break
    return shown


def told(fake: FakeSlack) -> list[bool]:
    """Whether Slack refused each direct message that told the requester their operation
    succeeded, in order."""
    return [c.failed for c in direct_messages(fake) if "succeeded" in str(c.args)]


async def test_slack_bursts_during_an_operation_lose_nothing_and_keep_order(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Every card edit meets 429s, 500s and dropped connections first: the operation runs
    once, every edit arrives, in order, and the requester is told the outcome, once."""
    row = ledger.add(Row("Slack 429/500/reset bursts during an operation", "retried; order kept"))
    bot = await started(sim, fake, tmp_path)
    try:
        await ask(bot, fake, "switchover prod")
        # Each message's back-off grows with its own failures (0 s after a 429 with
        # Retry-After 0, then 2 s, 4 s …), so a burst is a few faults per message.
        fake.fail_next["chat.update"] = [429, 500, RESET, 429]
        # the progress replies in the thread and the requester's direct message
        fake.fail_next["chat.postMessage"] = [RESET, 429, 500]
        row.injected = 7
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, "Succeeded")
        await fake.wait_for(lambda: told(fake).count(False))  # delivered, after any faults
        await asyncio.sleep(1)  # a duplicate, were one sent, would show now
    finally:
        await bot.stop()
    row.operations = 1
    assert not any(fake.fail_next.values())  # every fault was met
    accepted = [e for e in card_edits(fake) if e != "Waiting"]
    assert accepted == ["Running now", "Succeeded"]  # each once, in order
    assert told(fake).count(False) == 1  # delivered once
    assert runs(sim) == [["primary", "ha-failover"]]
    row.duplicated = len(runs(sim)) - 1


async def test_a_message_slack_refuses_for_good_is_set_aside_and_counted(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Slack refuses one card edit for good (msg_too_long) and another with an error habot
    does not know: both are set aside at once and counted in /metrics, and the messages
    behind them in the pair's lane still go — the lane never jams."""
    row = ledger.add(Row("a message Slack rejects for good", "dead-lettered, counted; lane moves"))
    bot = await started(sim, fake, tmp_path)
    try:
        await ask(bot, fake, "switchover prod")
        fake.fail_next["chat.update"] = ["msg_too_long", "brand_new_error"]
        row.injected = 2
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await fake.wait_for(lambda: told(fake).count(False))
        async with aiohttp.ClientSession() as session, session.get(bot.url("/metrics")) as r:
            metrics = await r.text()
    finally:
        await bot.stop()
    row.operations = 1
    dead = {
        line.split('"')[1]: float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("habot_outbox_dead_letters_total{")
    }
    assert dead == {"msg_too_long": 1.0, "brand_new_error": 1.0}
    assert runs(sim) == [["primary", "ha-failover"]]


@pytest.fixture
async def socket_bot(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot in Socket Mode with the approval settings of the operations tests."""
    bot = await start_bot(sim, fake, tmp_path, http=False, extra=CONFIG)
    yield bot
    await bot.stop()


async def envelope(fake: FakeSlack, kind: str, payload: dict[str, Any], **extra: Any) -> str:
    """Deliver an envelope and wait for its ack."""
    sent = await fake.send_envelope(kind, payload, **extra)
    await fake.wait_for(lambda: fake.acks.get(sent))
    return sent


async def test_socket_mode_drop_and_duplicates_are_handled_once(
    socket_bot: Bot, sim: Simulator, fake: FakeSlack, ledger: Ledger
) -> None:
    """Over Socket Mode: the same slash command delivered twice (Slack's retry) opens one
    request; the same approve click delivered twice runs the command once; the connection
    dropped while the operation runs is reopened, the operation finishes and its card says
    so, and the next envelope on the new connection is answered."""
    row = ledger.add(
        Row("Socket Mode disconnect; same envelope twice; same click twice", "handled once")
    )
    url, _ = fake.response_url()
    command = slash_command("switchover prod", OPS, CHANNEL, url)
    await envelope(fake, "slash_commands", command)
    await fake.wait_for(lambda: cards(fake))
    url2, rid2 = fake.response_url()
    await envelope(
        fake, "slash_commands", {**command, "response_url": url2},
        retry_attempt=1, retry_reason="timeout",
    )  # fmt: skip
    assert "already has an open request" in json.dumps((await fake.response(rid2))["blocks"])
    assert len(cards(fake)) == 1
    await sim.apply("prod", "primary", "think", "2")
    action_id, value, block_id = button(cards(fake)[-1], "approve_request")
    clicks = [fake.response_url() for _ in range(2)]
    for click_url, _ in clicks:
        await envelope(
            fake, "interactive", block_action(action_id, value, block_id, LEAD, CHANNEL, click_url)
        )
    connections = len(fake.calls_to("apps.connections.open"))
    await fake.disconnect()
    row.injected = 3
    await fake.wait_for(lambda: len(fake.calls_to("apps.connections.open")) > connections)
    await final_card(fake, "Succeeded")
    answers = [json.dumps((await fake.response(r))["blocks"]) for _, r in clicks]
    assert sum("is running" in a for a in answers) == 1
    url3, rid3 = fake.response_url()
    await envelope(fake, "slash_commands", slash_command("pending", OPS, CHANNEL, url3))
    assert "No open requests" in json.dumps((await fake.response(rid3))["blocks"])
    row.operations = 1
    assert runs(sim) == [["primary", "ha-failover"]]
    kinds = [e["kind"] for e in await events(socket_bot, request_id(cards(fake)[-1]))]
    assert kinds.count("approved") == 1
    assert kinds.count("succeeded") == 1
    row.duplicated = len(runs(sim)) - 1


async def test_fifty_concurrent_approvals_run_once_and_card_and_audit_agree(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Fifty approvers click Approve at the same instant: one approval starts the run, the
    command runs once, the others are told it is already running, and the card and the
    audit log tell the same story."""
    row = ledger.add(Row("50 concurrent approvals", "one run; card and audit agree"))
    leads = [f"U0LEAD{n:02d}" for n in range(50)]
    fake.groups["S0LEADS"] = leads
    config = CONFIG.replace(
        'approvers = ["U0LEAD1", "U0LEAD2", "U0OPS1"]', 'approvers = ["S0LEADS"]'
    )
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=config)
    try:
        await ask(bot, fake, "switchover prod")
        card = cards(fake)[-1]
        answers = await asyncio.gather(
            *(click(bot, fake, card, "approve_request", u) for u in leads)
        )
        row.injected = len(leads)
        await final_card(fake, "Succeeded")
        kinds = [e["kind"] for e in await events(bot, request_id(card))]
    finally:
        await bot.stop()
    row.operations = 1
    assert sum("is running" in a for a in answers) == 1
    assert runs(sim) == [["primary", "ha-failover"]]
    row.duplicated = len(runs(sim)) - 1
    assert kinds.count("executing") == 1
    assert kinds.count("approved") == 1
    # the outcome is the run's last word; a click that lost the race is refused, never
    # counted, and its refusal may be audited after the outcome
    assert set(kinds[kinds.index("succeeded") + 1 :]) <= {"approval_refused"}
    assert card_edits(fake)[-1] == "Succeeded"


async def test_approve_racing_cancel_ends_with_card_and_audit_agreeing(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Ten times: an approver approves while the requester cancels a two-approval request.
    The request ends cancelled; the card's last edit says Cancelled with no live buttons;
    the audit never has an approval after the cancel; nothing runs."""
    row = ledger.add(Row("approve vs cancel races (10 rounds)", "card and audit agree"))
    bot = await started(sim, fake, tmp_path)
    try:
        for _ in range(10):
            await ask(bot, fake, "make-standalone dr secondary")
            card = cards(fake)[-1]
            form = await opened_form(bot, fake, card, "cancel_request", OPS)  # why, first
            await asyncio.gather(
                click(bot, fake, card, "approve_request", LEAD),
                send_form(bot, fake, form, OPS, {"reason": ""}),
            )
            row.injected += 1
            kinds = [e["kind"] for e in await events(bot, request_id(card))]
            # The cancel won (or the approval was counted before it — one of two needed);
            # an approval arriving after it is refused, never counted.
            assert "cancelled" in kinds
            assert "approved" not in kinds[kinds.index("cancelled") :]
            assert set(kinds[kinds.index("cancelled") + 1 :]) <= {"approval_refused"}
            await fake.wait_for(lambda: card_edits(fake) and card_edits(fake)[-1] == "Cancelled")
            await asyncio.sleep(0.3)  # a stale edit, were one queued, would land now
            last = fake.calls_to("chat.update")[-1]
            assert "Cancelled" in json.dumps(last.args["blocks"])
            assert "approve_request" not in json.dumps(last.args["blocks"])
    finally:
        await bot.stop()
    assert runs(sim, "dr") == []
