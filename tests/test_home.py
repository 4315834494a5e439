"""The App Home dashboard: valid Block Kit at its largest, and only what the viewer can act on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from habot.config import parse_settings
from habot.core.approvals import Glass, Request, RequestAction, RequestState
from habot.core.cards import approval_card
from habot.core.catalogue import HaCommand
from habot.core.home import Ended, PairLine, Waiting, dashboard
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation, OperationPlan
from habot.core.roles import Access
from habot.core.stepup import Confirm
from habot.services.home import HomeRefresher, HomeService
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from tests.kit.botproc import ROLES, Bot, start_bot
from tests.kit.factories import Clock
from tests.kit.fakeslack import (
    FakeSlack,
    app_home_opened,
    home_block_action,
    interaction_body,
    view_submission,
)
from tests.kit.slack import (
    LEAD,
    OPS,
    ask,
    button,
    cards,
    direct_messages,
    final_card,
    home_opened,
    outcome_told,
    post,
    runs,
    started,
)
from tests.kit.slackcheck import problems_in_view

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def request(requester: str = "U0OPS", approvals: tuple[str, ...] = ()) -> Request:
    """A pending switchover."""
    return Request(
        "0a1b2c3d",
        Operation.SWITCHOVER,
        "prod",
        Role.PRIMARY,
        requester,
        NOW,
        NOW + timedelta(minutes=15),
        2,
        (Verdict.BAU, NodeState.ACTIVE, NodeState.STANDBY),
        RequestState.PENDING,
        approvals,
    )


PLAN = OperationPlan(
    Operation.SWITCHOVER, "prod", Role.PRIMARY, "10.0.0.1", HaCommand.FAILOVER,
    "the pair is BAU", ((Role.PRIMARY, frozenset({NodeState.DEMOTED})),),
    "This will hand operations over to the Secondary server.",
)  # fmt: skip
LINK = "https://habot-test.slack.com/archives/C0OPS/p1700000000000100"
EVERY_ACTION = tuple(RequestAction)


def waiting(r: Request | None = None, actions: tuple[RequestAction, ...] = EVERY_ACTION,
            confirm: Confirm = Confirm.CLICK) -> Waiting:  # fmt: skip
    """A request waiting for the viewer, with its card's link."""
    return Waiting(r or request(), PLAN, actions, confirm, LINK)


def test_largest_dashboard_is_valid() -> None:
    """60 pairs, 30 requests, 30 operations: capped within 100 blocks and valid."""
    lines = [
        PairLine(
            f"pair{i}",
            Verdict.BAU,
            NodeState.ACTIVE,
            NodeState.STANDBY,
            NOW - timedelta(seconds=95),
            NOW + timedelta(hours=1),
            NOW + timedelta(minutes=5),
        )
        for i in range(60)
    ]
    done = replace(request(approvals=("U0LEAD",)), state=RequestState.SUCCEEDED)
    recent = [Ended(NOW, "prod", "succeeded", done, LINK) for _ in range(30)]
    later = replace(request(), run_at=NOW + timedelta(hours=2))
    owed = [replace(done, glass=Glass("U0OPS", NOW, "Primary down at night"))] * 10
    view = dashboard(
        lines,
        [waiting(replace(request(), id=f"{i:08x}")) for i in range(30)],
        recent,
        "/ha",
        NOW,
        owed,
        [later] * 30,
    )
    assert problems_in_view(view) == []
    text = str(view)
    assert "alerts muted until <!date^" in text
    assert "|04:00 UTC>" in text
    assert "cooldown until <!date^1795662300^{date_short_pretty} at {time}|03:05 UTC>" in text
    # every reader sees their own time zone, to the second; the age never goes stale
    assert (
        "read <!date^1795661905^{date_short_pretty} at {time_secs}|02:58:25 UTC> (1 min 35 s"
        in text
    )
    assert "As of <!date^1795662000^{date_short_pretty} at {time_secs}|03:00:00 UTC>" in text


def test_dashboard_says_an_unreachable_pair_in_words() -> None:
    """A pair habot cannot fully reach is explained where to look, not just named."""
    line = PairLine(
        "prod", Verdict.PRIMARY_UNREACHABLE, NodeState.UNREACHABLE, NodeState.STANDBY, NOW
    )
    text = str(dashboard([line], [], [], "/ha", NOW))
    assert "habot cannot reach the Primary; the Secondary still sees it up" in text
    assert "not the appliance" in text


