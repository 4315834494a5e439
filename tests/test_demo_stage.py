"""The demo's Slack-like server refuses what Slack refuses, with the same Block Kit checks
the bot's tests use (tests/slackcheck.py), and passes on what Slack would send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from habot.core.blocks import status_message
from habot.core.cards import glass_form
from habot.core.model import Verdict
from habot.demo.pager import DemoPager
from habot.demo.stage import Persona, SlackStage
from tests.kit.glass import _request as glass_request
from tests.kit.slackcheck import MESSAGE_LIMIT, problems_in_blocks
from tests.kit.statuses import pair_status

TOKEN, SECRET = "xoxb-stage-test", "s3cret"
OPS = Persona("U0OPS", "Olivia", "operator")


@pytest.fixture
async def stage() -> AsyncIterator[SlackStage]:
    """The stage on a free port, with no bot behind it."""
    built = SlackStage(
        channel="C0OPS", channel_name="ha-ops", personas=[OPS], command="/ha",
        usage_hint="help | status", signing_secret=SECRET, bot_token=TOKEN,
    )  # fmt: skip
    await built.start()
    yield built
    await built.stop()


async def api(stage: SlackStage, method: str, token: str = TOKEN, **args: Any) -> dict[str, Any]:
    """A Web API call as slack_sdk makes it (form fields, Bearer token)."""
    form = {k: json.dumps(v) if isinstance(v, list | dict) else str(v) for k, v in args.items()}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            stage.api_url + method, data=form, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        data: dict[str, Any] = await response.json()
        return data


async def test_a_valid_card_is_posted_and_shown_to_everyone(stage: SlackStage) -> None:
    """A card the bot's own checks accept, the stage accepts and shows to everyone in the
    channel."""
    card = status_message([pair_status(Verdict.BAU)], datetime.now(UTC), ["r1"])
    assert problems_in_blocks(list(card.blocks)) == []  # what the bot's tests accept …
    answer = await api(stage, "chat.postMessage", channel="C0OPS", text=card.text,
                       blocks=list(card.blocks))  # fmt: skip
    assert answer["ok"] is True  # … the stage accepts
    seen = await stage.view_for(OPS.user)
    assert [m["ts"] for m in seen["messages"]] == [answer["ts"]]


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "no_such_block"}], "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "invalid_blocks"),
        ([{"type": "divider"}] * 51, "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5,
         "msg_blocks_too_long"),
    ],
)  # fmt: skip
async def test_what_slack_refuses_the_stage_refuses(
    stage: SlackStage, blocks: list[dict[str, Any]], error: str
) -> None:
    """What Slack would refuse, the stage refuses with Slack's error, and shows nothing."""
    problems = problems_in_blocks(blocks)
    too_long = len(json.dumps(blocks)) > MESSAGE_LIMIT
    assert problems or too_long  # the bot's tests would refuse it too
    answer = await api(stage, "chat.postMessage", channel="C0OPS", text="t", blocks=blocks)
    assert answer == {"ok": False, "error": error}
    assert (await stage.view_for(OPS.user))["messages"] == []


async def test_a_wrong_token_or_an_unknown_channel_is_refused(stage: SlackStage) -> None:
    """A wrong token or an unknown channel is refused as Slack refuses it."""
    assert (await api(stage, "auth.test", token="xoxb-other"))["error"] == "invalid_auth"
    missing = await api(stage, "chat.postMessage", channel="C0ELSEWHERE", text="hi")
    assert missing["error"] == "channel_not_found"


async def test_ephemeral_and_direct_messages_reach_only_their_person(stage: SlackStage) -> None:
    """Ephemeral and direct messages reach only the person they are for."""
    other = "U0OTHER"
    stage.personas[other] = Persona(other, "Otto", "viewer")
    await api(stage, "chat.postEphemeral", channel="C0OPS", user=OPS.user, text="just you")
    await api(stage, "chat.postMessage", channel=OPS.user, text="a DM")
    mine = [m["text"] for m in (await stage.view_for(OPS.user))["messages"]]
    theirs = [m["text"] for m in (await stage.view_for(other))["messages"]]
    assert sorted(mine) == ["a DM", "just you"]
    assert theirs == []


