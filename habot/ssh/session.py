"""One command's conversation with a node, whatever carries it (an exec channel or the
interactive console): collect output under a cap with any secret masked, answer the one
agreed confirmation, refuse every other question."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncssh

from habot.core.console import clean
from habot.core.prompts import (
    asked_confirmation,
    asks_joining_code,
    is_confirmation_prompt,
    looks_like_question,
    question_line,
)
from habot.core.redact import Redactor, disguised, hide
from habot.errors import OwnershipLost, UnexpectedPrompt

log = logging.getLogger(__name__)
_RECENT = 4096
_TAIL_KEPT = 4096
#: With a secret in play, streamed output waits for its line to end (an echo of the secret
#: is one line) — or until this much of a line is waiting.
_LINE_HELD = 4096


def _as_is(text: str) -> str:
    return text


class Typist(Protocol):
    """Where answers are typed: the remote process's input."""

    def write(self, data: str) -> None:
        """Type ``data``."""
        ...

    def write_eof(self) -> None:
        """Close the input."""
        ...


class Conversation:
    """The rules of one command's conversation, shared by both transports.

    On a ``console``, raw output is cleaned into what a reader sees (terminal escapes and
    carriage returns removed) before questions are looked for, and the input is never closed
    after the confirmation is answered (that would end the session); an exec channel's
    input is."""

    def __init__(
        self,
        address: str,
        max_chars: int,
        *,
        answer_prompt: bool = False,
        on_output: Callable[[str], None] | None = None,
        joining_code: str | None = None,
        confirm_gate: Callable[[], Awaitable[bool]] | None = None,
        console: bool = False,
        confirmation: str | None = None,
    ) -> None:
        self._question = confirmation  # the pair's confirmation pattern, if it sets one
        self._gate = confirm_gate  # asked right before the confirmation is answered
        self._code = joining_code  # typed once when asked; masked in every output
        self._masked = Redactor(joining_code)  # the exact secret, even split across chunks
        self._disguised = disguised(joining_code)  # ... and however an echo disguises it
        self._held = ""  # streamed output waiting for its line to end (with a secret only)
        self.address = address
        self._max = max_chars
        self.answer = answer_prompt
        self._on_output = on_output
        self._head: list[str] = []
        self._size = 0
        self._tail = ""
        self.recent = ""
        self.line = ""
        self.shown: Callable[[str], str] = clean if console else _as_is
        self.end_input = not console
        self._console = console
        #: A console's prompt, once learned at login: streamed output leaves it out, as it
        #: leaves out the console's echo of the command line (see core.console.reply).
        self.prompt: str | None = None
        self._echo_due = console
        self.code_given = False
        self.truncated = False
        self.answered = False

    def take(self, chunk: str) -> None:
        """Collect a chunk of output (the secret masked; over the cap, head and tail kept)."""
        self._collect(self._masked.feed(chunk))

    def finish(self) -> None:
        """The output ended: collect what was held back."""
        self._collect(self._masked.flush())
        self._stream("", ended=True)

    def hide(self, text: str) -> str:
        """``text`` with the secret masked however an echo disguised it (escapes, case or
        spacing between its characters): for anything that leaves the conversation."""
        return hide(text, self._disguised)

    def _stream(self, chunk: str, ended: bool = False) -> None:
        """Hand output to ``on_output`` as a reader sees it; with a secret in play, or on
        a console, whole lines only — each with the secret hidden (a terminal's cleaning
        could otherwise join an echo's scattered characters back into the code), and
        without the console's echo of the command line or its closing prompt."""
        if self._on_output is None:
            return
        if self._disguised is None and not self._console:
            if chunk:
                self._on_output(self.shown(chunk))
            return
        self._held += chunk
        cut = (
            len(self._held) if ended or len(self._held) > _LINE_HELD else self._held.rfind("\n") + 1
        )
        ready, self._held = self._held[:cut], self._held[cut:]
        text = self._without_console_frame(self.shown(ready), ended)
        if text:
            self._on_output(self.hide(text))

    def _without_console_frame(self, text: str, ended: bool) -> str:
        """A console's output as its reply reads: the echo of the typed line (its first
        line) and, at the end, the prompt it came back to, left out."""
        if self._echo_due and "\n" in text:
            self._echo_due = False
            first, _, rest = text.partition("\n")
            if first.strip().endswith(self.line):
                text = rest
        prompt = (self.prompt or "").strip()
        if ended and prompt and text.rstrip().endswith(prompt):
            text = text.rstrip()[: -len(prompt)]
        return text

    def _collect(self, chunk: str) -> None:
        if not chunk:
            return
        self._stream(chunk)
        self.recent = (self.recent + chunk)[-_RECENT:]
        room = self._max - self._size
        if room > 0:
            self._head.append(chunk[:room])
            self._size += min(room, len(chunk))
        if len(chunk) > room:
            self.truncated = True
            self._tail = (self._tail + chunk[max(room, 0) :])[-_TAIL_KEPT:]

    def text(self) -> str:
        """All output, or its head and tail with a marker when it was over the cap."""
        head = "".join(self._head)
        if not self.truncated:
            return self.hide(head)
        return self.hide(
            f"{head}\n[… output over {self._max} characters truncated …]\n{self._tail}"
        )

    async def respond(self, stdin: Typist) -> None:
        """Answer the one agreed confirmation; any other y/N question aborts.

        A question is caught even when it is not the last thing printed: a command whose
        stdin is closed may print its question, read end-of-file and go on in one breath.
        A question for the joining code is answered with it, once, when one was given.
        """
        seen = self.shown(self.recent)
        if self._code and not self.code_given and asks_joining_code(seen):
            log.info("typing the joining code for %s on %s", self.line, self.address)
            stdin.write(self._code + "\n")
            self.code_given = True
            self.recent = ""
            return
        if self.answer and not self.answered and is_confirmation_prompt(seen, self._question):
            await self._confirm(stdin)
        elif asked_confirmation(seen, self._question):
            why = "a second question after the confirmation" if self.answered else "a confirmation"
            raise self._refuse(why)

    async def _confirm(self, stdin: Typist) -> None:
        if self._gate is not None and not await self._gate():
            raise OwnershipLost(
                self.address,
                f"{self.line}: this replica no longer owns the request, so its "
                "confirmation was not answered (the command was aborted)",
            )
        log.info("answering the confirmation of %s on %s", self.line, self.address)
        stdin.write("y\n")
        if self.end_input:
            stdin.write_eof()
        self.answered = True
        self.recent = ""

    def on_quiet(self) -> None:
        """Output stopped on an unfinished line: a question we must not leave hanging."""
        if looks_like_question(self.shown(self.recent), self._question):
            raise self._refuse("a question habot does not recognise")

    def _refuse(self, what: str) -> UnexpectedPrompt:
        asked = self.hide(question_line(self.shown(self.recent), self._question))
        asked = asked.strip()[-200:]
        return UnexpectedPrompt(
            self.address,
            f"{self.line} asked {what} ({asked!r}) that habot was not asked to answer; "
            "the command was aborted",
            confirmed=self.answered,
        )


