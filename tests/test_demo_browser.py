"""`habot demo` in a real browser (Playwright driving Debian's chromium): what a newcomer
sees, step by step, with a screenshot of each step kept as an artefact
(``$HABOT_ARTIFACTS``, default ``artifacts/``, under ``demo/``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kit.factories import skip_or_fail, system_binary

playwright = pytest.importorskip("playwright.async_api", reason="pip install playwright")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("HABOT_ARTIFACTS", ROOT / "artifacts")) / "demo"
WAIT = 30_000  # ms: a step waits at most this long for the bot and the simulated pair


@dataclass
class RunningDemo:
    """`habot demo` as a process, and what it printed."""

    process: asyncio.subprocess.Process
    url: str
    printed: list[str]


#: Debian's colour emoji font: without it the screenshots show habot's emoji as boxes.
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


@pytest.fixture
def chromium() -> str:
    """Debian's chromium (no browser is downloaded), with the colour emoji font."""
    if not EMOJI_FONT.exists():
        skip_or_fail(f"{EMOJI_FONT} is missing (apt-get install fonts-noto-color-emoji)")
    return system_binary("chromium", "chromium")


@contextlib.asynccontextmanager
async def the_page(demo: RunningDemo, chromium: str) -> AsyncIterator[Any]:
    """The demo's page in chromium, once the bot behind it is up; closed afterwards."""
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT)
            await page.goto(demo.url)
            await page.wait_for_selector("#banner", state="hidden")  # the bot is up
            yield page
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    """Keep what the page shows now as an artefact."""
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def command(page: Any, text: str) -> None:
    """Type a slash command into the page's message box and send it."""
    await page.fill("#command", text)
    await page.press("#command", "Enter")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[RunningDemo]:
    """`habot demo --port 0`, started as a newcomer starts it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "habot", "demo", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdout is not None
    printed: list[str] = []
    async with asyncio.timeout(30):
        while not any("Ctrl-C" in line for line in printed):  # the URL, then the log's path
            line = (await process.stdout.readline()).decode()
            assert line, f"habot demo exited early: {printed}"
            printed.append(line.rstrip("\n"))
    url = next(line for line in printed if line.startswith("http://"))
    yield RunningDemo(process, url, printed)
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)


async def test_a_newcomer_rehearses_a_failover_with_four_eyes_in_the_browser(
    demo: RunningDemo, chromium: str
) -> None:
    """Status card; the Primary power-cut; a failover requested as the operator (the pager
    pane shows the approvers paged); their own Approve refused; approved by the approver
    through the confirm dialog (the page resolved); the outcome in the card's thread; App
    Home updated — then Ctrl-C leaves nothing behind."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert demo.url == demo.url.strip()  # the URL is a line of its own
    async with the_page(demo, chromium) as page:
        await page.select_option("#persona", "U0DEMOOPS")

        await command(page, "/ha status prod")
        card = page.locator(".message", has_text="BAU — Primary active").last
        await card.wait_for()
        await shot(page, "01-status-card")

        await page.click("button[data-fault='prod:power-cut']")
        await page.wait_for_selector("#fault-said:has-text('prod: power-cut')")
        await command(page, "/ha failover prod")
        request = page.locator(".message:not(.ephemeral)", has_text="failover").filter(
            has=page.locator("button[data-action-id='approve_request']")
        )
        await request.last.wait_for()
        await page.locator(".ephemeral", has_text="approval needed").last.wait_for()
        # the approvers' on-call is paged for an emergency request (the demo's PagerDuty)
        await page.locator(
            "#pages .page.trigger", has_text="failover waits for approval"
        ).wait_for()
        await shot(page, "02-failover-requested")

        await request.last.locator("button[data-action-id='approve_request']").click()
        await page.click("#confirm-yes")  # the card's confirm dialog
        await page.locator(".ephemeral", has_text="second person").last.wait_for()
        await shot(page, "03-own-approval-refused")

        await page.select_option("#persona", "U0DEMOLEAD")
        await request.last.locator("button[data-action-id='approve_request']").click()
        dialog = page.locator("#confirm")
        await dialog.wait_for(state="visible")
        assert "failover" in (await dialog.inner_text()).lower()
        await shot(page, "04-confirm-dialog")
        await page.click("#confirm-yes")
        await page.locator(".message", has_text="Succeeded").last.wait_for()
        await page.locator(".thread .message").first.wait_for()
        await page.locator("#pages .page.resolve", has_text="/request/").first.wait_for()
        await shot(page, "05-failover-succeeded")

        await page.click("#tab-home")
        home = page.locator("#home-view")
        await home.locator("text=Recent operations").wait_for()
        await page.locator("#home-view", has_text="succeeded").wait_for()
        # … and the pair as the outcome left it, not as the poll before the change saw it
        await home.locator(".section", has_text="prod").filter(has_text="Failed over").wait_for()
        await shot(page, "06-app-home")

    demo.process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(demo.process.wait(), 30) == 0
    assert demo.process.stdout is not None
    said = (await demo.process.stdout.read()).decode()
    assert "nothing left behind" in said
    [log_line] = [line for line in demo.printed if "the bot's log:" in line]
    folder = Path(log_line.split("the bot's log: ")[1].split(";")[0]).parent
    assert not folder.exists()  # every file it made is gone
    for step in ("01-status-card", "02-failover-requested", "03-own-approval-refused",
                 "04-confirm-dialog", "05-failover-succeeded", "06-app-home"):  # fmt: skip
        assert (ARTIFACTS / f"{step}.png").stat().st_size > 10_000