async def test_a_file_is_uploaded_into_the_persons_dm(stage: SlackStage) -> None:
    """A file uploaded by the external upload flow lands in the person's DM."""
    opened = await api(stage, "conversations.open", users=OPS.user)
    got = await api(stage, "files.getUploadURLExternal", filename="prod.log", length=5)
    async with aiohttp.ClientSession() as session, session.post(got["upload_url"], data=b"lines"):
        pass
    done = await api(stage, "files.completeUploadExternal", channel_id=opened["channel"]["id"],
                     files=[{"id": got["file_id"], "title": "prod log"}])  # fmt: skip
    assert done["ok"] is True
    [shared] = (await stage.view_for(OPS.user))["messages"]
    assert shared["files"][0]["title"] == "prod log"


async def test_the_page_and_its_assets_are_served(stage: SlackStage) -> None:
    """The demo's page, script and style sheet are served with their content types."""
    async with aiohttp.ClientSession() as session:
        for path, kind in (("", "text/html"), ("page/app.js", "application/javascript"),
                           ("page/style.css", "text/css")):  # fmt: skip
            async with session.get(stage.page_url + path) as response:
                assert response.status == 200
                assert response.content_type == kind
        async with session.get(stage.page_url + "page/../stage.py") as response:
            assert response.status == 404


async def test_a_command_while_the_bot_is_down_says_so(stage: SlackStage) -> None:
    """No bot behind the stage: the page is told plainly, not left waiting."""
    stage.bot_url = f"http://127.0.0.1:{unused_port()}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(stage.page_url + "ui/command",
                     json={"as": OPS.user, "text": "/ha status"}) as response,
    ):  # fmt: skip
        assert response.status == 502
        assert "not answering" in (await response.json())["error"]
    assert (await stage.view_for(OPS.user))["bot"].startswith("not answering")


@pytest.mark.parametrize(
    ("headers", "body", "status", "why"),
    [
        ({"Host": "evil.example:80"}, {"json": {}}, 403, "answers only as http://127.0.0.1:"),
        ({"Origin": "http://evil.example"}, {"json": {}}, 403, "another site's page"),
        ({}, {"data": "as=U0OPS&text=/ha+status"}, 415, "actions are JSON"),
    ],
    ids=["dns-rebinding host", "another origin", "a form post"],
)
async def test_only_the_page_itself_may_act_as_the_personas(
    stage: SlackStage, headers: dict[str, str], body: dict[str, Any], status: int, why: str
) -> None:
    """Another host name (a DNS-rebinding page), another site's origin, or a form post
    (which a page elsewhere can send without asking first) is refused, saying why, and
    nothing is posted; the page's own JSON request still goes through."""
    stage.serving(unused_port())  # a bot that is down (not starting): answered at once
    async with aiohttp.ClientSession() as session:
        url = stage.page_url + "ui/command"
        async with session.post(url, headers=headers, **body) as response:
            assert response.status == status
            assert why in await response.text()
        assert stage.messages == []
        own = {"Origin": stage.page_url.rstrip("/")}
        async with session.post(url, headers=own, json={"as": OPS.user, "text": "/ha x"}) as ok:
            assert ok.status != 403
            assert ok.status != 415
    assert [m.text for m in stage.messages] == ["/ha x"]


