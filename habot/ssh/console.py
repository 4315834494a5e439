"""A command typed at the appliance's interactive HA console, as its guide describes.

The console is a login shell on a PTY: it prints a banner (which lists the commands the
server offers now), stops on a prompt, and waits. habot types one command, reads until the
same prompt is back, types ``exit`` and closes the channel. There is no exit status: the
caller judges the output (and, for operations, a fresh reading).

One command per console session, on a channel of a pooled SSH connection: each command
gets a fresh banner (the offered list changes with the node's role and state, which an
operation changes) and a console in a known state, while the pooled connection spares the
password login and key exchange — most of the cost (see ``benches/bench_console.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

import asyncssh

from habot.core.console import banner_and_prompt, clean, prompt_pattern, waiting_prompt
from habot.errors import ConsoleNotReady
from habot.ssh.session import Conversation, pump

TERM = "vt100"
TERM_SIZE = (200, 50)  # wide, so the appliance does not wrap its table rows
#: With the default pattern, a prompt-looking line must stay the last thing printed this
#: long before it counts (a banner line such as "Commands available:" ends in ':' too) —
#: unless it is exactly the prompt this node showed last time, or the pair's own pattern.
SETTLE = 0.15


@dataclass(frozen=True)
class Login:
    """What the console showed before its first prompt, and that prompt."""

    banner: str
    prompt: str


class ConsoleSession:
    """Log in to the console, type one command, read its reply, log out."""

    def __init__(
        self,
        talk: Conversation,
        *,
        prompt_idle: float,
        login_limit: float,
        prompt: str | None,
        known: str | None = None,
    ) -> None:
        self.talk = talk
        self._idle = prompt_idle
        self._limit = login_limit
        self._custom = prompt
        self._known = known  # the prompt this node showed at its last login
        self.login: Login | None = None
        self.started = False

    async def run(self, conn: asyncssh.SSHClientConnection, line: str) -> None:
        """Type ``line`` at the console and collect its reply (``talk.text()``)."""
        process = await conn.create_process(
            term_type=TERM,
            term_size=TERM_SIZE,
            stderr=asyncssh.STDOUT,
            encoding="utf-8",
            errors="replace",
        )
        try:
            self.login = await self._log_in(process)
            await self._ask(process, line, self._closing(self.login.prompt))
            process.stdin.write("exit\n")
        finally:
            process.close()

    async def _ask(
        self, process: asyncssh.SSHClientProcess[str], line: str, closing: re.Pattern[str]
    ) -> None:
        self.talk.line = line
        process.stdin.write(line + "\n")
        self.started = True
        await pump(
            process,
            self.talk,
            self._idle,
            until=lambda: waiting_prompt(clean(self.talk.recent), closing) is not None,
        )

    def _closing(self, learned: str) -> re.Pattern[str]:
        """What ends a reply: the pair's own pattern, else exactly the prompt seen at login
        (the generic pattern would stop on a question such as "Enter joining code:")."""
        return prompt_pattern(self._custom) if self._custom else re.compile(re.escape(learned))

    async def _log_in(self, process: asyncssh.SSHClientProcess[str]) -> Login:
        seen: list[str] = []
        try:
            async with asyncio.timeout(self._limit):
                return await self._read_banner(process, seen)
        except TimeoutError:
            last = _last_line(seen)
            raise ConsoleNotReady(
                self.talk.address,
                f"logged in, but the console showed no prompt within {self._limit:g}s "
                f"(last line seen: {last!r}); if its prompt is unusual, set the pair's "
                "`prompt` pattern",
            ) from None

    async def _read_banner(self, process: asyncssh.SSHClientProcess[str], seen: list[str]) -> Login:
        pattern = prompt_pattern(self._custom)
        while True:
            found = banner_and_prompt(clean("".join(seen)), pattern)
            if found and (self._custom or found[1] == self._known):
                return Login(*found)
            chunk = await _next(process, SETTLE if found else None)
            if chunk is None and found:
                return Login(*found)
            if chunk == "":
                raise asyncssh.ConnectionLost(
                    f"the console closed before its prompt (last line seen: {_last_line(seen)!r})"
                )
            seen.append(chunk or "")


def _last_line(seen: list[str]) -> str:
    """The last line a console showed, for an error message."""
    return clean("".join(seen)).rstrip("\n").rsplit("\n", 1)[-1][-200:]


async def _next(process: asyncssh.SSHClientProcess[str], wait: float | None) -> str | None:
    """The next chunk ("" at end of output), or None when nothing came within ``wait``."""
    if wait is None:
        return await process.stdout.read(8192)
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(process.stdout.read(8192), wait)
    return None