def test_empty_dashboard_says_so() -> None:
    """No readings, requests or operations yet: each section says so."""
    view = dashboard([PairLine("prod", None, None, None, None)], [], [], "/ha", NOW)
    assert problems_in_view(view) == []
    text = str(view)
    assert "no reading yet" in text
    assert "Nothing right now." in text


class RecordingHome:
    """The Home port, recording publishes; each publish can be held up to test coalescing."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()

    async def roles_of(self, user: str) -> frozenset[Access]:
        return frozenset({Access.VIEWER})

    async def publish(self, user: str, view: dict[str, Any]) -> None:
        self.entered.set()
        await self.gate.wait()
        self.published.append(user)


async def test_refreshes_coalesce_and_reach_every_recent_viewer(memory: Stores) -> None:
    """Ten changes during a slow refresh cause one more round, not ten; viewers who have
    not opened their Home for over 30 days are left alone."""
    clock = Clock(NOW)
    settings = parse_settings(
        {
            "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
        },
        "test",
    )
    await memory.viewers.opened("U0OLD", NOW - timedelta(days=31))
    home = HomeService(
        settings=settings,
        readings=memory.readings,
        alerts=memory.alerts,
        requests=memory.requests,
        audit=memory.audit,
        clock=clock,
        viewers=memory.viewers,
    )
    port = RecordingHome()
    refresher = HomeRefresher(home, port)
    await refresher.opened("U0ONE")
    await refresher.opened("U0TWO")
    assert port.published == ["U0ONE", "U0TWO"]
    port.gate.clear()
    port.entered.clear()
    refresher.refresh()
    await port.entered.wait()  # the first round is now publishing, held at the gate
    for _ in range(10):
        refresher.refresh()
    port.gate.set()
    await refresher.close()
    assert sorted(port.published[2:]) == ["U0ONE", "U0ONE", "U0TWO", "U0TWO"]


async def test_home_is_republished_when_a_reading_changes(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """End to end: a viewer opens Home; the Primary stops; their Home is published again
    showing "Primary down", without them opening it again."""
    extra = ROLES + '\n[schedule]\nstatus_every = "1s"\n'
    bot: Bot = await start_bot(sim, fake, tmp_path, http=False, extra=extra)
    try:
        await fake.send_envelope(
            "events_api", app_home_opened("U0VIEW1"), retry_attempt=0, retry_reason=""
        )
        [first] = await fake.wait_for(lambda: fake.calls_to("views.publish"))
        assert first.args["user_id"] == "U0VIEW1"
        assert "Primary down" not in json.dumps(first.args["view"])
        await sim.apply("prod", "primary", "down")

        def down() -> list[Any]:
            return [
                c
                for c in fake.calls_to("views.publish")
                if c.args["user_id"] == "U0VIEW1" and "Primary down" in json.dumps(c.args["view"])
            ]

        [republished, *_] = await fake.wait_for(down)
        assert problems_in_view(json.loads(json.dumps(republished.args["view"]))) == []
        assert fake.invalid == []
    finally:
        await bot.stop()


def test_a_big_fleet_drops_no_pair_silently() -> None:
    """60 pairs: those not in BAU come first, 40 get their own line, and the other 20 are
    named with where to look; 30 requests waiting: 8 shown, and the rest counted."""

    def line(i: int) -> PairLine:
        verdict = Verdict.DEGRADED if i % 4 == 0 else Verdict.BAU
        return PairLine(f"pair-{i:02d}-with-a-long-name", verdict, NodeState.ACTIVE,
                        NodeState.STANDBY, NOW - timedelta(seconds=95))  # fmt: skip

    lines = [line(i) for i in range(60)]
    view = dashboard(
        lines, [waiting(replace(request(), id=f"{i:08x}")) for i in range(30)], [], "/ha", NOW
    )
    assert problems_in_view(view) == []
    texts = [json.dumps(b, ensure_ascii=False) for b in view["blocks"]]
    own = [t for t in texts if "no reading yet" in t or "long-name*" in t]
    assert len(own) == 40
    assert all(f"pair-{i:02d}-" in "".join(own) for i in range(0, 60, 4))  # every non-BAU
    [more] = [t for t in texts if "more pairs" in t]
    assert "… and 20 more pairs" in more
    assert "see `/ha status PAIR`" in more
    assert all(f"pair-{i:02d}-" in "".join(texts) for i in range(60))  # every pair named
    assert any("… and 22 more waiting for you — see `/ha pending`" in t for t in texts)


def test_home_offers_the_cards_own_buttons_with_a_link_to_the_card() -> None:
    """A request waiting for the viewer has the card's Approve / Reject / Cancel — the same
    action ids, block id and confirm dialog, so a click is judged by the same rules — and a
    link to the card; only what the viewer may do is offered."""
    card = approval_card(request(), PLAN)
    [card_buttons] = [b for b in card.blocks if b["type"] == "actions"]
    view = dashboard([], [waiting()], [], "/ha", NOW)
    [home_buttons] = [b for b in view["blocks"] if b["type"] == "actions"]

    def unlabelled(block: dict[str, Any]) -> dict[str, Any]:
        return {**block, "elements": [{k: v for k, v in e.items() if k != "text"}
                                      for e in block["elements"]]}  # fmt: skip

    assert unlabelled(home_buttons) == unlabelled(card_buttons)
    # on Home only its viewer's buttons are offered: Cancel needs no "(requester)"
    assert [e["text"]["text"] for e in home_buttons["elements"]] == ["Approve", "Reject", "Cancel"]
    assert f"<{LINK}|its card>" in json.dumps(view)
    approver_only = dashboard([], [waiting(actions=(RequestAction.APPROVE, RequestAction.REJECT))],
                              [], "/ha", NOW)  # fmt: skip
    [buttons] = [b for b in approver_only["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in buttons["elements"]] == ["approve_request", "reject_request"]
    assert "confirm" in buttons["elements"][0]
    assert ":warning: This will hand operations over" in json.dumps(buttons["elements"][0])
    typed = dashboard([], [waiting(confirm=Confirm.TYPE_PAIR_NAME)], [], "/ha", NOW)
    [buttons] = [b for b in typed["blocks"] if b["type"] == "actions"]
    assert "confirm" not in buttons["elements"][0]  # the form asks for the pair's name instead
    assert problems_in_view(view) == []


def test_recent_operations_say_what_ran_who_asked_who_approved_and_how_it_ended() -> None:
    """ "switchover on prod by @Olivia, approved by @Amir · Succeeded", with its card;
    a break-glass run says it had no second approver."""
    done = replace(request("U0OLIVIA", ("U0AMIR",)), state=RequestState.SUCCEEDED)
    glass = Glass("U0OLIVIA", NOW, "Primary down at night")
    broken = replace(request("U0OLIVIA"), state=RequestState.UNKNOWN, glass=glass)
    view = dashboard([], [], [Ended(NOW, "prod", "succeeded", done, LINK),
                              Ended(NOW, "prod", "unknown", broken, None),
                              Ended(NOW, "dr", "failed", None, None)], "/ha", NOW)  # fmt: skip
    lines = [json.dumps(b, ensure_ascii=False) for b in view["blocks"] if b["type"] == "context"]
    [ok] = [t for t in lines if "approved by" in t]
    assert "`0a1b2c3d` switchover on *prod* by <@U0OLIVIA>, approved by <@U0AMIR>" in ok
    assert ":white_check_mark: Succeeded" in ok
    assert f"<{LINK}|its card>" in ok
    [glassed] = [t for t in lines if "break glass" in t]
    assert "run without a second approver (break glass) · :warning: Interrupted" in glassed
    [gone] = [t for t in lines if "*dr*" in t]
    assert "an operation on *dr* · failed" in gone
    assert problems_in_view(view) == []


async def open_home(bot: Bot, fake: FakeSlack, user: str, showing: str) -> dict[str, Any]:
    """``user`` opens their App Home (a signed app_home_opened event); the view habot
    published for them once it shows ``showing``."""
    await home_opened(bot, user)
    return await home_showing(fake, user, showing)


async def home_showing(fake: FakeSlack, user: str, showing: str) -> dict[str, Any]:
    """The latest Home view published for ``user`` once one shows ``showing``."""
    views = await fake.wait_for(
        lambda: [
            c.args["view"]
            for c in fake.calls_to("views.publish")
            if c.args["user_id"] == user and showing in json.dumps(c.args["view"])
        ]
    )
    return dict(views[-1])


def home_buttons(view: dict[str, Any], request_id: str) -> dict[str, Any]:
    """The buttons Home offers for one request: action id → (value, block id)."""
    [block] = [
        b for b in view["blocks"] if b.get("block_id", "").startswith(f"request-{request_id}-")
    ]
    return {e["action_id"]: (e["value"], block["block_id"]) for e in block["elements"]}


async def click_on_home(bot: Bot, user: str, action_id: str, value: str, block_id: str) -> None:
    """A signed click on a button of ``user``'s Home tab."""
    assert (
        await post(bot, interaction_body(home_block_action(action_id, value, block_id, user)))
        == 200
    )


