"""The console conversation read as text: prompt found, banner and offered commands, echo
and control sequences stripped, refusals recognised."""

from __future__ import annotations

import pytest

from habot.core.console import (
    BANNER_KEPT,
    LINE_KEPT,
    BannerReader,
    clean,
    offered,
    prompt_pattern,
    refusal,
    reply,
    waiting_prompt,
)

DEFAULT = prompt_pattern(None)
BANNER = (
    "\x1b]0;pam-primary\x07Osirium PAM 8.2 - High Availability\r\n"
    "Commands available on this server:\r\n"
    "  ha-status\r\n  ha-failover\r\n  ha-make-standalone\r\n\r\n"
    "\x1b[1;32mpam-primary>\x1b[0m "
)


def read_banner(chunks: list[str]) -> BannerReader:
    """A banner reader fed ``chunks`` in order."""
    reader = BannerReader()
    for chunk in chunks:
        reader.feed(chunk)
    return reader


@pytest.mark.parametrize("size", [len(BANNER), 7, 1])
def test_the_banner_lists_what_the_node_offers_and_the_first_prompt_is_learned(
    size: int,
) -> None:
    """Colours, titles and CR-LF go; the prompt is the exact unfinished line — however
    the output is cut into chunks (a CR-LF or an escape split between two)."""
    seen = read_banner([BANNER[i : i + size] for i in range(0, len(BANNER), size)])
    assert seen.prompt(DEFAULT) == "pam-primary> "
    assert seen.banner().startswith("Osirium PAM 8.2")
    assert offered(seen.banner()) == {"ha-status", "ha-failover", "ha-make-standalone"}
    assert offered("Welcome.\nType help.") == frozenset()


def test_a_banner_that_never_ends_is_read_in_bounded_memory() -> None:
    """Ten megabytes of banner, in lines and in one endless line: what is kept stays under
    its caps (so each chunk costs the same), and the prompt after it is still found."""
    lines = BannerReader()
    endless = BannerReader()
    for _ in range(1250):
        lines.feed(("Osirium PAM banner line\r\n" * 320)[:8192])
        endless.feed("x" * 8192)
    assert len(lines.banner()) <= BANNER_KEPT
    assert len(endless.last_line()) <= LINE_KEPT
    lines.feed("\x1b[1;32mpam>\x1b[0m ")
    assert lines.prompt(DEFAULT) == "pam> "


@pytest.mark.parametrize(
    ("text", "custom", "found"),
    [
        ("welcome\nadmin@pam:~$ ", None, "admin@pam:~$ "),
        ("welcome\nroot# ", None, "root# "),
        ("welcome\nPAM> ", None, "PAM> "),
        ("welcome\nmenu:", None, "menu:"),
        ("still printing\n", None, None),  # ends with a newline: not waiting
        ("50% done", None, None),  # stopped mid-line, not on a prompt character
        ("welcome\n[ops] ready >> ", r"\[ops\] ready >> ", "[ops] ready >> "),
        ("welcome\nPAM> ", r"\[ops\] ready >> ", None),  # a custom prompt replaces the default
    ],
)
def test_a_prompt_is_an_unfinished_line_matching_the_pattern(
    text: str, custom: str | None, found: str | None
) -> None:
    """The default recognises common prompts; a pair's own `prompt` regex replaces it."""
    assert waiting_prompt(text, prompt_pattern(custom)) == found


def test_a_commands_reply_loses_its_echo_and_the_closing_prompt() -> None:
    """What the PTY echoes (the typed command) and the prompt after the output are not
    part of the output; redrawn lines and backspaces are applied."""
    raw = (
        "ha-status\r\nPrimary:   Active\r\nSecondary: Standby\r\n"
        "progress 10%\rprogress 100%\r\nPAM> "
    )
    assert reply(clean(raw), "ha-status", "PAM> ") == (
        "Primary:   Active\nSecondary: Standby\nprogress 100%"
    )
    assert clean("ha-sta\x08\x08tatus") == "ha-status"


@pytest.mark.parametrize(
    ("output", "said"),
    [
        ("ha-failback: command not found", "ha-failback: command not found"),
        (
            "This command is not available on a Standby server.",
            "This command is not available on a Standby server.",
        ),
        (
            "Invalid joining code. Nothing was changed.",
            "Invalid joining code. Nothing was changed.",
        ),
        ("Failover complete: the Secondary is now Promoted Active.", None),
    ],
)
def test_a_console_refusal_is_recognised_without_an_exit_status(
    output: str, said: str | None
) -> None:
    """A console has no exit status: "not available", "not found" or "invalid" in its
    answer is a failure, with that line as the reason."""
    assert refusal(output) == said


def test_a_pairs_own_refusal_words_replace_the_built_in_ones() -> None:
    """A console whose refusal reads differently: the pair's pattern finds it, and the
    built-in words no longer count for that pair."""
    assert refusal("ha-failover: Permission denied by policy", r"permission denied") == (
        "ha-failover: Permission denied by policy"
    )
    assert refusal("ha-failover: Permission denied by policy") is None
    assert refusal("ha-foo: not found", r"permission denied") is None
