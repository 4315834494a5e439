"""Break-glass: a failover nobody answered, run by its requester alone — only for a Primary
that is down in both nodes' words, only after the wait with every level asked, loudly,
and reviewed afterwards by someone else. Every refusal says why and runs nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from habot.config import parse_settings
from habot.core.approvals import Glass, Request, RequestState
from habot.core.asks import parse_note
from habot.core.blocks import Form
from habot.core.breakglass import GlassRule, reading_refusal, reason_problem, reminder_due
from habot.core.escalation import Escalation
from habot.core.grammar import UsageError
from habot.core.home import dashboard
from habot.core.model import NodeState, Verdict
from habot.core.operations import Operation
from habot.core.replies import plain
from habot.core.verdict import PairStatus
from habot.errors import ConfigError
from habot.services.paging import Paging
from habot.services.ports import Caller, Stores
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from tests.kit.botproc import CHANNEL, start_bot
from tests.kit.escalation import pages
from tests.kit.fakepager import FakePagers
from tests.kit.fakeslack import (
    FakeSlack,
    block_action,
    view_submission,
)
from tests.kit.glass import FIVE, T0, _request, interact, said
from tests.kit.metrics import scrape, value
from tests.kit.paging import PAGE_ENV, paging_config
from tests.kit.slack import LEAD as LEAD_USER
from tests.kit.slack import (
    OPS,
    ask,
    audit_export,
    button,
    cards,
    close_with_form,
    directs,
    final_card,
    outcome_told,
    runs,
)
from tests.kit.world import LEAD, LEAD2, OPERATOR, KnownApprovers, World, shown, world_on

TEN = timedelta(minutes=10)
REASON = "INC-4711: prod Primary lost power, DC confirms, nobody answers"
OPERATOR2 = Caller("U0OPS2", "C0HAOPS", OPERATOR.roles)


RULE = GlassRule(TEN, Escalation((("U0LEAD1",), ("U0LEAD2",)), FIVE))


def _why(rule: GlassRule, request: Request, user: str = OPERATOR.user,
         at: datetime = T0 + TEN, unreviewed: tuple[Request, ...] = ()) -> str:  # fmt: skip
    refusal = rule.refusal(request, user, at, unreviewed)
    return plain(refusal) if refusal else ""


# -- the rules ---------------------------------------------------------------------------


def test_break_glass_is_allowed_only_after_the_wait_with_every_level_asked() -> None:
    """Break-glass opens only after break_glass_after, and only once every escalation level was
    asked."""
    request = _request()
    assert RULE.opens_at(request) == T0 + TEN
    assert _why(RULE, request) == ""
    assert "Too early" in _why(RULE, request, at=T0 + TEN - timedelta(seconds=1))
    one_level = _request(asked=(T0,))
    assert RULE.opens_at(one_level) is None
    assert "level 2 is next" in _why(RULE, one_level, at=T0 + 2 * TEN)


@pytest.mark.parametrize(
    ("request_", "user", "words"),
    [
        (_request(operation=Operation.SWITCHOVER), OPERATOR.user, "only for failover"),
        (_request(state=RequestState.REJECTED), OPERATOR.user, "never overrides a rejection"),
        (_request(state=RequestState.SUCCEEDED), OPERATOR.user, "nothing to break glass on"),
        (_request(), LEAD.user, "Only the requester"),
        (_request(), OPERATOR2.user, "Only the requester"),
        (_request(expires_at=T0 + TEN), OPERATOR.user, "expired"),
    ],
)
def test_break_glass_is_refused_outside_its_narrow_case(
    request_: Request, user: str, words: str
) -> None:
    """Break-glass is refused, saying why, outside its case: not a failover, not its requester,
    the Primary not down, already decided."""
    assert words in _why(RULE, request_, user)


def test_an_unreviewed_break_glass_anywhere_holds_every_other() -> None:
    """An unreviewed break-glass on any pair holds every other one, naming it and how to review
    it."""
    other = _request(id="ffff0000", pair="dr", glass=Glass("U0OPS9", T0, REASON))
    why = _why(RULE, _request(), unreviewed=(other,))
    assert "ffff0000 (dr) has not been reviewed yet" in why
    assert '/ha review ffff0000 "what I checked"' in why


def test_break_glass_is_off_unless_configured() -> None:
    """Without break_glass_after, break-glass is not enabled and never opens."""
    off = GlassRule(None, RULE.escalation)
    assert "not enabled here" in _why(off, _request())
    assert off.opens_at(_request()) is None


def test_a_short_reason_is_not_enough() -> None:
    """A break-glass needs a reason of some substance; a few words are refused."""
    assert reason_problem("power cut") is not None
    assert reason_problem(REASON) is None


def test_a_reminder_is_due_once_a_day_until_reviewed() -> None:
    """An owed review is reminded once a day until it is given."""
    assert not reminder_due(T0, None, T0 + timedelta(hours=23))
    assert reminder_due(T0, None, T0 + timedelta(days=1))
    assert not reminder_due(T0, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f'break-glass 0A1B2C3D "{REASON}"', ("0a1b2c3d", REASON)),
        ("review 0a1b2c3d checked DR and the logs", ("0a1b2c3d", "checked DR and the logs")),
    ],
)
def test_break_glass_and_review_take_an_id_and_words(text: str, words: tuple[str, str]) -> None:
    """break-glass and review take a request ID and free words, quotes optional."""
    note = parse_note(text)
    assert (note.request_id, note.words) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("break-glass 0a1b2c3d", "Say which request and why it cannot wait"),
        ("review nope fine", "is not a request ID"),
        ('review 0a1b2c3d ""', "Say what you checked"),
    ],
)
def test_a_bad_break_glass_or_review_says_how(text: str, words: str) -> None:
    """A malformed break-glass or review is a usage error saying how to write it."""
    with pytest.raises(UsageError, match=words):
        parse_note(text)


def test_everyone_sees_owed_reviews_on_app_home_first() -> None:
    """App Home shows an owed break-glass review before anything else, with the command to give
    it."""
    owed = _request(glass=Glass("U0OPS9", T0, REASON))
    view = json.dumps(dashboard([], [], [], "/ha", T0, [owed]))
    assert view.index("Break-glass review owed") < view.index("Waiting for you")
    assert '/ha review 0a1b2c3d \\"what you checked\\"' in view
    assert "<@U0OPS9>" in view


def test_break_glass_after_must_leave_time_and_end_before_expiry() -> None:
    """break_glass_after must be shorter than the approval ttl: a setting that could never open
    is refused at load."""
    base = {"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"break_glass_after = 15m.*shorter than ttl = 15m"):
        parse_settings({**base, "approval": {"ttl": "15m", "break_glass_after": "15m"}})
    settings = parse_settings({**base, "approval": {"break_glass_after": "10m"}})
    assert settings.approval.break_glass_after == TEN


async def test_a_fresh_reading_must_show_the_primary_down_in_both_nodes_words(
    sim: Simulator, glassy: World
) -> None:
    """Power cut: the Primary cannot be read and the Secondary says it failed — allowed.
    habot's path cut while the Secondary still sees it Active — refused (a partition). A
    Primary down whose Secondary does not confirm it — refused. A healthy pair — refused."""
    world = glassy
    assert "not Primary down" in plain(reading_refusal(await world_status(world)) or ())
    await sim.apply("prod", "primary", "cut", "on")
    partition = await world_status(world)
    assert partition.verdict is Verdict.PRIMARY_UNREACHABLE
    assert "habot's path, not an outage" in plain(reading_refusal(partition) or ())
    await sim.apply("prod", "primary", "cut", "off")
    await sim.apply("prod", "primary", "down")
    down = await world_status(world)
    assert down.verdict is Verdict.PRIMARY_DOWN
    assert down.primary.seen_by_peer is NodeState.FAILED
    assert reading_refusal(down) is None
    unconfirmed = replace(down, primary=replace(down.primary, seen_by_peer=NodeState.ACTIVE))
    assert "does not confirm" in plain(reading_refusal(unconfirmed) or ())


async def world_status(world: World) -> PairStatus:
    """A fresh reading of prod."""
    status = StatusService(world.settings, world.runner, world.clock)
    return await status.read_pair(world.settings.pair("prod"))


# -- the service, on the simulator -----------------------------------------------------


@pytest.fixture
async def glassy(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """Break-glass after 10 minutes; two escalation levels 5 minutes apart; paging on."""
    async with world_on(sim, memory) as world:
        world.clock.now = T0
        approval = world.settings.approval.model_copy(
            update={
                "ttl": timedelta(minutes=30),
                "escalation": (("U0LEAD1",), ("U0LEAD2",)),
                "escalate_after": FIVE,
                "break_glass_after": TEN,
            }
        )
        slack = world.settings.slack.model_copy(
            update={"alert_channel": "C0HAOPS", "approvers_mention": ("S0APPROVERS",)}
        )
        paging = world.settings.paging.model_copy(update={"pagerduty": True})
        world.settings = world.settings.model_copy(
            update={"approval": approval, "slack": slack, "paging": paging}
        )
        world.service = world.with_service(
            settings=world.settings,
            approvers=KnownApprovers(frozenset({LEAD.user, LEAD2.user})),
            paging=Paging(memory.outbox, world.clock),
        )
        world.outbox = memory.outbox  # type: ignore[attr-defined]
        yield world


async def _waited(world: World, text: str = "failover prod", who: Caller = OPERATOR) -> str:
    """Ask, then let every level be asked and break_glass_after pass; the request's id."""
    await world.ask(text, who)
    rid = world.request_id()
    world.clock.now += FIVE
    await world.service.housekeeping()
    world.clock.now += FIVE
    await world.service.housekeeping()
    return rid


