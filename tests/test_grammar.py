"""The /ha grammar: valid text parses, anything else is a usage error naming the problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from habot.core.asks import (
    Ask,
    FreezeRequest,
    MuteRequest,
    OperationRequest,
    RequestNote,
    Unfreeze,
    parse_ask,
    parse_mute,
    parse_note,
)
from habot.core.grammar import (
    MAX_TEXT,
    MUTATING,
    LogKind,
    ParsedCommand,
    Sub,
    UsageError,
    parse_command,
)
from habot.core.model import Role

PAIRS = ("prod", "dr")
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", ParsedCommand(Sub.HELP)),
        ("help", ParsedCommand(Sub.HELP)),
        ("status", ParsedCommand(Sub.STATUS)),
        ("status all", ParsedCommand(Sub.STATUS)),
        ("  STATUS   Prod ", ParsedCommand(Sub.STATUS, "prod")),
        ("logs prod", ParsedCommand(Sub.LOGS, "prod", Role.PRIMARY, 20)),
        ("logs dr secondary", ParsedCommand(Sub.LOGS, "dr", Role.SECONDARY, 20)),
        ("logs dr secondary 200", ParsedCommand(Sub.LOGS, "dr", Role.SECONDARY, 200)),
        ("logs dr 5", ParsedCommand(Sub.LOGS, "dr", Role.PRIMARY, 5)),
        (
            "logs dr secondary 5 decluster",
            ParsedCommand(Sub.LOGS, "dr", Role.SECONDARY, 5, log=LogKind.DECLUSTER),
        ),
        (
            "logs dr DECLUSTER",
            ParsedCommand(Sub.LOGS, "dr", Role.PRIMARY, 20, log=LogKind.DECLUSTER),
        ),
        ("history", ParsedCommand(Sub.HISTORY, None, count=20)),
        ("history 7", ParsedCommand(Sub.HISTORY, None, count=7)),
        ("history prod 100", ParsedCommand(Sub.HISTORY, "prod", count=100)),
        ("history prod roles", ParsedCommand(Sub.HISTORY, "prod", count=20, roles=True)),
        ("incident EC340C3A", ParsedCommand(Sub.INCIDENT, ref="ec340c3a")),
        ("pending", ParsedCommand(Sub.PENDING)),
    ],
)
def test_valid_commands_parse(text: str, parsed: ParsedCommand) -> None:
    """Subcommands, pair names and nodes are case-insensitive; counts have defaults."""
    assert parse_command(text, PAIRS) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reboot", "`reboot` is not a /ha subcommand. `/ha help` lists them."),
        (
            "stauts",
            "`stauts` is not a /ha subcommand. Did you mean `/ha status`? `/ha help` lists them.",
        ),
        (
            "swtichover prod",
            "`swtichover` is not a /ha subcommand. Did you mean "
            "`/ha switchover`? `/ha help` lists them.",
        ),
        ("status qa", "There is no pair `qa`. Configured pairs: prod, dr."),
        (
            "status prdo",
            "There is no pair `prdo`. Did you mean `prod`? Configured pairs: prod, dr.",
        ),
        ("status prod dr", "Unexpected `dr`. Usage: `/ha status [PAIR|all]`"),
        ("logs", "Which pair? Usage: `/ha logs PAIR [primary|secondary] [N≤200] [decluster]`"),
        ("logs prod 201", "The line count must be a number from 1 to 200, not `201`."),
        ("logs prod 0", "The line count must be a number from 1 to 200, not `0`."),
        ("logs prod tertiary", "The line count must be a number from 1 to 200, not `tertiary`."),
        ("history prod 101", "The event count must be a number from 1 to 100, not `101`."),
        ("status prod;", "`prod;` is not something /ha understands"),
        ("status `id`", "`'id'` is not something /ha understands"),
        ("logs prod $(reboot)", "`$(reboot)` is not something /ha understands"),
        ("help me", "Unexpected `me`. Usage: `/ha help`"),
    ],
)
def test_bad_commands_name_the_problem(text: str, message: str) -> None:
    """Unknown subcommands and pairs, extra or malformed arguments: a clear usage message."""
    with pytest.raises(UsageError) as info:
        parse_command(text, PAIRS)
    assert message in str(info.value)


def test_over_long_text_is_refused() -> None:
    """Very long text is refused before anything else is looked at."""
    with pytest.raises(UsageError, match=f"at most {MAX_TEXT}"):
        parse_command("status " + "a" * MAX_TEXT, PAIRS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mute prod 30m maintenance window",
            MuteRequest("prod", timedelta(minutes=30), "maintenance window"),
        ),
        (
            "mute DR 2h vendor upgrade; `rm -rf`",
            MuteRequest("dr", timedelta(hours=2), "vendor upgrade; `rm -rf`"),
        ),
        ("mute prod", "needs a pair, a duration and a reason"),
        ("mute prod soon because", "is not a duration"),
        ("mute prod 8d long", "at most 7 days"),
        ("mute qa 1h x", "There is no pair `qa`"),
    ],
)
def test_mute_grammar(text: str, expected: MuteRequest | str) -> None:
    """A mute names a pair, a duration (≤ 7 days) and a free-text reason."""
    if isinstance(expected, MuteRequest):
        assert parse_mute(text, PAIRS) == expected
        return
    with pytest.raises(UsageError, match=expected):
        parse_mute(text, PAIRS)


def test_unmute_grammar() -> None:
    """`unmute PAIR`, nothing else."""
    assert parse_command("unmute prod", PAIRS) == ParsedCommand(Sub.UNMUTE, "prod")
    with pytest.raises(UsageError, match="Which pair"):
        parse_command("unmute", PAIRS)


def test_every_command_is_parsed_once_whole_into_what_it_asks() -> None:
    """parse_ask reads each kind of command whole, once, into its typed ask — an operation
    with its override, a mute, a note, a freeze — and hands the simple ones to the grammar;
    the grammar itself refuses to half-parse a free-text command."""
    now, zone = NOW, ZoneInfo("UTC")
    assert parse_ask("initialize prod", PAIRS, "/ha", now, zone).sub is Sub.INITIALISE
    for sub in MUTATING:
        ask = parse_ask(f"{sub.value} prod primary --override \u201cx\u201d", PAIRS, "/ha", now,
                        zone)  # fmt: skip
        assert isinstance(ask.what, OperationRequest)
        assert (ask.sub, ask.pair, ask.what.override) == (sub, "prod", "x")
    mute = parse_ask("mute prod 1h patching", PAIRS, "/ha", now, zone)
    assert mute == Ask(Sub.MUTE, "prod", MuteRequest("prod", timedelta(hours=1), "patching"))
    note = parse_ask('resolve 0123abcd "it failed over"', PAIRS, "/ha", now, zone)
    assert note == Ask(Sub.RESOLVE, None, RequestNote("0123abcd", "it failed over"))
    freeze = parse_ask("freeze all 2h quarter end", PAIRS, "/ha", now, zone)
    assert isinstance(freeze.what, FreezeRequest)
    assert freeze.pair is None
    assert parse_ask("unfreeze prod", PAIRS, "/ha", now, zone) == Ask(
        Sub.UNFREEZE, "prod", Unfreeze(("prod",))
    )
    assert parse_ask("status dr", PAIRS, "/ha", now, zone) == Ask(
        Sub.STATUS, "dr", ParsedCommand(Sub.STATUS, "dr")
    )
    with pytest.raises(ValueError, match="parse_ask"):
        parse_command("failover prod", PAIRS)


def test_pending_takes_nothing() -> None:
    """pending takes no words; anything after it is a usage error."""
    assert parse_command("pending", PAIRS) == ParsedCommand(Sub.PENDING)
    with pytest.raises(UsageError, match="Unexpected `now`"):
        parse_command("pending now", PAIRS)


@pytest.mark.parametrize(
    ("text", "note_or_error"),
    [
        ("cancel 0A1B2C3D", ("0a1b2c3d", "")),
        ('cancel 0a1b2c3d "asked on the wrong pair"', ("0a1b2c3d", "asked on the wrong pair")),
        ("reject 0a1b2c3d not during the close", ("0a1b2c3d", "not during the close")),
        ("cancel", "Say which request"),
        ("reject", "Say which request"),
        ("cancel 12", "is not a request ID"),
    ],
)
def test_cancel_and_reject_take_an_id_and_perhaps_why(
    text: str, note_or_error: tuple[str, str] | str
) -> None:
    """`cancel` and `reject` take a request id, and the reason when there is one (the rules
    decide whether one is needed)."""
    if isinstance(note_or_error, tuple):
        note = parse_note(text)
        assert (note.request_id, note.words) == note_or_error
        return
    with pytest.raises(UsageError, match=note_or_error):
        parse_note(text)


def test_the_configured_command_name_appears_in_messages() -> None:
    """Usage messages use the configured slash command."""
    with pytest.raises(UsageError, match="`/pam help` lists them"):
        parse_command("nope", PAIRS, command="/pam")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=700))
def test_arbitrary_text_parses_or_is_a_usage_error(text: str) -> None:
    """Whatever is typed, the parser returns a command or raises UsageError, nothing else;
    and a parsed pair is always a configured one."""
    try:
        ask = parse_ask(text, PAIRS, "/ha", NOW, ZoneInfo("UTC"))
    except UsageError as exc:
        message = str(exc)
    else:
        assert ask.pair is None or ask.pair in PAIRS
        return
    assert message


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "status",
                "logs",
                "history",
                "prod",
                "dr",
                "all",
                "primary",
                "secondary",
                "5",
                "500",
                ";",
                "rm",
                "-rf",
                "/",
                "\n",
                "é",
            ]
        ),
        max_size=6,
    )
)
def test_word_salad_never_escapes_the_grammar(words: list[str]) -> None:
    """Combinations of real and hostile words parse or are refused; no other outcome."""
    try:
        parsed = parse_command(" ".join(words), PAIRS)
    except UsageError:
        return
    assert parsed.sub in set(Sub)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('resolve 0a1b2c3d "pair is BAU, nothing ran"', ("0a1b2c3d", "pair is BAU, nothing ran")),
        ("resolve 0A1B2C3D checked the console", ("0a1b2c3d", "checked the console")),
        ("resolve 0a1b2c3d “curly quotes”", ("0a1b2c3d", "curly quotes")),
    ],
)
def test_resolve_takes_an_id_and_what_was_found(text: str, expected: tuple[str, str]) -> None:
    """The finding is free text (quotes optional); the id is normalised."""
    ask = parse_note(text)
    assert (ask.request_id, ask.words) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("resolve", "Say which request and what you found"),
        ("resolve 0a1b2c3d", "Say which request and what you found"),
        ("resolve nope found it", "is not a request ID"),
        ('resolve 0a1b2c3d ""', "Say what you found"),
    ],
)
def test_bad_resolve_says_how(text: str, words: str) -> None:
    """Each refusal names the problem and the usage."""
    with pytest.raises(UsageError, match=words):
        parse_note(text)
