"""Tests needing a system binary skip where it is missing, and fail when CI requires them."""

from __future__ import annotations

import pytest

from tests.kit.factories import REQUIRE_SYSTEM_ENV, system_binary


def test_missing_binary_skips_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a laptop without the binary the test is skipped, saying what to install."""
    monkeypatch.delenv(REQUIRE_SYSTEM_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install no-such-pkg"):
        system_binary("habot-no-such-binary", "no-such-pkg")


def test_missing_binary_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    """With HABOT_REQUIRE_SYSTEM_TESTS=1 (as in CI) a missing binary is a failure."""
    monkeypatch.setenv(REQUIRE_SYSTEM_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="HABOT_REQUIRE_SYSTEM_TESTS=1"):
        system_binary("habot-no-such-binary", "no-such-pkg")


def test_present_binary_is_found() -> None:
    """A binary on every machine (sh) is found by path."""
    assert system_binary("sh", "dash").endswith("/sh")
