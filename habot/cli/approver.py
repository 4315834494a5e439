"""`habot approver enrol USER` and `habot approver new-key`: authenticator codes for
step-up approvals (``[approval.operations.NAME] totp = true``)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from cryptography.fernet import Fernet

from habot.cli.local import in_habot
from habot.core.totp import new_secret, provisioning_uri
from habot.errors import ConfigError
from habot.runtime import Habot
from habot.secrets import TOTP_KEY


@click.group()
def approver() -> None:
    """Approvers' authenticator codes for step-up approvals."""


@approver.command("new-key")
def new_key() -> None:
    """Print a new totp_key (it seals approvers' secrets in the database)."""
    click.echo(Fernet.generate_key().decode())
    click.echo(
        f"Keep it in the keyring (service habot, entry {TOTP_KEY.keyring_name}) or in "
        f"{TOTP_KEY.env_var}, on every replica; then enrol each approver.",
        err=True,
    )


@approver.command("enrol")
@click.argument("user")
@click.pass_context
def enrol(ctx: click.Context, user: str) -> None:
    """Enrol USER (a Slack user ID): print, once, the otpauth:// URI their authenticator app
    scans. Enrolling again replaces their secret (the old app stops working)."""
    if not (user[:1] in {"U", "W"} and user[1:].isalnum() and 3 <= len(user) <= 21):
        raise click.BadParameter(f"{user!r} is not a Slack user ID (U… or W…)", param_hint="USER")
    secret = new_secret()

    async def enrolled(habot: Habot) -> None:
        if habot.codes is None:
            raise ConfigError(
                f"no totp_key: make one with `habot approver new-key` and keep it in the "
                f"keyring ({TOTP_KEY.keyring_name}) or {TOTP_KEY.env_var}"
            )
        await habot.codes.enrol(user, secret, datetime.now(UTC))

    in_habot(ctx, enrolled)
    click.echo(provisioning_uri(secret, user))
    click.echo(
        f"Shown once: {user} scans it now (or types the secret in it into their app). Their "
        "approvals of operations with totp = true then need its current code.",
        err=True,
    )
