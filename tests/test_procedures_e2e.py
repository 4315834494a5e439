"""The guide's procedures and the safety of both nodes' words, end to end: `habot run
--http` as a real process, the simulated pairs over real SSH, signed requests from the
fake Slack. What a person in the channel would see is what is asserted."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from habot.core.model import NodeState, Role
from habot.sim.simulator import Simulator
from tests.kit.botproc import Bot, start_bot
from tests.kit.fakeslack import FakeSlack
from tests.kit.procedures import everything_stored, say
from tests.kit.slack import (
    CONFIG,
    LEAD,
    LEAD2,
    OPS,
    ask,
    cards,
    click,
    close_with_form,
    final_card,
    outcome_told,
    runs,
)

P, S = Role.PRIMARY, Role.SECONDARY
ALERTS = CONFIG.replace(
    'channels = ["C0HAOPS"]', 'channels = ["C0HAOPS"]\nalert_channel = "C0HAOPS"'
)


def with_schedule(extra: str) -> str:
    """The approval config plus alerts and a fast schedule."""
    return ALERTS + f'\n[schedule]\nstatus_every = "1s"\n{extra}\n'


@pytest.fixture
async def bot(
    request: pytest.FixtureRequest, sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> Any:
    """A running bot with the approval settings of the operations tests, logging at -vv
    (the most it ever logs: secrets must stay out even so), as text or (parametrised
    ``"json"``) as JSON lines."""
    log_format = getattr(request, "param", "text")
    running = await start_bot(
        sim, fake, tmp_path, http=True, extra=CONFIG, verbose=2, log_format=log_format
    )
    yield running
    await running.stop()


def alert_posts(fake: FakeSlack, pair: str = "prod") -> list[Any]:
    """Alert cards posted (not thread replies, not reminders)."""
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if f"{pair} alert" in c.args.get("text", "") and "thread_ts" not in c.args
    ]


@pytest.mark.parametrize("role", [P, S])
async def test_a_partitioned_node_gets_no_failover_with_or_without_override(
    bot: Bot, fake: FakeSlack, sim: Simulator, role: Role
) -> None:
    """habot's path to one node is cut (the appliance is fine and its peer still sees it):
    status says so in words, failover is refused — a typed override changes nothing — and
    nothing runs on the appliance."""
    await sim.apply("prod", role.value, "cut", "on")
    status = await say(bot, fake, "status prod")
    assert f"habot cannot reach the {role.label}" in status
    assert f"Check habot's own path to the {role.label}, not the appliance" in status
    plain = await ask(bot, fake, "failover prod")
    forced = await ask(bot, fake, 'failover prod --override "it is surely dead"')
    for refusal in (plain, forced):
        assert "approval needed" not in refusal
        assert re.search(r"habot's (own )?path", refusal)
    if role is P:
        assert "no override can make that safe" in forced
    assert cards(fake) == []
    assert runs(sim) == []
    assert sim.pairs["prod"].nodes[S].state is NodeState.STANDBY


async def test_a_real_power_cut_still_offers_failover(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """The Primary really is down (the Secondary reports it Failed): the alert offers the
    failover button and a failover request gets its approval card."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=with_schedule("alert_after = 1"))
    try:
        await sim.apply("prod", "primary", "down")
        [alert] = await fake.wait_for(lambda: alert_posts(fake))
        assert "Primary down" in alert.args["text"]
        assert "failover prod" in json.dumps(alert.args["blocks"])
        assert "1 approval needed" in await ask(bot, fake, "failover prod")
    finally:
        await bot.stop()