async def test_a_bot_that_dies_is_shown_down_then_started_again(
    demo: RunningDemo, chromium: str
) -> None:
    """The bot killed under the page: a banner says so while the page keeps trying; the
    demo starts the bot again and the banner goes."""
    [log_line] = [line for line in demo.printed if "the bot's log:" in line]
    folder = log_line.split("the bot's log: ")[1].split(";")[0].rsplit("/", 1)[0]
    async with the_page(demo, chromium) as page:
        os.kill(_bot_pid(folder), signal.SIGKILL)
        banner = page.locator("#banner")
        await banner.wait_for(state="visible")
        # down: seen not answering, or (the demo noticed first) being started again
        assert re.search(r"not answering|starting again", await banner.inner_text())
        await banner.wait_for(state="hidden")  # started again
        await page.fill("#command", "/ha status prod")
        await page.press("#command", "Enter")
        await page.locator(".message", has_text="BAU — Primary active").wait_for()


async def test_what_the_demo_writes_only_its_user_may_read(demo: RunningDemo) -> None:
    """Keys, config, database and logs in the demo's folder: no file or folder there is
    open to the group or to others (umask 077 for the demo and what it starts)."""
    [log_line] = [line for line in demo.printed if "the bot's log:" in line]
    folder = Path(log_line.split("the bot's log: ")[1].split(";")[0]).parent
    entries = [folder, *folder.rglob("*")]
    assert len(entries) > 5  # the simulator's keys, the config, the database, the log …
    loose = [(str(p), oct(p.stat().st_mode & 0o777)) for p in entries
             if not p.is_symlink() and p.stat().st_mode & 0o077]  # fmt: skip
    assert loose == []


def _bot_pid(folder: str) -> int:
    """The pid of the demo's `habot run`."""
    [bot] = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _runs(p, folder)]
    return int(bot.name)


def _runs(proc: Path, folder: str) -> bool:
    """Whether a /proc entry is `habot run` with the demo's config."""
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"run" in argv and any(folder.encode() in a for a in argv)