def unused_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def stub_bot(answers: list[str]) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for the bot's /slack/events: answers each interaction with the next of
    ``answers`` (an empty body, or a form's errors), recording the payloads."""
    seen: list[dict[str, Any]] = []

    async def events(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append(json.loads(str(form["payload"])) if "payload" in form else dict(form))
        return web.Response(text=answers.pop(0) if answers else "")

    async def healthy(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def ui(stage: SlackStage, path: str, **body: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(stage.page_url + path, json={"as": OPS.user, **body}) as response,
    ):
        data: dict[str, Any] = await response.json()
        return data


async def test_a_command_typed_while_habot_starts_waits_for_it_and_is_sent(
    stage: SlackStage,
) -> None:
    """The banner's promise: a command typed while habot is starting — the first time,
    or again after it stopped — is held until habot serves, then sent; not refused, not
    lost."""
    async with stub_bot([]) as (url, seen):
        port = int(url.rsplit(":", 1)[1])
        for state in ("starting", "starting again"):
            assert (await stage.view_for(OPS.user))["bot"] == state
            sent = asyncio.create_task(ui(stage, "ui/command", text="/ha status"))
            await asyncio.sleep(1.5)  # a health round or more: still held
            assert (sent.done(), seen) == (False, [])
            stage.serving(port)
            assert await asyncio.wait_for(sent, 10) == {"ok": True}
            [command] = seen
            assert command["command"] == "/ha"
            seen.clear()
            stage.serving(None)  # stopped: the demo is starting it again
            await wait_until(lambda: stage.bot == "starting again")


async def wait_until(condition: Callable[[], bool], within: float = 10) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (set by the stage's health round)
            await asyncio.sleep(0.05)


async def test_a_button_opens_a_form_whose_errors_stay_on_it_until_it_is_sent(
    stage: SlackStage,
) -> None:
    """views.open takes the trigger of the click that issued it, once; the form is the
    clicker's; sent, it reaches the bot as a view_submission with what was typed; the
    errors the bot answers stay on the form; a good answer closes it."""
    form = glass_form(glass_request(), "C0OPS").view
    answer = await api(stage, "chat.postMessage", channel="C0OPS", text="card",
                       blocks=[{"type": "actions", "block_id": "b1", "elements": [
                           {"type": "button", "action_id": "break_glass", "value": "r1",
                            "text": {"type": "plain_text", "text": "Break glass"}}]}])  # fmt: skip
    errors = json.dumps({"response_action": "errors", "errors": {"reason": "too short"}})
    async with stub_bot(["", errors, ""]) as (url, seen):
        stage.bot_url = url
        await ui(stage, "ui/click", ts=answer["ts"], block_id="b1", action_id="break_glass")
        trigger = seen[0]["trigger_id"]
        opened = await api(stage, "views.open", trigger_id=trigger, view=form)
        assert opened["ok"] is True
        assert (await api(stage, "views.open", trigger_id=trigger, view=form)) == {
            "ok": False, "error": "expired_trigger_id",
        }  # fmt: skip
        assert (await stage.view_for(OPS.user))["modal"]["callback_id"] == "break_glass_form"
        said = await ui(stage, "ui/submit", values={"reason": "power cut"})
        assert said == {"ok": True, "errors": {"reason": "too short"}}
        assert (await stage.view_for(OPS.user))["modal"]["errors"] == {"reason": "too short"}
        await ui(stage, "ui/submit", values={"reason": "INC-9: the Primary lost its power"})
        submitted = seen[-1]
        assert submitted["type"] == "view_submission"
        assert submitted["view"]["state"]["values"]["reason"]["reason"]["value"].startswith("INC-9")
        assert json.loads(submitted["view"]["private_metadata"]) == {
            "request": "0a1b2c3d", "channel": "C0OPS",
        }  # fmt: skip
        assert (await stage.view_for(OPS.user))["modal"] is None


async def test_the_demos_pagerduty_takes_events_as_pagerduty_does() -> None:
    """202 with the dedup_key for a good event, 400 for a wrong key or a trigger with no
    summary; the pane shows what arrived and each incident's state now."""
    pager = DemoPager()
    app = web.Application()
    pager.route(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/pager/v2/enqueue"
    payload = {"summary": "prod: Primary down", "source": "habot", "severity": "critical"}
    event = {"routing_key": pager.routing_key, "event_action": "trigger", "dedup_key": "k1",
             "payload": payload}  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=event) as taken:
                assert taken.status == 202
                assert (await taken.json())["dedup_key"] == "k1"
            for bad in ({**event, "routing_key": "x" * 32}, {**event, "payload": {}}):
                async with session.post(url, json=bad) as refused:
                    assert refused.status == 400
            resolve = {"routing_key": pager.routing_key, "event_action": "resolve",
                       "dedup_key": "k1"}  # fmt: skip
            async with session.post(url, json=resolve) as taken:
                assert taken.status == 202
    finally:
        await runner.cleanup()
    shown = pager.shown()
    assert [(e["action"], e["incident"]) for e in shown] == [
        ("trigger", "resolved"), ("resolve", "resolved"),
    ]  # fmt: skip
    assert shown[0]["summary"] == "prod: Primary down"


async def test_a_click_on_app_home_reaches_the_bot_as_slack_sends_it(stage: SlackStage) -> None:
    """A button on the person's Home (published with views.publish) reaches the bot as a
    view's block_actions: the Home view, no channel, no message, no response_url."""
    home = {"type": "home", "blocks": [{"type": "actions", "block_id": "request-r1-0", "elements": [
        {"type": "button", "action_id": "approve_request", "value": "r1",
         "text": {"type": "plain_text", "text": "Approve"}}]}]}  # fmt: skip
    assert (await api(stage, "views.publish", user_id=OPS.user, view=home))["ok"] is True
    async with stub_bot([""]) as (url, seen):
        stage.bot_url = url
        await ui(stage, "ui/click", ts="home", block_id="request-r1-0", action_id="approve_request")
        [click] = seen
    assert click["container"]["type"] == "view"
    assert click["view"]["type"] == "home"
    assert click["actions"][0]["value"] == "r1"
    assert not {"channel", "message", "response_url"} & set(click)
    refused = await ui(stage, "ui/click", ts="home", block_id="request-r1-0", action_id="nothing")
    assert refused == {"ok": False, "error": "no such button"}


async def test_a_message_link_stays_on_the_page(stage: SlackStage) -> None:
    """auth.test names the page as the workspace, so habot's links to its cards point
    here: /archives/CHANNEL/pTS opens the page at that message; anything else is 404."""
    identity = await api(stage, "auth.test")
    assert identity["url"] == stage.page_url
    async with aiohttp.ClientSession() as session:
        url = stage.page_url + "archives/C0OPS/p1700000000000100"
        async with session.get(url, allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/#p1700000000000100"
        bad = stage.page_url + "archives/C0OPS/javascript:alert(1)"
        async with session.get(bad, allow_redirects=False) as response:
            assert response.status == 404


async def test_stopping_answers_a_page_that_is_waiting_at_once() -> None:
    """A page long-polls for news (up to 20 s); stopping the stage answers it now with the
    state as it is, so Ctrl-C on `habot demo` with a browser open stops at once."""
    built = SlackStage(
        channel="C0OPS", channel_name="ha-ops", personas=[OPS], command="/ha",
        usage_hint="help", signing_secret=SECRET, bot_token=TOKEN,
    )  # fmt: skip
    await built.start()
    url = f"{built.page_url}ui/state?as={OPS.user}&since={built.version}"
    async with aiohttp.ClientSession() as session:
        waiting = asyncio.ensure_future(session.get(url))
        await asyncio.sleep(0.3)  # the poll is in, waiting for news
        assert not waiting.done()
        stopping = asyncio.ensure_future(built.stop())
        async with asyncio.timeout(10):  # half the poll's own 20 s: it was answered, not timed out
            response = await waiting
            await stopping
        assert response.status == 200
        assert "messages" in await response.json()
        response.release()
