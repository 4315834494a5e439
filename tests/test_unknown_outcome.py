"""An operation whose outcome is unknown says how to close it and tells the approvers:
the card carries the Resolve button and the typed command, the approvers are named in
its thread and told by direct message, the approvers' on-call is paged (paging on), and
resolving it closes the page and says so in the thread."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from habot.core.blocks import Form
from habot.core.model import Role
from habot.core.unknown import FOUND, RESOLVE, RESOLVE_FORM
from habot.services.paging import Paging
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from tests.kit.escalation import pages
from tests.kit.fakeslack import FakeSlack
from tests.kit.metrics import gauge_becomes
from tests.kit.slack import LEAD as LEAD_USER
from tests.kit.slack import LEAD2 as LEAD2_USER
from tests.kit.slack import ask, cards, click, directs, final_card, opened_form, send_form, started
from tests.kit.world import LEAD, LEAD2, OPERATOR, VIEWER, KnownApprovers, World, shown, world_on
from tests.kit.world import world as world  # the fixture


@pytest.fixture
async def paged(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """Two approvers, a user group mentioned on cards, and paging through PagerDuty."""
    async with world_on(sim, memory) as world:
        slack = world.settings.slack.model_copy(update={"approvers_mention": ("S0APPROVERS",)})
        paging = world.settings.paging.model_copy(update={"pagerduty": True})
        world.settings = world.settings.model_copy(update={"slack": slack, "paging": paging})
        world.service = world.with_service(
            settings=world.settings,
            approvers=KnownApprovers(frozenset({LEAD.user, LEAD2.user})),
            paging=Paging(memory.outbox, world.clock),
        )
        world.outbox = memory.outbox  # type: ignore[attr-defined]
        yield world


async def _unknown(world: World) -> str:
    """A switchover whose node asks a second question after the confirmation: unknown."""
    world.sim.pairs["prod"].nodes[Role.PRIMARY].ask_twice = True
    await world.ask("switchover prod")
    rid = world.request_id()
    await world.service.approve(LEAD, rid)
    await world.service.drain()
    return rid


async def test_an_unknown_outcome_puts_the_way_out_on_the_card(paged: World) -> None:
    """The card says to check the pair, then Resolve — a button and the typed command."""
    rid = await _unknown(paged)
    card = paged.notifier.last()
    text = json.dumps(card.blocks, ensure_ascii=False)
    assert "Interrupted — outcome unknown" in text
    assert "*To close it:* check *prod* first (`/ha status prod`" in text
    assert f'`/ha resolve {rid} \\"what you found\\"`' in text
    [actions] = [b for b in card.blocks if b["type"] == "actions"]
    [resolve] = actions["elements"]
    assert (resolve["action_id"], resolve["value"]) == (RESOLVE, rid)
    assert actions["block_id"].startswith(f"request-{rid}-")


async def test_the_approvers_are_named_told_and_paged(paged: World) -> None:
    """A thread reply mentions the approvers; each approver gets a direct message (the one
    who approved too: the pair is closed to everyone); the on-call is paged; the requester
    is told the outcome by direct message."""
    rid = await _unknown(paged)
    [called] = [t for t in paged.notifier.threads if "needs an approver" in t]
    assert called.startswith(
        f":warning: <!subteam^S0APPROVERS>: `switchover` on prod (request `{rid}`) needs an "
        "approver. Outcome unknown — the confirmation was answered"
    )
    assert f'/ha resolve {rid} "what you found"' in called
    dms = {u: t for u, t in paged.notifier.directs if "stays closed to operations" in t}
    assert sorted(dms) == [LEAD.user, LEAD2.user]
    assert "asked by <@U0OPS1>" in dms[LEAD2.user]
    [outcome] = [t for u, t in paged.notifier.directs if u == OPERATOR.user]
    assert outcome.startswith("Your `switchover` on prod: Outcome unknown")
    assert ("pagerduty@approvers", "trigger") in await pages(paged)


async def test_resolving_it_closes_the_page_and_says_so_in_the_thread(paged: World) -> None:
    """An approver resolves it: the card's thread says who and what they found, the page
    resolves, and the pair takes requests again."""
    rid = await _unknown(paged)
    await pages(paged)  # the trigger, delivered
    paged.sim.pairs["prod"].nodes[Role.PRIMARY].ask_twice = False
    said = shown(await paged.service.resolve(LEAD2, rid, "both nodes checked: failed over"))
    assert "open to operations again" in said
    assert any("Resolved by <@U0LEAD2>: both nodes checked" in t for t in paged.notifier.threads)
    assert await pages(paged) == [("pagerduty@approvers", "resolve")]


async def test_the_resolve_form_is_for_approvers_and_only_while_it_is_unknown(
    paged: World,
) -> None:
    """The Resolve button opens a form asking what was found — for an approver, while the
    outcome is unknown; anyone else, or a request already resolved, is told why not."""
    rid = await _unknown(paged)
    form = await paged.service.resolve_form(LEAD2, rid)
    assert isinstance(form, Form)
    assert form.view["callback_id"] == RESOLVE_FORM
    assert json.loads(str(form.view["private_metadata"]))["request"] == rid
    assert [b["block_id"] for b in form.view["blocks"] if b["type"] == "input"] == [FOUND]  # type: ignore[attr-defined]
    refused = await paged.service.resolve_form(VIEWER, rid)
    assert not isinstance(refused, Form)
    assert "needs the *approver* role" in shown(refused)
    await paged.service.resolve(LEAD2, rid, "checked")
    closed = await paged.service.resolve_form(LEAD2, rid)
    assert not isinstance(closed, Form)
    assert "is resolved: there is nothing to resolve" in shown(closed)


# -- end to end: the bot as a process, Slack faked at its HTTP boundary ------------------


async def test_an_unknown_outcome_is_resolved_from_its_card_in_slack(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Unknown → the approvers are named in the thread and told by DM → an approver presses
    Resolve, sends the form empty (said in the form, nothing changes), then with what they
    found → the card says who resolved it and prod takes a request again."""
    bot = await started(sim, fake, tmp_path)
    try:
        await sim.apply("prod", "primary", "ask_twice", "on")
        await ask(bot, fake, "switchover prod")
        await click(bot, fake, cards(fake)[-1], "approve_request", LEAD_USER)
        unknown = await final_card(fake, "Interrupted")
        assert "Resolve" in unknown
        # the leader's sweep counts it: the shipped alert HabotOperationUnknown fires on it
        assert await gauge_becomes(bot, 'habot_requests_open{state="unknown"}', 1.0)
        await fake.wait_for(lambda: "needs an approver" in directs(fake).get(LEAD2_USER, ""))
        [card] = [c for c in fake.calls_to("chat.update") if "resolve_request" in
                  json.dumps(c.args["blocks"])][-1:]  # fmt: skip
        form = await opened_form(bot, fake, dict(card.args), "resolve_request", LEAD2_USER)
        assert form["callback_id"] == RESOLVE_FORM
        empty = await send_form(bot, fake, form, LEAD2_USER, {FOUND: " "})
        assert "Say what you found." in json.loads(empty)["errors"][FOUND]
        said = await send_form(bot, fake, form, LEAD2_USER, {FOUND: "both nodes: failed over"})
        assert "open to operations again" in said
        resolved = await final_card(fake, "resolved by a person")
        assert await gauge_becomes(bot, 'habot_requests_open{state="unknown"}', 0.0)
        assert "Resolved by <@U0LEAD2>: both nodes: failed over" in resolved
        await sim.apply("prod", "primary", "ask_twice", "off")
        again = await ask(bot, fake, 'failback prod --override "resolved: hand it back"')
        assert "approval needed" in again
    finally:
        await bot.stop()
    assert fake.invalid == []
