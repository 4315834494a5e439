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
import re
from dataclasses import dataclass

import asyncssh

from habot.core.console import BannerReader, clean, prompt_pattern, waiting_prompt
from habot.errors import ConsoleNotReady, UnexpectedPrompt
from habot.ssh.session import Channel, Conversation, pump

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

    @property
    def custom_prompt(self) -> bool:
        """Whether the pair sets its own prompt pattern (else the prompt is learned)."""
        return self._custom is not None

    async def run(self, conn: asyncssh.SSHClientConnection, line: str) -> None:
        """Type ``line`` at the console and collect its reply (``talk.text()``)."""
        channel = await Channel.open(conn, term_type=TERM, term_size=TERM_SIZE)
        try:
            self.login = await self._log_in(channel)
            await self._ask(channel, line, self._closing(self.login.prompt))
            channel.write("exit\n")
        finally:
            channel.close()

    async def _ask(self, channel: Channel, line: str, closing: re.Pattern[str]) -> None:
        self.talk.line = line
        self.talk.prompt = self.login.prompt if self.login else None
        channel.sink = self.talk.take
        channel.write(line + "\n")
        self.started = True
        try:
            await pump(
                channel,
                self.talk,
                self._idle,
                until=lambda: waiting_prompt(clean(self.talk.recent), closing) is not None,
            )
        except UnexpectedPrompt as exc:
            raise self._misread(exc) from None

    def _misread(self, exc: UnexpectedPrompt) -> UnexpectedPrompt:
        """A "question" that is a prompt, but not the one habot learned at login: most
        likely a banner line (ending in ':', then a pause) was taken for the prompt. Say so,
        and name the setting that fixes it."""
        seen = waiting_prompt(clean(self.talk.recent), prompt_pattern(None))
        if self._custom or self.login is None or seen is None or seen == self.login.prompt:
            return exc
        hint = (
            f"; {seen.strip()!r} looks like the console's prompt, not the one habot learned "
            f"at login ({self.login.prompt!r}, perhaps a banner line): set the pair's "
            "`prompt` pattern"
        )
        return UnexpectedPrompt(exc.address, exc.detail + hint, confirmed=exc.confirmed)

    def _closing(self, learned: str) -> re.Pattern[str]:
        """What ends a reply: the pair's own pattern, else exactly the prompt seen at login
        (the generic pattern would stop on a question such as "Enter joining code:")."""
        return prompt_pattern(self._custom) if self._custom else re.compile(re.escape(learned))

    async def _log_in(self, channel: Channel) -> Login:
        seen = BannerReader()
        channel.sink = seen.feed
        try:
            async with asyncio.timeout(self._limit):
                return await self._read_banner(channel, seen)
        except TimeoutError:
            raise ConsoleNotReady(
                self.talk.address,
                f"logged in, but the console showed no prompt within {self._limit:g}s "
                f"(last line seen: {_shown(seen)!r}); if its prompt is unusual, set the pair's "
                "`prompt` pattern",
            ) from None

    async def _read_banner(self, channel: Channel, seen: BannerReader) -> Login:
        pattern = prompt_pattern(self._custom)
        while True:
            found = seen.prompt(pattern)
            if found and (self._custom or found == self._known):
                return Login(seen.banner(), found)
            came = await channel.came(SETTLE if found else None)
            if not came and found:
                return Login(seen.banner(), found)
            if channel.ended:
                raise asyncssh.ConnectionLost(
                    f"the console closed before its prompt (last line seen: {_shown(seen)!r})"
                )


def _shown(seen: BannerReader) -> str:
    """The last line a console showed, for an error message."""
    return seen.last_line()[-200:]
