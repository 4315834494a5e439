"""Console pairs end to end: `habot run --http` as a real process, the simulator's `prod`
offering only its interactive HA console with a password login (no exec) beside `dr`
reached by key and exec — a mixed fleet — and signed requests from the fake Slack."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from habot.core.model import NodeState, Role
from habot.sim.simulator import Simulator
from tests.kit.botproc import Bot, start_bot
from tests.kit.cli import Ran
from tests.kit.factories import fast_config_file
from tests.kit.fakeslack import FakeSlack
from tests.kit.http import click_raw, reply, shown
from tests.kit.procedures import everything_stored, say
from tests.kit.slack import CONFIG, LEAD, LEAD2, ask, cards, click, outcome_told, runs

P, S = Role.PRIMARY, Role.SECONDARY
NO_COOLDOWN = CONFIG.replace('cooldown = "10m"', 'cooldown = "1s"')


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """`prod` behind its console (password login, no exec), `dr` by key and exec."""
    async with Simulator(tmp_path / "sim", ("prod", "dr"), console=("prod",)) as simulator:
        yield simulator


@pytest.fixture
async def bot(sim: Simulator, fake: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """A running bot at -vv (the most it logs: the password must stay out even so)."""
    running = await start_bot(sim, fake, tmp_path, http=True, extra=NO_COOLDOWN, verbose=2)
    yield running
    await running.stop()


async def approved(bot: Bot, fake: FakeSlack, text: str, *approvers: str) -> str:
    """Ask for an operation (after the 1 s cooldown), have it approved, wait for a new card
    update saying it Succeeded; return that card's text."""
    operation = text.split()[0]
    await asyncio.sleep(1.1)
    before = len(succeeded(fake, operation))
    assert " needed before " in await ask(bot, fake, text)  # 1 approval, or 2
    card = cards(fake)[-1]
    for approver in approvers:
        await click(bot, fake, card, "approve_request", approver)
    return (await fake.wait_for(lambda: succeeded(fake, operation)[before:]))[-1]


def succeeded(fake: FakeSlack, operation: str) -> list[str]:
    """Card updates so far that say ``operation`` Succeeded."""
    return [
        text
        for u in fake.calls_to("chat.update")
        if "Succeeded" in (text := json.dumps(u.args["blocks"])) and f"*{operation}*" in text
    ]


def states(sim: Simulator) -> tuple[NodeState, NodeState]:
    """prod's two nodes' own states."""
    nodes = sim.pairs["prod"].nodes
    return nodes[P].state, nodes[S].state


