"""The console conversation read as text: prompt found, banner and offered commands, echo
and control sequences stripped, refusals recognised."""

from __future__ import annotations

import pytest

from habot.core.console import (
    banner_and_prompt,
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


def test_the_banner_lists_what_the_node_offers_and_the_first_prompt_is_learned() -> None:
    """Colours, titles and CR-LF go; the prompt is the exact unfinished line."""
    banner, prompt = banner_and_prompt(clean(BANNER), DEFAULT) or ("", "")
    assert prompt == "pam-primary> "
    assert banner.startswith("Osirium PAM 8.2")
    assert offered(banner) == {"ha-status", "ha-failover", "ha-make-standalone"}
    assert offered("Welcome.\nType help.") == frozenset()


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
