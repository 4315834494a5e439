"""Durations, addresses, the command catalogue and prompt recognition."""

from __future__ import annotations

import re
import tokenize
from datetime import timedelta
from pathlib import Path

import pytest

from habot.core.addresses import NodeAddress, parse_address
from habot.core.catalogue import HaCommand, ha_command, tail_log
from habot.core.durations import as_setting, format_duration, parse_duration
from habot.core.prompts import asked_confirmation, is_confirmation_prompt, looks_like_question
from habot.core.replies import plural

HABOT = Path(__file__).resolve().parent.parent / "habot"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("10s", 10), ("5m", 300), ("1h", 3600), ("1h30m", 5400), (" 2 m ", 120)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    """Durations are numbers with ms/s/m/h units."""
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "ten seconds", "5x", "0s", "-5s", "1h 5"])
def test_bad_durations_are_refused_with_an_example(text: str) -> None:
    """A duration without a unit or with a bad unit names a valid example."""
    with pytest.raises(ValueError, match=r"'10s'|longer than zero"):
        parse_duration(text)


def test_durations_read_the_way_people_say_them_in_their_two_largest_units() -> None:
    """One helper for every duration people read: "10 min 15 s", never "10m15s"."""
    seconds = (0.25, 9, 60, 615, 3600, 3700, 90000, 3 * 86400)
    assert [format_duration(timedelta(seconds=s)) for s in seconds] == [
        "250 ms", "9 s", "1 min", "10 min 15 s", "1 h", "1 h 1 min", "1 d 1 h", "3 d",
    ]  # fmt: skip


@pytest.mark.parametrize("seconds", [0.5, 9, 90, 3600, 5400, 86400 + 61])
def test_a_setting_is_quoted_as_it_is_written_and_reads_back(seconds: float) -> None:
    """A message about the configuration quotes a duration as the setting takes it."""
    written = as_setting(timedelta(seconds=seconds))
    assert " " not in written
    assert parse_duration(written) == timedelta(seconds=seconds)


def test_counts_carry_their_noun_in_the_right_number() -> None:
    """Counts carry their noun in the right number."""
    assert [plural(n, "approval") for n in (0, 1, 2)] == [
        "0 approvals",
        "1 approval",
        "2 approvals",
    ]
    assert plural(3, "operation was", "operations were") == "3 operations were"


def test_no_text_pluralises_with_a_bracketed_s() -> None:
    """ "approval(s)" reads as a form, not a sentence: every count goes through plural()."""
    offenders = []
    for path in sorted(HABOT.rglob("*.py")):
        with path.open("rb") as source:
            for token in tokenize.tokenize(source.readline):
                words = re.sub(r"\{[^{}]*\}", "", token.string)  # an f-string's code is not text
                if token.type == tokenize.STRING and re.search(r"[a-z]\(s\)", words):
                    offenders.append(f"{path.relative_to(HABOT)}:{token.start[0]}")
    assert offenders == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("10.20.0.11", NodeAddress("10.20.0.11", 22)),
        ("10.20.0.12:2222", NodeAddress("10.20.0.12", 2222)),
        ("pam-a.example.com", NodeAddress("pam-a.example.com", 22)),
        ("[fd00::1]:2200", NodeAddress("fd00::1", 2200)),
        ("[fd00::1]", NodeAddress("fd00::1", 22)),
        ("fd00::1", NodeAddress("fd00::1", 22)),
    ],
)
def test_addresses_parse(text: str, address: NodeAddress) -> None:
    """host, host:port and [v6]:port; the port defaults to 22."""
    assert parse_address(text) == address


@pytest.mark.parametrize(
    "text",
    ["", "host:", "host:0", "host:70000", "host:ssh", "[fd00::1", "bad host", "a;b", "[x]:1"],
)
def test_bad_addresses_are_refused(text: str) -> None:
    """Malformed addresses raise with the offending text."""
    with pytest.raises(ValueError, match=r"port|valid|IPv6|expected"):
        parse_address(text)


def test_address_prints_back_in_config_form() -> None:
    """Addresses print as they are written in the config, default port omitted."""
    assert [str(NodeAddress("h")), str(NodeAddress("h", 2)), str(NodeAddress("::1", 2))] == [
        "h",
        "h:2",
        "[::1]:2",
    ]


def test_catalogue_commands_are_fixed_words() -> None:
    """Each HA command is sent as its bare name; only ha-status is read-only."""
    assert ha_command(HaCommand.FAILOVER).line == "ha-failover"
    assert [c.mutating for c in HaCommand].count(False) == 1
    assert not ha_command(HaCommand.STATUS).mutating


def test_tail_log_quotes_and_validates() -> None:
    """Only absolute plain paths and bounded counts become a tail command."""
    assert tail_log("/var/log/osirium/ha-commands.log", 20).line == (
        "tail -n 20 /var/log/osirium/ha-commands.log"
    )
    for path in ["relative.log", "/var/log/$(reboot)", "/var/../etc/shadow", "/a b"]:
        with pytest.raises(ValueError, match="absolute log path"):
            tail_log(path, 5)
    with pytest.raises(ValueError, match="line count"):
        tail_log("/var/log/x", 0)


@pytest.mark.parametrize(
    "output",
    [
        "This will promote the Secondary.\nDo you want to continue? [y/N] ",
        "Proceed (y/n)?",
        "Continue [Yes/No]: ",
    ],
)
def test_yes_no_questions_are_confirmation_prompts(output: str) -> None:
    """[y/N]-style questions at the end of output are the confirmation."""
    assert is_confirmation_prompt(output)
    assert not looks_like_question(output)


@pytest.mark.parametrize("output", ["Password: ", "Enter joining code:", "Really?"])
def test_other_questions_are_not_confirmations(output: str) -> None:
    """Other questions are recognised as questions, but never as the confirmation."""
    assert not is_confirmation_prompt(output)
    assert looks_like_question(output)


def test_a_pairs_own_confirmation_is_the_only_one_it_answers() -> None:
    """A console that asks "Type PROCEED to continue:": with the pair's pattern that is the
    confirmation (and anywhere in the output, asked); a [y/N] it did not name is then just
    another question, never answered."""
    mine = r"type proceed to continue:\s*$"
    assert is_confirmation_prompt("Failing over.\nType PROCEED to continue: ", mine)
    assert asked_confirmation("Type PROCEED to continue: y\nDone.\n", r"type proceed")
    assert not is_confirmation_prompt("Do you want to continue? [y/N] ", mine)
    assert looks_like_question("Do you want to continue? [y/N] ", mine)
    assert not is_confirmation_prompt("Type PROCEED to continue: ")  # not a y/N by default


def test_finished_lines_are_not_prompts() -> None:
    """A y/N that was already followed by a newline is history, not a pending prompt."""
    assert not is_confirmation_prompt("Continue? [y/N] y\nDone.\n")
    assert not looks_like_question("Status:\n")
