"""Change control an auditor accepts: a request says why and names its change ticket when
the configuration asks — typed, or through a form that refuses what is wrong in place —
and both are on the card, in the approvers' direct message and in the audit."""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from habot.config import parse_settings
from habot.core.approvals import RequestAction, RequestState
from habot.core.asks import OperationRequest, operation_ask, parse_operation
from habot.core.blocks import Form
from habot.core.cards import REQUEST_FORM, request_form
from habot.core.change import TICKET, ChangeRule, missing_only, problems
from habot.core.grammar import Sub, UsageError
from habot.core.model import Role
from habot.core.operations import CONSEQUENCE, Operation
from habot.core.replies import plain
from habot.errors import ConfigError
from habot.services.operations.stage import change_control
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from tests.kit.botproc import BOT_TOKEN, CHANNEL, start_bot
from tests.kit.fakeslack import FakeSlack, form_body, slash_command, view_submission
from tests.kit.glass import interact
from tests.kit.slack import (
    CONFIG,
    OPS,
    ask,
    audit_export,
    cards,
    click,
    directs,
    final_card,
    opened_form,
    post,
    runs,
    send_form,
)
from tests.kit.slack import LEAD as LEAD_USER
from tests.kit.world import LEAD, OPERATOR, VIEWER, KnownApprovers, World, shown, world_on

PAIRS = ["prod", "dr"]
PATTERN = "^CHG[0-9]{7}$"
WHY = "moving to DR for the data-centre test"
REQUIRED = ChangeRule(reason_required=True, ticket_pattern=PATTERN)


@pytest.mark.parametrize(
    ("rule", "reason", "ticket", "wrong"),
    [
        (ChangeRule(), None, None, {}),
        (ChangeRule(), WHY, None, {}),
        (ChangeRule(), "short", None, {"reason": "at least 10 characters"}),
        (ChangeRule(), WHY, "CHG0001234", {"ticket": "No change ticket is asked for here"}),
        (REQUIRED, None, None, {"reason": "a reason is required", "ticket": "Name the change"}),
        (REQUIRED, WHY, "CHG123", {"ticket": "'CHG123' is not a change ticket here"}),
        (REQUIRED, WHY, "CHG0001234x", {"ticket": "must match ^CHG[0-9]{7}$"}),
        (REQUIRED, WHY, "CHG0001234", {}),
        (ChangeRule(ticket_pattern=PATTERN), None, "CHG0001234", {}),
    ],
)
def test_reason_and_ticket_are_checked_by_one_rule(
    rule: ChangeRule, reason: str | None, ticket: str | None, wrong: dict[str, str]
) -> None:
    """A request's reason and ticket are checked by one rule, which names each problem."""
    found = problems(rule, reason, ticket)
    assert sorted(found) == sorted(wrong)
    for name, words in wrong.items():
        assert words in found[name]


def test_only_what_is_missing_opens_the_form_what_is_wrong_is_refused() -> None:
    """A form opens only for what is missing; what is wrong is refused instead."""
    assert missing_only(problems(REQUIRED, None, None), None, None)
    assert not missing_only(problems(REQUIRED, WHY, "CHG1"), WHY, "CHG1")
    assert not missing_only({}, None, None)  # nothing wrong: no form


@pytest.mark.parametrize(
    ("text", "reason", "ticket"),
    [
        ("switchover prod", None, None),
        (f'switchover prod "{WHY}" CHG0001234', WHY, "CHG0001234"),
        (f"switchover prod \u201c{WHY}\u201d", WHY, None),  # as phones type quotes
        ("switchover prod CHG0001234", None, "CHG0001234"),
        (f'make-standalone prod secondary "{WHY}" CHG0001234', WHY, "CHG0001234"),
    ],
)
def test_a_typed_request_carries_its_reason_and_ticket(
    text: str, reason: str | None, ticket: str | None
) -> None:
    """A typed request's quoted reason and ticket are read from its words."""
    ask = parse_operation(text, PAIRS)
    assert (ask.reason, ask.ticket) == (reason, ticket)


def test_each_operation_may_ask_for_more_than_the_default() -> None:
    """Each operation may ask for more than the default (a required reason, its own ticket
    pattern)."""
    settings = parse_settings({
        "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
        "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
        "approval": {"ticket_pattern": PATTERN,
                     "operations": {"make-standalone": {"reason": "required"},
                                    "joining-code": {"required": 0, "ticket_pattern": ".*"}}},
    })  # fmt: skip
    control = change_control(settings)
    assert control.rule(Operation.SWITCHOVER) == ChangeRule(False, PATTERN)
    assert control.rule(Operation.MAKE_STANDALONE) == ChangeRule(True, PATTERN)
    assert control.rule(Operation.JOINING_CODE) == ChangeRule(False, ".*")
    with pytest.raises(ConfigError, match="is not a regular expression"):
        parse_settings({**settings.model_dump(mode="json"), "approval": {"ticket_pattern": "("}})


