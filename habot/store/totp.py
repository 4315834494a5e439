"""Approvers' sealed authenticator secrets (table ``approver_totp``): enrolled (replacing
any earlier one), read, and each code's time step recorded once by compare-and-set, so
two replicas cannot both accept one code."""

from __future__ import annotations

import logging
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, text

from habot.errors import ConfigError
from habot.services.ports import SealedSecrets
from habot.store.db import WRITE_LOCK, threaded

log = logging.getLogger(__name__)


class TotpStore:
    """Blocking ``*_sync`` methods (the CLI, tests) and the async port on a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def enrol_sync(self, user: str, sealed: str, at: datetime) -> None:
        """Keep ``user``'s sealed secret (a new enrolment replaces the old, and its steps)."""
        with self._engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
            conn.execute(text("DELETE FROM approver_totp WHERE user_id = :u"), {"u": user})
            conn.execute(
                text(
                    "INSERT INTO approver_totp (user_id, sealed, enrolled_at) VALUES (:u, :s, :at)"
                ),
                {"u": user, "s": sealed, "at": at.isoformat()},
            )

    def get_sync(self, user: str) -> tuple[str, int | None] | None:
        """``user``'s sealed secret and the last step a code was used in, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text("SELECT sealed, last_step FROM approver_totp WHERE user_id = :u"),
                {"u": user},
            ).first()
        return (str(row[0]), None if row[1] is None else int(row[1])) if row else None

    def use_sync(self, user: str, step: int) -> bool:
        """Record that a code of ``step`` was used — only if no code of it or a later step
        was; True only for the one caller that did."""
        with self._engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
            changed = conn.execute(
                text(
                    "UPDATE approver_totp SET last_step = :s WHERE user_id = :u "
                    "AND (last_step IS NULL OR last_step < :s)"
                ),
                {"u": user, "s": step},
            ).rowcount
        return bool(changed == 1)

    enrol = threaded(enrol_sync)
    get = threaded(get_sync)
    use = threaded(use_sync)


class SealedCodes:
    """The ApproverCodes port: secrets sealed with the ``totp_key`` (Fernet: AES-128-CBC
    with HMAC-SHA256) in any SealedSecrets store; opened only to check a code."""

    def __init__(self, store: SealedSecrets, key: str) -> None:
        self._store = store
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                "totp_key is not a key habot can use: make one with `habot approver new-key`"
            ) from None

    async def enrol(self, user: str, secret: str, at: datetime) -> None:
        """Keep ``user``'s new secret, sealed."""
        await self._store.enrol(user, self._fernet.encrypt(secret.encode()).decode(), at)

    async def enrolled(self, user: str) -> tuple[str, int | None] | None:
        """``user``'s secret and last used step, or None (not enrolled, or sealed with
        another key: then they must enrol again)."""
        found = await self._store.get(user)
        if found is None:
            return None
        try:
            return self._fernet.decrypt(found[0].encode()).decode(), found[1]
        except InvalidToken:
            log.warning("%s's authenticator secret was sealed with another totp_key", user)
            return None

    async def use(self, user: str, step: int) -> bool:
        """Record a code's step as used (once)."""
        return await self._store.use(user, step)