async def _card(world: World, rid: str) -> str:
    """The newest version of the request's card."""
    _, card = await world.requests.card(rid)
    assert card is not None
    return json.dumps(world.notifier.cards[card][-1].blocks, ensure_ascii=False)


async def _kinds(world: World) -> list[str]:
    return [r.event.kind for r in await world.records()]


async def test_after_the_wait_the_requester_breaks_the_glass_and_it_runs_once_loudly(
    sim: Simulator, glassy: World
) -> None:
    """Power cut at 03:00, nobody answers. Ten minutes on, the card offers Break glass
    (the requester is told); the requester's break-glass runs ha-failover once, is posted
    in the channel naming the approvers, DMs every approver, pages the approvers'
    on-call; the card says a review is owed; it is audited at each step."""
    world = glassy
    await sim.apply("prod", "primary", "down")
    rid = await _waited(world)
    assert '"action_id": "break_glass"' in await _card(world, rid)
    assert any("may break the glass" in t for t in world.notifier.threads)
    assert any(u == OPERATOR.user and "may break the glass" in t for u, t in world.notifier.directs)
    await pages(world)  # the escalation's page: delivered
    world.notifier.directs.clear()

    reply = plain((await world.service.break_glass(OPERATOR, rid, REASON)).parts)
    await world.service.drain()
    assert "running without a second approver" in reply
    assert world.runs() == [["secondary", "ha-failover"]]
    assert await world.state(rid) is RequestState.SUCCEEDED
    card = await _card(world, rid)
    assert "Break-glass — review owed" in card
    assert "INC-4711" in card
    assert '"action_id": "approve_request"' not in card
    [post] = [shown(m[0]) for m in world.notifier.cards.values() if "ran `failover`" in shown(m[0])]
    assert "<!subteam^S0APPROVERS>" in post
    assert "a review is owed" in post
    told = sorted(u for u, t in world.notifier.directs if "broke the glass" in t)
    assert told == [LEAD.user, LEAD2.user]
    assert [u for u, t in world.notifier.directs if t.startswith("Your `failover`")] == [
        OPERATOR.user
    ]
    assert ("pagerduty@approvers", "trigger") in await pages(world)
    kinds = await _kinds(world)
    assert kinds.count("break_glass_asked") == 1
    assert kinds.count("break_glass_used") == 1
    assert "executing" in kinds


