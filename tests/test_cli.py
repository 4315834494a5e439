"""The `habot` command as a real process: status, check, and the simulator's own CLI."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import signal
import socket
import sqlite3
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh

from habot.core.approvals import Glass, RequestState
from habot.core.audit import AuditEvent
from habot.core.model import Role
from habot.core.outbox import DIGEST_LANE
from habot.sim.simulator import Simulator
from habot.store.audit import AuditStore
from habot.store.db import make_engine, upgrade
from habot.store.outbox import OutboxStore
from habot.store.readings import ReadingStore
from habot.store.requests import RequestStore
from tests.kit.botproc import APP_TOKEN, BOT_TOKEN
from tests.kit.cli import habot, on_database
from tests.kit.factories import fast_config_file
from tests.kit.fakeslack import FakeSlack
from tests.kit.plainwords import identifiers_in
from tests.kit.readings import BAD, GOOD
from tests.kit.requests import PLAN, request


def fast_config(sim: Simulator) -> str:
    """The simulator's habot.toml with short SSH limits, written beside it."""
    return str(fast_config_file(sim))


async def test_status_json_for_a_healthy_setup_exits_0(sim: Simulator) -> None:
    """`habot status --json` prints one object per pair in the documented shape; exit 0."""
    ran = await habot("--config", fast_config(sim), "status", "--json")
    assert ran.code == 0, ran.err
    pairs = json.loads(ran.out)
    assert [p["pair"] for p in pairs] == ["prod", "dr"]
    prod = pairs[0]
    assert {
        "pair",
        "verdict",
        "health",
        "floating_ip",
        "nodes",
        "disagreements",
        "warnings",
        "observed_at",
    } <= prod.keys()
    assert prod["verdict"] == "bau"
    assert prod["nodes"]["primary"]["state"] == "active"
    assert prod["nodes"]["secondary"]["state"] == "standby"
    assert {"address", "reachable", "state", "ip", "error"} <= prod["nodes"]["primary"].keys()
    assert prod["nodes"]["secondary"]["ip"] == "10.20.0.12"


async def test_status_with_a_node_down_exits_1_and_says_why(sim: Simulator) -> None:
    """A stopped Primary: verdict primary_down, the reason shown, other pair still read."""
    await sim.apply("prod", "primary", "down")
    ran = await habot("--config", fast_config(sim), "status", "all", "--json")
    assert ran.code == 1
    prod, dr = json.loads(ran.out)
    assert prod["verdict"] == "primary_down"
    assert prod["nodes"]["primary"]["state"] == "unreachable"
    assert prod["nodes"]["primary"]["reachable"] is False
    assert "connection refused" in prod["nodes"]["primary"]["error"]
    assert dr["verdict"] == "bau"


async def test_human_status_speaks_words_not_identifiers(sim: Simulator) -> None:
    """The table and the reasons say "Primary down" and "Unreachable"; the identifiers
    (``primary_down``) are for ``--json`` only."""
    await sim.apply("prod", "primary", "down")
    ran = await habot("--config", fast_config(sim), "status", "all")
    assert ran.code == 1
    assert "prod: Primary down — " in ran.out
    assert "Unreachable" in ran.out
    assert identifiers_in(ran.out) == []


async def test_status_of_a_cut_path_exits_1_and_points_at_habots_side(sim: Simulator) -> None:
    """habot's path to the Primary is cut; the Secondary still sees it Active: the verdict
    is primary_unreachable (not primary_down), with the peer's words, and exit 1."""
    await sim.apply("prod", "primary", "cut", "on")
    ran = await habot("--config", fast_config(sim), "status", "prod", "--json")
    assert ran.code == 1
    [prod] = json.loads(ran.out)
    assert prod["verdict"] == "primary_unreachable"
    assert prod["nodes"]["primary"]["peer_says"] == "active"
    assert "check habot's network path or the host key, not the appliance" in prod["reason"]
    human = await habot("--config", fast_config(sim), "status", "prod")
    assert "habot cannot reach the Primary; the Secondary still sees it Active" in human.out


async def test_human_status_is_a_table_with_reasons(sim: Simulator) -> None:
    """The human output shows a table, each verdict's reason, warnings, and raw on request."""
    await sim.apply("dr", "pair", "smb", "91")
    ran = await habot("--config", fast_config(sim), "status", "dr", "--raw")
    assert ran.code == 0, ran.err
    assert "┃ Pair" in ran.out
    assert "dr: BAU — Primary Active, Secondary Standby, health OK" in ran.out
    assert "SMB share 91% full (primary, secondary)" in ran.out
    assert "--- raw ha-status from primary" in ran.out
    assert "WARNING: the SMB share is 91% full." in ran.out


