"""A secret typed to a node never comes back out of habot, however the output is chunked."""

from __future__ import annotations

import itertools

import pytest

from habot.core.redact import MASK, Redactor, disguised, hide

CODE = "7F3A-91BC-22D0-E4A5"
TEXT = f"Enter the joining code: {CODE}\r\nJoining code {CODE} accepted.\r\nPAM> "


def chunked(text: str, at: list[int]) -> list[str]:
    """``text`` cut at the given offsets."""
    bounds = [0, *at, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def through(redactor: Redactor, chunks: list[str]) -> list[str]:
    """What a reader downstream receives, chunk by chunk, then the flush."""
    return [redactor.feed(chunk) for chunk in chunks] + [redactor.flush()]


@pytest.mark.parametrize("cut", range(1, len(TEXT)))
def test_a_secret_split_anywhere_is_masked_whole(cut: int) -> None:
    """Cut at any offset (inside the code included): no chunk holds any piece of the code
    that a reader could join with another, and the whole reads as the masked text."""
    out = through(Redactor(CODE), chunked(TEXT, [cut]))
    assert "".join(out) == TEXT.replace(CODE, MASK)
    assert CODE not in "".join(out)
    assert not any(CODE[:4] in chunk for chunk in out)


def test_one_character_at_a_time_is_masked_too() -> None:
    """The worst chunking there is."""
    out = through(Redactor(CODE), list(TEXT))
    assert "".join(out) == TEXT.replace(CODE, MASK)


def test_only_what_could_begin_the_secret_is_held_back() -> None:
    """A prompt at the end of a chunk passes at once (habot must see it to answer it);
    a tail that might be the code's start waits for the next chunk."""
    redactor = Redactor(CODE)
    assert redactor.feed("Do you want to continue? [y/N] ") == "Do you want to continue? [y/N] "
    assert redactor.feed("code 7F3") == "code "
    assert redactor.feed("X") == "7F3X"


def test_without_a_secret_the_stream_passes_untouched() -> None:
    """No joining code given: nothing is held back or changed."""
    redactor = Redactor(None)
    assert redactor.feed("7F3A-91BC") == "7F3A-91BC"
    assert redactor.flush() == ""


@pytest.mark.parametrize(
    "echo",
    [
        "7\x1b[0KF\x1b[0K3\x1b[0KA\x1b[0K-\x1b[0K91BC-22D0-E4A5",  # an erase between each
        "7f3a-91bc-22d0-e4a5",  # another case
        "7F3A - 91BC - 22D0 - E4A5",  # other spacing
        "7F3A91BC22D0E4A5",  # no dashes
        "7\x1b[1m F 3 A\x1b]0;t\x07-91BC-22D0-E4A5",  # colours, a title, spaces
    ],
)
def test_a_disguised_echo_of_the_secret_is_hidden(echo: str) -> None:
    """However an echo disguises the code — escapes, case, spacing between its characters —
    what a reader would see as the code is masked; the text around it stays."""
    hidden = hide(f"code: {echo} accepted", disguised(CODE))
    assert hidden == f"code: {MASK} accepted"


def test_text_that_only_shares_part_of_the_secret_is_left_alone() -> None:
    """Part of the code, or its characters out of order, is ordinary text."""
    pattern = disguised(CODE)
    for text in ("7F3A-91BC", "E4A5-22D0-91BC-7F3A", "Primary: Active 10.0.0.1"):
        assert hide(text, pattern) == text
    assert disguised(None) is None
    assert disguised("a-b") is None  # too short to tell from ordinary text
