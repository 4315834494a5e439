"""The appliance's interactive HA console, read as text (pure).

The vendor's way to the HA commands is a shell window: log in, a banner lists the commands
this server offers now, a prompt waits, a command is typed, its output comes back followed
by the prompt again. There is no exit status: the output (and, for operations, a fresh
reading) decides. These rules turn what a PTY delivers into that conversation's parts.
"""

from __future__ import annotations

import re

from habot.core.patterns import compiled

#: The default console prompt: output that stops, without a newline, on a line ending in
#: ``>``, ``$``, ``#`` or ``:`` and an optional space. A pair may set its own ``prompt``.
DEFAULT_PROMPT = r"[>$#:] ?"
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)
_HA_COMMAND = re.compile(r"(?<![\w-])ha-[a-z][a-z-]*[a-z](?![\w-])")
_REFUSAL = re.compile(r"\b(?:not available|not found|invalid)\b", re.I)


def clean(raw: str) -> str:
    """Terminal output as text: escape sequences removed, CR-LF as LF, a lone CR (a line
    redrawn) and backspaces applied."""
    text = _ESCAPES.sub("", raw).replace("\r\n", "\n")
    return "\n".join(_typed(line.rsplit("\r", 1)[-1]) for line in text.split("\n"))


def _typed(line: str) -> str:
    """A line as it shows: each backspace removes the character before it; other control
    characters (bell, NUL …) are dropped."""
    shown: list[str] = []
    for char in line:
        if char == "\x08":
            if shown:
                shown.pop()
        elif char == "\t" or char.isprintable():
            shown.append(char)
    return "".join(shown)


def printable(text: str, lines: bool = False) -> str:
    """Text from a node (or the network) made safe to show on a terminal or in a log line:
    terminal escapes removed, every other control character — a newline too, unless
    ``lines`` — written out escaped, so it can neither act on the terminal nor forge a line."""
    keep = "\n" if lines else ""
    return "".join(
        c if c.isprintable() or c in keep else repr(c)[1:-1] for c in _ESCAPES.sub("", text)
    )


def prompt_pattern(custom: str | None) -> re.Pattern[str]:
    """The prompt as a pattern matching a whole unfinished line."""
    return re.compile(custom if custom else r".*" + DEFAULT_PROMPT)


def waiting_prompt(text: str, pattern: re.Pattern[str]) -> str | None:
    """The prompt the (cleaned) output stopped on, or None: its unfinished last line, when
    the whole of it matches."""
    if not text or text.endswith("\n"):
        return None
    line = text.rsplit("\n", 1)[-1]
    return line if pattern.fullmatch(line) else None


#: What a login keeps of a banner at most (its last part: the offered commands come right
#: before the prompt), and of an unfinished line (a prompt is short).
BANNER_KEPT = 64 * 1024
LINE_KEPT = 4096


class BannerReader:
    """A console's output up to its first prompt, read a chunk at a time in bounded work.

    Finished lines are cleaned once, as they arrive, and only the last ``BANNER_KEPT``
    characters of them are kept; the unfinished last line — where a prompt waits — is kept
    raw (at most ``LINE_KEPT``) and cleaned again with each chunk. So a banner that never
    ends costs the same per chunk at its millionth line as at its first."""

    def __init__(self) -> None:
        self._done = ""  # cleaned finished lines, each ending in a newline
        self._line = ""  # the raw unfinished last line

    def feed(self, chunk: str) -> None:
        """Take the next chunk of raw output."""
        text = self._line + chunk
        cut = text.rfind("\n") + 1
        if cut:
            self._done = (self._done + clean(text[:cut]))[-BANNER_KEPT:]
        self._line = text[cut:][-LINE_KEPT:]

    def prompt(self, pattern: re.Pattern[str]) -> str | None:
        """The prompt the output stopped on, or None."""
        line = self.last_line()
        return line if line and pattern.fullmatch(line) else None

    def last_line(self) -> str:
        """The last line shown so far (the unfinished one, else the last finished one)."""
        if self._line:
            return clean(self._line)
        return self._done.rstrip("\n").rsplit("\n", 1)[-1]

    def banner(self) -> str:
        """What the console printed before the prompt."""
        return self._done.rstrip("\n")


def offered(banner: str) -> frozenset[str]:
    """The ``ha-…`` commands a banner lists (empty when it lists none)."""
    return frozenset(_HA_COMMAND.findall(banner))


def reply(text: str, command_line: str, prompt: str) -> str:
    """A command's output: the echoed command line and the closing prompt removed."""
    body = text[: -len(prompt)] if prompt and text.endswith(prompt) else text
    lines = body.split("\n")
    if lines and lines[0].strip().endswith(command_line):
        lines = lines[1:]
    return "\n".join(lines).strip("\n")


def offer_line(commands: frozenset[str] | None) -> str | None:
    """How a node's offered commands are shown (None when its console listed none)."""
    if commands is None:
        return None
    return "its console offers: " + (", ".join(sorted(commands)) or "no ha- commands")


def refusal(output: str, custom: str | None = None) -> str | None:
    """The console's refusal, when its answer says a command is not available, not found
    or invalid — or, for a pair that sets its own, matches its refusal pattern (there is
    no exit status to say so)."""
    words = compiled(custom) if custom else _REFUSAL
    for line in output.splitlines():
        if words.search(line):
            return line.strip()
    return None
