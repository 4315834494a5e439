"""A secret typed to a node never comes back out of habot, however the output is chunked."""

from __future__ import annotations

import itertools

import pytest

from habot.core.redact import MASK, Redactor

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
