"""Level 1 is whoever is on call: PagerDuty's on-call people (matched to Slack users by
email) who hold the approver role — looked up through its REST API, cached a minute, and
when the lookup fails the configured level 1 is asked and the card says why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from habot.config import Settings, parse_settings
from habot.core.oncall import FirstLevel, OnCall, first_level, parse_oncalls
from habot.core.roles import RolePolicy
from habot.errors import ConfigError
from habot.pager.check import check_paging
from habot.pager.oncall import PagerDutyOnCall
from habot.secrets import Secrets
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from habot.slack.directory import GroupDirectory
from tests.kit.botproc import BOT_TOKEN, start_bot
from tests.kit.fakepager import API_TOKEN, FakePagers
from tests.kit.fakeslack import FakeSlack
from tests.kit.paging import PAGE_ENV, paging_config
from tests.kit.slack import ask, cards
from tests.kit.world import LEAD, LEAD2, KnownApprovers, World, shown, world_on
from tests.kit.world import world as world  # the fixture

CONFIGURED = ("U0LEAD1",)
SCHEDULE = "PSCHED1"
PEOPLE = [("PUSER1", "Lead Two", "lead2@example.com"), ("PUSER2", "Not Here", "gone@example.com")]
EMAILS = {"lead2@example.com": LEAD2.user}


def test_level_one_is_the_on_call_approvers_or_the_configured_level_saying_why() -> None:
    """Level 1 is whoever is on call and an approver; when nobody is, the configured level,
    saying why."""
    on_call = OnCall(frozenset({"U0LEAD2", "U0OPS1"}))
    assert first_level(CONFIGURED, on_call, frozenset({"U0LEAD1", "U0LEAD2"})) == FirstLevel(
        ("U0LEAD2",)
    )
    assert first_level(CONFIGURED, on_call, None).entries == ("U0LEAD2", "U0OPS1")
    nobody = first_level(CONFIGURED, OnCall(frozenset({"U0OPS1"})), frozenset({"U0LEAD1"}))
    assert nobody.entries == CONFIGURED
    assert "holds the approver role" in (nobody.fallback or "")
    failed = first_level(CONFIGURED, OnCall(failure="PagerDuty's rate limit"), None)
    assert failed.entries == CONFIGURED
    assert "lookup failed (PagerDuty's rate limit)" in (failed.fallback or "")
    assert FirstLevel.from_json(failed.to_json()) == failed


def test_an_answer_that_is_not_on_calls_is_refused() -> None:
    """A PagerDuty answer that is not an on-calls list is refused, saying what is wrong."""
    with pytest.raises(ValueError, match="no 'oncalls' list"):
        parse_oncalls({"error": {"message": "nope"}})
    with pytest.raises(ValueError, match="has no user"):
        parse_oncalls({"oncalls": [{"schedule": {}}]})
    twice = [{"user": {"id": "P1", "email": "a@x"}}] * 2
    page = parse_oncalls({"oncalls": twice, "more": True})
    assert page.people == ("a@x",)
    assert page.more


def test_on_call_needs_escalation_levels_to_fall_back_on() -> None:
    """On-call schedules need escalation levels to fall back on, or the configuration is
    refused."""
    base = {"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"\[approval\] escalation must list the levels"):
        parse_settings({**base, "paging": {"oncall_schedules": [SCHEDULE]}})
    ok = parse_settings({**base, "paging": {"oncall_schedules": [SCHEDULE]},
                         "approval": {"escalation": [list(CONFIGURED)]}})  # fmt: skip
    assert ok.paging.oncall_schedules == (SCHEDULE,)


# -- the adapters, against the fakes -------------------------------------------------------


class Ticks:
    """A monotonic clock a test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lookup(pagers: FakePagers, ticks: Ticks, token: str | None = API_TOKEN) -> PagerDutyOnCall:
    async def slack_user(email: str) -> str | None:
        return EMAILS.get(email)

    return PagerDutyOnCall(
        api_url=pagers.api_url, schedules=[SCHEDULE], token=lambda: token,
        slack_user=slack_user, ticks=ticks,
    )  # fmt: skip


async def test_pagerduty_is_asked_for_the_schedules_on_call_and_cached_a_minute(
    pagers: FakePagers,
) -> None:
    """Every page of the answer is read (here one entry per page); people are matched by
    email (one has no Slack user); the answer is used for a minute, then asked again."""
    pagers.on_call = {SCHEDULE: PEOPLE, "POTHER": [("PUSER9", "Other", "other@example.com")]}
    pagers.page_size = 1
    ticks = Ticks()
    oncall = lookup(pagers, ticks)
    assert await oncall.now() == OnCall(frozenset({LEAD2.user}))
    first = pagers.oncall_asks[0]
    assert ("schedule_ids[]", SCHEDULE) in first
    assert ("include[]", "users") in first
    assert ("earliest", "true") in first
    assert len(pagers.oncall_asks) == 2  # two people, one per page
    ticks.now += 59
    await oncall.now()
    assert len(pagers.oncall_asks) == 2
    ticks.now += 2
    await oncall.now()
    assert len(pagers.oncall_asks) == 4


async def test_a_lookup_that_fails_says_why_and_is_tried_again_soon(pagers: FakePagers) -> None:
    """A failed on-call lookup says why and is tried again soon, not cached as an answer."""
    pagers.on_call = {SCHEDULE: PEOPLE}
    ticks = Ticks()
    refused = await lookup(pagers, ticks, token="wrong").now()
    assert refused.failure == "PagerDuty refused the token (pagerduty_api_token)"
    assert (await lookup(pagers, ticks, token=None).now()).failure == (
        "no pagerduty_api_token in the keyring or environment"
    )
    oncall = lookup(pagers, ticks)
    pagers.fail_next[:] = [503]
    assert (await oncall.now()).failure == "PagerDuty answered HTTP 503"
    ticks.now += 11
    assert (await oncall.now()).users == frozenset({LEAD2.user})
    await pagers.stop()
    ticks.now += 61
    down = await oncall.now()
    assert down.failure is not None
    assert "did not answer" in down.failure