async def test_a_newcomer_asks_with_a_reason_rejects_with_one_and_types_the_pairs_name(
    demo: RunningDemo, chromium: str
) -> None:
    """Change control in the browser: make-standalone asks for a reason in a form; the
    approver rejects it through the Reject form, saying why; asked again with the reason
    typed, it is approved by typing the pair's name — a wrong name is refused in the form."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with the_page(demo, chromium) as page:
        modal = page.locator("#modal")
        await page.select_option("#persona", "U0DEMOOPS")
        await command(page, "/ha make-standalone prod secondary")
        await modal.wait_for(state="visible")
        assert "redundancy ends" in (await modal.inner_text()).lower()
        await modal.locator("textarea[name='reason']").fill("rebuilding prod's Secondary")
        await shot(page, "07-request-form")
        await page.click("#modal-submit")
        await modal.wait_for(state="hidden")
        card = page.locator(".message:not(.ephemeral)", has_text="make-standalone").filter(
            has=page.locator("button[data-action-id='reject_request']")
        )
        await card.last.wait_for()
        assert "rebuilding prod" in await card.last.inner_text()

        await page.select_option("#persona", "U0DEMOLEAD")
        await card.last.locator("button[data-action-id='reject_request']").click()
        await modal.wait_for(state="visible")
        await modal.locator("textarea[name='reason']").fill("not before the DR test is booked")
        await shot(page, "08-reject-form")
        await page.click("#modal-submit")
        await page.locator(".message", has_text="Rejected by").last.wait_for()

        await page.select_option("#persona", "U0DEMOOPS")
        await command(page, '/ha make-standalone prod secondary "rebuilding for the DR test"')
        await card.last.wait_for()
        await page.select_option("#persona", "U0DEMOLEAD")
        await card.last.locator("button[data-action-id='approve_request']").click()
        await modal.wait_for(state="visible")
        await modal.locator("input[name='pair_name']").fill("dr")
        await page.click("#modal-submit")
        await modal.locator(".error", has_text="not this request's pair").wait_for()
        await shot(page, "09-step-up-wrong-name")
        await modal.locator("input[name='pair_name']").fill("prod")
        await page.click("#modal-submit")
        await modal.wait_for(state="hidden")
        await page.locator(".message", has_text="Succeeded").last.wait_for()
        await shot(page, "10-make-standalone-succeeded")
    for step in ("07-request-form", "08-reject-form", "09-step-up-wrong-name",
                 "10-make-standalone-succeeded"):  # fmt: skip
        assert (ARTIFACTS / f"{step}.png").stat().st_size > 10_000


async def test_an_incident_reads_as_one_story_from_alert_to_outcome_and_unknown_to_resolved(
    demo: RunningDemo, chromium: str
) -> None:
    """The Primary power-cut alerts; "Request failover" on the alert opens the request and
    the alert's thread says who asked, with a link to its card; the approver approves it
    from App Home (the card's confirm dialog) and the alert's thread says how it ended.
    Then an operation whose outcome is unknown: its card says how to close it, and the
    approver's Resolve (what they found) opens the pair again."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with the_page(demo, chromium) as page:
        await page.select_option("#persona", "U0DEMOOPS")
        await page.click("button[data-fault='prod:power-cut']")
        remedy = page.locator(  # dr (Degraded from the start) has an alert of its own
            "button[data-action-id='alert_open_request']", has_text="Request failover"
        )
        await remedy.first.wait_for(timeout=90_000)  # two readings 15 s apart, then the alert
        alert = page.locator(".message:not(.ephemeral)").filter(has=remedy).first
        thread = page.locator(f".thread[data-thread='{await alert.get_attribute('data-ts')}']")
        await shot(page, "11-alert")
        await remedy.first.click()
        asked = thread.locator(".message", has_text="asked for")
        await asked.wait_for()
        assert "failover" in await asked.inner_text()
        assert await asked.locator("a.message-link", has_text="its card").count() == 1
        await shot(page, "12-asked-in-the-alerts-thread")

        await page.select_option("#persona", "U0DEMOLEAD")
        await page.click("#tab-home")
        home = page.locator("#home-view")
        approve = home.locator("button[data-action-id='approve_request']")
        await approve.wait_for()
        assert await home.locator("a.message-link", has_text="its card").count() >= 1
        await shot(page, "13-home-waiting-for-you")
        await approve.click()
        dialog = page.locator("#confirm")
        await dialog.wait_for(state="visible")
        assert "failover" in (await dialog.inner_text()).lower()
        await page.click("#confirm-yes")
        await page.click("#tab-channel")
        ended = thread.locator(".message", has_text="ended")
        await ended.wait_for()
        assert "succeeded" in await ended.inner_text()
        await shot(page, "14-the-alerts-thread-tells-the-outcome")
        await page.click("#tab-home")
        await home.locator(".context", has_text="approved by").first.wait_for()
        await shot(page, "15-home-recent-operations")
        await page.click("#tab-channel")

        await page.select_option("#persona", "U0DEMOOPS")
        await page.click("button[data-fault='dr:reset']")
        await page.click("button[data-fault='dr:ask-twice']")
        await command(page, "/ha switchover dr")
        card = page.locator(".message:not(.ephemeral)", has_text="switchover").filter(
            has=page.locator("button[data-action-id='approve_request']")
        )
        await card.last.wait_for()
        await page.select_option("#persona", "U0DEMOLEAD")
        await card.last.locator("button[data-action-id='approve_request']").click()
        await page.click("#confirm-yes")
        resolve = page.locator("button[data-action-id='resolve_request']")
        await resolve.last.wait_for(timeout=60_000)
        unknown = page.locator(".message:not(.ephemeral)").filter(has=resolve).last
        assert "resolve" in (await unknown.inner_text()).lower()
        await shot(page, "16-outcome-unknown")
        await resolve.last.click()
        modal = page.locator("#modal")
        await modal.wait_for(state="visible")
        await modal.locator("[name='found']").fill("dr: both nodes read, Secondary serving")
        await shot(page, "17-resolve-form")
        await page.click("#modal-submit")
        await modal.wait_for(state="hidden")
        await page.locator(".message", has_text="resolved by a person").last.wait_for()
        await shot(page, "18-resolved")
    for step in ("11-alert", "12-asked-in-the-alerts-thread", "13-home-waiting-for-you",
                 "14-the-alerts-thread-tells-the-outcome", "15-home-recent-operations",
                 "16-outcome-unknown", "17-resolve-form", "18-resolved"):  # fmt: skip
        assert (ARTIFACTS / f"{step}.png").stat().st_size > 10_000
