"""The message budget: every message habot sends fits Slack's size limit, and what does
not fit is cut saying so — with the whole of long output offered as a file."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from habot.core.answers import LogsAnswer, RawAnswer
from habot.core.blocks import Message, code_blocks, render, section
from habot.core.budget import (
    BUDGET,
    Attachment,
    attachment,
    clip_text,
    cut,
    cut_note,
    fits,
    size,
)
from habot.core.grammar import LogKind
from habot.core.model import Verdict
from habot.core.outbox import ephemeral_to, reply_to
from habot.core.replies import say
from habot.services.outbox import message_payload
from tests.kit.fakeslack import MESSAGE_LIMIT, message_size
from tests.kit.slackcheck import problems_in_blocks
from tests.kit.statuses import pair_status

LOG = "\n".join(f"line {i:03d} " + "x" * 330 for i in range(200))


def logs(output: str = LOG) -> LogsAnswer:
    return LogsAnswer("prod", "secondary", "10.0.0.2:22", 200, output, LogKind.HA)


def test_the_budget_is_below_the_size_slack_refuses() -> None:
    """habot's message budget is below the size Slack refuses."""
    assert BUDGET < MESSAGE_LIMIT


def test_a_200_line_log_is_over_the_budget_and_cut_to_fit_with_its_head() -> None:
    """A 200-line log is over the budget: it is cut to fit, keeping its head, with a note
    linking the whole file."""
    message = render(logs())
    assert not fits(message)
    fitted = cut(message, cut_note(attachment(logs()), "https://files.example/F1"))
    assert fits(fitted)
    assert message_size(fitted.text, list(fitted.blocks)) <= MESSAGE_LIMIT
    assert fitted.blocks[: len(fitted.blocks) - 1] == message.blocks[: len(fitted.blocks) - 1]
    assert "line 000" in str(fitted.blocks[1])
    last = str(fitted.blocks[-1])
    assert "200 lines" in last
    assert "https://files.example/F1" in last
    assert problems_in_blocks(list(fitted.blocks)) == []


@given(
    st.lists(st.text(min_size=1, max_size=2900), max_size=60),
    st.text(max_size=5000),
)
def test_any_cut_message_fits_and_keeps_a_prefix_of_its_blocks(
    texts: list[str], fallback: str
) -> None:
    """Whatever its size, a cut message fits and keeps a prefix of its blocks and says it was
    cut."""
    message = Message(fallback, tuple(section(t) for t in texts))
    fitted = cut(message, cut_note(None, None))
    assert size(fitted.text, fitted.blocks) <= BUDGET
    kept = fitted.blocks[:-1]
    assert kept == message.blocks[: len(kept)]
    assert "only its first part" in str(fitted.blocks[-1])


def test_a_message_that_fits_is_never_cut_by_the_outbox() -> None:
    """A message within the budget goes out unchanged."""
    message = Message("hello", (section("hello"),))
    assert message_payload(message) == {"text": "hello", "blocks": [section("hello")]}


def test_the_outbox_cuts_an_oversized_card_saying_so() -> None:
    """The outbox cuts an oversized card to the budget and says only its first part is shown."""
    message = Message("log", tuple(code_blocks(LOG)))
    payload = message_payload(message)
    assert message_size(payload["text"], payload["blocks"]) <= BUDGET
    assert "only its first part" in str(payload["blocks"][-1])


@given(st.text(max_size=30_000))
def test_text_only_messages_are_clipped_to_the_budget(text: str) -> None:
    """Replies and ephemerals of text only are clipped to the budget, saying so."""
    for payload in (reply_to(1, text), ephemeral_to("U1", text)):
        assert len(payload["text"]) <= BUDGET
        cut_off = payload["text"].endswith("(cut: too long for one Slack message)")
        assert payload["text"] == text if len(text) <= BUDGET else cut_off
    assert clip_text(text, 100) == text if len(text) <= 100 else len(clip_text(text, 100)) == 100


def test_long_output_answers_offer_their_whole_text_as_a_file() -> None:
    """An answer with long output offers its whole text as a file with a plain name and title."""
    log = attachment(logs())
    assert log == Attachment(
        "prod-secondary-ha.log",
        "prod secondary: last 200 lines of the HA command log",
        LOG,
    )
    assert log.lines == 200
    raw = attachment(RawAnswer(pair_status(Verdict.BAU, raw="ha-status says OK")))
    assert raw is not None
    assert raw.filename == "prod-ha-status.txt"
    assert raw.content.count("ha-status says OK") == 2  # both nodes
    assert attachment(say("just words")) is None


def test_file_names_carry_no_path_or_markup() -> None:
    """A file's name carries no path or spaces, whatever the pair and node are called."""
    odd = LogsAnswer("../etc", "pri mary", "a", 5, "x", LogKind.DECLUSTER)
    file = attachment(odd)
    assert file is not None
    assert "/" not in file.filename
    assert " " not in file.filename


def test_the_note_says_why_no_file_came_and_what_to_do() -> None:
    """When the file could not be sent, the note says what Slack answered and what to do
    instead."""
    file = attachment(logs())
    note = str(cut_note(file, None, "not_allowed_token_type"))
    assert "not_allowed_token_type" in note
    assert "fewer lines" in note
