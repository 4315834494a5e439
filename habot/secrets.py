"""Secrets: the OS keyring first (service "habot"), then environment variables.

A headless server usually has no keyring backend at all, and keyring raises
``NoKeyringError``: that is normal, so habot falls back to the environment quietly.
Secret values are never logged or put in error messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import keyring
import keyring.errors

SERVICE = "habot"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecretName:
    """A secret's keyring entry name and its environment-variable fallback."""

    keyring_name: str
    env_var: str


SSH_KEY_PASSPHRASE = SecretName("ssh_key_passphrase", "HABOT_SSH_KEY_PASSPHRASE")
BOT_TOKEN = SecretName("bot_token", "SLACK_BOT_TOKEN")
APP_TOKEN = SecretName("app_token", "SLACK_APP_TOKEN")
SIGNING_SECRET = SecretName("signing_secret", "SLACK_SIGNING_SECRET")
AUDIT_KEY = SecretName("audit_key", "HABOT_AUDIT_KEY")
PAGERDUTY_ROUTING_KEY = SecretName("pagerduty_routing_key", "HABOT_PAGERDUTY_ROUTING_KEY")
OPSGENIE_API_KEY = SecretName("opsgenie_api_key", "HABOT_OPSGENIE_API_KEY")
TOTP_KEY = SecretName("totp_key", "HABOT_TOTP_KEY")
PAGERDUTY_API_TOKEN = SecretName("pagerduty_api_token", "HABOT_PAGERDUTY_API_TOKEN")
#: Every secret habot reads by name (a pair's SSH password is found per pair besides).
EVERY_SECRET = (
    SSH_KEY_PASSPHRASE, BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, AUDIT_KEY,
    PAGERDUTY_ROUTING_KEY, OPSGENIE_API_KEY, TOTP_KEY, PAGERDUTY_API_TOKEN,
)  # fmt: skip
#: Each paging tool's key (by Pager value).
PAGER_KEYS = {"pagerduty": PAGERDUTY_ROUTING_KEY, "opsgenie": OPSGENIE_API_KEY}


def pager_key_name(pager: str, approvers_key: str | None, route: str | None) -> SecretName:
    """Where a page's key is looked up: the tool's own — or, for a page to the approvers'
    service when ``[paging] approvers_routing_key`` names one, that entry (PagerDuty)."""
    if route is not None and approvers_key and pager == "pagerduty":
        return SecretName(approvers_key, "HABOT_" + approvers_key.upper())
    return PAGER_KEYS[pager]


KeyringGetter = Callable[[str, str], str | None]


def ssh_password_names(pair: str) -> tuple[SecretName, SecretName]:
    """Where a pair's SSH password is looked up: its own entry, then the shared one."""
    own = "HABOT_SSH_PASSWORD_" + pair.upper().replace("-", "_")
    return SecretName(f"ssh_password:{pair}", own), SecretName("ssh_password", "HABOT_SSH_PASSWORD")


class Secrets:
    """Looks secrets up; the keyring getter is a port so tests can pass a fake."""

    def __init__(
        self, env: Mapping[str, str], keyring_get: KeyringGetter = keyring.get_password
    ) -> None:
        self._env = env
        self._keyring_get = keyring_get

    def ssh_password(self, pair: str) -> str | None:
        """A pair's SSH password: the keyring (``ssh_password:PAIR``, then
        ``ssh_password``), else the environment (``HABOT_SSH_PASSWORD_<PAIR>``, then
        ``HABOT_SSH_PASSWORD``)."""
        found = self.ssh_password_from(pair)
        return found[0] if found else None

    def ssh_password_from(self, pair: str) -> tuple[str, str] | None:
        """A pair's SSH password and where it was found ("keyring entry habot/…",
        "environment variable …": what a refused password's message names), or None."""
        own, shared = ssh_password_names(pair)
        for name in (own, shared):
            if value := self._from_keyring(name):
                return value, f"keyring entry {SERVICE}/{name.keyring_name}"
        for name in (own, shared):
            if value := self._env.get(name.env_var):
                return value, f"environment variable {name.env_var}"
        return None

    def scrubber(self, pairs: Iterable[str]) -> Callable[[str], str]:
        """A function that takes every secret habot holds out of a text (each value, as
        found now, replaced by "[secret]"): for text that leaves habot, like the SIEM's."""
        values = [v for name in EVERY_SECRET if (v := self.get(name))]
        values += [v for pair in pairs if (v := self.ssh_password(pair))]
        ordered = sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)

        def scrub(text: str) -> str:
            for value in ordered:
                text = text.replace(value, "[secret]")
            return text

        return scrub

    def get(self, secret: SecretName) -> str | None:
        """The secret's value, or None when neither the keyring nor the environment has it."""
        return self._from_keyring(secret) or self._env.get(secret.env_var) or None

    def _from_keyring(self, secret: SecretName) -> str | None:
        try:
            value = self._keyring_get(SERVICE, secret.keyring_name)
        except keyring.errors.NoKeyringError:
            return None
        except keyring.errors.KeyringError as exc:
            log.warning(
                "keyring lookup of %s failed (%s); using the environment",
                secret.keyring_name,
                type(exc).__name__,
            )
            return None
        return value or None
