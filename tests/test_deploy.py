"""The install recipes: the systemd unit passes `systemd-analyze verify` and keeps its
hardening; the Containerfile runs habot as a non-root user from a slim base, with no
secret inside."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.factories import system_binary

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "habot.service"
CONTAINERFILE = ROOT / "Containerfile"


def settings_of(text: str) -> dict[str, list[str]]:
    """Each `Key=value` of a unit file (a key may repeat)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_verifies_cleanly(tmp_path: Path) -> None:
    """No unknown key, no missing executable (the test venv's habot stands in for
    /opt/habot's)."""
    analyze = system_binary("systemd-analyze", "systemd")
    here = Path(sys.executable).parent / "habot"
    unit = tmp_path / "habot.service"
    unit.write_text(UNIT.read_text().replace("/opt/habot/bin/habot", str(here)))
    ran = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    assert (ran.returncode, ran.stdout + ran.stderr) == (0, "")


def test_the_units_documentation_is_a_file_its_install_steps_create() -> None:
    """Documentation= names a file a pip install alone does not make: the install steps
    at the top of the unit copy it there."""
    text = UNIT.read_text()
    [docs] = settings_of(text)["Documentation"]
    assert docs.startswith("file://")
    steps = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.split("#", 2)[1].strip().startswith("install") and
               docs.removeprefix("file://") in line for line in steps)  # fmt: skip


def test_the_unit_runs_habot_unprivileged_and_restarts_only_what_can_heal() -> None:
    """The systemd unit runs habot as its own user and restarts it only on failures that can
    heal."""
    unit = settings_of(UNIT.read_text())
    assert unit["User"] == ["habot"]
    assert unit["StateDirectory"] == ["habot"]
    assert unit["ExecStart"][0].endswith(" run")
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == ["2"]  # a refused token: no restart loop
    assert unit["EnvironmentFile"] == ["/etc/habot/habot.env"]
    for hardening in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "RestrictSUIDSGID"):
        assert unit[hardening] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["CapabilityBoundingSet"] == [""]
    assert not any("TOKEN" in v for values in unit.values() for v in values)


def test_the_containerfile_runs_habot_as_a_user_with_no_secret_inside() -> None:
    """The container runs habot as an unprivileged user, with no secret copied into the image."""
    text = CONTAINERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert re.match(r"FROM \S+python:3\.11-slim$", instructions[0])
    users = [line for line in instructions if line.startswith("USER ")]
    assert users == ["USER habot"]
    assert instructions.index("USER habot") < next(
        i for i, line in enumerate(instructions) if line.startswith("CMD ")
    )
    assert "habot --log-format json -v run" in text
    assert "HEALTHCHECK" in text
    assert not re.search(r"xox[bp]-|xapp-|SLACK_[A-Z_]+=", text)


@pytest.mark.parametrize("path", [UNIT, CONTAINERFILE], ids=["unit", "Containerfile"])
def test_the_recipes_use_environment_overrides_habot_understands(path: Path) -> None:
    """Every HABOT_… variable a recipe sets is one habot reads."""
    from habot.config import ENV_PREFIX, SECTIONS

    names = set(re.findall(r"\b(HABOT_[A-Z_]+)=", path.read_text()))
    for name in names:
        section, sep, key = name.removeprefix(ENV_PREFIX).lower().partition("__")
        assert name == "HABOT_CONFIG" or (sep and section in SECTIONS and key), name
