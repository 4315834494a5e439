"""Four-eyes operations end to end: `habot run --http` as a real process, signed slash
commands and button clicks from the fake Slack, the simulator pair over real SSH."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from habot.core.model import NodeState, Role
from habot.sim.simulator import Simulator
from tests.kit.botproc import CHANNEL, Bot
from tests.kit.fakeslack import (
    TEAM,
    FakeSlack,
    block_action,
    form_body,
    interaction_body,
    slash_command,
)
from tests.kit.slack import (
    CONFIG,
    LEAD,
    LEAD2,
    OPS,
    ask,
    audit_export,
    button,
    cards,
    click,
    close_with_form,
    directs,
    final_card,
    home_opened,
    outcome_told,
    post,
    runs,
    started,
)


async def test_full_failover_after_the_primary_is_stopped(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """Primary stopped → operator asks failover → approver approves → Secondary promoted,
    card updated in place to 'Succeeded', requester told."""
    await sim.apply("prod", "primary", "down")
    assert "1 approval needed" in await ask(bot, fake, "failover prod")
    [card] = cards(fake)
    assert "runs `ha-failover` on the secondary" in json.dumps(card["blocks"])
    assert "Approved" in await click(bot, fake, card, "approve_request", LEAD)
    final = await final_card(fake, "Succeeded")
    assert "*After:* Failed over" in final
    assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.PROMOTED_ACTIVE
    assert runs(sim) == [["secondary", "ha-failover"]]
    assert "the pair is now Failed over" in await outcome_told(fake, "failover", "prod")
    [dm] = [c for c in fake.calls_to("chat.postMessage") if "Your `failover`" in c.args["text"]]
    assert dm.args["channel"] == OPS
    assert fake.invalid == []


async def test_approvers_are_named_on_the_card_and_told_by_direct_message(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """[slack] approvers_mention names the on-call leads' group on the card; each approver
    who can act — users named and the members of approver groups, not the requester —
    gets a DM linking to the card."""
    fake.groups["S0LEADS"] = ["U0LEAD3", LEAD]
    extra = CONFIG.replace(
        'approvers = ["U0LEAD1", "U0LEAD2", "U0OPS1"]',
        'approvers = ["U0LEAD1", "U0LEAD2", "U0OPS1", "S0LEADS"]',
    ).replace('channels = ["C0HAOPS"]', 'channels = ["C0HAOPS"]\napprovers_mention = ["S0LEADS"]')
    bot = await started(sim, fake, tmp_path, extra)
    try:
        await ask(bot, fake, "switchover prod")
        [card] = cards(fake)
        assert "<!subteam^S0LEADS>" in card["text"]
        told = await fake.wait_for(lambda: len(d := directs(fake)) == 3 and d)
    finally:
        await bot.stop()
    assert sorted(told) == [LEAD, LEAD2, "U0LEAD3"]  # not OPS, who asked
    assert f"<@{OPS}> asks for `switchover` on *prod*" in told[LEAD]
    assert "|its card>" in told[LEAD]


async def test_switchover_then_failback_returns_to_bau(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Planned switchover, then failback (cooldown overridden with a typed reason): BAU again."""
    bot = await started(sim, fake, tmp_path)
    try:
        await ask(bot, fake, "switchover prod")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, "Succeeded")
        assert "wait until" in await ask(bot, fake, "failback prod")
        await ask(bot, fake, 'failback prod --override "handover rehearsal"')
        card = cards(fake)[-1]
        assert "Cooldown overridden:* handover rehearsal" in json.dumps(card["blocks"])
        await click(bot, fake, card, "approve_request", LEAD2)
        await fake.wait_for(
            lambda: (
                len(
                    [
                        u
                        for u in fake.calls_to("chat.update")
                        if "Succeeded" in json.dumps(u.args["blocks"])
                    ]
                )
                == 2
            )
        )
    finally:
        await bot.stop()
    assert runs(sim) == [["primary", "ha-failover"], ["secondary", "ha-failback"]]
    assert sim.pairs["prod"].nodes[Role.PRIMARY].state is NodeState.ACTIVE