async def test_unknown_pair_is_a_usage_error(sim: Simulator) -> None:
    """An unknown pair exits 2 naming the configured pairs; no traceback."""
    ran = await habot("--config", fast_config(sim), "status", "qa")
    assert ran.code == 2
    assert "unknown pair 'qa'; configured pairs: prod, dr" in ran.err
    assert "Traceback" not in ran.err


async def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    """A wrong config value exits 2 with the key named; nothing is started."""
    config = tmp_path / "habot.toml"
    config.write_text(
        '[ssh]\nclient_keys = ["/k"]\nknown_hosts = "/kh"\nconnect_timeout = "ten"\n'
        '[[pairs]]\nname = "prod"\nprimary = "a"\nsecondary = "b:99999"\n'
    )
    ran = await habot("--config", str(config), "status")
    assert ran.code == 2
    assert "ssh.connect_timeout: 'ten' is not a duration" in ran.err
    assert "pairs[0] (prod).secondary" in ran.err
    assert "Traceback" not in ran.err


async def test_default_config_is_habot_toml_in_the_working_directory(tmp_path: Path) -> None:
    """Without --config or HABOT_CONFIG, ./habot.toml is read (and its absence explained)."""
    ran = await habot("status", cwd=tmp_path)
    assert ran.code == 2
    assert "habot.toml: config file not found" in ran.err


async def test_check_passes_every_step(sim: Simulator) -> None:
    """`habot check` confirms config, keys and every node's four steps; exit 0."""
    ran = await habot("--config", fast_config(sim), "check")
    assert ran.code == 0, ran.out + ran.err
    assert ran.out.count("✓ ha-status") == 4
    assert "✓ config: 2 pairs" in ran.out


async def test_check_says_settings_that_weaken_four_eyes(sim: Simulator) -> None:
    """Anyone as approver and an 8-hour approval window are said (the check still passes:
    they are allowed, not hidden); --json lists them under config.weakened."""
    config = fast_config_file(sim, "weak.toml", '[roles]\napprovers = ["*"]\n'
                              '[approval]\nttl = "8h"\n')  # fmt: skip
    ran = await habot("--config", str(config), "check")
    assert ran.code == 0, ran.out + ran.err
    assert '! four eyes weakened: roles.approvers = ["*"]: anyone in the workspace' in ran.out
    assert "! four eyes weakened: approval.ttl = 8h" in ran.out
    ran = await habot("--config", str(config), "check", "--json")
    weakened = json.loads(ran.out)["config"]["weakened"]
    assert [w.split(":")[0] for w in weakened] == [
        'roles.approvers = ["*"]',
        "approval.ttl = 8h",
    ]


def slack_config(sim: Simulator) -> str:
    """The fast config, with a channel habot is in and an alert channel it is not in."""
    path = fast_config_file(sim, "slack.toml", '[slack]\nchannels = ["C0HAOPS"]\n'
                            'alert_channel = "C0ALERTS"\n')  # fmt: skip
    return str(path)


async def test_check_checks_slack_and_says_what_to_fix(sim: Simulator, fake: FakeSlack) -> None:
    """With the tokens, `habot check` asks Slack: the token, its scopes, the app token, and
    each configured channel — here habot was never invited to the alert channel (exit 1)."""
    fake.channels["C0ALERTS"] = ("ha-alerts", False)
    slack = {"HABOT_SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN,
             "SLACK_APP_TOKEN": APP_TOKEN}  # fmt: skip
    ran = await habot("--config", slack_config(sim), "check", env=slack)
    assert ran.code == 1, ran.out + ran.err
    assert ran.out.count("✓ ha-status") == 4
    assert "✓ slack bot token: workspace habot-test, bot U0HABOT" in ran.out
    assert "✓ slack scopes: every scope the manifest asks for" in ran.out
    assert "✓ slack app token: Socket Mode can connect" in ran.out
    assert "✓ slack channel C0HAOPS: #ha-ops: habot is in it" in ran.out
    assert "✗ slack channel C0ALERTS: #ha-alerts: habot is not in it — /invite @habot" in ran.out
    fake.channels["C0ALERTS"] = ("ha-alerts", True)
    fake.scopes = tuple(s for s in fake.scopes if s != "groups:read")
    ran = await habot("--config", slack_config(sim), "check", "--json", env=slack)
    assert ran.code == 1
    found = json.loads(ran.out)
    assert found["ok"] is False
    assert [n["ok"] for n in found["nodes"]] == [True] * 4
    assert {c["step"]: c["ok"] for c in found["slack"]} == {
        "bot token": True, "scopes": False, "app token": True,
        "channel C0HAOPS": True, "channel C0ALERTS": True,
    }  # fmt: skip
    [scopes] = [c for c in found["slack"] if c["step"] == "scopes"]
    assert scopes["detail"].startswith("missing groups:read")