def test_the_form_says_what_the_operation_does_and_asks_for_what_is_needed() -> None:
    """The request form says what the operation does and asks for what change control needs."""
    ask = OperationRequest(Sub.FAILBACK, "prod", reason=WHY)
    view = request_form(ask, REQUIRED, "C0HAOPS").view
    assert view["callback_id"] == REQUEST_FORM
    text = json.dumps(view)
    assert "every session on the Secondary is dropped" in text
    assert CONSEQUENCE[Operation.FAILBACK][:40] in text
    blocks = {b.get("block_id"): b for b in view["blocks"]}  # type: ignore[attr-defined]
    assert blocks["reason"]["optional"] is False
    assert blocks["reason"]["element"]["initial_value"] == WHY  # what was typed is kept
    assert blocks[TICKET]["hint"]["text"] == f"It must match {PATTERN}"
    meta = json.loads(str(view["private_metadata"]))
    assert meta == {"sub": "failback", "pair": "prod", "node": None, "override": None,
                    "channel": "C0HAOPS"}  # fmt: skip
    no_ticket = request_form(OperationRequest(Sub.MAKE_STANDALONE, "prod", Role.PRIMARY),
                             ChangeRule(reason_required=True), "C0HAOPS").view  # fmt: skip
    assert TICKET not in json.dumps(no_ticket["blocks"])


# -- the service ---------------------------------------------------------------------------