class Channel(asyncssh.SSHClientSession[str]):
    """One SSH channel, its output handed to ``sink`` as it arrives.

    Never a stream that pauses: asyncssh's channel re-opens its whole receive window each
    time a paused reader takes a chunk back, so a node printing faster than habot read grew
    the buffer without end (gigabytes in a minute). Here every chunk goes straight to the
    sink, which keeps only what it needs (the conversation's capped head, tail and recent
    text, or the banner reader's), and SSH's window then paces the node to habot's pace.
    Also the :class:`Typist` that answers go to."""

    def __init__(self) -> None:
        self.sink: Callable[[str], None] = _dropped
        self.changed = asyncio.Event()  # set on new output and at the end
        self.ended = False
        self.lost: Exception | None = None
        self.exit_status: int | None = None
        self.exit_signal: str | None = None
        self._chan: asyncssh.SSHClientChannel[str] | None = None

    @classmethod
    async def open(cls, conn: asyncssh.SSHClientConnection, **options: Any) -> Channel:
        """Open a session channel on ``conn`` (an exec request for ``command``, else a
        shell), text decoded as UTF-8 with undecodable bytes replaced."""
        _, session = await conn.create_session(cls, encoding="utf-8", errors="replace", **options)
        assert isinstance(session, Channel)
        return session

    def connection_made(self, chan: asyncssh.SSHClientChannel[str]) -> None:
        self._chan = chan

    def data_received(self, data: str, datatype: asyncssh.DataType) -> None:
        self.sink(data)  # stdout and stderr alike, in the order they came
        self.changed.set()

    def exit_status_received(self, status: int) -> None:
        self.exit_status = status

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        self.exit_signal = signal

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended, self.lost = True, exc
        self.changed.set()

    def write(self, data: str) -> None:
        """Type ``data`` on the channel's input."""
        assert self._chan is not None
        self._chan.write(data)

    def write_eof(self) -> None:
        """Close the channel's input."""
        assert self._chan is not None
        self._chan.write_eof()

    def close(self) -> None:
        """Close the channel (its command gets a hang-up)."""
        if self._chan is not None:
            self._chan.close()

    async def came(self, wait: float | None) -> bool:
        """Wait for new output or the end (at most ``wait`` seconds): whether it came."""
        try:
            async with asyncio.timeout(wait):
                await self.changed.wait()
        except TimeoutError:
            return False
        self.changed.clear()
        return True


def _dropped(_: str) -> None:
    """Output nobody reads (before the channel has a sink)."""


class ExecSession:
    """A command run as an SSH exec request: it ends with an exit status."""

    def __init__(self, talk: Conversation, prompt_idle: float) -> None:
        self.talk = talk
        self._idle = prompt_idle
        self.started = False
        self.exit_status: int | None = None

    async def run(self, conn: asyncssh.SSHClientConnection, line: str) -> None:
        """Run the command line to completion; its exit status lands in ``exit_status``."""
        self.talk.line = line
        channel = await Channel.open(conn, command=line)
        channel.sink = self.talk.take
        self.started = True
        try:
            if not self.talk.answer:
                channel.write_eof()  # a question nobody may answer reads end-of-file
            await pump(channel, self.talk, self._idle, until=None)
        finally:
            channel.close()
        if channel.exit_status is None and channel.exit_signal is None:
            raise asyncssh.ConnectionLost("the channel closed without an exit status")
        self.exit_status = channel.exit_status


async def pump(
    channel: Channel,
    talk: Conversation,
    idle: float,
    until: Callable[[], bool] | None,
) -> None:
    """Follow the conversation on ``channel`` (its sink is ``talk``) until the output ends
    (or ``until`` says the reply is complete), answering its questions on the way.

    Every wait is an ``asyncio.timeout`` block, never ``asyncio.wait_for``: on Python
    3.11, ``wait_for`` whose inner wait has just completed swallows the cancellation of an
    enclosing time limit, so a node that never stops printing would never be stopped."""
    while True:
        if not await channel.came(idle):
            talk.on_quiet()
            continue
        if until is not None and until():
            talk.finish()
            return
        if channel.ended:
            talk.finish()
            if channel.lost is not None:
                raise channel.lost
            return
        await talk.respond(channel)
