"""One command's conversation with a node: read output, answer or refuse prompts, cap size."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncssh

from habot.core.prompts import (
    asked_confirmation,
    asks_joining_code,
    is_confirmation_prompt,
    looks_like_question,
    question_line,
)
from habot.errors import OwnershipLost, UnexpectedPrompt

log = logging.getLogger(__name__)
_RECENT = 4096
_TAIL_KEPT = 4096
_Item = str | BaseException | None


class OutputSession:
    """Drives one remote process; collects output and handles its questions."""

    def __init__(
        self,
        address: str,
        max_chars: int,
        prompt_idle: float,
        answer_prompt: bool,
        on_output: Callable[[str], None] | None = None,
        joining_code: str | None = None,
        confirm_gate: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._gate = confirm_gate  # asked right before the confirmation is answered
        self._code = joining_code  # typed once when asked; never kept in the output
        self.code_given = False
        self._address = address
        self._max = max_chars
        self._idle = prompt_idle
        self._answer = answer_prompt
        self._on_output = on_output
        self._head: list[str] = []
        self._size = 0
        self._tail = ""
        self._recent = ""
        self._line = ""
        self.truncated = False
        self.answered = False
        self.started = False
        self.exit_status: int | None = None

    async def run(self, conn: asyncssh.SSHClientConnection, line: str) -> None:
        """Run the command line to completion; its exit status lands in ``exit_status``."""
        self._line = line
        process = await conn.create_process(
            line, stderr=asyncssh.STDOUT, encoding="utf-8", errors="replace"
        )
        self.started = True
        try:
            if not self._answer:
                process.stdin.write_eof()  # a question nobody may answer reads end-of-file
            await self._pump(process)
            completed = await process.wait()
        finally:
            process.close()
        if completed.exit_status is None and completed.exit_signal is None:
            raise asyncssh.ConnectionLost("the channel closed without an exit status")
        self.exit_status = completed.exit_status

    def text(self) -> str:
        """All output, or its head and tail with a marker when it was over the cap."""
        head = "".join(self._head)
        if not self.truncated:
            return head
        return f"{head}\n[… output over {self._max} characters truncated …]\n{self._tail}"

    async def _pump(self, process: asyncssh.SSHClientProcess[str]) -> None:
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        reader = asyncio.create_task(_read_into(process.stdout, queue))
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self._idle)
                except TimeoutError:
                    self._on_quiet()
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                self._take(item)
                await self._on_chunk(process)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    def _take(self, chunk: str) -> None:
        if self._code:  # an appliance that echoes it must not put it in any output
            chunk = chunk.replace(self._code, "[joining code]")
        if self._on_output is not None:
            self._on_output(chunk)
        self._recent = (self._recent + chunk)[-_RECENT:]
        room = self._max - self._size
        if room > 0:
            self._head.append(chunk[:room])
            self._size += min(room, len(chunk))
        if len(chunk) > room:
            self.truncated = True
            self._tail = (self._tail + chunk[max(room, 0) :])[-_TAIL_KEPT:]

    async def _on_chunk(self, process: asyncssh.SSHClientProcess[str]) -> None:
        """Answer the one agreed confirmation; any other y/N question aborts.

        A question is caught even when it is not the last thing printed: a command whose
        stdin is closed may print its question, read end-of-file and go on in one breath.
        A question for the joining code is answered with it, once, when one was given.
        """
        if self._code and not self.code_given and asks_joining_code(self._recent):
            log.info("typing the joining code for %s on %s", self._line, self._address)
            process.stdin.write(self._code + "\n")
            self.code_given = True
            self._recent = ""
            return
        if self._answer and not self.answered and is_confirmation_prompt(self._recent):
            if self._gate is not None and not await self._gate():
                raise OwnershipLost(
                    self._address,
                    f"{self._line}: this replica no longer owns the request, so its "
                    "confirmation was not answered (the command was aborted)",
                )
            log.info("answering the confirmation of %s on %s", self._line, self._address)
            process.stdin.write("y\n")
            process.stdin.write_eof()
            self.answered = True
            self._recent = ""
        elif asked_confirmation(self._recent):
            why = "a second question after the confirmation" if self.answered else "a confirmation"
            raise self._refuse(why)

    def _on_quiet(self) -> None:
        """Output stopped on an unfinished line: a question we must not leave hanging."""
        if looks_like_question(self._recent):
            raise self._refuse("a question habot does not recognise")

    def _refuse(self, what: str) -> UnexpectedPrompt:
        asked = question_line(self._recent).strip()[-200:]
        return UnexpectedPrompt(
            self._address,
            f"{self._line} asked {what} ({asked!r}) that habot was not asked to answer; "
            "the command was aborted",
            confirmed=self.answered,
        )


async def _read_into(stream: asyncssh.SSHReader[str], queue: asyncio.Queue[_Item]) -> None:
    """Move a stream's chunks into a queue (so the consumer can wait with a timeout)."""
    try:
        while chunk := await stream.read(8192):
            queue.put_nowait(chunk)
        queue.put_nowait(None)
    except Exception as exc:
        queue.put_nowait(exc)