async def test_every_operation_runs_through_slack_on_a_console_pair(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """Switchover, failback, failover after a power cut, demote-primary on the split brain
    that follows, failback, make-standalone, joining-code and initialise — each typed at
    the console by habot, verified from a fresh reading, and BAU at the end; the password
    appears in no log line at -vv, no Slack message and no table."""
    await approved(bot, fake, "switchover prod", LEAD)
    assert states(sim) == (NodeState.DEMOTED, NodeState.PROMOTED_ACTIVE)
    await approved(bot, fake, "failback prod", LEAD2)
    assert states(sim) == (NodeState.ACTIVE, NodeState.STANDBY)

    await sim.apply("prod", "primary", "down")
    await approved(bot, fake, "failover prod", LEAD)
    await sim.apply("prod", "primary", "up")  # it never heard: two Active servers
    assert "SPLIT BRAIN" in await say(bot, fake, "status prod")
    await approved(bot, fake, "demote-primary prod", LEAD2)
    await approved(bot, fake, "failback prod", LEAD)
    assert states(sim) == (NodeState.ACTIVE, NodeState.STANDBY)

    await approved(bot, fake, "make-standalone prod secondary", LEAD, LEAD2)
    assert "is running" in await ask(bot, fake, "joining-code prod")  # required = 0
    await fake.wait_for(
        lambda: [c for c in fake.calls_to("chat.postEphemeral") if "Joining code" in str(c.args)]
    )
    # the code arrives before the run closes: initialise waits for its outcome
    assert "succeeded" in await outcome_told(fake, "joining-code", "prod")
    final = await approved(bot, fake, "initialise prod", LEAD)
    assert "*After:* BAU" in final
    assert runs(sim) == [
        ["primary", "ha-failover"],
        ["secondary", "ha-failback"],
        ["secondary", "ha-failover"],
        ["primary", "ha-demote-primary"],
        ["secondary", "ha-failback"],
        ["secondary", "ha-make-standalone"],
        ["secondary", "ha-create-joining-code"],
        ["secondary", "ha-create-joining-code"],
        ["primary", "ha-initialise"],
    ]
    assert states(sim) == (NodeState.ACTIVE, NodeState.STANDBY)
    password = sim.kit.console_password()
    log = await bot.stop()
    assert "DEBUG" in log  # it really did log at -vv
    assert password not in log
    assert password not in json.dumps([c.args for c in fake.calls] + [fake.responses])
    assert password not in everything_stored(bot.database)


async def test_a_command_the_console_does_not_offer_is_refused_before_any_approval(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """When the Primary's banner stops listing ha-demote-primary, asking for it is refused
    at once — naming the node and what it does offer — with no card and nothing run; the
    raw view shows the list."""
    await sim.apply("prod", "primary", "withhold", "ha-demote-primary")
    posted = len(cards(fake))
    refused = await say(bot, fake, "demote-primary prod")
    assert "does not offer ha-demote-primary now" in refused
    assert "ha-failover, ha-make-standalone, ha-status" in refused
    assert len(cards(fake)) == posted
    assert runs(sim) == []
    raw = shown(await click_raw(bot, fake, await reply(bot, fake, "status prod")))
    assert "its console offers: ha-failover, ha-make-standalone, ha-status" in raw
    assert "prod-primary>" not in raw  # the prompt is not part of the output


async def test_status_all_reads_a_mixed_fleet_alike(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """A console pair and an exec pair side by side: both BAU, in one answer."""
    answer = await say(bot, fake, "status all")
    assert "*prod*" in answer
    assert "*dr*" in answer
    assert answer.count("BAU") >= 2


async def cli(sim: Simulator, *args: str, env: dict[str, str]) -> Ran:
    """`python -m habot ARGS` with the simulator's fast config and extra environment."""
    config = fast_config_file(sim)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env={**os.environ, "HABOT_CONFIG": "", "HABOT_SSH_PASSWORD": "", **env},
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def test_the_cli_reads_and_checks_a_mixed_fleet(sim: Simulator) -> None:
    """`habot status all --json` and `habot check` treat both pairs alike; check shows the
    console step and the offered commands for the console pair only."""
    env = {"HABOT_SSH_PASSWORD_PROD": sim.kit.console_password()}
    status = await cli(sim, "status", "all", "--json", env=env)
    assert status.code == 0, status.err
    data = {p["pair"]: p for p in json.loads(status.out)}
    assert {p["verdict"] for p in data.values()} == {"bau"}
    assert data["prod"]["nodes"]["primary"]["offered"] == [
        "ha-demote-primary", "ha-failover", "ha-make-standalone", "ha-status",
    ]  # fmt: skip
    assert data["dr"]["nodes"]["primary"]["offered"] is None
    check = await cli(sim, "check", env=env)
    assert check.code == 0, check.out + check.err
    lines = check.out.splitlines()
    prod = [line for line in lines if line.startswith("prod ")]
    dr = [line for line in lines if line.startswith("dr ")]
    assert all("✓ console" in line for line in prod)
    assert len(prod) == 2
    assert not any("console" in line for line in dr)
    offers = [line.strip() for line in lines if "its console offers" in line]
    assert offers == [
        "its console offers: ha-demote-primary, ha-failover, ha-make-standalone, ha-status",
        "its console offers: ha-failover, ha-make-standalone, ha-status",
    ]


async def test_a_wrong_password_fails_only_its_pair_and_is_never_shown(sim: Simulator) -> None:
    """prod's nodes are "authentication failed"; dr is read as usual; exit 1; the wrong
    password shows nowhere in the output."""
    wrong = "not-the-" + sim.kit.console_password()[:8]
    ran = await cli(sim, "status", "all", "--json", env={"HABOT_SSH_PASSWORD": wrong})
    assert ran.code == 1
    data = {p["pair"]: p for p in json.loads(ran.out)}
    assert data["dr"]["verdict"] == "bau"
    errors = [data["prod"]["nodes"][r.value]["error"] for r in Role]
    assert all("authentication failed" in str(e) for e in errors)
    assert wrong not in ran.out + ran.err


async def test_a_missing_password_is_said_for_its_pair_and_every_other_pair_is_read(
    sim: Simulator,
) -> None:
    """No password anywhere for the console pair: its nodes say where to put one (the
    keyring entry and the variables), and the other pair is read as usual — one pair's
    missing secret hides no other pair; `habot check` fails on it."""
    ran = await cli(sim, "status", "all", env={})
    assert ran.code == 1
    said = " ".join(ran.out.split())  # the terminal wraps lines
    assert "keyring set habot ssh_password:prod" in said
    assert "HABOT_SSH_PASSWORD_PROD" in said
    assert "dr: BAU" in said
    checked = await cli(sim, "check", env={})
    assert checked.code == 1
    assert "ssh_password:prod" in " ".join(checked.out.split())


async def test_a_command_withdrawn_after_approval_is_aborted_and_not_typed(
    bot: Bot, fake: FakeSlack, sim: Simulator
) -> None:
    """The re-check before running reads the banner again: a command the node stopped
    offering since the request was approved is not typed; the card says Aborted and why
    (not "unknown", and no traceback in the log)."""
    assert "approval needed" in await ask(bot, fake, "demote-primary prod")
    await sim.apply("prod", "primary", "withhold", "ha-demote-primary")
    await click(bot, fake, cards(fake)[-1], "approve_request", LEAD)
    final = await fake.wait_for(
        lambda: [
            text
            for u in fake.calls_to("chat.update")
            if "Aborted" in (text := json.dumps(u.args["blocks"]))
        ]
    )
    assert "does not offer ha-demote-primary now" in final[-1]
    assert "Nothing ran" in final[-1]
    assert runs(sim) == []
    assert "Traceback" not in await bot.stop()