async def test_a_break_glass_review_by_the_requester_is_refused_by_an_approver_closed(
    sim: Simulator, glassy: World
) -> None:
    """The requester cannot review their own break-glass; an approver can, once: the card
    says who reviewed it and what they checked, the page resolves, nothing is owed."""
    world = glassy
    await sim.apply("prod", "primary", "down")
    rid = await _waited(world)
    await world.service.break_glass(OPERATOR, rid, REASON)
    await world.service.drain()
    await pages(world)
    approver_operator = Caller(OPERATOR.user, "C0HAOPS", LEAD.roles)
    own = plain((await world.service.review(approver_operator, rid, "all fine")).parts)
    assert "a second person with the approver role must review it" in own
    assert "needs the approver role" in plain(
        (await world.service.review(OPERATOR2, rid, "all fine")).parts
    )
    done = plain((await world.service.review(LEAD, rid, "checked DR serving, logs")).parts)
    assert "reviewed" in done
    assert "Break-glass — reviewed* by <@U0LEAD1>" in await _card(world, rid)
    assert ("pagerduty@approvers", "resolve") in await pages(world)
    again = plain((await world.service.review(LEAD2, rid, "me too")).parts)
    assert "already reviewed by" in again
    assert await world.requests.unreviewed() == []
    kinds = await _kinds(world)
    assert kinds.count("break_glass_reviewed") == 1
    assert kinds.count("review_refused") == 3