async def test_an_unreachable_primary_alerts_in_words_without_a_remedy_button(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """The alert for a cut path says where to look and offers no operation."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=with_schedule("alert_after = 1"))
    try:
        await sim.apply("prod", "primary", "cut", "on")
        [alert] = await fake.wait_for(lambda: alert_posts(fake))
        blocks = json.dumps(alert.args["blocks"])
        assert "Primary unreachable from habot" in alert.args["text"]
        assert "habot cannot reach the Primary; the Secondary still sees it Active" in blocks
        assert "alert_open_request" not in blocks
    finally:
        await bot.stop()


async def finished(fake: FakeSlack, operation: str, words: str = "Succeeded") -> str:
    """Wait until the card of ``operation`` shows ``words``; return that card's text."""
    updates = await fake.wait_for(
        lambda: [
            text
            for u in fake.calls_to("chat.update")
            if words in (text := json.dumps(u.args["blocks"])) and f"*{operation}*" in text
        ]
    )
    return str(updates[-1])


@pytest.mark.parametrize("bot", ["text", "json"], indirect=True)
async def test_rebuild_a_pair_from_make_standalone_to_bau_through_slack(
    bot: Bot, fake: FakeSlack, sim: Simulator, request: pytest.FixtureRequest
) -> None:
    """make-standalone on the Secondary leaves a half pair (named, with next steps); its
    declustering log is readable; a joining code may be asked for there; `initialise` then
    creates its own code, types it into ha-initialise and verifies BAU — and neither code
    appears in any log line at -vv, nor the initialise one in any message or table."""
    await ask(bot, fake, "make-standalone prod secondary")
    for approver in (LEAD, LEAD2):
        await click(bot, fake, cards(fake)[-1], "approve_request", approver)
    await final_card(fake, "Succeeded")
    status = await say(bot, fake, "status prod")
    assert "Half pair" in status
    assert "Next: One server is standalone" in status  # with its next steps
    decluster = await say(bot, fake, "logs prod secondary decluster")
    assert "declustering log" in decluster
    assert "Secondary is now standalone" in decluster

    given = await ask(bot, fake, "joining-code prod")  # required = 0: runs at once
    assert "no known pattern" not in given
    told = await fake.wait_for(
        lambda: [c for c in fake.calls_to("chat.postEphemeral") if "Joining code" in str(c.args)]
    )
    assert told[0].args["user"] == OPS
    first_code = sim.pairs["prod"].issued_code
    assert first_code is not None
    # the code is told before the run closes; the pair takes initialise once it has
    assert "succeeded" in await outcome_told(fake, "joining-code", "prod")

    assert "1 approval needed" in await ask(bot, fake, "initialise prod")
    card = cards(fake)[-1]
    assert "creates a joining code" in json.dumps(card["blocks"])
    await click(bot, fake, card, "approve_request", LEAD)
    final = await finished(fake, "initialise")
    assert "*After:* BAU" in final
    code = sim.pairs["prod"].issued_code
    assert code is not None
    assert runs(sim)[-2:] == [["secondary", "ha-create-joining-code"], ["primary", "ha-initialise"]]
    await asyncio.sleep(0.5)
    log = await bot.stop()
    seen = [json.dumps(c.args) for c in fake.calls] + [json.dumps(fake.responses)]
    assert all(code not in text for text in seen)
    assert code not in log
    assert first_code not in log
    assert "DEBUG" in log  # it really did log at -vv
    if request.node.callspec.params["bot"] == "json":  # one JSON object a line; no code in any
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert {"DEBUG", "INFO"} <= {line["level"] for line in lines}
        assert any(line.get("request") for line in lines)
        assert not any(code in json.dumps(line) for line in lines)
    assert code not in everything_stored(bot.database)
    prod = sim.pairs["prod"].nodes
    assert (prod[P].state, prod[S].state) == (NodeState.ACTIVE, NodeState.STANDBY)


async def test_demote_primary_on_a_healthy_pair_hands_over(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """The guide's planned use: the card says what will happen; afterwards the Primary is
    Demoted and the Secondary serving."""
    assert "1 approval needed" in await ask(bot, fake, "demote-primary prod")
    card = cards(fake)[-1]
    assert "planned hand-over" in json.dumps(card["blocks"])
    await click(bot, fake, card, "approve_request", LEAD)
    await final_card(fake, "Succeeded")
    prod = sim.pairs["prod"].nodes
    assert (prod[P].state, prod[S].state) == (NodeState.DEMOTED, NodeState.PROMOTED_ACTIVE)
    assert runs(sim) == [["primary", "ha-demote-primary"]]


async def test_switchover_via_the_secondary_runs_where_the_pair_says(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`switchover_via = "failover-on-secondary"`: the card names the command and node."""
    bot = await start_bot(
        sim,
        fake,
        tmp_path,
        http=True,
        extra=CONFIG,
        pair_extra='switchover_via = "failover-on-secondary"',
    )
    try:
        await ask(bot, fake, "switchover prod")
        card = cards(fake)[-1]
        assert "runs `ha-failover` on the secondary" in json.dumps(card["blocks"])
        await click(bot, fake, card, "approve_request", LEAD)
        await final_card(fake, "Succeeded")
    finally:
        await bot.stop()
    assert runs(sim) == [["secondary", "ha-failover"]]


async def test_no_alert_after_an_approved_switchover_and_one_reminder_later(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """The switchover's card reported the failed-over pair: polls raise no alert for it;
    after remind_after one reminder says it is still not BAU — and only one."""
    extra = with_schedule('alert_after = 1\nremind_after = "3s"')
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=extra)
    try:
        await ask(bot, fake, "switchover prod")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, "Succeeded")

        def reminders() -> list[Any]:
            return [
                c
                for c in fake.calls_to("chat.postMessage")
                if "still Failed over" in c.args.get("text", "")
            ]

        [reminder] = await fake.wait_for(reminders)
        assert "switchover" in json.dumps(reminder.args["blocks"])
        polled = len(sim.pairs["prod"].runs)
        async with asyncio.timeout(30):  # four more polling rounds after the reminder
            while len(sim.pairs["prod"].runs) < polled + 8:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        assert len(reminders()) == 1
        assert alert_posts(fake) == []
    finally:
        await bot.stop()


async def test_an_approver_may_cancel_typed_and_clicked(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """Cancel: the requester or any approver — the same rule typed and clicked (LEAD is an
    approver but not an operator)."""
    await ask(bot, fake, "switchover prod")
    request_id = json.dumps(cards(fake)[-1]["blocks"]).split("request `")[1].split("`")[0]
    assert "cancelled" in await say(bot, fake, f"cancel {request_id}", user=LEAD)
    await ask(bot, fake, "switchover prod")
    assert "cancelled" in await close_with_form(bot, fake, cards(fake)[-1], "cancel_request", LEAD)
    await final_card(fake, "Cancelled")
    assert runs(sim) == []


async def test_typed_markup_pings_nobody(bot: Bot, fake: FakeSlack, sim: Simulator) -> None:
    """A mute note and an override reason holding <!channel> or <@U…> are shown as typed."""
    muted = await say(bot, fake, "mute prod 1h <!channel> and <@U0BOSS> look")
    assert "&lt;!channel&gt;" in muted
    await ask(bot, fake, 'switchover prod --override "<!channel> urgent"')
    for call in fake.calls:
        text = json.dumps(call.args)
        assert "<!channel>" not in text
        assert "<@U0BOSS>" not in text
