"""The configuration is validated at start; every error names the key and the problem."""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

from habot.config import Auth, Login, Transport, config_path, load_settings, parse_settings
from habot.config.starter import (
    REFERENCE,
    Start,
    StarterPair,
    field_notes,
    settings_reference,
    starter_toml,
)
from habot.core.addresses import NodeAddress
from habot.core.model import Role
from habot.core.operations import SwitchoverVia
from habot.errors import ConfigError

EXAMPLE = """\
[ssh]
username = "habot"
client_keys = ["/etc/habot/id_ed25519"]
known_hosts = "/etc/habot/known_hosts"
connect_timeout = "10s"
command_timeout = "10m"

[[pairs]]
name = "prod"
primary = "10.20.0.11"
secondary = "10.20.0.12:2222"
floating_ip = "10.20.0.10"
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "habot.toml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> str:
    """The ConfigError message a config text produces."""
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    return str(info.value)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    """The example from the issue is a valid configuration."""
    settings = load_settings(write(tmp_path, EXAMPLE))
    prod = settings.pair("prod")
    assert prod.primary == NodeAddress("10.20.0.11", 22)
    assert prod.address(Role.SECONDARY) == NodeAddress("10.20.0.12", 2222)
    assert prod.floating_ip == "10.20.0.10"
    assert settings.ssh.connect_timeout == timedelta(seconds=10)
    assert settings.ssh.command_timeout == timedelta(minutes=10)
    assert prod.log_path == "/var/log/osirium/ha-commands.log"
    assert prod.decluster_log_path == "/var/log/osirium/install/decluster.log"
    assert prod.switchover_via is SwitchoverVia.FAILOVER_ON_PRIMARY
    assert prod.failback_on is Role.SECONDARY


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('secondary = "10.20.0.12:2222"', 'secondary = "10.20.0.12:abc"'),
            "pairs[0] (prod).secondary: '10.20.0.12:abc': port must be a number",
        ),
        (
            ('connect_timeout = "10s"', 'connect_timeout = "10"'),
            "ssh.connect_timeout: '10' is not a duration",
        ),
        (
            ('connect_timeout = "10s"', "connect_timeout = 10"),
            "ssh.connect_timeout: write durations as strings",
        ),
        (('username = "habot"', 'usernme = "habot"'), "ssh.usernme: unknown key (a typo?)"),
        (('known_hosts = "/etc/habot/known_hosts"', ""), "ssh.known_hosts: is required"),
        (
            ('name = "prod"', 'name = "Prod DC"'),
            "pairs[0] (Prod DC).name: 'Prod DC' is not a pair name",
        ),
        (('name = "prod"', 'name = "all"'), "pairs[0] (all).name: 'all' is reserved"),
        (
            ('floating_ip = "10.20.0.10"', 'floating_ip = "10.20.0"'),
            "pairs[0] (prod).floating_ip: '10.20.0' does not appear to be an IPv4 or IPv6",
        ),
        (
            ('client_keys = ["/etc/habot/id_ed25519"]', "client_keys = []"),
            "ssh.client_keys: needed by 1 pair logging in with a key (prod;",
        ),
        (
            ('floating_ip = "10.20.0.10"', 'log_path = "/var/log/$(reboot)"'),
            "pairs[0] (prod).log_path: '/var/log/$(reboot)' is not an absolute log path",
        ),
        (
            ('floating_ip = "10.20.0.10"', 'prompt = "pam[>"'),
            "pairs[0] (prod).prompt: not a regular expression",
        ),
        (
            ('floating_ip = "10.20.0.10"', 'transport = "telnet"'),
            "pairs[0] (prod).transport: Input should be 'exec' or 'console'",
        ),
    ],
)
def test_errors_name_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    """A wrong value is reported with its dotted key (and the pair's name), and only that."""
    text = EXAMPLE.replace(*change)
    assert change[0] in EXAMPLE
    reported = error_for(tmp_path, text)
    assert message in reported
    assert reported.count("\n") == 0  # one mistake, one line


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (
            "[pairs.patterns]\nstatus_lines = ['^Node (?P<role>\\w+', '(?P<state>x)']",
            "pairs[0] (prod).patterns.status_lines: [0]: not a regular expression "
            "(missing ), unterminated subpattern",
        ),
        (
            "[pairs.patterns]\nstatus_lines = ['^(?P<colour>\\w+)$']",
            "pairs[0] (prod).patterns.status_lines: [0]: (?P<colour>…) is not a field habot "
            "fills; name groups role, state, ip, this_host, health, floating_ip",
        ),
        (
            "[pairs.patterns]\nstatus_lines = ['^Primary is up$']",
            "pairs[0] (prod).patterns.status_lines: [0]: names no field",
        ),
        (
            "[pairs.patterns.words]\nMASTER = 'boss'",
            "pairs[0] (prod).patterns.words: 'MASTER' = 'boss': 'boss' is not one of habot's "
            "words: 'primary', 'secondary'",
        ),
        (
            "[ssh.patterns]\nconfirmation = 'Proceed (y/n'",
            "ssh.patterns.confirmation: not a regular expression",
        ),
        ("[ssh.patterns]\nrefusal = '['", "ssh.patterns.refusal: not a regular expression"),
        ("[ssh.patterns]\ncolour = 'x'", "ssh.patterns.colour: unknown key (a typo?)"),
    ],
)
def test_a_bad_pattern_is_a_load_time_error_naming_its_key(
    tmp_path: Path, patterns: str, message: str
) -> None:
    """Each pattern is checked when the configuration loads: a regex that does not
    compile, a group habot does not fill, a pattern that fills nothing, a word that means
    nothing to habot — each an error naming its key, before anything runs."""
    ssh, pairs = EXAMPLE.split("[[pairs]]")
    text = (ssh + patterns + "\n[[pairs]]" + pairs if patterns.startswith("[ssh")
            else EXAMPLE + patterns + "\n")  # fmt: skip
    reported = error_for(tmp_path, text)
    assert message in reported
    assert reported.count("\n") == 0


