"""One command's conversation with a node, whatever carries it (an exec channel or the
interactive console): collect output under a cap with any secret masked, answer the one
agreed confirmation, refuse every other question."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncssh

from habot.core.console import clean
from habot.core.prompts import (
    asked_confirmation,
    asks_joining_code,
    is_confirmation_prompt,
    looks_like_question,
    question_line,
)
from habot.core.redact import Redactor
from habot.errors import OwnershipLost, UnexpectedPrompt

log = logging.getLogger(__name__)
_RECENT = 4096
_TAIL_KEPT = 4096
_Item = str | BaseException | None


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
    ) -> None:
        self._gate = confirm_gate  # asked right before the confirmation is answered
        self._code = joining_code  # typed once when asked; masked in every output
        self._masked = Redactor(joining_code)
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
        self.code_given = False
        self.truncated = False
        self.answered = False

    def take(self, chunk: str) -> None:
        """Collect a chunk of output (the secret masked; over the cap, head and tail kept)."""
        self._collect(self._masked.feed(chunk))

    def finish(self) -> None:
        """The output ended: collect what was held back."""
        self._collect(self._masked.flush())

    def _collect(self, chunk: str) -> None:
        if not chunk:
            return
        if self._on_output is not None:
            self._on_output(self.shown(chunk))
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
            return head
        return f"{head}\n[… output over {self._max} characters truncated …]\n{self._tail}"

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
        if self.answer and not self.answered and is_confirmation_prompt(seen):
            await self._confirm(stdin)
        elif asked_confirmation(seen):
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
        if looks_like_question(self.shown(self.recent)):
            raise self._refuse("a question habot does not recognise")

    def _refuse(self, what: str) -> UnexpectedPrompt:
        asked = question_line(self.shown(self.recent)).strip()[-200:]
        return UnexpectedPrompt(
            self.address,
            f"{self.line} asked {what} ({asked!r}) that habot was not asked to answer; "
            "the command was aborted",
            confirmed=self.answered,
        )


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
        process = await conn.create_process(
            line, stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace"
        )
        self.started = True
        try:
            if not self.talk.answer:
                process.stdin.write_eof()  # a question nobody may answer reads end-of-file
            await pump(process, self.talk, self._idle, until=None)
            completed = await process.wait()
        finally:
            process.close()
        if completed.exit_status is None and completed.exit_signal is None:
            raise asyncssh.ConnectionLost("the channel closed without an exit status")
        self.exit_status = completed.exit_status


async def pump(
    process: asyncssh.SSHClientProcess[str],
    talk: Conversation,
    idle: float,
    until: Callable[[], bool] | None,
) -> None:
    """Feed the process's output to the conversation until it ends (or ``until`` says the
    reply is complete), answering its questions on the way."""
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    reader = asyncio.create_task(_read_into(process.stdout, queue))
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), idle)
            except TimeoutError:
                talk.on_quiet()
                continue
            if item is None:
                talk.finish()
                return
            if isinstance(item, BaseException):
                raise item
            talk.take(item)
            if until is not None and until():
                talk.finish()
                return
            await talk.respond(process.stdin)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _read_into(stream: asyncssh.SSHReader[str], queue: asyncio.Queue[_Item]) -> None:
    """Move a stream's chunks into a queue (so the consumer can wait with a timeout)."""
    try:
        while chunk := await stream.read(8192):
            queue.put_nowait(chunk)
        queue.put_nowait(None)
    except Exception as exc:
        queue.put_nowait(exc)
