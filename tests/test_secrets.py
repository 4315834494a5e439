"""Secrets come from the keyring first, the environment second, and never leak into logs."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncssh
import keyring.errors
import pytest

from habot.config import parse_settings
from habot.errors import ConfigError
from habot.runtime import node_logins
from habot.secrets import SERVICE, SSH_KEY_PASSPHRASE, Secrets
from habot.ssh.executor import load_client_keys


class FakeKeyring:
    """A keyring port double: a dict, or an error to raise."""

    def __init__(
        self, values: dict[tuple[str, str], str] | None = None, error: Exception | None = None
    ) -> None:
        self.values = values or {}
        self.error = error

    def __call__(self, service: str, name: str) -> str | None:
        if self.error:
            raise self.error
        return self.values.get((service, name))


ENV = {"HABOT_SSH_KEY_PASSPHRASE": "from-env"}


def test_keyring_value_wins_over_environment() -> None:
    """A value in the keyring (service "habot") is used before the environment."""
    ring = FakeKeyring({(SERVICE, "ssh_key_passphrase"): "from-keyring"})
    assert Secrets(ENV, ring).get(SSH_KEY_PASSPHRASE) == "from-keyring"


def test_no_keyring_backend_falls_back_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """A headless server without a keyring backend uses the environment, logging nothing."""
    ring = FakeKeyring(error=keyring.errors.NoKeyringError("no backend"))
    with caplog.at_level(logging.DEBUG):
        assert Secrets(ENV, ring).get(SSH_KEY_PASSPHRASE) == "from-env"
    assert caplog.records == []


def test_keyring_failure_is_logged_without_the_value(caplog: pytest.LogCaptureFixture) -> None:
    """A broken keyring is logged (by name only) and the environment is used."""
    ring = FakeKeyring(error=keyring.errors.KeyringLocked("locked"))
    with caplog.at_level(logging.DEBUG):
        assert Secrets(ENV, ring).get(SSH_KEY_PASSPHRASE) == "from-env"
    assert "ssh_key_passphrase" in caplog.text
    assert "from-env" not in caplog.text


def test_missing_everywhere_is_none() -> None:
    """No keyring entry and no variable: None (callers decide whether that is fatal)."""
    assert Secrets({}, FakeKeyring()).get(SSH_KEY_PASSPHRASE) is None
    assert Secrets({"HABOT_SSH_KEY_PASSPHRASE": ""}, FakeKeyring()).get(SSH_KEY_PASSPHRASE) is None


def test_encrypted_client_key_needs_its_passphrase(tmp_path: Path) -> None:
    """An encrypted key loads with its passphrase; without it the error says where to put it."""
    path = tmp_path / "id_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(path, passphrase="s3cret")
    assert len(load_client_keys((path,), "s3cret")) == 1
    with pytest.raises(ConfigError, match="HABOT_SSH_KEY_PASSPHRASE") as info:
        load_client_keys((path,), None)
    assert "s3cret" not in str(info.value)


def test_wrong_passphrase_is_a_config_error_without_the_secret(tmp_path: Path) -> None:
    """A wrong passphrase is a config error naming the key file, not the passphrase."""
    path = tmp_path / "id_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(path, passphrase="s3cret")
    with pytest.raises(ConfigError, match=r"ssh\.client_keys: .*id_ed25519") as info:
        load_client_keys((path,), "wrong-guess")
    assert "wrong-guess" not in str(info.value)


def test_missing_client_key_is_a_config_error(tmp_path: Path) -> None:
    """A client key path that does not exist is named."""
    with pytest.raises(ConfigError, match="no such file"):
        load_client_keys((tmp_path / "absent",), None)


def test_a_pairs_ssh_password_is_looked_up_in_the_documented_order() -> None:
    """Keyring `ssh_password:PAIR`, keyring `ssh_password`, then HABOT_SSH_PASSWORD_<PAIR>
    (upper case, '-' as '_'), then HABOT_SSH_PASSWORD."""
    env = {"HABOT_SSH_PASSWORD_DR_WEST": "env-own", "HABOT_SSH_PASSWORD": "env-shared"}
    ring = {(SERVICE, "ssh_password:dr-west"): "ring-own", (SERVICE, "ssh_password"): "ring-shared"}
    assert Secrets(env, FakeKeyring(ring)).ssh_password("dr-west") == "ring-own"
    del ring[(SERVICE, "ssh_password:dr-west")]
    assert Secrets(env, FakeKeyring(ring)).ssh_password("dr-west") == "ring-shared"
    assert Secrets(env, FakeKeyring()).ssh_password("dr-west") == "env-own"
    assert Secrets(env, FakeKeyring()).ssh_password("prod") == "env-shared"
    assert Secrets({}, FakeKeyring()).ssh_password("prod") is None


def test_a_missing_password_names_both_places_and_a_found_one_is_never_shown() -> None:
    """auth = "password" with no password anywhere: the pair's logins say the keyring
    entry and the variables to set (habot says it for that pair's nodes, and reads the
    others); a login holding a password never prints it, and names where it was found."""
    settings = parse_settings(
        {
            "ssh": {"known_hosts": "/dev/null", "auth": "password"},
            "pairs": [{"name": "dr-west", "primary": "10.0.0.1", "secondary": "10.0.0.2"}],
        }
    )
    [message] = {
        login.missing for login in node_logins(settings, Secrets({}, FakeKeyring())).values()
    }
    assert message is not None
    assert "keyring set habot ssh_password:dr-west" in message
    assert "HABOT_SSH_PASSWORD_DR_WEST" in message
    assert "HABOT_SSH_PASSWORD)" in message
    logins = node_logins(settings, Secrets({"HABOT_SSH_PASSWORD": "s3cr3t-pw"}, FakeKeyring()))
    assert {login.password for login in logins.values()} == {"s3cr3t-pw"}
    assert "s3cr3t-pw" not in repr(logins)
    assert {login.source for login in logins.values()} == {
        "environment variable HABOT_SSH_PASSWORD"
    }
    assert {login.missing for login in logins.values()} == {None}
    kept = Secrets({}, FakeKeyring({("habot", "ssh_password:dr-west"): "k-pw"})).ssh_password_from(
        "dr-west"
    )
    assert kept == ("k-pw", "keyring entry habot/ssh_password:dr-west")