async def test_check_names_a_refused_token_and_passes_without_any(
    sim: Simulator, fake: FakeSlack
) -> None:
    """A bad bot token fails the Slack part; no token at all is said and skipped (the CLI
    alone needs none)."""
    bad = {"HABOT_SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-revoked"}
    fake.fail_next["auth.test"] = ["token_revoked"]
    ran = await habot("--config", fast_config(sim), "check", env=bad)
    assert ran.code == 1
    assert "✗ slack bot token: Slack said token_revoked" in ran.out
    ran = await habot("--config", fast_config(sim), "check", "--json")
    assert ran.code == 0, ran.out + ran.err
    assert json.loads(ran.out)["slack"] == [
        {"step": "bot token", "ok": None,
         "detail": "not set (SLACK_BOT_TOKEN); `habot run` needs it"},
    ]  # fmt: skip


async def test_check_reports_the_failing_step(sim: Simulator) -> None:
    """A changed host key fails at 'host key' for that node; a stopped node at 'reachable'."""
    address = sim.address("dr", Role.SECONDARY)
    pattern = f"[{address.host}]:{address.port} "
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    lines = [
        line if not line.startswith(pattern) else pattern + impostor.strip()
        for line in sim.kit.known_hosts_path.read_text().splitlines()
    ]
    sim.kit.known_hosts_path.write_text("\n".join(lines) + "\n")
    await sim.apply("prod", "primary", "down")
    ran = await habot("--config", fast_config(sim), "check")
    assert ran.code == 1
    assert "✗ host key: HOST KEY CHANGED" in ran.out
    # what to do, once the new key is known to be the node's (the terminal wraps lines)
    said, known = " ".join(ran.out.split()), sim.kit.known_hosts_path
    assert f"ssh-keygen -f {known} -R '[{address.host}]:{address.port}'" in said
    assert f"ssh-keyscan -p {address.port} {address.host} >> {known}" in said
    assert "✗ reachable: connection refused" in ran.out
    assert ran.out.count("✓ ha-status") == 2


async def test_simulator_process_can_be_steered_from_another_process(tmp_path: Path) -> None:
    """`habot sim run` in one process, `habot sim fault` and `habot status` in others."""
    state = tmp_path / "sim"
    sim_proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "habot",
        "sim",
        "run",
        "--dir",
        str(state),
        "--base-port",
        "0",
        "--pairs",
        "prod",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            while not (state / "control.json").exists():  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.1)
        config = str(state / "habot.toml")
        assert (await habot("--config", config, "status", "--json")).code == 0
        faulted = await habot("sim", "fault", "--dir", str(state), "prod", "primary", "down")
        assert faulted.code == 0, faulted.err
        assert faulted.out.splitlines() == [
            "prod primary: down — done (habot sim show prints the whole state)"
        ]
        ran = await habot("--config", config, "status", "--json")
        assert ran.code == 1
        assert json.loads(ran.out)[0]["verdict"] == "primary_down"
        bad = await habot("sim", "fault", "--dir", str(state), "prod", "primary", "slow", "x")
        assert bad.code == 1
        assert "slow takes seconds" in bad.err
    finally:
        sim_proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(sim_proc.communicate(), 30)
    assert sim_proc.returncode == 0
    assert "simulator stopped" in out.decode()


