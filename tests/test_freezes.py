"""Change freezes: `/ha freeze PAIR|all DURATION|until WHEN "reason"` holds planned
operations (refused when asked, held when approved) until it ends or is lifted; the
emergency failover stays possible with a typed reason and is marked as asked during it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from habot.config import parse_settings
from habot.core.asks import parse_freeze, parse_unfreeze
from habot.core.blocks import Form, render
from habot.core.freeze import PLANNED, Freeze, Window, covering, frozen_refusal, windows_holding
from habot.core.grammar import UsageError
from habot.core.home import PairLine, dashboard
from habot.core.model import NodeState, Verdict
from habot.core.operations import Operation
from habot.core.outbox import MessageKind
from habot.core.replies import Reply, plain
from habot.core.when import parse_when
from habot.errors import ConfigError
from habot.services.alerting import Alerter
from habot.services.commands import CommandService
from habot.services.freezes import FreezeService
from habot.services.ports import Stores
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.store.memory import memory_stores
from tests.kit.botproc import start_bot
from tests.kit.cli import habot as run_habot
from tests.kit.cli import on_database
from tests.kit.factories import Clock
from tests.kit.fakeslack import FakeSlack
from tests.kit.glass import said
from tests.kit.paging import T, drain
from tests.kit.paging import settings as paging_settings
from tests.kit.readings import BAD, T0
from tests.kit.slack import CONFIG, ask, runs
from tests.kit.slack import LEAD as LEAD_USER
from tests.kit.world import LEAD, OPERATOR, World, shown, world_on

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
UTC_ZONE = ZoneInfo("UTC")
PAIRS = ["prod", "dr"]


@pytest.mark.parametrize(
    ("words", "now", "zone", "expected"),
    [
        (["18:00"], NOW, LONDON, datetime(2026, 12, 3, 18, 0, tzinfo=UTC)),
        (["13:00"], NOW, LONDON, datetime(2026, 12, 4, 13, 0, tzinfo=UTC)),  # passed: tomorrow
        (["tomorrow", "02:00"], NOW, ZoneInfo("Asia/Tokyo"),
         datetime(2026, 12, 3, 17, 0, tzinfo=UTC)),  # 23:00 in Tokyo: 02:00 there is 17:00 UTC
        (["sat", "02:00"], NOW, LONDON, datetime(2026, 12, 5, 2, 0, tzinfo=UTC)),
        (["2026-12-24T18:00"], NOW, ZoneInfo("America/New_York"),
         datetime(2026, 12, 24, 23, 0, tzinfo=UTC)),
        (["2026-12-24", "18:00"], NOW, LONDON, datetime(2026, 12, 24, 18, 0, tzinfo=UTC)),
        # the night the clocks go forward in London: 02:00 local is BST, 01:00 UTC
        (["tomorrow", "02:00"], datetime(2027, 3, 27, 12, 0, tzinfo=UTC), LONDON,
         datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_moment_is_read_in_the_time_zone(
    words: list[str], now: datetime, zone: ZoneInfo, expected: datetime
) -> None:
    """A typed moment is read in the given time zone."""
    assert parse_when(words, now, zone)[0] == expected


@pytest.mark.parametrize(
    ("text", "pairs", "ends"),
    [
        ('freeze prod 3d "month-end close"', ("prod",), NOW + timedelta(days=3)),
        ("freeze all until 18:00 DR test in progress", ("all",), NOW.replace(hour=18)),
        ("freeze DR until tomorrow 02:00 vendor upgrade", ("dr",),
         datetime(2026, 12, 4, 2, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_freeze_is_parsed_with_its_pairs_end_and_reason(
    text: str, pairs: tuple[str, ...], ends: datetime
) -> None:
    """A freeze is parsed into its pairs, when it ends and why."""
    ask = parse_freeze(text, PAIRS, NOW, LONDON)
    assert (ask.pairs, ask.ends_at) == (pairs, ends)
    assert ask.reason


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("freeze prod 3d", "needs pairs, how long and a reason"),
        ("freeze qa 3d close", "There is no pair"),
        ("freeze prod 40d close", "at most 31 days"),
        ("freeze prod until 2026-12-01T10:00 close", "already passed"),
        ("freeze prod until someday close", "is not a moment habot understands"),
        ("freeze prod soon close", "duration"),
    ],
)
def test_a_bad_freeze_says_how(text: str, words: str) -> None:
    """A malformed freeze is a usage error saying how to write it."""
    with pytest.raises(UsageError, match=words):
        parse_freeze(text, PAIRS, NOW, LONDON)
    assert parse_unfreeze("unfreeze all", PAIRS) == ("all",)


def test_a_freeze_holds_planned_operations_and_lets_an_explained_failover_through() -> None:
    """A freeze holds planned operations on its pairs until it ends, and lets a failover with a
    reason through."""
    freeze = Freeze("f1", ("prod",), NOW, NOW + timedelta(hours=2), "month-end close", "U0LEAD1")
    assert covering([freeze], "prod", NOW + timedelta(hours=1)) == freeze
    assert covering([freeze], "dr", NOW) is None
    assert covering([freeze], "prod", NOW + timedelta(hours=2)) is None  # ended
    for operation in PLANNED:
        why = plain(frozen_refusal(operation, freeze, "even with a reason") or ())
        assert "prod is frozen until" in why
        assert "month-end close" in why
    assert "--override" in plain(frozen_refusal(Operation.FAILOVER, freeze, None) or ())
    assert frozen_refusal(Operation.FAILOVER, freeze, "INC-7: Primary lost power") is None
    everywhere = Freeze("f2", ("all",), NOW, NOW + timedelta(hours=1), "DR test", "U0LEAD1")
    assert covering([everywhere], "dr", NOW) == everywhere


async def test_freezes_are_kept_lifted_and_read_on_every_store(stores: Stores) -> None:
    """Freezes are kept, lifted and read alike on every store."""
    freezes = stores.freezes
    first = Freeze("f1", ("prod",), NOW, NOW + timedelta(hours=2), "close", "U0LEAD1")
    everywhere = Freeze("f2", ("all",), NOW, NOW + timedelta(hours=1), "DR test", "U0LEAD1")
    await freezes.add(first)
    await freezes.add(everywhere)
    assert await freezes.holding(NOW) == [everywhere, first]  # the soonest to end first
    assert await freezes.holding(NOW + timedelta(hours=3)) == []
    assert await freezes.lift(("dr",), "U0LEAD2", NOW) == []  # only freezes over exactly dr
    assert await freezes.lift(("prod",), "U0LEAD2", NOW) == [first]
    assert await freezes.holding(NOW) == [everywhere]
    assert await freezes.lift(("all",), "U0LEAD2", NOW) == [everywhere]
    assert await freezes.holding(NOW) == []


# -- the service ---------------------------------------------------------------------------


@pytest.fixture
async def frozen(sim: Simulator, memory: Stores) -> AsyncIterator[tuple[World, CommandService]]:
    """The operation and command services sharing one freeze service."""
    async with world_on(sim, memory) as world:
        freezes = FreezeService(memory.freezes, world.clock)
        world.service = world.with_service(freezes=freezes)
        commands = CommandService(
            settings=world.settings, status=StatusService(world.settings, world.runner,
                                                          world.clock),
            runner=world.runner, audit=world.audit, clock=world.clock, readings=memory.kept,
            operations=world.service, freezes=freezes,
        )  # fmt: skip
        yield world, commands


async def test_a_frozen_pair_refuses_planned_and_holds_pending_work(
    sim: Simulator, frozen: tuple[World, CommandService]
) -> None:
    """Asked before the freeze, a switchover's approval is held while it lasts; asked in
    it, it is refused; a failover with a reason goes through, its card saying so; the
    status card shows the freeze; after unfreeze the held one can be approved."""
    world, commands = frozen
    await world.ask("switchover prod")
    before = world.request_id()
    answer = await commands.handle(LEAD, 'freeze prod 2h "month-end close"')
    assert "prod frozen until" in plain(answer.parts)  # type: ignore[union-attr]
    assert answer.in_channel  # type: ignore[union-attr]
    held = plain((await world.service.approve(LEAD, before)).parts)
    assert "The request is held" in held
    assert world.runs() == []
    assert "prod is frozen until" in await world.ask("switchover prod")  # before busy
    await world.service.cancel(OPERATOR, before)
    status = await commands.handle(LEAD, "status prod")
    assert not isinstance(status, Form)
    assert "Frozen until" in json.dumps(render(status).blocks)
    await sim.apply("prod", "primary", "down")
    assert "--override" in await world.ask("failover prod")
    await world.ask('failover prod --override "INC-7: the Primary lost power"')
    card = shown(world.notifier.last())
    assert "under a change freeze (month-end close)" in card
    kinds = [r.event.kind for r in await world.records()]
    assert "frozen" in kinds
    lifted = await commands.handle(LEAD, "unfreeze prod")
    assert "Freeze lifted on prod" in plain(lifted.parts)  # type: ignore[union-attr]
    assert "unfrozen" in [r.event.kind for r in await world.records()]


# -- end to end ----------------------------------------------------------------------------


async def test_the_bot_refuses_a_planned_switchover_in_a_freeze_and_allows_an_explained_failover(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """The running bot refuses a planned switchover during a freeze, shows the freeze on the
    status card, and allows an explained failover."""
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=CONFIG)
    try:
        frozen_now = await said(bot, fake, 'freeze prod 1h "month-end close"', user=LEAD_USER)
        assert "prod frozen until" in frozen_now
        assert "prod is frozen until" in await said(bot, fake, "switchover prod")
        status = await said(bot, fake, "status prod")
        assert "Frozen until" in status
        await sim.apply("prod", "primary", "down")
        reply = await ask(bot, fake, 'failover prod --override "INC-7: the Primary lost power"')
        assert "approval needed" in reply
        assert runs(sim) == []
    finally:
        await bot.stop()


async def test_the_command_line_freezes_shows_and_lifts_like_slack(
    sim: Simulator, tmp_path: Path
) -> None:
    """`habot freeze`, `habot status --json` (the freeze on the pair), `habot unfreeze` —
    as the local user, audited."""
    config = tmp_path / "habot.toml"
    config.write_text(on_database(sim, tmp_path / "local.db"))
    done = await run_habot("--config", str(config), "freeze", "prod", "2h", "vendor", "window")
    assert done.code == 0, done.err
    assert "prod frozen until" in done.out
    shown_now = await run_habot("--config", str(config), "status", "prod", "--json")
    [pair] = json.loads(shown_now.out)
    assert pair["freeze"]["reason"] == "vendor window"
    assert pair["freeze"]["by"].startswith("cli:")
    bad = await run_habot("--config", str(config), "freeze", "prod", "40d", "too", "long")
    assert bad.code == 2
    assert "at most 31 days" in bad.err
    lifted = await run_habot("--config", str(config), "unfreeze", "prod")
    assert "Freeze lifted on prod" in lifted.out
    again = await run_habot("--config", str(config), "status", "prod", "--json")
    assert json.loads(again.out)[0]["freeze"] is None
    history = await run_habot("--config", str(config), "history", "--limit", "5")
    assert " ended the change freeze on prod" in history.out
    assert "froze changes on prod: " in history.out


# -- recurring windows from the configuration -----------------------------------------------

WEEKEND = Window(("prod",), "0 18 * * 5", timedelta(hours=62), "weekend change freeze")
MONTH_END = Window(("all",), "0 0 28 * *", timedelta(days=4), "month-end close")


@pytest.mark.parametrize(
    ("at", "zone", "windows", "expected"),
    [
        # Saturday noon: Friday 18:00's weekend window, until Monday 08:00
        (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), UTC_ZONE, [WEEKEND],
         [(datetime(2026, 12, 4, 18, 0, tzinfo=UTC), datetime(2026, 12, 7, 8, 0, tzinfo=UTC))]),
        (datetime(2026, 12, 7, 9, 0, tzinfo=UTC), UTC_ZONE, [WEEKEND], []),  # Monday: over
        (datetime(2026, 12, 4, 17, 59, tzinfo=UTC), UTC_ZONE, [WEEKEND], []),  # not yet
        # London's clocks go forward on Sunday 29 March 2027: Friday 18:00 GMT + 62 h
        (datetime(2027, 3, 28, 12, 0, tzinfo=UTC), LONDON, [WEEKEND],
         [(datetime(2027, 3, 26, 18, 0, tzinfo=UTC), datetime(2027, 3, 29, 8, 0, tzinfo=UTC))]),
        # both windows hold on Tuesday 29 December
        (datetime(2026, 12, 29, 12, 0, tzinfo=UTC), UTC_ZONE, [WEEKEND, MONTH_END],
         [(datetime(2026, 12, 28, 0, 0, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC))]),
    ],
)  # fmt: skip
def test_configured_windows_hold_from_each_start_for_their_length(
    at: datetime, zone: ZoneInfo, windows: list[Window], expected: list[tuple[datetime, datetime]]
) -> None:
    """A configured freeze window holds from each of its starts for its length."""
    held = windows_holding(windows, zone, at)
    assert [(f.starts_at, f.ends_at) for f in held] == expected
    assert all(f.by == "configuration" for f in held)


def test_a_window_is_validated_when_the_configuration_loads() -> None:
    """A freeze window is checked when the configuration loads, naming what is wrong."""
    base = {"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}]}  # fmt: skip
    window = {"start": "0 18 * * 5", "lasts": "62h", "reason": "weekend"}
    assert parse_settings({**base, "freeze": [window]}).freeze[0].pairs == ("all",)
    with pytest.raises(ConfigError, match="freeze 1: no pair dr"):
        parse_settings({**base, "freeze": [{**window, "pairs": ["dr"]}]})
    with pytest.raises(ConfigError, match="expected 5 fields"):
        parse_settings({**base, "freeze": [{**window, "start": "every friday"}]})
    with pytest.raises(ConfigError, match="between 1m and 31d"):
        parse_settings({**base, "freeze": [{**window, "lasts": "40d"}]})


async def test_a_configured_window_refuses_like_a_typed_one_and_is_not_lifted_by_hand(
    sim: Simulator, memory: Stores
) -> None:
    """A configured window refuses like a typed freeze and cannot be lifted by hand."""
    async with world_on(sim, memory) as world:
        world.clock.now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday
        freezes = FreezeService(memory.freezes, world.clock, windows=[WEEKEND])
        world.service = world.with_service(freezes=freezes)
        assert "weekend change freeze" in await world.ask("switchover prod")
        lifted = plain((await freezes.unfreeze(LEAD, ("prod",))).parts)
        assert "frozen by the configuration" in lifted
        assert "approval needed" in await world.ask("switchover dr")  # dr is not frozen


async def test_an_alert_during_a_freeze_still_alerts_and_says_so(memory: Stores) -> None:
    """A freeze silences nothing: the Primary going down in one raises the alert (and
    pages), and the card says it is during the freeze."""
    clock = Clock(T0)
    freezes = FreezeService(memory.freezes, clock)
    await freezes.freeze(LEAD, parse_freeze('freeze prod 1d "month-end close"', PAIRS, T0,
                                            LONDON))  # fmt: skip
    alerter = Alerter(settings=paging_settings(), states=memory.alerts, outbox=memory.outbox,
                      clock=clock, freezes=freezes)  # fmt: skip
    sent = []
    for _ in range(3):
        clock.now += 5 * T
        await alerter.observe(replace(BAD, observed_at=clock.now))
        sent += await drain(memory.outbox)
    [card] = [p for k, _, p in sent if k == MessageKind.POST]
    assert "During a change freeze" in json.dumps(card["blocks"])
    assert "month-end close" in json.dumps(card["blocks"])
    assert [k for k, _, _ in sent].count(MessageKind.PAGE) == 2  # both tools, as ever


def test_app_home_shows_a_frozen_pair() -> None:
    """App Home shows a frozen pair with until when and why."""
    line = PairLine("prod", None, None, None, None,
                    frozen=(NOW + timedelta(hours=2), "month-end close"))  # fmt: skip
    reading = replace(line, verdict=Verdict.BAU, primary=NodeState.ACTIVE,
                      secondary=NodeState.STANDBY, read_at=NOW)  # fmt: skip
    view = json.dumps(dashboard([reading], [], [], "/ha", NOW))
    assert ":snowflake: frozen until" in view
    assert "month-end close" in view


@pytest.mark.parametrize(("setting", "operator_may"), [(None, False), ("operator", True),
                                                        ("approver", False)])  # fmt: skip
async def test_who_may_freeze_is_approvers_unless_set(
    frozen: tuple[World, CommandService], setting: str | None, operator_may: bool
) -> None:
    """[roles] freeze: approvers by default; "operator" lets operators freeze and unfreeze
    too. A refusal names the role it needs."""
    world, _ = frozen
    roles = world.settings.roles
    changed = roles.model_copy(update={"freeze": setting}) if setting else roles
    settings = world.settings.model_copy(update={"roles": changed})
    stores = memory_stores()
    commands = CommandService(
        settings=settings, status=StatusService(settings, world.runner, world.clock),
        runner=world.runner, audit=world.audit, clock=world.clock, readings=stores.kept,
        operations=world.service, freezes=FreezeService(stores.freezes, world.clock),
    )  # fmt: skip
    answer = await commands.handle(OPERATOR, 'freeze prod 1h "month-end close"')
    assert isinstance(answer, Reply)
    assert ("prod frozen until" in plain(answer.parts)) is operator_may
    assert ("needs the approver role" in plain(answer.parts)) is not operator_may


class _Zones:
    """Slack's users.info at the Zones port: each person's own time zone."""

    def __init__(self, zones: dict[str, str]) -> None:
        self.zones = zones
        self.asked: list[str] = []

    async def zone_of(self, user: str) -> str | None:
        self.asked.append(user)
        return self.zones.get(user)


@pytest.mark.parametrize(
    ("zone", "ends"),
    [
        ("Asia/Tokyo", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),  # 18:00 in Tokyo
        (None, datetime(2026, 11, 26, 18, 0, tzinfo=UTC)),  # unknown: [schedule] timezone
        ("Mars/Olympus", datetime(2026, 11, 26, 18, 0, tzinfo=UTC)),  # not a zone: the same
    ],
)
async def test_until_is_read_in_the_freezers_own_time_zone(
    frozen: tuple[World, CommandService], zone: str | None, ends: datetime
) -> None:
    """`until 18:00` means 18:00 where the person typing it lives (Slack's users.info),
    else in [schedule] timezone. Only a command that names a time asks Slack."""
    world, _ = frozen
    stores = memory_stores()
    zones = _Zones({LEAD.user: zone} if zone else {})
    commands = CommandService(
        settings=world.settings, status=StatusService(world.settings, world.runner, world.clock),
        runner=world.runner, audit=world.audit, clock=world.clock, readings=stores.kept,
        operations=world.service, freezes=FreezeService(stores.freezes, world.clock),
        zones=zones,
    )  # fmt: skip
    await commands.handle(LEAD, "status prod")
    assert zones.asked == []
    await commands.handle(LEAD, 'freeze prod until 18:00 "month-end close"')
    [held] = await stores.freezes.holding(world.clock())
    assert held.ends_at == ends
    assert zones.asked == [LEAD.user]