async def test_an_unreviewed_break_glass_refuses_the_next_and_is_reminded_daily(
    sim: Simulator, glassy: World
) -> None:
    """Until the first is reviewed, a second break-glass — on another pair — is refused
    with the reason; the card's thread is reminded once a day; `pending` lists it."""
    world = glassy
    await sim.apply("prod", "primary", "down")
    first = await _waited(world)
    await world.service.break_glass(OPERATOR, first, REASON)
    await world.service.drain()
    await sim.apply("dr", "primary", "down")
    second = await _waited(world, "failover dr")
    refused = plain((await world.service.break_glass(OPERATOR, second, REASON)).parts)
    assert f"{first} (prod) has not been reviewed yet" in refused
    assert world.runs("dr") == []
    assert await world.state(second) is RequestState.PENDING
    listed = plain((await world.service.pending()).parts)
    assert "Break-glass reviews owed" in listed
    assert first in listed
    threads = len(world.notifier.threads)
    world.clock.now += timedelta(days=1)
    await world.service.housekeeping()
    await world.service.housekeeping()
    reminders = [t for t in world.notifier.threads[threads:] if "Reminder:" in t]
    assert len(reminders) == 1
    assert "has not been reviewed" in reminders[0]


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ("early", "Too early"),
        ("switchover", "only for failover"),
        ("someone else", "Only the requester"),
        ("rejected", "never overrides a rejection"),
        ("short reason", "at least 20 characters"),
    ],
)
async def test_each_refusal_says_why_runs_nothing_and_is_audited(
    sim: Simulator, glassy: World, setup: str, words: str
) -> None:
    """Every refused break-glass says why, runs nothing on the pair, and is audited."""
    world = glassy
    if setup != "switchover":
        await sim.apply("prod", "primary", "down")
    if setup == "early":  # every level asked, but break_glass_after has not passed
        await world.ask("failover prod")
        rid = world.request_id()
        world.clock.now += FIVE
        await world.service.housekeeping()
    else:
        rid = await _waited(world, "switchover prod" if setup == "switchover" else "failover prod")
    if setup == "rejected":
        await world.service.reject(LEAD, rid)
    who = OPERATOR2 if setup == "someone else" else OPERATOR
    reason = "power cut" if setup == "short reason" else REASON
    reply = plain((await world.service.break_glass(who, rid, reason)).parts)
    await world.service.drain()
    assert words in reply
    assert world.runs() == []
    refusals = [r.event for r in await world.records() if r.event.kind == "break_glass_refused"]
    assert len(refusals) == 1
    assert words in str(refusals[0].detail["reason"])


async def test_a_partition_after_the_request_is_caught_by_the_fresh_reading(
    sim: Simulator, glassy: World
) -> None:
    """Asked while the Primary was down; by the time the glass is broken the Primary is
    back but habot's path to it is cut — the fresh reading refuses, nothing runs."""
    world = glassy
    await sim.apply("prod", "primary", "down")
    rid = await _waited(world)
    await sim.apply("prod", "primary", "cut", "on")
    await sim.apply("prod", "primary", "up")
    reply = plain((await world.service.break_glass(OPERATOR, rid, REASON)).parts)
    assert "habot's path, not an outage" in reply
    assert world.runs() == []
    assert await world.state(rid) is RequestState.PENDING


