"""The demo's page in a real browser, against the Slack-like server alone (no bot): what it
cannot draw it shows as sent, never drops; markup from outside stays text; Slack dates
are shown in the reader's time; a bot that is down is said plainly. And the page's
"break it" buttons break the simulated pairs as their labels say."""

from __future__ import annotations

import json
import re
import socket
import tokenize
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from habot.config import Settings
from habot.core.model import Verdict
from habot.demo.run import FAULTS, breaker
from habot.demo.stage import Persona, SlackStage
from habot.services.status import StatusService
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from tests.kit.factories import system_binary

HABOT = Path(__file__).resolve().parent.parent / "habot"

playwright = pytest.importorskip("playwright.async_api", reason="pip install playwright")
TOKEN = "xoxb-page-test"
OPS = Persona("U0OPS", "Olivia", "operator")
WAIT = 15_000


@pytest.fixture
def chromium() -> str:
    """Debian's chromium (no browser is downloaded)."""
    return system_binary("chromium", "chromium")


@pytest.fixture
async def stage() -> AsyncIterator[SlackStage]:
    """The Slack-like server, with its bot "at" a port nobody listens on."""
    built = SlackStage(
        channel="C0OPS", channel_name="ha-ops", personas=[OPS], command="/ha",
        usage_hint="help | status [PAIR]", signing_secret="s", bot_token=TOKEN,
    )  # fmt: skip
    await built.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        built.bot_url = f"http://127.0.0.1:{s.getsockname()[1]}"
    yield built
    await built.stop()


async def post(stage: SlackStage, text: str, blocks: list[dict[str, Any]]) -> None:
    """chat.postMessage, as the bot sends it."""
    form = {"channel": "C0OPS", "text": text, "blocks": json.dumps(blocks)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            stage.api_url + "chat.postMessage", data=form,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):  # fmt: skip
        assert (await response.json())["ok"] is True


async def test_the_page_draws_what_it_knows_and_shows_the_rest_as_sent(
    stage: SlackStage, chromium: str
) -> None:
    """The demo page draws the blocks it knows (escaping what was typed) and shows the rest as
    they were sent."""
    at = int(datetime(2026, 12, 2, 14, 30, tzinfo=UTC).timestamp())
    hostile = "<img src=x onerror=alert(1)> &lt;b&gt;typed&lt;/b&gt;"
    await post(stage, "t", [
        {"type": "header", "text": {"type": "plain_text", "text": "A header"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*bold* `code` <@U0OPS> <#C0OPS> {hostile}"}},
        {"type": "context", "elements": [{"type": "mrkdwn",
                                          "text": f"due <!date^{at}^{{time}}|14:30 UTC>"}]},
        {"type": "image", "image_url": "https://example.com/x.png", "alt_text": "a chart"},
    ])  # fmt: skip
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = await browser.new_context(timezone_id="America/New_York", locale="en-US")
        page = await context.new_page()
        page.set_default_timeout(WAIT)
        await page.goto(stage.page_url)
        message = page.locator(".message").first
        await message.wait_for()
        assert await message.locator(".block.header").inner_text() == "A header"
        assert await message.locator("b").first.inner_text() == "bold"
        assert "@Olivia (operator)" in await message.inner_text()
        assert "#ha-ops" in await message.inner_text()
        assert await page.locator("img").count() == 0  # markup from outside stays text
        assert "<b>typed</b>" in await message.inner_text()
        assert "09:30 AM" in await message.locator(".date").inner_text()  # New York time
        unknown = message.locator("pre.unknown")
        assert '"type": "image"' in await unknown.inner_text()  # shown as sent, not dropped
        banner = page.locator("#banner")
        await banner.wait_for(state="visible")
        assert "not answering" in await banner.inner_text()
        await page.fill("#command", "/ha status")
        await page.press("#command", "Enter")
        await page.locator("#command-error", has_text="not answering").wait_for()
        await browser.close()


@pytest.mark.parametrize(
    ("what", "verdict"),
    [
        ("power-cut", Verdict.PRIMARY_DOWN),
        ("cut-path", Verdict.PRIMARY_UNREACHABLE),
        ("degrade", Verdict.DEGRADED),
        ("split-brain", Verdict.SPLIT_BRAIN),
    ],
)
async def test_each_break_button_does_what_it_says_and_reset_mends_it(
    sim: Simulator, sim_settings: Settings, executor: SshExecutor, what: str, verdict: Verdict
) -> None:
    """Each break button of the demo gives the verdict it names, and reset mends the pair."""
    assert f"prod:{what}" in {f for f, _ in FAULTS}
    status = StatusService(sim_settings, executor, lambda: datetime.now(UTC))
    pair = sim_settings.pair("prod")
    await breaker(sim, "prod", what)
    assert (await status.read_pair(pair)).verdict is verdict
    await breaker(sim, "prod", "reset")
    assert (await status.read_pair(pair)).verdict is Verdict.BAU


async def test_the_unknown_outcome_button_arms_both_nodes_and_reset_disarms_them(
    sim: Simulator,
) -> None:
    """ "Make prod's next operation end unknown": whichever node the operation runs on
    asks one more question after the change (habot then cannot tell how it ended);
    "Reset prod to BAU" takes that away too."""
    assert "prod:ask-twice" in {f for f, _ in FAULTS}
    await breaker(sim, "prod", "ask-twice")
    assert all(node.ask_twice for node in sim.pairs["prod"].nodes.values())
    await breaker(sim, "prod", "reset")
    assert not any(node.ask_twice for node in sim.pairs["prod"].nodes.values())


#: Sphinx roles in docstrings (":class:`X`"), not emoji.
_ROLES = {"attr", "class", "data", "func", "meth", "mod"}


def emoji_in_habot() -> set[str]:
    """Every emoji name habot's messages use (":warning:"), from its string literals."""
    names: set[str] = set()
    for path in sorted(HABOT.rglob("*.py")):
        with path.open("rb") as source:
            for token in tokenize.tokenize(source.readline):
                if token.type == tokenize.STRING:
                    names |= set(re.findall(r":([a-z][a-z0-9_+-]*):", token.string)) - _ROLES
    return names


def test_the_page_draws_every_emoji_habot_uses() -> None:
    """The demo's page turns ":name:" into its emoji from a table: every name habot's
    messages use is in it (a missing one shows as ":no_entry_sign:" on the page)."""
    table = (HABOT / "demo" / "page" / "app.js").read_text()
    body = table.split("const EMOJI = {", 1)[1].split("};", 1)[0]
    drawn = set(re.findall(r"([a-z][a-z0-9_+-]*):\s*\"", body))
    used = emoji_in_habot()
    assert {"warning", "no_entry_sign", "octagonal_sign", "alarm_clock"} <= used  # the scan works
    assert used - drawn == set()