async def test_slack_matches_an_email_to_its_user(fake: FakeSlack) -> None:
    """users.lookupByEmail: found, not found (users_not_found), or not allowed (the scope
    missing) — the last two are None, never an error."""
    fake.emails = EMAILS
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    directory = GroupDirectory(client, RolePolicy.of(["*"], [], ["U0LEAD1"]))
    assert await directory.user_by_email("lead2@example.com") == LEAD2.user
    assert await directory.user_by_email("gone@example.com") is None
    fake.scopes = tuple(s for s in fake.scopes if s != "users:read.email")
    assert await directory.user_by_email("new@example.com") is None


async def test_habot_check_tries_the_on_call_lookup(pagers: FakePagers, tmp_path: Path) -> None:
    """habot check tries the on-call lookup and says who is on call, or why it failed."""
    pagers.on_call = {SCHEDULE: PEOPLE}
    settings = oncall_settings(pagers)
    [check] = await check_paging(settings, Secrets({"HABOT_PAGERDUTY_API_TOKEN": API_TOKEN}), False)
    assert (check.ok, check.detail) == (True, f"2 on call now in {SCHEDULE}")
    [missing] = await check_paging(settings, Secrets({}), False)
    assert missing.ok is False
    assert "HABOT_PAGERDUTY_API_TOKEN" in missing.detail


def oncall_settings(pagers: FakePagers) -> Settings:
    return parse_settings({
        "ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
        "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}],
        "approval": {"escalation": [list(CONFIGURED)]},
        "paging": {"oncall_schedules": [SCHEDULE], "pagerduty_api_url": pagers.api_url},
    })  # fmt: skip


# -- the service ---------------------------------------------------------------------------


class FixedOnCall:
    """The OnCallLookup port, answering what the test says."""

    def __init__(self, answer: OnCall) -> None:
        self.answer = answer

    async def now(self) -> OnCall:
        return self.answer


@pytest.fixture
async def on_call_world(sim: Simulator, memory: Stores) -> AsyncIterator[World]:
    async with world_on(sim, memory) as world:
        approval = world.settings.approval.model_copy(update={"escalation": (CONFIGURED,)})
        world.settings = world.settings.model_copy(update={"approval": approval})
        yield world


def with_on_call(world: World, answer: OnCall) -> None:
    world.service = world.with_service(
        settings=world.settings,
        approvers=KnownApprovers(frozenset({LEAD.user, LEAD2.user})),
        oncall=FixedOnCall(answer),
    )


async def test_a_new_request_asks_who_is_on_call(on_call_world: World) -> None:
    """A new request asks whoever is on call, and its card and audit say so."""
    world = on_call_world
    with_on_call(world, OnCall(frozenset({LEAD2.user, "U0OPS9"})))
    await world.ask("switchover prod")
    assert [u for u, _ in world.notifier.directs] == [LEAD2.user]  # on call and an approver
    assert "level 1 (on call: <@U0LEAD2>)" in shown(world.notifier.last())
    [escalated] = [r.event for r in await world.records() if r.event.kind == "escalated"]
    assert escalated.detail["asked"] == [LEAD2.user]
    assert escalated.detail["on_call"] == "looked up"


async def test_a_failed_lookup_asks_the_configured_level_and_the_card_says_so(
    on_call_world: World,
) -> None:
    """When the lookup fails, the configured level 1 is asked and the card says why."""
    world = on_call_world
    with_on_call(world, OnCall(failure="PagerDuty answered HTTP 503"))
    await world.ask("switchover prod")
    assert [u for u, _ in world.notifier.directs] == [LEAD.user]
    card = json.dumps(world.notifier.last().blocks)
    assert "level 1 (<@U0LEAD1>)" in card
    assert "lookup failed (PagerDuty answered HTTP 503): asked level 1 as configured" in card


# -- end to end ----------------------------------------------------------------------------


async def test_the_bot_dms_whoever_pagerduty_has_on_call(
    sim: Simulator, fake: FakeSlack, pagers: FakePagers, tmp_path: Path
) -> None:
    """`habot run` with oncall_schedules: a switchover's level 1 is the approver PagerDuty
    has on call (found by email in Slack), not the configured one, and the card says so."""
    pagers.on_call = {SCHEDULE: PEOPLE}
    fake.emails = EMAILS
    extra = (
        paging_config(pagers).replace(
            'approvers = ["U0LEAD1"]', 'approvers = ["U0LEAD1", "U0LEAD2"]'
        )
        + f'oncall_schedules = ["{SCHEDULE}"]\npagerduty_api_url = "{pagers.api_url}"\n'
        + '\n[approval]\nescalation = [["U0LEAD1"]]\n'
    )
    env = {**PAGE_ENV, "HABOT_PAGERDUTY_API_TOKEN": API_TOKEN}
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=extra, env=env)
    try:
        await ask(bot, fake, "switchover prod")

        def dms() -> list[Any]:
            return [c.args["channel"] for c in fake.calls_to("chat.postMessage")
                    if str(c.args.get("channel", "")).startswith("U")]  # fmt: skip

        assert await fake.wait_for(dms) == [LEAD2.user]
        updated = await fake.wait_for(lambda: [
            u for u in fake.calls_to("chat.update") if "on call: <@U0LEAD2>" in json.dumps(u.args)
        ])  # fmt: skip
        assert updated
        assert cards(fake)
        assert fake.calls_to("users.lookupByEmail")
    finally:
        await bot.stop()