async def test_the_button_is_offered_once_and_only_on_failover(
    sim: Simulator, glassy: World
) -> None:
    """A switchover nobody answers is never offered break-glass; a failover's card is
    offered it once, however many sweeps run."""
    world = glassy
    rid = await _waited(world, "switchover prod")
    assert '"action_id": "break_glass"' not in await _card(world, rid)
    await world.service.cancel(OPERATOR, rid)
    await sim.apply("prod", "primary", "down")
    rid = await _waited(world)
    world.clock.now += timedelta(seconds=30)
    await world.service.housekeeping()
    offers = [t for t in world.notifier.threads if "may break the glass" in t]
    assert len(offers) == 1
    assert json.dumps(await _card(world, rid)).count("break_glass") >= 1


# -- end to end: the bot as a process ----------------------------------------------------

#: Two levels a second apart; break-glass 4 s after a request opens (the sweep runs every
#: 5 s at this ttl); U0OPS1 also holds the approver role, so that a requester reviewing
#: their own break-glass is refused for that reason and not for a missing role.
E2E_APPROVAL = """
[approval]
ttl = "60s"
escalation = [["U0LEAD1"], ["U0LEAD2"]]
escalate_after = "1s"
break_glass_after = "4s"
"""


def e2e_config(pagers: FakePagers) -> str:
    roles = 'approvers = ["U0LEAD1", "U0LEAD2", "U0OPS1"]\n[slack.x]'
    config = paging_config(pagers).replace('approvers = ["U0LEAD1"]', roles)
    config = config.replace("\n[slack.x]", "").replace(
        'command = "/ha"', 'command = "/ha"\napprovers_mention = ["S0APPROVERS"]'
    )
    return config + "page_approvers = true\n" + E2E_APPROVAL


async def offered_card(fake: FakeSlack, rid: str) -> dict[str, Any]:
    """Wait until the request's card offers Break glass; that card."""
    updates = await fake.wait_for(
        lambda: [
            u.args
            for u in fake.calls_to("chat.update")
            if f"request `{rid}`" in json.dumps(u.args["blocks"])
            and '"break_glass"' in json.dumps(u.args["blocks"])
        ]
    )
    return updates[-1]


def request_id_of(reply: str) -> str:
    return reply.split("Request `")[1].split("`")[0]


async def test_the_bot_offers_break_glass_and_runs_it_once_loudly_then_takes_a_review(
    sim: Simulator, fake: FakeSlack, pagers: FakePagers, tmp_path: Path
) -> None:
    """`habot run`: the Primary's power is cut and the operator asks for a failover. Too
    early, and by another operator, break-glass is refused and nothing runs. Once every
    level is asked and 4 s have passed, the card offers Break glass; its form refuses a
    short reason in place, then runs the failover once with a good one: posted in the
    channel naming the approvers, a DM to each approver, a page to their on-call. Another
    break-glass is refused while the review is owed; the requester cannot review it; an
    approver can, which resolves the page. Each step is in the audit."""
    fake.groups = {"S0ONCALL": ["U0OPS2"]}
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=e2e_config(pagers), env=PAGE_ENV)
    try:
        await sim.apply("prod", "primary", "down")
        rid = request_id_of(await ask(bot, fake, "failover prod"))
        early = await said(bot, fake, f'break-glass {rid} "{REASON}"')
        assert "Not every escalation level" in early or "Too early" in early
        other = await said(bot, fake, f'break-glass {rid} "{REASON}"', user="U0OPS2")
        assert "Only the requester" in other
        card = await offered_card(fake, rid)
        assert runs(sim) == []

        url, _ = fake.response_url()
        action_id, target, block_id = button(card, "break_glass")
        await interact(bot, block_action(action_id, target, block_id, OPS, CHANNEL, url))
        [form] = await fake.wait_for(lambda: fake.views)
        short = await interact(bot, view_submission(form, OPS, {"reason": "power cut"}))
        assert "at least 20 characters" in json.loads(short)["errors"]["reason"]
        assert runs(sim) == []
        assert await interact(bot, view_submission(form, OPS, {"reason": REASON})) == ""
        told = await fake.wait_for(lambda: [
            c.args["text"] for c in fake.calls_to("chat.postEphemeral")
            if "without a second approver" in c.args["text"]
        ])  # fmt: skip
        assert "is running" in told[0]
        await outcome_told(fake, "failover", "prod")
        assert runs(sim) == [["secondary", "ha-failover"]]
        # the channel's post goes in the pair's lane, the outcome's DM in its own: either
        # may reach Slack first
        posts = await fake.wait_for(lambda: [c.args["text"] for c in fake.calls_to(
            "chat.postMessage") if "ran `failover`" in c.args.get("text", "")])  # fmt: skip
        assert len(posts) == 1
        assert "<!subteam^S0APPROVERS>" in posts[0]
        dms = await fake.wait_for(lambda: [d for u, d in directs(fake).items()
                                           if "broke the glass" in d and u != OPS])  # fmt: skip
        assert dms
        [page] = await pagers.wait_for(lambda: [
            p for p in pagers.of("pagerduty", "trigger") if "/break-glass/" in p.key
        ])  # fmt: skip
        assert REASON in json.dumps(page.body)

        assert value(await scrape(bot), "habot_break_glass_unreviewed") == 1

        await sim.apply("dr", "primary", "down")
        dr = request_id_of(await ask(bot, fake, "failover dr"))
        held = await said(bot, fake, f'break-glass {dr} "{REASON}"')
        assert f"`{rid}` (prod) has not been reviewed yet" in held
        own = await said(bot, fake, f'review {rid} "I checked it myself"')
        assert "a second person with the approver role must review it" in own
        done = await said(bot, fake, f'review {rid} "DR serving, sessions checked"', LEAD_USER)
        assert "reviewed" in done
        await pagers.wait_for(lambda: [
            p for p in pagers.of("pagerduty", "resolve") if "/break-glass/" in p.key
        ])  # fmt: skip
        await final_card(fake, "reviewed* by <@U0LEAD1>")
        assert value(await scrape(bot), "habot_break_glass_unreviewed") == 0
        assert runs(sim, "dr") == []
        kinds = [json.loads(line)["kind"] for line in (await audit_export(bot)).splitlines()]
        for kind in ("break_glass_asked", "break_glass_refused", "break_glass_used",
                     "review_refused", "break_glass_reviewed"):  # fmt: skip
            assert kind in kinds
    finally:
        await bot.stop()


