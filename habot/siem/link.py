"""The SIEM port on a socket: one TCP (or TLS) connection, opened when needed and again
after a failure; frames written in order. A SIEM never writes back on a syslog stream, so
reading its end tells whether the connection is still up."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence

from habot.config.outside import (
    SiemSettings,
)
from habot.services.siem import SiemUnreachable
from habot.slack.check import SlackCheck

TIMEOUT = 10.0  # seconds to connect, or to hand over one batch


def tls_context(settings: SiemSettings) -> ssl.SSLContext:
    """Certificates checked against ``ca_file`` (else the system's CAs), the name too;
    habot's own certificate offered when one is set."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    if settings.cert_file and settings.key_file:
        context.load_cert_chain(settings.cert_file, settings.key_file)
    return context


class SyslogLink:
    """The SiemLink on asyncio streams."""

    def __init__(self, settings: SiemSettings) -> None:
        endpoint = settings.endpoint
        assert endpoint is not None, "a link needs a target"
        scheme, self._host, self._port = endpoint
        self._tls = tls_context(settings) if scheme == "tls" else None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, frames: Sequence[bytes]) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                writer = await self._open()
                for frame in frames:
                    writer.write(frame)
                await writer.drain()
        except (OSError, ssl.SSLError, TimeoutError, EOFError) as exc:
            await self.close()
            raise SiemUnreachable(_said(exc)) from None

    async def alive(self) -> bool:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            return False
        try:
            data = await asyncio.wait_for(self._reader.read(1), 0.01)
        except TimeoutError:
            return True  # nothing to read, and not closed: up
        except (OSError, ssl.SSLError):
            data = b""
        if not data:  # the far end closed it
            await self.close()
            return False
        return True

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(2):
                    await writer.wait_closed()

    async def _open(self) -> asyncio.StreamWriter:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._tls,
                server_hostname=self._host if self._tls else None,
            )  # fmt: skip
        return self._writer


def _said(exc: BaseException) -> str:
    """Why the SIEM could not be reached, in one line (a TLS failure names TLS)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the SIEM's certificate was not accepted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the SIEM listening on that port?)"
    return str(exc) or type(exc).__name__


async def check_siem(settings: SiemSettings) -> list[SlackCheck]:
    """`habot check`: connect to the [siem] target once (TLS: the handshake, so a wrong CA
    shows here) — nothing when forwarding is off."""
    if settings.target is None:
        return []
    link = SyslogLink(settings)
    try:
        await link.send([])
    except SiemUnreachable as exc:
        return [SlackCheck("connection", False, f"{settings.target}: {exc}")]
    finally:
        await link.close()
    return [SlackCheck("connection", True, f"{settings.target} reached ({settings.format})")]