async def told_directly(fake: FakeSlack, user: str, words: str) -> str:
    """The text of the direct message habot sent ``user`` that holds ``words``."""
    said = await fake.wait_for(
        lambda: [
            text for c in direct_messages(fake) if c.args["channel"] == user
            and words in (text := json.dumps(c.args, ensure_ascii=False))
        ]
    )  # fmt: skip
    return str(said[-1])


@pytest.fixture
async def http_bot(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """A running bot in HTTP mode, with the operations' approval settings."""
    running = await started(sim, fake, tmp_path)
    yield running
    await running.stop()


async def test_an_approver_approves_from_home_and_sees_how_it_ended(
    http_bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """End to end: an approver's Home lists the request with the card's buttons and a link
    to the card; Approve there (Slack sends no channel and no response_url from a view)
    counts under the card's rules, the run goes ahead once, the approver is answered in a
    direct message, and Home then reads "switchover by @ops, approved by @lead · Succeeded"."""
    await ask(http_bot, fake, "switchover prod")
    _, request_id, _ = button(cards(fake)[-1], "approve_request")
    view = await open_home(http_bot, fake, LEAD, request_id)
    offered = home_buttons(view, request_id)
    assert set(offered) == {"approve_request", "reject_request", "cancel_request"}
    # the link is the workspace's own (auth.test's url), not slack.com's redirect
    assert "<https://habot-test.slack.com/archives/C0HAOPS/p" in json.dumps(view)
    await click_on_home(http_bot, LEAD, "approve_request", *offered["approve_request"])
    assert "succeeded" in await outcome_told(fake, "switchover", "prod")
    await told_directly(fake, LEAD, "switchover")
    assert len(runs(sim)) == 1
    assert f"approved by <@{LEAD}>" in await final_card(fake, "Succeeded")
    done = await home_showing(fake, LEAD, "approved by")
    line = next(
        b
        for b in done["blocks"]
        if f"`{request_id}`" in json.dumps(b) and "approved" in json.dumps(b)
    )
    text = json.dumps(line, ensure_ascii=False)
    assert (
        f"switchover on *prod* by <@{OPS}>, approved by <@{LEAD}> · :white_check_mark: Succeeded"
        in text
    )
    assert "|its card>" in text
    assert fake.invalid == []


async def test_home_clicks_keep_the_cards_rules(
    http_bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """The requester's Home offers no Approve on their own request; their Approve sent
    from Home anyway is refused as on the card (no self-approval), and so is a click whose
    block is another request's; Reject from an approver's Home opens the card's form, and
    its answer comes by direct message. Nothing ran."""
    await ask(http_bot, fake, "switchover prod")
    _, request_id, block_id = button(cards(fake)[-1], "approve_request")
    mine = await open_home(http_bot, fake, OPS, request_id)
    assert "approve_request" not in home_buttons(mine, request_id)
    assert "cancel_request" in home_buttons(mine, request_id)
    await click_on_home(http_bot, OPS, "approve_request", request_id, block_id)
    assert "a second person" in await told_directly(fake, OPS, "You asked for this operation")
    await click_on_home(http_bot, LEAD, "approve_request", request_id, "request-ffffffff-0")
    assert "does not match" in await told_directly(fake, LEAD, "does not match")
    view = await open_home(http_bot, fake, LEAD, request_id)
    opened = len(fake.views)
    await click_on_home(
        http_bot, LEAD, "reject_request", *home_buttons(view, request_id)["reject_request"]
    )
    [form] = await fake.wait_for(lambda: fake.views[opened:])
    body = interaction_body(view_submission(form, LEAD, {"reason": "not tonight"}))
    assert await post(http_bot, body) == 200
    assert "rejected" in await told_directly(fake, LEAD, "rejected")
    assert "not tonight" in await told_directly(fake, OPS, "not tonight")
    assert runs(sim) == []
    assert fake.invalid == []