def test_a_pairs_patterns_sit_on_top_of_the_shared_ones(tmp_path: Path) -> None:
    """[ssh.patterns] holds for every pair; a pair's own patterns replace the settings it
    sets and keep the rest; [ssh] prompt is every pair's unless it sets its own."""
    ssh, pairs = EXAMPLE.split("[[pairs]]")
    shared = (
        "prompt = 'pam> '\n[ssh.patterns]\nrefusal = 'denied'\nwords = { MASTER = 'primary' }\n"
    )
    own = "\n[pairs.patterns]\nwords = { CHIEF = 'primary' }\n"
    settings = load_settings(write(tmp_path, ssh + shared + "[[pairs]]" + pairs + own))
    patterns = settings.patterns(settings.pairs[0])
    assert patterns.refusal == "denied"
    assert patterns.meaning("chief") is Role.PRIMARY
    assert patterns.meaning("MASTER") is None  # the pair's words replace the shared ones
    assert patterns.meaning("Primary") is Role.PRIMARY  # habot's own words always hold
    assert settings.login(settings.pairs[0]).prompt == "pam> "


def test_the_configuration_pages_example_loads_as_written() -> None:
    """docs/configuration.md's example is a whole, valid habot.toml (every key in it
    exists and takes the value shown), and the first-pair guide's patterns load too."""
    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```toml\n(.*?)```", page.split("## Configuration", 1)[1], re.S)[:1]
    settings = parse_settings(tomllib.loads(block))
    assert settings.patterns(settings.pairs[0]).refusal == "permission denied"
    guide = (root / "docs" / "first-pair.md").read_text(encoding="utf-8")
    [patterns] = [b for b in re.findall(r"```toml\n(.*?)```", guide, re.S) if "patterns" in b]
    taught = parse_settings(tomllib.loads(block.split("[pairs.patterns]")[0] + patterns))
    assert len(taught.patterns(taught.pairs[0]).status_lines) == 5