async def test_self_approval_is_refused(bot: Bot, fake: FakeSlack, sim: Simulator) -> None:
    """The requester — an approver too — cannot approve their own request."""
    await ask(bot, fake, "switchover prod")
    answer = await click(bot, fake, cards(fake)[-1], "approve_request", OPS)
    assert "second person" in answer
    await asyncio.sleep(0.5)
    assert runs(sim) == []


async def test_make_standalone_needs_two_approvers(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """The first approval is counted and shown on the card; the second one runs it."""
    await ask(bot, fake, "make-standalone dr secondary")
    card = cards(fake)[-1]
    assert "1 more needed" in await click(bot, fake, card, "approve_request", LEAD)
    counted = await fake.wait_for(lambda: fake.calls_to("chat.update"))
    assert "1/2 approvals" in json.dumps(counted[-1].args["blocks"])
    assert runs(sim, "dr") == []
    await click(bot, fake, card, "approve_request", LEAD2)
    await final_card(fake, "Succeeded")
    assert runs(sim, "dr") == [["secondary", "ha-make-standalone"]]


async def test_twenty_concurrent_approve_clicks_run_once(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """Twenty Approve clicks at the same moment: the appliance ran the command exactly once."""
    await ask(bot, fake, "switchover prod")
    card = cards(fake)[-1]
    action_id, value, block_id = button(card, "approve_request")
    bodies = []
    for i in range(20):
        url, _ = fake.response_url()
        user = (LEAD, LEAD2)[i % 2]
        bodies.append(
            interaction_body(block_action(action_id, value, block_id, user, CHANNEL, url))
        )
    statuses = await asyncio.gather(*(post(bot, b) for b in bodies))
    assert statuses == [200] * 20
    await final_card(fake, "Succeeded")
    await asyncio.sleep(1)
    assert runs(sim) == [["primary", "ha-failover"]]


async def test_unapproved_request_expires(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> None:
    """Past its TTL the card says expired, its buttons go, and a late click is refused."""
    bot = await started(sim, fake, tmp_path, CONFIG.replace('ttl = "15m"', 'ttl = "2s"'))
    try:
        await ask(bot, fake, "switchover prod")
        card = cards(fake)[-1]
        final = await final_card(fake, "Expired")
        assert "approve_request" not in final
        assert "already expired" in await click(bot, fake, card, "approve_request", LEAD)
    finally:
        await bot.stop()
    assert runs(sim) == []


async def test_requester_cancels(bot: Bot, fake: FakeSlack, sim: Simulator) -> None:
    """The requester's Cancel closes the request; nothing runs; the pair is free again."""
    await ask(bot, fake, "switchover prod")
    said = await close_with_form(bot, fake, cards(fake)[-1], "cancel_request", OPS)
    assert "cancelled" in said
    await final_card(fake, "Cancelled by <@U0OPS1>.")
    assert "approval needed" in await ask(bot, fake, "switchover prod")
    assert runs(sim) == []


async def test_topology_change_between_request_and_approval_aborts(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """The pair degrades after the card was posted: the approved run is aborted unrun, and
    the abort names the check on the card that changed."""
    await ask(bot, fake, "switchover prod")
    assert "HA health OK" in json.dumps(cards(fake)[-1]["blocks"])  # on the card's checks
    await sim.apply("prod", "pair", "degraded", "on")
    await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
    final = await final_card(fake, "Aborted")
    assert "it is now Degraded" in final
    assert "Changed since it was approved: HA health Degraded (was: HA health OK)" in final
    assert runs(sim) == []


async def test_kill_during_execution_is_unknown_after_restart_and_not_rerun(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """kill -9 while the command runs: after restart the request is 'unknown', its card says
    so, and the command is not run a second time."""
    bot = await started(sim, fake, tmp_path)
    await ask(bot, fake, "switchover prod")
    await sim.apply("prod", "primary", "slow", "3")
    await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
    await final_card(fake, "Running now")
    bot.process.send_signal(signal.SIGKILL)
    await bot.process.wait()
    await sim.apply("prod", "primary", "slow", "0")
    restarted = await started(sim, fake, tmp_path)
    try:
        final = await final_card(fake, "Interrupted")
        assert "will not be re-run" in final
        await asyncio.sleep(4)  # longer than the slow fault: any second run would show now
    finally:
        await restarted.stop()
    assert len(runs(sim)) <= 1
    assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.STANDBY


async def test_joining_code_is_only_in_the_ephemeral_reply(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """The code reaches the requester alone: not in any channel message, card, or audit row."""
    sim.pairs["dr"].nodes[Role.SECONDARY].state = NodeState.STANDALONE
    await sim.apply("dr", "secondary", "slow", "2")  # its run takes seconds, not milliseconds
    assert "is running" in await ask(bot, fake, "joining-code dr")
    busy = await ask(bot, fake, "initialise dr")  # while it runs: said so, nothing opened
    assert "`joining-code` is running on dr right now" in busy
    assert "Ask again once it has finished" in busy
    told = await fake.wait_for(
        lambda: [
            c
            for c in fake.calls_to("chat.postEphemeral")
            if "Joining code for dr" in c.args.get("text", "")
        ]
    )
    assert told[0].args["user"] == OPS
    code = told[0].args["text"].split("Joining code: ")[1].split()[0]
    public = [c for c in fake.calls if c.method in {"chat.postMessage", "chat.update"}]
    assert code not in json.dumps([c.args for c in public])
    out = await audit_export(bot)
    assert b"joining" in out or b"requested" in out
    assert code.encode() not in out


async def test_pending_survives_a_restart_and_its_buttons_still_work(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """A card posted before a restart can still be approved afterwards."""
    first = await started(sim, fake, tmp_path)
    await ask(first, fake, "switchover prod")
    await first.stop()
    second = await started(sim, fake, tmp_path)
    try:
        assert "pending" in await ask(second, fake, "pending", user=LEAD)
        await click(second, fake, cards(fake)[-1], "approve_request", LEAD)
        await final_card(fake, "Succeeded")
    finally:
        await second.stop()
    assert runs(sim) == [["primary", "ha-failover"]]


async def test_cancel_by_id_from_the_command(bot: Bot, fake: FakeSlack, sim: Simulator) -> None:
    """`/ha pending` shows the id; `/ha cancel ID` closes it."""
    await ask(bot, fake, "switchover prod")
    _, request_id, _ = button(cards(fake)[-1], "approve_request")
    assert request_id in await ask(bot, fake, "pending")
    assert "cancelled" in await ask(bot, fake, f"cancel {request_id}")
    await final_card(fake, "Cancelled")
    assert "No open requests" in await ask(bot, fake, "pending")


async def test_mute_shows_on_the_status_card_and_is_audited(bot: Bot, fake: FakeSlack) -> None:
    """Operators mute a pair for a window; viewers may not; unmute ends it."""
    refused = await ask(bot, fake, "mute prod 30m vendor upgrade", user="U0VIEW9")
    assert "needs the *operator* role" in refused
    assert "muted until" in await ask(bot, fake, "mute prod 30m vendor upgrade")
    url, rid = fake.response_url()
    await post(bot, form_body(slash_command("status prod", OPS, CHANNEL, url)))
    assert ":mute: Alerts muted until" in json.dumps((await fake.response(rid))["blocks"])
    assert "on again" in await ask(bot, fake, "unmute prod")
    url, rid = fake.response_url()
    await post(bot, form_body(slash_command("status prod", OPS, CHANNEL, url)))
    assert ":mute:" not in json.dumps((await fake.response(rid))["blocks"])


async def test_app_home_shows_pairs_and_what_the_approver_can_act_on(
    bot: Bot, fake: FakeSlack
) -> None:
    """The Home tab lists every pair with its last reading and the approver's pending work."""
    await ask(bot, fake, "switchover prod")
    _, request_id, _ = button(cards(fake)[-1], "approve_request")
    await home_opened(bot, LEAD)
    [call] = await fake.wait_for(lambda: fake.calls_to("views.publish"))
    view = json.dumps(call.args["view"], ensure_ascii=False)
    assert request_id in view
    assert "*prod* — BAU" in view
    assert "*dr* — BAU" in view
    assert fake.invalid == []


async def test_an_approvers_home_follows_requests_without_reopening(
    bot: Bot, fake: FakeSlack
) -> None:
    """An approver opened Home before the request existed: it is republished when the
    request is posted (approvable there) and again when it is cancelled (gone)."""
    await home_opened(bot, LEAD)
    await fake.wait_for(lambda: fake.calls_to("views.publish"))
    await ask(bot, fake, "switchover prod")
    _, request_id, _ = button(cards(fake)[-1], "approve_request")

    def homes_with(present: bool) -> list[Any]:
        return [
            c
            for c in fake.calls_to("views.publish")
            if c.args["user_id"] == LEAD and (request_id in json.dumps(c.args["view"])) is present
        ]

    await fake.wait_for(lambda: homes_with(True))
    shown = len(fake.calls_to("views.publish"))
    assert "cancelled" in await close_with_form(bot, fake, cards(fake)[-1], "cancel_request", OPS)
    await fake.wait_for(
        lambda: len(homes_with(False)) > 1 and len(fake.calls_to("views.publish")) > shown
    )
    assert fake.invalid == []


async def test_a_card_slack_refuses_is_withdrawn_and_the_asker_told(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """End to end: Slack answers not_in_channel for the card → the asker is told why and
    what to do; no request stays open and nothing ran."""
    fake.fail_next["chat.postMessage"] = ["not_in_channel"]
    reply = await ask(bot, fake, "switchover prod")
    assert "Slack refused its approval card (`not_in_channel`)" in reply
    assert "No open requests" in await ask(bot, fake, "pending", user=LEAD)
    assert runs(sim) == []


async def test_a_click_is_honoured_only_from_its_own_card(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """An Approve click from another channel, from another workspace (a forged `team`), or
    carrying another request's id under this card's buttons, is refused (and audited);
    nothing runs. The real click still works."""
    await ask(bot, fake, "switchover prod")
    await ask(bot, fake, "make-standalone dr secondary")
    prod_card, dr_card = cards(fake)[-2], cards(fake)[-1]
    action_id, prod_id, prod_block = button(prod_card, "approve_request")
    _, dr_id, _ = button(dr_card, "approve_request")
    for value, block_id, channel, team in (
        (prod_id, prod_block, "C0ELSEWHERE", None),  # the right card's button, another channel
        (dr_id, prod_block, CHANNEL, None),  # another request's id under this card's buttons
        (prod_id, prod_block, CHANNEL, "T0OTHERORG"),  # the right click, another workspace
    ):
        url, rid = fake.response_url()
        payload = block_action(action_id, value, block_id, LEAD, channel, url)
        if team is not None:
            payload["team"]["id"] = payload["user"]["team_id"] = team
        assert await post(bot, interaction_body(payload)) == 200
        answer = json.dumps((await fake.response(rid))["blocks"])
        assert "no_entry" in answer
        assert ("another workspace" in answer) == (team is not None)
    await asyncio.sleep(0.5)
    events = [json.loads(line) for line in (await audit_export(bot)).splitlines()]
    refused = [e["detail"] for e in events if e["kind"] == "click_refused"]
    assert [(r["channel"], r["team"]) for r in refused] == [
        ("C0ELSEWHERE", TEAM),
        (CHANNEL, TEAM),
        (CHANNEL, "T0OTHERORG"),
    ]
    assert runs(sim) == []
    assert runs(sim, "dr") == []
    assert "Approved" in await click(bot, fake, prod_card, "approve_request", LEAD)
    await final_card(fake, "Succeeded")
    assert runs(sim) == [["primary", "ha-failover"]]
    assert runs(sim, "dr") == []
