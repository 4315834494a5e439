"""First contact with a real appliance: `habot probe` records what each node said, verbatim,
and what habot made of every line; a saved probe replays from the simulator with the same
verdict; redacted, it names no address, host, user or secret; a site's patterns make an
unknown layout readable; `habot init` writes a config that `habot check` passes."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from habot.core.model import NodeState, Role
from habot.core.probe import (
    NodeProbe,
    Redactor,
    Transcript,
    transcript_from_dict,
    transcript_to_dict,
)
from habot.sim.appliance import Layout
from habot.sim.simulator import Simulator
from tests.kit.cli import habot
from tests.kit.factories import fast_config_file
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import CONFIG, LEAD, ask, cards, click, final_card, started
from tests.kit.sshd import BAU_STATUS, Sshd

#: An invented fourth layout: key=value lines no built-in rule reads.
KEYVALUE = {
    Role.PRIMARY: "node.1.role=MASTER\nnode.1.status=RUNNING\nnode.1.addr=10.20.0.11\n"
    "node.1.self=yes\nnode.2.role=BACKUP\nnode.2.status=WAITING\nnode.2.addr=10.20.0.12\n"
    "cluster.health=GREEN\n",
    Role.SECONDARY: "node.1.role=MASTER\nnode.1.status=RUNNING\nnode.1.addr=10.20.0.11\n"
    "node.2.role=BACKUP\nnode.2.status=WAITING\nnode.2.addr=10.20.0.12\nnode.2.self=yes\n"
    "cluster.health=GREEN\n",
}
KEYVALUE_PATTERNS = """
[pairs.patterns]
status_lines = [
  '^node\\.\\d+\\.role=(?P<role>\\w+)$',
  '^node\\.\\d+\\.status=(?P<state>\\w+)$',
  '^node\\.\\d+\\.addr=(?P<ip>\\S+)$',
  '^node\\.\\d+\\.self=(?P<this_host>yes)$',
  '^cluster\\.health=(?P<health>\\w+)$',
]