def test_the_settings_page_is_the_one_the_settings_generate() -> None:
    """docs/settings.md is generated from the settings' models (every setting, its default,
    what it does): a setting added, removed or re-explained without regenerating it
    fails here (`python -m habot.config.starter > docs/settings.md`)."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text("utf-8")
    assert page == settings_reference()


def test_every_setting_is_explained_and_the_starter_file_shows_it() -> None:
    """Each setting of each section has words saying what it does, and `habot init`'s
    starter file — which loads as written — shows each with its default."""
    start = Start([StarterPair("prod", "10.0.0.1", "10.0.0.2")], Path("/kh"), [Path("/k")])
    text = starter_toml(start, date(2026, 12, 4))
    loaded = parse_settings(tomllib.loads(text))
    assert [p.name for p in loaded.pairs] == ["prod"]
    for _, model in REFERENCE:
        notes = field_notes(model)
        for name in model.model_fields:
            assert notes.get(name), f"{model.__name__}.{name} has no words"
    for name in ("status_every", "ttl", "pool_size", "status_lines", "target", "dm_approvers"):
        assert re.search(rf"(?m)^# {name} = ", text), name


def test_duplicate_pair_names_are_refused(tmp_path: Path) -> None:
    """Pair names are unique (commands address pairs by name)."""
    text = EXAMPLE + EXAMPLE.split("\n\n", 1)[1]
    assert "pairs: pair names must be unique; repeated: prod" in error_for(tmp_path, text)


def test_no_pairs_is_refused(tmp_path: Path) -> None:
    """A configuration must name at least one pair."""
    assert "pairs: is required" in error_for(tmp_path, EXAMPLE.split("[[pairs]]")[0])
    assert "pairs: must list at least 1" in error_for(
        tmp_path, "pairs = []\n" + EXAMPLE.split("[[pairs]]")[0]
    )


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    """Several mistakes are reported together, not one per run."""
    text = EXAMPLE.replace('"10s"', '"soon"').replace('"10.20.0.11"', '"bad host"')
    message = error_for(tmp_path, text)
    assert "ssh.connect_timeout" in message
    assert "pairs[0] (prod).primary" in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    """A TOML syntax error says it is not valid TOML, with the position."""
    assert "not valid TOML" in error_for(tmp_path, EXAMPLE + "\n[ssh\n")


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    """A missing config file names --config and HABOT_CONFIG."""
    with pytest.raises(ConfigError, match="--config PATH or set HABOT_CONFIG"):
        load_settings(tmp_path / "nope.toml")


def test_config_path_resolution_order(tmp_path: Path) -> None:
    """--config wins over $HABOT_CONFIG, which wins over ./habot.toml."""
    explicit = tmp_path / "a.toml"
    assert config_path(explicit, {"HABOT_CONFIG": "/b.toml"}) == explicit
    assert config_path(None, {"HABOT_CONFIG": "/b.toml"}) == Path("/b.toml")
    assert config_path(None, {}) == Path("habot.toml")
    assert config_path(None, {"HABOT_CONFIG": ""}) == Path("habot.toml")


def test_env_var_is_used_by_load(tmp_path: Path) -> None:
    """load_settings reads the file that HABOT_CONFIG names."""
    path = write(tmp_path, EXAMPLE)
    assert load_settings(env={"HABOT_CONFIG": str(path)}).pairs[0].name == "prod"


def test_password_pairs_need_no_client_keys_and_override_the_login(tmp_path: Path) -> None:
    """A pair may log in with a password and its own username; `client_keys` is needed
    only while some pair still uses a key."""
    text = EXAMPLE.replace('client_keys = ["/etc/habot/id_ed25519"]\n', "") + (
        'auth = "password"\nusername = "pamowner"\n'
    )
    settings = load_settings(write(tmp_path, text), env={})
    [prod] = settings.pairs
    assert settings.login(prod) == Login("pamowner", Auth.PASSWORD)
    assert settings.ssh.client_keys == ()
    mixed = text + '\n[[pairs]]\nname = "dr"\nprimary = "10.30.0.11"\nsecondary = "10.30.0.12"\n'
    assert "ssh.client_keys: needed by 1 pair logging in with a key (dr;" in error_for(
        tmp_path, mixed
    )
    everyone = mixed.replace("[ssh]\n", '[ssh]\nauth = "password"\n')
    settings = load_settings(write(tmp_path, everyone), env={})
    assert [settings.login(p) for p in settings.pairs] == [
        Login("pamowner", Auth.PASSWORD),
        Login("habot", Auth.PASSWORD),
    ]
    assert "pairs[0] (prod).auth: Input should be 'key' or 'password'" in error_for(
        tmp_path, text.replace('auth = "password"', 'auth = "kerberos"')
    )


def test_the_transport_is_chosen_in_ssh_and_overridden_per_pair(tmp_path: Path) -> None:
    """`[ssh] transport` is every pair's default (exec unless said); a pair may choose
    its own and name its console's prompt."""
    text = EXAMPLE + (
        '\n[[pairs]]\nname = "dr"\nprimary = "10.30.0.11"\nsecondary = "10.30.0.12"\n'
        'transport = "exec"\n'
    )
    settings = load_settings(write(tmp_path, text), env={})
    assert [settings.login(p).transport for p in settings.pairs] == [Transport.EXEC] * 2
    consoles = text.replace("[ssh]\n", '[ssh]\ntransport = "console"\n').replace(
        'floating_ip = "10.20.0.10"', 'floating_ip = "10.20.0.10"\nprompt = "pam-[a-z]+> "'
    )
    settings = load_settings(write(tmp_path, consoles), env={})
    prod, dr = (settings.login(p) for p in settings.pairs)
    assert (prod.transport, prod.prompt) == (Transport.CONSOLE, "pam-[a-z]+> ")
    assert (dr.transport, dr.prompt) == (Transport.EXEC, None)


