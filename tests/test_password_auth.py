"""Password logins (`auth = "password"`) against a real OpenSSH sshd and a throwaway local
account: the password comes from the keyring or the environment, a wrong one costs the
account one failed attempt per pause (appliances lock accounts), and the password shows
up nowhere — logs at any verbosity, exceptions, reprs."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from habot.config import Settings, Transport, parse_settings
from habot.core.catalogue import HaCommand, ha_command
from habot.errors import AuthenticationFailed
from habot.runtime import node_logins
from habot.secrets import Secrets
from habot.ssh.executor import SshExecutor
from tests.kit.factories import FAST_SSH, serving, system_binary
from tests.kit.sshd import Sshd, prepare

STATUS = ha_command(HaCommand.STATUS)


@dataclass
class Account:
    """A local account made for one test."""

    name: str
    password: str


@pytest.fixture
def account() -> Iterator[Account]:
    """A throwaway local account with a random password (removed afterwards)."""
    if os.geteuid() != 0:
        if os.environ.get("HABOT_REQUIRE_SYSTEM_TESTS") == "1":
            pytest.fail("password-login tests must run as root (they create a local account)")
        pytest.skip("password-login tests create a local account: run them as root")
    system_binary("useradd", "passwd")
    made = Account(f"habotpw{secrets.token_hex(3)}", secrets.token_urlsafe(18))
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", made.name], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{made.name}:{made.password}\n".encode(), check=True)
        yield made
    finally:
        subprocess.run(["userdel", made.name], check=False)


@asynccontextmanager
async def password_server(console: bool) -> AsyncIterator[Sshd]:
    """sshd taking password logins (into the console only, with ``console``), in a folder
    the throwaway account can read."""
    binary = system_binary("sshd", "openssh-server")
    system_binary("ssh-keygen", "openssh-client")
    base = readable_folder()
    try:
        prepared = prepare(base / "sshd", binary, passwords=True, console=console)
        async with serving(*prepared) as handle:
            yield handle
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def password_sshd() -> AsyncIterator[Sshd]:
    """sshd taking password logins for exec requests."""
    async with password_server(console=False) as handle:
        yield handle


def readable_folder() -> Path:
    """A new folder under /tmp every account can enter (pytest's own are root-only)."""
    base = Path(tempfile.mkdtemp(prefix="habot-sshd-pw-"))
    base.chmod(0o755)
    return base


def settings_for(sshd: Sshd, account: Account) -> Settings:
    """One pair ("lab") logging in to the sshd with a password; no client keys at all."""
    return parse_settings(
        {
            "ssh": {"known_hosts": str(sshd.known_hosts), "auth": "password", **FAST_SSH},
            "pairs": [
                {
                    "name": "lab",
                    "primary": str(sshd.address),
                    "secondary": "127.0.0.1:1",
                    "username": account.name,
                }
            ],
        }
    )


def no_keyring(service: str, name: str) -> str | None:
    """A keyring with nothing in it."""
    return None


def failed_attempts(sshd: Sshd) -> int:
    """Failed password attempts sshd logged."""
    log = sshd.dir / "sshd.log"
    return log.read_text().count("Failed password") if log.exists() else 0


async def test_a_password_from_the_environment_logs_in(
    password_sshd: Sshd, account: Account
) -> None:
    """HABOT_SSH_PASSWORD_LAB carries the password; ha-status comes back over OpenSSH."""
    settings = settings_for(password_sshd, account)
    env = {"HABOT_SSH_PASSWORD_LAB": account.password}
    logins = node_logins(settings, Secrets(env, no_keyring))
    async with SshExecutor(settings.ssh, None, logins) as executor:
        result = await executor.run(password_sshd.address, STATUS)
    assert result.ok
    assert "High Availability status: OK" in result.output


async def test_a_wrong_password_is_one_attempt_and_is_never_shown(
    password_sshd: Sshd, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong password: "authentication failed" naming the user and where the password
    was taken from, never the password itself; asked
    again at once, habot does not offer it again (sshd saw one failure, not two); and
    nothing logged at DEBUG — asyncssh's included — holds the password."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("asyncssh").setLevel(logging.DEBUG)
    wrong = "wrong-" + secrets.token_urlsafe(12)
    settings = settings_for(password_sshd, account)
    logins = node_logins(settings, Secrets({"HABOT_SSH_PASSWORD": wrong}, no_keyring))
    errors = []
    async with SshExecutor(settings.ssh, None, logins) as executor:
        for _ in range(3):
            with pytest.raises(AuthenticationFailed) as info:
                await executor.run(password_sshd.address, STATUS)
            errors.append(info.value)
    assert "authentication failed" in str(errors[0])
    assert account.name in str(errors[0])
    assert "taken from the environment variable HABOT_SSH_PASSWORD: check it there" in str(
        errors[0]
    )  # where to mend it
    assert all("not tried again" in str(e) for e in errors[1:])
    assert failed_attempts(password_sshd) == 1
    shown = caplog.text + "".join(repr(e) + str(e) + repr(e.__cause__) for e in errors)
    assert wrong not in shown
    assert account.password not in shown


@pytest.fixture
async def password_console() -> AsyncIterator[Sshd]:
    """sshd taking password logins into the interactive console only (no exec)."""
    async with password_server(console=True) as handle:
        yield handle


async def test_a_password_login_reaches_the_console_as_the_guide_describes(
    password_console: Sshd, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """A named account, its password from the keyring, the interactive console: ha-status
    is typed at the prompt and read back bare, with the banner's list; nothing logged at
    DEBUG holds the password."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("asyncssh").setLevel(logging.DEBUG)
    settings = settings_for(password_console, account)
    settings = settings.model_copy(
        update={"ssh": settings.ssh.model_copy(update={"transport": Transport.CONSOLE})}
    )
    keyring = {("habot", "ssh_password:lab"): account.password}
    logins = node_logins(settings, Secrets({}, lambda s, n: keyring.get((s, n))))
    async with SshExecutor(settings.ssh, None, logins) as executor:
        result = await executor.run(password_console.address, STATUS)
    assert result.ok
    assert result.output.startswith("Primary:")
    assert "pam-lab>" not in result.output
    assert result.offered == {"ha-status", "ha-failover", "ha-initialise"}
    assert account.password not in caplog.text