@pytest.fixture
async def controlled(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    async with world_on(sim, memory) as world:
        approval = world.settings.approval.model_copy(
            update={"reason": "required", "ticket_pattern": PATTERN}
        )
        world.settings = world.settings.model_copy(update={"approval": approval})
        world.service = world.with_service(
            settings=world.settings, approvers=KnownApprovers(frozenset({LEAD.user}))
        )
        yield world


async def test_a_request_without_what_is_required_is_refused_and_creates_nothing(
    controlled: World,
) -> None:
    """A request lacking what is required is refused, creates nothing and is audited as
    refused."""
    reply = await controlled.ask("switchover prod CHG123")
    assert "a reason is required" in reply
    assert "is not a change ticket here" in reply
    assert controlled.notifier.cards == {}
    [refusal] = [r.event for r in await controlled.records()]
    assert refusal.kind == "request_refused"


async def test_reason_and_ticket_go_on_the_card_the_dm_and_the_audit(controlled: World) -> None:
    """The reason and ticket appear on the card, in the approvers' direct message and in the
    audit."""
    await controlled.ask(f'switchover prod "{WHY}" CHG0001234')
    card = shown(controlled.notifier.last())
    assert f"*Reason:* {WHY}" in card
    assert "*Ticket:* `CHG0001234`" in card
    [(user, note)] = controlled.notifier.directs
    assert user == LEAD.user
    assert WHY in note
    assert "`CHG0001234`" in note
    [asked] = [r.event for r in await controlled.records() if r.event.kind == "requested"]
    assert (asked.detail["reason"], asked.detail["ticket"]) == (WHY, "CHG0001234")
    request = await controlled.requests.get(controlled.request_id())
    assert request is not None
    assert (request.reason, request.ticket) == (WHY, "CHG0001234")


async def test_user_text_in_a_reason_pings_nobody(controlled: World) -> None:
    """Mentions typed into a reason are shown escaped: they notify nobody."""
    await controlled.ask('switchover prod "tell <!channel> and <@U0CEO> now" CHG0001234')
    card = shown(controlled.notifier.last())
    assert "&lt;!channel&gt;" in card
    assert "<!channel>" not in card


# -- end to end ----------------------------------------------------------------------------

E2E = CONFIG.replace(
    'cooldown = "10m"', f'cooldown = "10m"\nreason = "required"\nticket_pattern = "{PATTERN}"'
)


async def command(bot: Any, fake: FakeSlack, text: str, user: str = OPS) -> None:
    url, _ = fake.response_url()
    assert await post(bot, form_body(slash_command(text, user, CHANNEL, url))) == 200


async def test_the_bot_asks_for_reason_and_ticket_in_a_form_and_creates_only_a_valid_request(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`habot run` with a reason required and a ticket pattern: `/ha switchover prod`
    opens the form (with the command's trigger); a bad ticket is refused in the form and
    creates nothing; a good one makes the card with both, the audit carries both and
    still verifies; a fully typed request needs no form."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=E2E)
    try:
        await command(bot, fake, "switchover prod")
        [form] = await fake.wait_for(lambda: fake.views)
        assert form["callback_id"] == REQUEST_FORM
        bad = await interact(bot, view_submission(form, OPS, {"reason": WHY, "ticket": "CHG12"}))
        assert "is not a change ticket here" in json.loads(bad)["errors"]["ticket"]
        assert cards(fake) == []
        good = {"reason": WHY, "ticket": "CHG0001234"}
        assert await interact(bot, view_submission(form, OPS, good)) == ""
        [card] = await fake.wait_for(lambda: cards(fake))
        text = json.dumps(card["blocks"])
        assert WHY in text
        assert "CHG0001234" in text
        told = await fake.wait_for(lambda: [c for c in fake.calls_to("chat.postEphemeral")
                                            if "approval needed" in c.args["text"]])  # fmt: skip
        assert told
        events = [json.loads(line) for line in (await audit_export(bot)).splitlines()]
        [asked] = [e for e in events if e["kind"] == "requested"]
        assert (asked["detail"]["reason"], asked["detail"]["ticket"]) == (WHY, "CHG0001234")
        await command(bot, fake, "cancel " + asked["detail"]["request"])
        await command(bot, fake, f'switchover dr "{WHY}" CHG0007654')
        await fake.wait_for(lambda: [c for c in cards(fake) if "CHG0007654" in json.dumps(c)])
        assert len(fake.views) == 1  # typed in full: no form
        assert runs(sim) == []
    finally:
        await bot.stop()
    verify = await audit_verify(bot)
    assert verify == 0


@pytest.mark.parametrize(
    ("parts", "wrong"),
    [
        ({"operation": "make-standalone"}, "Say which node becomes standalone"),
        ({"node": "primary"}, "Only make-standalone takes a node"),
        ({"operation": "make-standalone", "node": "tertiary"}, "`tertiary` is not a node"),
        ({"pair": "staging"}, "There is no pair `staging`"),
        ({"operation": "status"}, "`status` is not an operation"),
        ({"reason": "   "}, "The reason is empty"),
        ({"reason": "x" * 301}, "keep it under 300"),
        ({"override": ""}, "The override reason is empty"),
        ({"ticket": "CHG 1"}, "`CHG 1` is not a ticket"),
    ],
)
def test_a_request_from_its_parts_meets_the_rules_of_a_typed_one(
    parts: dict[str, str], wrong: str
) -> None:
    """A request built from form fields meets the same rules as a typed one."""
    given = {"operation": "switchover", "pair": "prod", **parts}
    with pytest.raises(UsageError, match=re.escape(wrong)):
        operation_ask(given.pop("operation"), given.pop("pair"), PAIRS, **given)


def test_a_request_from_its_parts_is_the_typed_one() -> None:
    """A request built from its parts equals the same request typed."""
    typed = parse_operation(f'make-standalone prod secondary "{WHY}" CHG0001234', PAIRS)
    parts = operation_ask(
        "make-standalone", "PROD", PAIRS, node="Secondary", reason=f"  {WHY} ", ticket="CHG0001234"
    )
    assert parts == typed


async def habot_request(bot: Any, fake: FakeSlack, *args: str) -> tuple[int, str]:
    """`habot request …` beside the running bot (its config, database and Slack): the
    exit status and what it printed."""
    env = {**bot.env(), "HABOT_SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "request", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_the_command_line_files_a_request_by_the_same_rules_and_slack_approves_it(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`habot request switchover prod --reason … --ticket …` beside a running bot: what
    change control finds missing or wrong is refused, naming the option, and files
    nothing; a good one is filed as the local user, its card (delivered by the bot) and
    the approvers' DMs carry reason and ticket, and an approver's click in Slack runs it.
    An operation that needs no approval would run at once: the command line refuses it."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=E2E)
    me = f"cli:{getpass.getuser()}"
    try:
        code, said = await habot_request(bot, fake, "switchover", "prod", "--reason", WHY)
        assert code == 2
        assert "(give --ticket)" in said
        code, said = await habot_request(
            bot, fake, "switchover", "prod", "--reason", WHY, "--ticket", "CHG12"
        )
        assert code == 2
        assert "'CHG12' is not a change ticket here" in said
        code, said = await habot_request(bot, fake, "joining-code", "prod", "--reason", WHY)
        assert code == 2
        assert "the command line runs no operation" in said
        assert cards(fake) == []
        code, said = await habot_request(
            bot, fake, "switchover", "prod", "--reason", WHY, "--ticket", "CHG0001234"
        )
        assert code == 0, said
        assert "approval needed" in said
        [card] = await fake.wait_for(lambda: cards(fake))
        text = json.dumps(card["blocks"])
        assert (WHY in text, "CHG0001234" in text) == (True, True)
        assert f"Asked by {me}" in text  # plain words: the local user is no Slack account
        told = await fake.wait_for(lambda: directs(fake).get(LEAD_USER))
        assert "CHG0001234" in told
        await click(bot, fake, card, "approve_request", LEAD_USER)
        await final_card(fake, "Succeeded")
    finally:
        await bot.stop()
    # The requester is told the outcome nowhere in Slack: no Slack account is theirs.
    targets = {str(c.args.get(k)) for c in fake.calls for k in ("channel", "user")}
    assert not [t for t in targets if t.startswith("cli:")]
    assert runs(sim) == [["primary", "ha-failover"]]
    events = [json.loads(line) for line in (await audit_export(bot)).splitlines()]
    [asked] = [e for e in events if e["kind"] == "requested"]
    assert (asked["actor"], asked["detail"]["ticket"]) == (me, "CHG0001234")
    assert await audit_verify(bot) == 0


async def audit_verify(bot: Any) -> int:
    """`habot audit verify` against the bot's database: its exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "audit", "verify", env=bot.env(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await proc.wait()


# -- reject and cancel, saying why ---------------------------------------------------------


@pytest.fixture
async def world(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    """The service on the simulator, told of one approver."""
    async with world_on(sim, memory) as built:
        built.service = built.with_service(approvers=KnownApprovers(frozenset({LEAD.user})))
        yield built


async def test_a_rejection_says_why_on_the_card_to_the_requester_and_in_the_audit(
    world: World,
) -> None:
    """A rejection's reason is on the card, told to the requester and kept in the audit."""
    await world.ask("switchover prod")
    rid = world.request_id()
    said = plain((await world.service.reject(LEAD, rid, "not during the month-end close")).parts)
    assert "rejected" in said
    assert "Rejected by <@U0LEAD1>: not during the month-end close" in shown(world.notifier.last())
    [told] = [text for user, text in world.notifier.directs if user == OPERATOR.user]
    assert "was rejected by <@U0LEAD1>: not during the month-end close" in told
    [event] = [r.event for r in await world.records() if r.event.kind == "rejected"]
    assert event.detail["reason"] == "not during the month-end close"


async def test_a_requester_cancelling_their_own_is_not_told_about_it(world: World) -> None:
    """A requester who cancels their own request is not told about it by direct message."""
    await world.ask("switchover prod")
    await world.service.cancel(OPERATOR, world.request_id())
    assert "Cancelled by <@U0OPS1>." in shown(world.notifier.last())
    assert [user for user, _ in world.notifier.directs] == [LEAD.user]  # asked; nobody told


async def test_a_required_reason_holds_the_request_open_until_given(world: World) -> None:
    """With reject_reason required, a rejection without a reason is refused and the request
    stays open."""
    approval = world.settings.approval.model_copy(update={"reject_reason": "required"})
    world.settings = world.settings.model_copy(update={"approval": approval})
    world.service = world.with_service(settings=world.settings)
    await world.ask("switchover prod")
    rid = world.request_id()
    refused = plain((await world.service.reject(LEAD, rid)).parts)
    assert "a reason is required to reject or cancel" in refused
    assert await world.state(rid) is RequestState.PENDING
    assert isinstance(await world.service.closing_form(LEAD, rid, RequestAction.REJECT), Form)
    viewer = await world.service.closing_form(VIEWER, rid, RequestAction.REJECT)
    assert not isinstance(viewer, Form)
    assert "approver" in plain(viewer.parts)


async def test_the_bot_rejects_through_the_form_and_tells_the_requester(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`habot run` with reject_reason = "required": Reject opens the form; sent empty, the
    form says why and nothing changes; with a reason the card says who and why, and the
    requester gets it by direct message."""
    extra = CONFIG.replace('cooldown = "10m"', 'cooldown = "10m"\nreject_reason = "required"')
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=extra)
    try:
        await ask(bot, fake, "switchover prod")
        card = cards(fake)[-1]
        form = await opened_form(bot, fake, card, "reject_request", LEAD_USER)
        empty = await send_form(bot, fake, form, LEAD_USER, {"reason": ""})
        assert "a reason is required" in json.loads(empty)["errors"]["reason"]
        told = await send_form(bot, fake, form, LEAD_USER, {"reason": "not during the close"})
        assert "rejected" in told
        await final_card(fake, "Rejected by <@U0LEAD1>: not during the close")
        dm = await fake.wait_for(lambda: [d for u, d in directs(fake).items() if u == OPS])
        assert "was rejected by" in dm[0]
        assert "not during the close" in dm[0]
        assert runs(sim) == []
    finally:
        await bot.stop()
