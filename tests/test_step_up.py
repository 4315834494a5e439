"""Step-up for the verbs that end or rebuild redundancy: the approver types the pair's name
in a form that shows what will happen; a slip or a stolen click changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from habot.config import parse_settings
from habot.core.approvals import RequestAction, RequestState
from habot.core.blocks import Form
from habot.core.cards import APPROVE_FORM, Where
from habot.core.operations import Operation
from habot.core.replies import plain
from habot.core.stepup import PAIR_NAME, Confirm, StepUp, name_problem
from habot.services.operations.stage import step_up
from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.fakeslack import TEAM, FakeSlack
from tests.kit.slack import LEAD as LEAD_USER
from tests.kit.slack import ask, cards, opened_form, outcome_told, runs, send_form
from tests.kit.stepup import STEP_UP
from tests.kit.stepup import stepped as stepped  # the fixture
from tests.kit.world import LEAD, OPERATOR, World, shown


def test_redundancy_ending_verbs_are_typed_by_default_and_each_may_be_set() -> None:
    """Operations that end redundancy are confirmed by typing the pair's name by default; each
    may be set otherwise."""
    default = StepUp()
    for operation in (Operation.MAKE_STANDALONE, Operation.INITIALISE, Operation.DEMOTE_PRIMARY):
        assert default.confirm(operation) is Confirm.TYPE_PAIR_NAME
    for operation in (Operation.SWITCHOVER, Operation.FAILOVER, Operation.FAILBACK):
        assert default.confirm(operation) is Confirm.CLICK
    settings = parse_settings({
        "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
        "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
        "approval": {"operations": {"failback": {"confirm": "type-pair-name"},
                                    "initialise": {"confirm": "click"}}},
    })  # fmt: skip
    configured = step_up(settings)
    assert configured.confirm(Operation.FAILBACK) is Confirm.TYPE_PAIR_NAME
    assert configured.confirm(Operation.INITIALISE) is Confirm.CLICK
    assert configured.confirm(Operation.MAKE_STANDALONE) is Confirm.TYPE_PAIR_NAME


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        (None, "Type the pair's name (prod)"),
        ("  ", "Type the pair's name (prod)"),
        ("dr", "not this request's pair: type prod exactly"),
        ("Prod", "not this request's pair"),
        ("prod", None),
        (" prod ", None),
    ],
)
def test_only_the_pairs_own_name_confirms(typed: str | None, words: str | None) -> None:
    """Only the pair's own name, typed, confirms an approval."""
    problem = name_problem("prod", typed)
    assert (problem is None) if words is None else (words in (problem or ""))


# -- the service, with the default step-up ------------------------------------------------


async def test_a_typed_approval_counts_only_with_the_pairs_name(stepped: World) -> None:
    """make-standalone's card asks for the name and its Approve has no one-click dialog;
    the click gives the form; without the name, or with another pair's, nothing counts;
    with it, the approval counts and the audit says how it was confirmed."""
    world = stepped
    await world.ask("make-standalone prod secondary")
    rid = world.request_id()
    card = shown(world.notifier.last())
    assert "Step-up: approving asks the approver to type *prod*" in card
    approve = next(e for b in world.notifier.last().blocks if b["type"] == "actions"
                   for e in b["elements"] if e["action_id"] == "approve_request")  # fmt: skip
    assert "confirm" not in approve
    where = Where("C0HAOPS", TEAM, TEAM)
    form = await world.service.click(RequestAction.APPROVE, LEAD, rid, f"request-{rid}-0", where)
    assert isinstance(form, Form)
    assert form.view["callback_id"] == APPROVE_FORM
    assert "redundancy ends" in json.dumps(form.view)
    for typed in (None, "dr"):
        refused = plain((await world.service.approve(LEAD, rid, typed)).parts)
        assert "Nothing was approved" in refused or "Type the pair's name" in refused
    request = await world.requests.get(rid)
    assert request is not None
    assert request.approvals == ()
    assert "1 more needed" in plain((await world.service.approve(LEAD, rid, "prod")).parts)
    [approved] = [r.event for r in await world.records() if r.event.kind == "approved"]
    assert approved.detail["confirm"] == "type-pair-name"
    own = await world.service.click(RequestAction.APPROVE, OPERATOR, rid, f"request-{rid}-1",
                                    where)  # fmt: skip
    assert not isinstance(own, Form)  # the requester is refused before any form
    assert "second person" in plain(own.parts)
    assert await world.state(rid) is RequestState.PENDING


# -- end to end ----------------------------------------------------------------------------


async def test_the_bot_runs_make_standalone_only_once_the_pairs_name_is_typed(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`habot run` with the built-in step-up: Approve on a make-standalone card opens the
    form; a wrong name is refused in the form and nothing runs; the right one runs it."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=STEP_UP)
    try:
        await ask(bot, fake, "make-standalone dr secondary")
        form = await opened_form(bot, fake, cards(fake)[-1], "approve_request", LEAD_USER)
        assert form["callback_id"] == APPROVE_FORM
        wrong = await send_form(bot, fake, form, LEAD_USER, {PAIR_NAME: "prod"})
        assert "not this request's pair" in json.loads(wrong)["errors"][PAIR_NAME]
        assert runs(sim, "dr") == []
        told = await send_form(bot, fake, form, LEAD_USER, {PAIR_NAME: "dr"})
        assert "running" in told
        await outcome_told(fake, "make-standalone", "dr")
        assert runs(sim, "dr") == [["secondary", "ha-make-standalone"]]
    finally:
        await bot.stop()