[pairs.patterns.words]
MASTER = "primary"
BACKUP = "secondary"
RUNNING = "active"
WAITING = "standby"
GREEN = "ok"
"""


def replay_of(statuses: dict[Role, str]) -> Transcript:
    """A saved probe of "prod" whose nodes said ``statuses``."""
    nodes = tuple(NodeProbe(role, "node", "exec", "habot", status=text)
                  for role, text in statuses.items())  # fmt: skip
    return transcript_from_dict(transcript_to_dict(Transcript("prod", "2026-12-04", nodes)))


def saved(path: Path) -> dict[str, object]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def console_env(sim: Simulator) -> dict[str, str]:
    return {"HABOT_SSH_PASSWORD": sim.kit.console_password()}


@pytest.mark.parametrize("layout", [*Layout, "console"])
async def test_probe_shows_every_lines_fate_and_its_replay_judges_the_same(
    tmp_path: Path, layout: Layout | str
) -> None:
    """Each simulator layout (and the console): every line of each node's ha-status has a
    fate in the transcript, all are understood, the verdict is BAU — and the saved probe,
    replayed from the simulator, gives the same words and the same verdict."""
    console = ("prod",) if layout == "console" else ()
    shape = layout if isinstance(layout, Layout) else Layout.COLUMNS
    async with Simulator(tmp_path / "sim", ("prod",), layout=shape, console=console) as sim:
        ran = await habot("--config", str(fast_config_file(sim)), "probe", "prod", "--save",
                          str(tmp_path / "probe.json"), env=console_env(sim))  # fmt: skip
        typed = [command for pair in sim.pairs.values() for _, command in pair.runs]
    assert ran.code == 0, ran.out + ran.err
    assert set(typed) == {
        "ha-status"
    }  # read-only: nothing else was typed (tail is not an ha- command)
    assert ran.out.count("every line understood") == 2
    assert "Verdict habot would judge: BAU" in ran.out
    assert "host key: SHA256:" in ran.out
    if console:
        assert "prompt it learned:" in ran.out
        assert "commands offered: " in ran.out
    first = saved(tmp_path / "probe.json")
    for node in first["nodes"]:  # type: ignore[attr-defined]
        shown = [n for n, line in enumerate(node["status"].split("\n"), 1) if line.strip()]
        assert [fate["number"] for fate in node["lines"]] == shown
        assert [s["name"] for s in node["steps"]][:2] == ["log in", "ha-status"]
    transcript = transcript_from_dict(first)
    async with Simulator(tmp_path / "replay", ("prod",), replay=transcript) as replay:
        again = await habot("--config", str(fast_config_file(replay)), "probe", "prod",
                            "--save", str(tmp_path / "again.json"))  # fmt: skip
    assert again.code == 0, again.out + again.err
    second = saved(tmp_path / "again.json")
    assert second["verdict"] == first["verdict"] == "bau"
    assert [n["status"] for n in second["nodes"]] == [n["status"] for n in first["nodes"]]  # type: ignore[attr-defined]


async def test_a_redacted_transcript_names_no_address_host_user_or_secret(tmp_path: Path) -> None:
    """Saved with --redact (JSON and text), a probe keeps every word but the node
    addresses, their IPs, the user and the password; it still judges the same when
    replayed (the nodes' addresses still agree). The password is never written, even
    unredacted."""
    async with Simulator(tmp_path / "sim", ("prod",), console=("prod",)) as sim:
        password = sim.kit.console_password()
        config = str(fast_config_file(sim))
        for name in ("probe.json", "probe.txt"):
            ran = await habot("--config", config, "probe", "prod", "--redact", "--save",
                              str(tmp_path / name), env=console_env(sim))  # fmt: skip
            assert ran.code == 0, ran.out + ran.err
        plain = await habot("--config", config, "probe", "prod", "--save",
                            str(tmp_path / "plain.json"), env=console_env(sim))  # fmt: skip
    for name in ("probe.json", "probe.txt"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        for hidden in ("127.0.0.1", "10.20.0.11", "10.20.0.12", "10.20.0.10", password):
            assert hidden not in text, (name, hidden)
        assert "192.0.2." in text
        assert "High Availability status: OK" in text
    assert '"user": "habot"' not in (tmp_path / "probe.json").read_text(encoding="utf-8")
    assert password not in (tmp_path / "plain.json").read_text(encoding="utf-8")
    assert plain.code == 0
    assert "127.0.0.1" in (tmp_path / "plain.json").read_text()
    redacted = transcript_from_dict(saved(tmp_path / "probe.json"))
    assert redacted.redacted
    async with Simulator(tmp_path / "replay", ("prod",), replay=redacted) as replay:
        config = fast_config_file(replay)  # its floating_ip is the real one: not compared
        config.write_text(re.sub(r"(?m)^floating_ip = .*$", "", config.read_text()))
        ran = await habot("--config", str(config), "status", "--json")
    [prod] = json.loads(ran.out)
    assert prod["verdict"] == "bau", prod["reason"]


async def test_a_user_given_as_a_flag_is_redacted_too(tmp_path: Path) -> None:
    """--user changes who the probe logs in as; --redact hides that name as well."""
    async with Simulator(tmp_path / "sim", ("prod",)) as sim:
        ran = await habot("--config", str(fast_config_file(sim)), "probe", "prod", "--user",
                          "pamops", "--redact", "--save", str(tmp_path / "p.json"))  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert "pamops" not in (tmp_path / "p.json").read_text(encoding="utf-8")
    assert "pamops" not in ran.out


async def test_patterns_make_an_invented_layout_readable(tmp_path: Path) -> None:
    """A fourth layout (key=value lines): the built-in rules understand none of it, so the
    pair is Unknown and every line is listed as not understood; with the site's patterns
    the same words judge BAU, and the probe says which pattern read which line."""
    async with Simulator(tmp_path / "sim", ("prod",), replay=replay_of(KEYVALUE)) as sim:
        plain = fast_config_file(sim)
        before = await habot("--config", str(plain), "status", "--json")
        probed = await habot("--config", str(plain), "probe", "prod")
        taught = plain.with_name("taught.toml")
        taught.write_text(plain.read_text() + KEYVALUE_PATTERNS)
        after = await habot("--config", str(taught), "status", "--json")
        explained = await habot("--config", str(taught), "probe", "prod")
    assert json.loads(before.out)[0]["verdict"] == "unknown"
    assert probed.code == 1
    assert "8 lines not understood" in probed.out
    assert after.code == 0, after.err
    assert json.loads(after.out)[0]["verdict"] == "bau"
    assert explained.code == 0, explained.out
    assert ("your pattern patterns.status_lines[1] matched line 2: 'node.1.status=RUNNING'"
            in explained.out)  # fmt: skip
    assert "Verdict habot would judge: BAU" in explained.out


async def test_a_line_not_understood_is_listed_by_check_and_marked_in_json(tmp_path: Path) -> None:
    """An appliance upgrade adds a line habot has no rule for: the verdict still stands,
    `habot check` lists the line (a warning, not a failure) and `habot status --json`
    carries it per node."""
    extra = BAU_STATUS.replace("10.30.0.", "10.20.0.") + "Cluster firmware 9.1 (rolling)\n"
    secondary = extra.replace("- this host", "").replace("10.20.0.12", "10.20.0.12 - this host")
    replay = replay_of({Role.PRIMARY: extra, Role.SECONDARY: secondary})
    async with Simulator(tmp_path / "sim", ("prod",), replay=replay) as sim:
        config = str(fast_config_file(sim))
        checked = await habot("--config", config, "check")
        status = await habot("--config", config, "status", "--json")
    assert checked.code == 0, checked.out + checked.err
    assert ("1 line not understood in ha-status: 'Cluster firmware 9.1 (rolling)'"
            in checked.out)  # fmt: skip
    [prod] = json.loads(status.out)
    assert prod["verdict"] == "bau"
    assert prod["nodes"]["primary"]["not_understood"] == ["Cluster firmware 9.1 (rolling)"]


async def test_a_replay_takes_no_mutating_command(tmp_path: Path) -> None:
    """A replayed appliance answers ha-status and the logs only; anything else is refused
    with words saying why."""
    async with Simulator(tmp_path / "sim", ("prod",), replay=replay_of(KEYVALUE)) as sim:
        pair = sim.pairs["prod"]
        plan = pair.plan(Role.PRIMARY, "ha-failover", datetime(2026, 12, 4, tzinfo=UTC))
    assert plan.exit_status == 1
    assert "replay of a probe" in plan.preamble


async def test_sim_run_replay_serves_a_saved_probe_as_the_nodes_said_it(tmp_path: Path) -> None:
    """`habot sim run --replay probe.json` (a process, as a person runs it) serves the
    saved words: probing it gives the same ha-status, line for line, and the same verdict."""
    async with Simulator(tmp_path / "sim", ("prod",), layout=Layout.BLOCKS) as sim:
        await sim.apply("prod", "pair", "degraded", "on")
        first = await habot("--config", str(fast_config_file(sim)), "probe", "prod", "--save",
                            str(tmp_path / "probe.json"))  # fmt: skip
    assert first.code == 0, first.out + first.err
    state = tmp_path / "replay"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "sim", "run", "--dir", str(state), "--base-port", "0",
        "--replay", str(tmp_path / "probe.json"), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            while not (state / "control.json").exists():  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.1)
        again = await habot("--config", str(state / "habot.toml"), "probe", "prod", "--save",
                            str(tmp_path / "again.json"))  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 30)
    assert again.code == 0, again.out + again.err
    before, after = saved(tmp_path / "probe.json"), saved(tmp_path / "again.json")
    assert after["verdict"] == before["verdict"] == "degraded"
    assert [n["status"] for n in after["nodes"]] == [n["status"] for n in before["nodes"]]  # type: ignore[attr-defined]


async def test_sim_run_refuses_a_file_that_is_no_pair_transcript(tmp_path: Path) -> None:
    """`habot sim run --replay` needs a pair's saved probe; anything else is a usage error
    that says how to make one, and no simulator starts."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "target": "x", "taken_at": "t", "nodes": []}')
    ran = await habot("sim", "run", "--dir", str(tmp_path / "sim"), "--replay", str(bad))
    assert ran.code == 2
    assert "habot probe PAIR --save probe.json" in ran.err


async def test_probe_reads_a_real_forcecommand_appliance(tmp_path: Path, sshd: Sshd) -> None:
    """A host probed over real OpenSSH (a ForceCommand appliance): the host key, ha-status
    verbatim, each line's fate and the node's state; a log the node does not have is a
    failed step that says what the node answered (exit 1)."""
    config = tmp_path / "habot.toml"
    config.write_text(
        f'[ssh]\nusername = "{sshd.username}"\nclient_keys = ["{sshd.client_key}"]\n'
        f'known_hosts = "{sshd.known_hosts}"\nconnect_timeout = "3s"\nstatus_timeout = "5s"\n'
        '[[pairs]]\nname = "lab"\nprimary = "127.0.0.1:1"\nsecondary = "127.0.0.1:2"\n'
    )
    ran = await habot("--config", str(config), "probe", str(sshd.address))
    assert ran.code == 1, ran.out + ran.err
    assert "✓ log in" in ran.out
    assert "host key SHA256:" in ran.out
    assert "    | Primary:    Active     10.30.0.11   - this host" in ran.out
    assert (
        "✓ built-in: Primary IP 10.30.0.11; Primary is this host; Primary state Active" in ran.out
    )
    assert "habot takes this node to be Active (Primary)" in ran.out
    assert "✗ tail /var/log/osirium/ha-commands.log" in ran.out


async def test_probe_reads_a_real_console(tmp_path: Path, console_sshd: Sshd) -> None:
    """The same over real OpenSSH whose ForceCommand is the interactive HA console: the
    banner, the prompt habot learned and the commands offered are in the transcript."""
    sshd = console_sshd
    config = tmp_path / "habot.toml"
    config.write_text(
        f'[ssh]\nusername = "{sshd.username}"\nclient_keys = ["{sshd.client_key}"]\n'
        f'known_hosts = "{sshd.known_hosts}"\nconnect_timeout = "3s"\nstatus_timeout = "5s"\n'
        'prompt_idle = "500ms"\n'
        '[[pairs]]\nname = "lab"\nprimary = "127.0.0.1:1"\nsecondary = "127.0.0.1:2"\n'
    )
    ran = await habot("--config", str(config), "probe", str(sshd.address), "--transport",
                      "console", "--save", str(tmp_path / "c.json"))  # fmt: skip
    assert "    | Osirium PAM (test console) - High Availability" in ran.out, ran.out + ran.err
    assert "prompt it learned: 'pam-lab> '" in ran.out
    assert "commands offered: ha-failover, ha-initialise, ha-status" in ran.out
    assert "habot takes this node to be Active (Primary)" in ran.out
    [node] = saved(tmp_path / "c.json")["nodes"]  # type: ignore[misc]
    assert node["transport"] == "console"
    assert node["status"].startswith("Primary:")


async def test_init_then_check_on_the_simulator_passes(tmp_path: Path) -> None:
    """`habot init` from flags alone writes a config that loads and that `habot check`
    passes against the simulator, with only the values it was given; it never overwrites
    a file without --force, and says what to run next."""
    async with Simulator(tmp_path / "sim", ("prod",)) as sim:
        primary, secondary = (str(sim.address("prod", r)) for r in Role)
        config = tmp_path / "habot.toml"
        args = ("--config", str(config), "init", "--pair", f"prod={primary},{secondary}",
                "--known-hosts", str(sim.kit.known_hosts_path),
                "--client-key", str(sim.kit.client_key_path))  # fmt: skip
        wrote = await habot(*args)
        again = await habot(*args)
        checked = await habot("--config", str(config), "check", env={"SLACK_BOT_TOKEN": ""})
    assert wrote.code == 0, wrote.err
    assert f"habot --config {config} probe prod" in wrote.out
    assert again.code == 2
    assert "--force" in again.err
    assert checked.code == 0, checked.out + checked.err
    assert checked.out.count("✓ ha-status") == 2
    text = config.read_text()
    assert '# status_every = "5m"' in text
    assert '# ttl = "15m"' in text
    assert "# Explained in docs/settings.md#schedule" in text


async def test_init_without_a_terminal_asks_for_flags(tmp_path: Path) -> None:
    """No --pair and no terminal to ask on: a usage error naming the flag; nothing written."""
    ran = await habot("--config", str(tmp_path / "h.toml"), "init")
    assert ran.code == 2
    assert "--pair NAME=PRIMARY,SECONDARY" in ran.err
    assert not (tmp_path / "h.toml").exists()
    bad = await habot("--config", str(tmp_path / "h.toml"), "init", "--pair", "Prod=a,b")
    assert bad.code == 2
    assert "is not a pair name" in bad.err
    assert "nothing was written" in bad.err


def test_redaction_hides_places_people_and_secrets_consistently() -> None:
    """Each address, host name and user gets one stand-in wherever it appears (so the
    nodes' addresses still agree), a host name nobody configured is hidden too, a host key
    and a secret never show; versions and log paths stay readable."""
    hide = Redactor(["pam01.corp.example", "opsbot"], ["s3cr3t-pass"])
    text = hide.text(
        "Welcome opsbot to pam01.corp.example (10.1.2.3), peer 10.1.2.30 at "
        "db2.corp.local; again 10.1.2.3; key SHA256:AbC+/9= v4.2.1 /var/log/ha.log s3cr3t-pass"
    )
    for hidden in ("pam01", "corp", "opsbot", "10.1.2", "db2", "AbC", "s3cr3t"):
        assert hidden not in text, hidden
    assert text.count("192.0.2.1") == 2  # the same address, the same stand-in
    assert "192.0.2.2" in text  # a different one, another
    assert "v4.2.1" in text
    assert "/var/log/ha.log" in text
    assert "[secret]" in text
    assert Redactor([], ["s3cr3t-pass"], places=False).text("10.1.2.3 s3cr3t-pass") == (
        "10.1.2.3 [secret]"
    )


@pytest.mark.parametrize("confirmation", [None, r"type PROCEED to continue:\s*$"])
async def test_the_bot_answers_only_the_confirmation_the_pair_names(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, confirmation: str | None
) -> None:
    """The bot as a process, a failover approved: with the built-in rule the node's
    "[y/N]" is the confirmation, answered once, and the Secondary is promoted; with a
    pattern naming another question the same "[y/N]" is not answered — the failover never
    happens and the card says it was aborted before running. (Drop the pattern from the SSH
    session and the second case promotes the Secondary.)"""
    extra = (
        CONFIG
        if confirmation is None
        else (CONFIG + f"\n[ssh.patterns]\nconfirmation = '{confirmation}'\n")
    )
    bot = await started(sim, fake, tmp_path, extra=extra)
    try:
        await sim.apply("prod", "primary", "down")
        await ask(bot, fake, "failover prod")
        [card] = cards(fake)
        await click(bot, fake, card, "approve_request", LEAD)
        if confirmation is None:
            await final_card(fake, "Succeeded")
            assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.PROMOTED_ACTIVE
        else:
            final = await final_card(fake, "Aborted before running")
            assert "habot was not asked to answer" in final
            assert sim.pairs["prod"].nodes[Role.SECONDARY].state is NodeState.STANDBY
    finally:
        await bot.stop()
