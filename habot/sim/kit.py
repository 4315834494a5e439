"""The simulator's files: host keys, a client key, known_hosts and a ready habot.toml."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from habot.core.addresses import NodeAddress


@dataclass(frozen=True)
class SimPairEndpoints:
    """Where one simulated pair listens, for the config file."""

    name: str
    primary: NodeAddress
    secondary: NodeAddress
    floating_ip: str | None
    console: bool = False


class SimKit:
    """Keys and files kept in the simulator's state directory (reused across runs)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir = state_dir.absolute()  # its habot.toml works from any directory
        self.dir = state_dir
        self.client_key_path = state_dir / "id_ed25519"
        self.known_hosts_path = state_dir / "known_hosts"
        self.config_path = state_dir / "habot.toml"
        self.control_path = state_dir / "control.json"
        self.password_path = state_dir / "console_password"
        self.database_path = state_dir / "habot.db"

    def prepare(self) -> None:
        """Create the directory and the client key if they are missing."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self._key(self.client_key_path)

    def client_public_key(self) -> asyncssh.SSHAuthorizedKeys:
        """The only key the simulated nodes accept."""
        public = self._key(self.client_key_path).export_public_key().decode()
        return asyncssh.import_authorized_keys(public)

    def console_password(self) -> str:
        """The password console-mode nodes take (made once, kept 0600 in the state dir)."""
        if not self.password_path.exists():
            self.password_path.touch(mode=0o600)
            self.password_path.write_text(secrets.token_urlsafe(18), encoding="utf-8")
        return self.password_path.read_text(encoding="utf-8").strip()

    def host_key(self, pair: str, role: str) -> asyncssh.SSHKey:
        """The persistent host key of one simulated node."""
        return self._key(self.dir / "host_keys" / f"{pair}-{role}")

    def write_known_hosts(self, entries: list[tuple[NodeAddress, asyncssh.SSHKey]]) -> None:
        """Record every simulated node's host key, as an operator would after verifying it."""
        lines = [f"{_pattern(a)} {k.export_public_key().decode().strip()}\n" for a, k in entries]
        self.known_hosts_path.write_text("".join(lines), encoding="utf-8")

    def write_config(self, pairs: list[SimPairEndpoints]) -> None:
        """A habot.toml that points at the simulated pairs."""
        text = (
            "# Written by `habot sim run`: the simulated pairs and the keys to reach them.\n"
            "[ssh]\n"
            'username = "habot"\n'
            f'client_keys = ["{self.client_key_path}"]\n'
            f'known_hosts = "{self.known_hosts_path}"\n'
            'connect_timeout = "3s"\n'
            'status_timeout = "10s"\n'
            'command_timeout = "2m"\n'
        )
        for pair in pairs:
            text += (
                f'\n[[pairs]]\nname = "{pair.name}"\n'
                f'primary = "{pair.primary}"\nsecondary = "{pair.secondary}"\n'
            )
            if pair.floating_ip:
                text += f'floating_ip = "{pair.floating_ip}"\n'
            if pair.console:
                text += (
                    "# Its console takes a password: HABOT_SSH_PASSWORD (or the keyring entry\n"
                    f"# habot/ssh_password:{pair.name}) must hold the one in {self.password_path}\n"
                    'transport = "console"\nauth = "password"\n'
                )
        text += (
            "\n# What habot keeps about these pairs (the audit log, readings, requests).\n"
            f'[database]\nurl = "sqlite:///{self.database_path}"\n'
        )
        self.config_path.write_text(text, encoding="utf-8")

    def _key(self, path: Path) -> asyncssh.SSHKey:
        if path.exists():
            return asyncssh.read_private_key(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(path)
        os.chmod(path, 0o600)
        key.write_public_key(path.with_name(path.name + ".pub"))
        return key


def _pattern(address: NodeAddress) -> str:
    host = address.host
    return host if address.port == 22 else f"[{host}]:{address.port}"
