"""How habot logs: a timestamp on every line, plain text or one JSON object per line
(``habot --log-format json``), and the pair, request and user a line is about wherever the
code knows them — set once with :func:`about`, carried by every line logged inside.

Third-party loggers that quote request bodies (Slack's SDKs, aiohttp) and the scheduler's
per-run chatter are capped, so ``-vv`` shows habot's own detail.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: What the current work is about: pair, request, user (a task inherits its creator's).
_ABOUT: ContextVar[dict[str, str]] = ContextVar("habot_log_about", default={})  # noqa: B039
FIELDS = ("pair", "request", "user")
ABOUT_LIMIT = 40  # characters of each: ids are shorter; anything longer was not an id

#: Libraries that log request and response bodies (tokens, joining codes, whatever a caller
#: sent) at DEBUG or INFO: capped at WARNING at every verbosity — secrets stay out of logs.
BODY_LOGGERS = ("slack_sdk", "slack_bolt", "aiohttp", "websockets", "urllib3")
#: Loggers whose INFO lines are chatter (APScheduler says "Running job" every second).
CHATTY = ("apscheduler",)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(about)s"


@contextmanager
def about(**fields: str | None) -> Iterator[None]:
    """Tag every line logged inside (and in tasks started inside) with these fields."""
    # What a line is about may come from outside (a button's value): one short line.
    known = {k: one_line(v, ABOUT_LIMIT) for k, v in fields.items() if v is not None}
    token = _ABOUT.set({**_ABOUT.get(), **known})
    try:
        yield
    finally:
        _ABOUT.reset(token)


class AboutFilter(logging.Filter):
    """Puts the current pair, request and user on each record (``record.about`` is them as
    `` [pair=… request=…]`` for the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _ABOUT.get()
        for name in FIELDS:
            setattr(record, name, fields.get(name))
        shown = " ".join(f"{k}={fields[k]}" for k in FIELDS if k in fields)
        record.about = f" [{shown}]" if shown else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the pair,
    request and user where known; an exception as its type and message, never a body."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if value := getattr(record, name, None):
                line[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = f"{type(error).__name__}: {error}"
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-12-02T03:04:05.123Z LEVEL logger: message [pair=… request=…]``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # A message can quote a node or the network (a disconnect reason, a question):
        # a newline in it must not start a forged line, an escape not act on a terminal.
        record.message = escaped(record.message)
        return super().formatMessage(record)


def _iso(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


def configure(verbose: int, fmt: str = "text") -> None:
    """Log to stderr: WARNING by default, INFO with -v, DEBUG with -vv (SSH too)."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(AboutFilter())
    handler.addFilter(quiet_body_loggers)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("asyncssh").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    for name in (*BODY_LOGGERS, *CHATTY):
        logging.getLogger(name).setLevel(logging.WARNING)


def quiet_body_loggers(record: logging.LogRecord) -> bool:
    """Drop what the body-logging libraries say below WARNING, whatever their own level;
    what they say at WARNING and above becomes one short line (their messages can quote a
    request — a block id, a payload — and carry tracebacks: neither belongs in our log)."""
    if not record.name.startswith(BODY_LOGGERS):
        return True
    if record.levelno < logging.WARNING:
        return False
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text = f"{text} ({type(record.exc_info[1]).__name__})"
    record.msg, record.args = one_line(text), ()
    record.exc_info = record.exc_text = record.stack_info = None
    return True


def escaped(text: str) -> str:
    """``text`` as one line: every control character (newline, ESC …) written out escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(text: str, limit: int = 200) -> str:
    """The first line of ``text``, control characters escaped, at most ``limit`` chars."""
    first = text.splitlines()[0] if text else ""
    safe = escaped(first)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"