async def test_the_bot_refuses_break_glass_for_another_verb_after_a_rejection_and_on_a_partition(
    sim: Simulator, fake: FakeSlack, pagers: FakePagers, tmp_path: Path
) -> None:
    """Each refusal says why and nothing runs: a switchover is never break-glass; a
    failover an approver rejected is not either; and a failover whose Primary came back
    behind a cut path (habot cannot reach it, the Secondary sees it Active) is refused by
    the fresh reading even though the card offered Break glass."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=e2e_config(pagers), env=PAGE_ENV)
    try:
        switch = request_id_of(await ask(bot, fake, "switchover dr"))
        verb = await said(bot, fake, f'break-glass {switch} "{REASON}"')
        assert "only for `failover`" in verb
        assert "Request" in await said(bot, fake, f"cancel {switch}")
        await sim.apply("dr", "primary", "down")
        dr = request_id_of(await ask(bot, fake, "failover dr"))
        await close_with_form(bot, fake, cards(fake)[-1], "reject_request", LEAD_USER)
        rejected = await said(bot, fake, f'break-glass {dr} "{REASON}"')
        assert "never overrides a rejection" in rejected

        await sim.apply("prod", "primary", "down")
        rid = request_id_of(await ask(bot, fake, "failover prod"))
        await offered_card(fake, rid)
        await sim.apply("prod", "primary", "cut", "on")
        await sim.apply("prod", "primary", "up")
        partition = await said(bot, fake, f'break-glass {rid} "{REASON}"')
        assert "habot's path, not an outage" in partition
        assert runs(sim) == []
        assert runs(sim, "dr") == []
    finally:
        await bot.stop()


async def test_the_button_opens_the_form_only_for_the_requester_when_allowed(
    sim: Simulator, glassy: World
) -> None:
    """Clicking Break glass: the requester gets the form for the reason (naming the
    request and the card's channel); anyone else is told why not, and it is audited."""
    world = glassy
    await sim.apply("prod", "primary", "down")
    rid = await _waited(world)
    form = await world.service.glass_form(OPERATOR, rid)
    assert isinstance(form, Form)
    assert json.loads(str(form.view["private_metadata"])) == {"request": rid, "channel": "C0HAOPS"}
    other = await world.service.glass_form(OPERATOR2, rid)
    assert not isinstance(other, Form)
    assert "Only the requester" in plain(other.parts)
    assert "break_glass_refused" in await _kinds(world)