async def test_sim_run_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    """A port already taken: one line naming it and what to do, exit 2, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = await habot(
            "sim", "run", "--dir", str(tmp_path), "--pairs", "prod", "--base-port", str(port)
        )
    assert ran.code == 2
    assert ran.err.splitlines() == [
        f"habot sim run: a port from 127.0.0.1:{port} on is already in use (another "
        "simulator?); stop it, or choose others with --base-port (0: any free ports)."
    ]


async def test_fault_without_a_running_simulator_says_how_to_start_one(tmp_path: Path) -> None:
    """Steering a simulator that is not running explains what to do."""
    ran = await habot("sim", "fault", "--dir", str(tmp_path), "prod", "primary", "down")
    assert ran.code == 1
    assert "start one with: habot sim run" in ran.err


async def test_demo_runs_a_simulated_pair_end_to_end() -> None:
    """`habot sim demo` shows two simulated pairs read over SSH."""
    ran = await habot("sim", "demo")
    assert ran.code == 0, ran.err
    assert "prod: BAU" in ran.out
    assert "SMB share 87% full" in ran.out


async def test_help_lists_the_commands() -> None:
    """`habot --help` names status, check and sim."""
    ran = await habot("--help")
    assert ran.code == 0
    for command in ("status", "check", "sim"):
        assert command in ran.out


async def test_manifest_uses_the_configured_command(sim: Simulator) -> None:
    """`habot manifest` renders the configured command; --http needs an https --url."""
    config = sim.kit.dir / "custom.toml"
    config.write_text(sim.kit.config_path.read_text() + '\n[slack]\ncommand = "/pam"\n')
    ran = await habot(
        "--config", str(config), "manifest", "--http", "--url", "https://h.example.com"
    )
    assert ran.code == 0, ran.err
    manifest = json.loads(ran.out)
    assert manifest["features"]["slash_commands"][0]["command"] == "/pam"
    bad = await habot("--config", str(config), "manifest", "--http", "--url", "http://h")
    assert bad.code == 2
    assert "only calls https URLs" in bad.err


async def test_manifest_takes_settings_from_the_environment_without_a_file(tmp_path: Path) -> None:
    """In an empty directory `HABOT_SLACK__COMMAND=/pam habot manifest` renders /pam (the
    environment's settings apply with no file too); a bad value is an error naming the
    variable."""
    ran = await habot("manifest", cwd=tmp_path, env={"HABOT_SLACK__COMMAND": "/pam"})
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["features"]["slash_commands"][0]["command"] == "/pam"
    assert "no config file found; the command is /pam" in ran.err
    bad = await habot("manifest", cwd=tmp_path, env={"HABOT_SLACK__COMMAND": "pam"})
    assert bad.code == 2
    assert "slack.command" in bad.err
    assert "(set by HABOT_SLACK__COMMAND)" in bad.err


async def test_run_without_tokens_says_where_to_put_them(sim: Simulator) -> None:
    """`habot run` with no Slack tokens exits 2 naming the keyring entry and the variable."""
    env_backup = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SLACK_")}
    try:
        ran = await habot("--config", fast_config(sim), "run")
        assert ran.code == 2
        assert "SLACK_BOT_TOKEN: not set" in ran.err
        assert "keyring entry habot/bot_token" in ran.err
        assert "SLACK_APP_TOKEN: not set" in ran.err  # every missing one at once
        os.environ["SLACK_BOT_TOKEN"] = "xoxb-your-token-here"
        ran = await habot("--config", fast_config(sim), "run", "--http")
        assert ran.code == 2
        placeholder = "SLACK_BOT_TOKEN: looks like a placeholder, not a real value: it contains"
        assert f"{placeholder} 'your-', as example values do" in ran.err
        assert "xoxb-your-token-here" not in ran.err  # the value itself is never repeated
        assert "SLACK_SIGNING_SECRET: not set" in ran.err
    finally:
        os.environ.pop("SLACK_BOT_TOKEN", None)
        os.environ.update(env_backup)


async def test_audit_cli_lists_exports_and_verifies(sim: Simulator, tmp_path: Path) -> None:
    """audit list/export/verify work on the configured database; tampering is caught."""
    db = tmp_path / "audit.db"
    config = sim.kit.dir / "audit.toml"
    config.write_text(on_database(sim, db))
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = AuditStore(engine)
    for i in range(3):
        store.append_sync(AuditEvent("status", f"U{i}", "bau", datetime.now(UTC), pair="prod"))
    engine.dispose()
    listed = await habot("--config", str(config), "audit", "list", "--json")
    assert [json.loads(line)["seq"] for line in listed.out.splitlines()] == [3, 2, 1]
    exported = await habot("--config", str(config), "audit", "export", "--format", "csv")
    assert exported.out.splitlines()[0].startswith("seq,at,kind,actor")
    assert len(exported.out.splitlines()) == 4
    ok = await habot("--config", str(config), "audit", "verify")
    assert (ok.code, ok.out.strip()) == (0, "audit log intact: 3 rows; requests agree with it")
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("UPDATE audit_events SET actor = 'U9' WHERE seq = 2")
    conn.commit()
    conn.close()
    broken = await habot("--config", str(config), "audit", "verify")
    assert broken.code == 1
    assert "BROKEN at row 2" in broken.err


async def test_digest_prints_now_and_posts_only_where_it_can(
    sim: Simulator, tmp_path: Path
) -> None:
    """`habot digest` prints the summary from stored readings; --post needs an alert
    channel (exit 2 naming it) and otherwise queues the post in the outbox."""
    db = tmp_path / "habot.db"
    base = on_database(sim, db)
    config = sim.kit.dir / "digest.toml"
    config.write_text(base)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    now = datetime.now(UTC)
    for minutes, status in ((30, GOOD), (20, BAD)):
        ReadingStore(engine).add_sync(replace(status, observed_at=now - timedelta(minutes=minutes)))
    shown = await habot("--config", str(config), "digest")
    assert shown.code == 0, shown.err
    assert "HA daily summary" in shown.out
    assert "prod — now Primary down · serving 50.0% · BAU 50.0% · 1 episode off BAU" in shown.out
    refused = await habot("--config", str(config), "digest", "--post")
    assert refused.code == 2
    assert "alert_channel" in refused.err
    assert OutboxStore(engine).lanes_sync() == []
    config.write_text(
        base.replace("[database]", '[slack]\nalert_channel = "C0ALERTS"\n\n[database]')
    )
    posted = await habot("--config", str(config), "digest", "--post")
    assert posted.code == 0, posted.err
    assert "queued for C0ALERTS" in posted.out
    assert OutboxStore(engine).lanes_sync() == [DIGEST_LANE]
    engine.dispose()


async def test_when_slack_is_down_the_cli_lists_mutes_and_reads_the_log(
    sim: Simulator, tmp_path: Path
) -> None:
    """`habot pending`, `history`, `mute`, `unmute` work on the stores directly, as the local
    user, with the same audit events as Slack's; an empty log says so."""
    me = f"cli:{getpass.getuser()}"
    config = tmp_path / "local.toml"
    db = tmp_path / "local.db"
    config.write_text(on_database(sim, db))
    empty = await habot("--config", str(config), "history")
    assert (empty.code, empty.out.strip()) == (0, "No audit events yet."), empty.err
    listed = await habot("--config", str(config), "audit", "list")
    assert listed.out.strip() == "The audit log has no events yet."
    as_json = await habot("--config", str(config), "audit", "list", "--json")
    assert (as_json.out, as_json.err.strip()) == ("", "The audit log has no events yet.")
    assert (await habot("--config", str(config), "pending")).out.strip() == "No open requests."
    muted = await habot("--config", str(config), "mute", "prod", "2h", "vendor", "window")
    assert muted.code == 0, muted.err
    assert re.fullmatch(rf"Alerts for prod muted until \d{{4}}-\d\d-\d\d \d\d:\d\d UTC by @{me}: "
                        "vendor window",
                        muted.out.strip())  # fmt: skip
    shown = await habot("--config", str(config), "status", "prod")
    assert re.search(r"prod: alerts muted until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(habot unmute prod",
                     shown.out), shown.out  # fmt: skip
    as_json = await habot("--config", str(config), "status", "prod", "--json")
    assert json.loads(as_json.out)[0]["muted_until"] is not None
    too_long = await habot("--config", str(config), "mute", "prod", "9d", "x")
    assert too_long.code == 2
    assert "Mutes last at most 7 days" in too_long.err
    back = await habot("--config", str(config), "unmute", "prod")
    assert back.out.strip() == f"Alerts for prod are on again (@{me})."
    again = await habot("--config", str(config), "status", "prod", "--json")
    assert json.loads(again.out)[0]["muted_until"] is None
    engine = make_engine(f"sqlite:///{db}")
    store = RequestStore(engine)
    await store.create(request(), "C0HAOPS", PLAN)
    await store.create(request("r2", pair="dr"), "C0HAOPS", PLAN)
    glass = Glass("U0OPS", datetime(2026, 12, 3, 3, 10, tzinfo=UTC), "INC-1: power cut at DC")
    await store.break_glass("r2", glass, "elsewhere")
    await store.transition("r2", RequestState.EXECUTING, RequestState.SUCCEEDED)
    engine.dispose()
    open_ = await habot("--config", str(config), "pending")
    assert open_.out.strip().splitlines() == [
        "r1 switchover prod (primary) — pending, asked by @U0OPS, 0/1 approvals",
        "Break-glass reviews owed:",
        "• r2 switchover on dr by @U0OPS 2026-12-03 03:10 UTC — an approver other than "
        "@U0OPS: "
        '/ha review r2 "what you checked"',
    ]
    shown = await habot("--config", str(config), "history", "prod", "--limit", "5")
    [unmuted, muted] = [line for line in shown.out.splitlines() if "muted the alerts" in line]
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.fullmatch(rf"{moment} · {me} unmuted the alerts on prod · #\d+", unmuted)
    assert f"{me} muted the alerts on prod: " in muted
    as_json = await habot("--config", str(config), "history", "prod", "--limit", "5", "--json")
    kinds = [json.loads(line)["kind"] for line in as_json.out.splitlines()]
    assert [k for k in kinds if k != "status"] == ["unmuted", "muted"]
    held = await habot("--config", str(config), "pending", "--json")
    assert {(r["id"], r["state"]) for r in map(json.loads, held.out.splitlines())} == {
        ("r1", "pending"), ("r2", "succeeded"),
    }  # fmt: skip


async def test_a_status_read_on_the_command_line_is_audited_or_says_why_not(
    sim: Simulator, tmp_path: Path
) -> None:
    """Like `/ha status` in Slack, `habot status` leaves one audit event per pair, by the
    local user. A database habot cannot open costs the audit, never the answer."""
    config = tmp_path / "audited.toml"
    db = tmp_path / "audited.db"
    config.write_text(on_database(sim, db))
    ran = await habot("--config", str(config), "status", "all")
    assert ran.code == 0, ran.err
    records = AuditStore(make_engine(f"sqlite:///{db}")).recent_sync(10)
    assert [(r.event.kind, r.event.pair, r.event.actor) for r in records] == [
        ("status", "dr", f"cli:{getpass.getuser()}"),
        ("status", "prod", f"cli:{getpass.getuser()}"),
    ]
    config.write_text(on_database(sim, Path("/proc/no/such/dir/habot.db")))
    unaudited = await habot("--config", str(config), "status", "prod")
    assert unaudited.code == 0
    assert "BAU" in unaudited.out
    assert "habot: warning: this reading is not audited: database.url" in unaudited.err


def test_every_listed_command_is_the_command_it_names() -> None:
    """`habot --help` lists COMMANDS without importing them; each entry is a command of
    that name, and its listed line is the one it shows (kept in one place)."""
    import click

    from habot.cli import COMMANDS, cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.name == name
        assert command.get_short_help_str(limit=80) == summary
    assert cli.get_command(ctx, "stauts") is None


async def test_a_mistyped_command_names_the_one_meant() -> None:
    """A mistyped habot command names the one meant, when one is close."""
    typo = await habot("stauts")
    assert typo.code == 2
    assert "No such command 'stauts'. Did you mean 'habot status'?" in typo.err
    far = await habot("xyzzy")
    assert "No such command 'xyzzy'." in far.err
    assert "Did you mean" not in far.err


async def test_version_and_help_start_without_loading_the_runtime(tmp_path: Path) -> None:
    """`habot --version` and `--help` import no subcommand: not the runtime, the database,
    SSH or Slack (what made them take over a second; benches/bench_cli.py times them)."""
    probe = (
        "import sys\n"
        "from habot.cli import cli\n"
        "for args in (['--version'], ['--help']):\n"
        "    try:\n"
        "        cli.main(args, prog_name='habot', standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('habot.runtime', 'sqlalchemy', 'asyncssh', 'slack_bolt', 'apscheduler', "
        "'aiohttp')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, stdout=asyncio.subprocess.PIPE, cwd=tmp_path
    )
    out, _ = await proc.communicate()
    assert out.decode().strip().splitlines()[-1] == "[]"
    helped = await habot("--help")
    assert "history   Recent events as a timeline." in helped.out
    assert (await habot("--version")).out.startswith("habot, version ")
