"""Authenticator codes for a step-up approval (RFC 6238 TOTP, 30-second steps, through
pyotp): which step a code belongs to — the current one or its neighbours, for a phone's
clock a little off — so that a code used once is never accepted again (pure)."""

from __future__ import annotations

from datetime import datetime

import pyotp

STEP = 30  # seconds per code
WINDOW = 1  # steps either side accepted
#: The approval form's field for the code.
CODE = "code"


def matched_step(secret: str, code: str, now: datetime, window: int = WINDOW) -> int | None:
    """The time step ``code`` is the code of, within ``window`` steps of ``now``; None
    when it is none of them (compared in constant time)."""
    typed = "".join(code.split())
    if not typed.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int(now.timestamp()) // STEP
    found = None
    for step in range(current - window, current + window + 1):
        if pyotp.utils.strings_equal(totp.at(step * STEP), typed):
            found = step
    return found


def code_problem(enrolled: tuple[str, int | None] | None, code: str | None, now: datetime,
                 user: str) -> tuple[str | None, int | None]:  # fmt: skip
    """Why ``code`` does not confirm ``user``'s approval now, or the step it used (to be
    recorded so it is never used again). ``enrolled``: their secret and last used step."""
    if enrolled is None:
        enrol = f"`habot approver enrol {user}`"
        return (f"You have no authenticator enrolled for approvals: an admin runs {enrol} "
                "on habot's host and you scan what it shows."), None  # fmt: skip
    if not code or not code.strip():
        return "Give the 6-digit code your authenticator app shows now.", None
    secret, last = enrolled
    step = matched_step(secret, code, now)
    if step is None:
        return "That code is not the current one (or it has expired): try the next.", None
    if last is not None and step <= last:
        return "That code was already used: wait for your app's next one.", None
    return None, step


def provisioning_uri(secret: str, user: str, issuer: str = "habot") -> str:
    """The otpauth:// URI an authenticator app scans to enrol ``user``."""
    return pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=user, issuer_name=issuer)


def new_secret() -> str:
    """A fresh random TOTP secret (base32)."""
    return pyotp.random_base32()