def test_every_setting_can_come_from_the_environment(tmp_path: Path) -> None:
    """HABOT_SECTION__KEY overrides [section] key: numbers, lists and durations read as
    they would in the file; the file's other keys stay."""
    env = {
        "HABOT_SSH__POOL_SIZE": "7",
        "HABOT_SLACK__CHANNELS": '["C0HAOPS", "C0NOC"]',
        "HABOT_SLACK__COMMAND": "/pam-ha",
        "HABOT_SCHEDULE__STATUS_EVERY": "30s",
        "HABOT_DATABASE__URL": "sqlite:////var/lib/habot/habot.db",
        "HABOT_SSH_PASSWORD_PROD": "not an override (one underscore)",
    }
    settings = load_settings(write(tmp_path, EXAMPLE), env)
    assert settings.ssh.pool_size == 7
    assert settings.ssh.connect_timeout == timedelta(seconds=10)  # from the file
    assert settings.slack.channels == ("C0HAOPS", "C0NOC")
    assert settings.slack.command == "/pam-ha"
    assert settings.schedule.status_every == timedelta(seconds=30)
    assert settings.database.url == "sqlite:////var/lib/habot/habot.db"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HABOT_SSH__POOL_SIZE", "many", "ssh.pool_size: .* \\(set by HABOT_SSH__POOL_SIZE\\)"),
        ("HABOT_SLACK__CHANELS", '["C0A"]', "slack.chanels: unknown key .*HABOT_SLACK__CHANELS"),
        ("HABOT_PAIRS__NAME", "x", "HABOT_PAIRS__NAME: there is no \\[pairs\\] section"),
    ],
)
def test_a_bad_override_is_named_as_one(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    """A bad environment override is named as an override, with its variable."""
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, EXAMPLE), {name: value})


@pytest.mark.parametrize(
    "operation",
    ["failover", "switchover", "failback", "demote-primary", "initialise", "make-standalone"],
)
def test_no_approval_is_refused_for_an_operation_that_changes_roles(
    tmp_path: Path, operation: str
) -> None:
    """`required = 0` would let one operator run a role or redundancy change alone: refused
    at load, from the file or the environment, naming the key and what may have 0."""
    text = EXAMPLE + f"\n[approval.operations.{operation}]\nrequired = 0\n"
    message = error_for(tmp_path, text)
    assert f"approval.operations: {operation}: required = 0 would let one person" in message
    assert "(only joining-code may have 0)" in message
    env = {"HABOT_APPROVAL__OPERATIONS": f"{{ {operation} = {{ required = 0 }} }}"}
    with pytest.raises(ConfigError, match="required = 0 would let one person run it alone"):
        load_settings(write(tmp_path, EXAMPLE), env)


def test_a_joining_code_may_need_no_approval(tmp_path: Path) -> None:
    """joining-code changes no role (its secret goes only to the requester): 0 is allowed."""
    text = EXAMPLE + "\n[approval.operations.joining-code]\nrequired = 0\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.approval.operations["joining-code"].required == 0
    assert settings.weakened() == ()


def test_settings_that_weaken_four_eyes_are_named(tmp_path: Path) -> None:
    """Anyone as approver, or an approval window over an hour, is allowed but named (for
    the start's log and `habot check`); the defaults name nothing."""
    assert load_settings(write(tmp_path, EXAMPLE)).weakened() == ()
    text = EXAMPLE + '\n[roles]\napprovers = ["*"]\n[approval]\nttl = "8h"\n'
    first, second = load_settings(write(tmp_path, text)).weakened()
    assert first.startswith('roles.approvers = ["*"]: anyone in the workspace may approve')
    assert second.startswith("approval.ttl = 8h: a request stays approvable that long")
