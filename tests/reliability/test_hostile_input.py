"""Ten thousand hostile requests against `habot run --http`: forged, stale, replayed,
malformed and oversized requests, and generated slash-command texts and interaction
payloads that are correctly signed. Nothing may run, nothing may answer 500, and each
refusal costs one short log line."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from habot.sim.simulator import Simulator
from habot.slack.app import ReplayGuard
from tests.kit.botproc import CHANNEL, SECRET, start_bot
from tests.kit.fakeslack import (
    FakeSlack,
    block_action,
    form_body,
    interaction_body,
    signed_headers,
    slash_command,
)
from tests.reliability.conftest import Ledger, Row

SEED = 20261202
WORDS = (
    "status", "switchover", "failover", "failback", "demote-primary", "initialise",
    "make-standalone", "joining-code", "resolve", "cancel", "logs", "mute", "history",
    "pending", "help", "all", "prod", "dr", "primary", "secondary", "--override", "decluster",
    "200", "-1", "1e9",
)  # fmt: skip
HOSTILE = (
    "; rm -rf /", "$(reboot)", "`id`", "&& ha-failover", "| sh", "\n", "\r\n", "\x00", "'", '"',
    "<@U0LEAD1>", "<!channel>", "*bold*", "ａｌｌ", "prod\nha-failover", "../../etc/passwd",
    "%s%s%n", "{{7*7}}", "\u202e", "😀" * 10, "A" * 3000, "\\", "--", "-", "\t",
)  # fmt: skip
ACTIONS = ("approve_request", "reject_request", "cancel_request", "raw_output", "fresh_status",
           "open_request", "nope", "")  # fmt: skip
VIEWER, LEAD = "U0VIEW9", "U0LEAD1"


def text(rng: random.Random) -> str:
    """A generated slash-command text: grammar words and hostile fragments."""
    parts = [rng.choice(WORDS if rng.random() < 0.6 else HOSTILE) for _ in range(rng.randint(0, 6))]
    return rng.choice((" ", "  ", "\t", "")).join(parts)[:3500]


def interaction(rng: random.Random, url: str) -> dict[str, Any]:
    """A generated interaction payload: a button click with odd values, or a broken shape."""
    payload = block_action(
        rng.choice(ACTIONS), text(rng)[:200], text(rng)[:200], rng.choice((VIEWER, LEAD)),
        CHANNEL, url,
    )  # fmt: skip
    damage = rng.random()
    if damage < 0.1:
        payload.pop(rng.choice(list(payload)))
    elif damage < 0.2:
        payload["actions"] = rng.choice(([], "x", [{}], None, [1, 2]))
    elif damage < 0.25:
        payload["type"] = rng.choice(("view_submission", "shortcut", "message_action", "x"))
    elif damage < 0.3:
        payload["user"] = rng.choice(({}, "U0LEAD1", None))
    return payload


def requests(
    rng: random.Random, fake: FakeSlack
) -> list[tuple[str, str, dict[str, str], set[int]]]:
    """(kind, body, headers, acceptable statuses), 10,000 of them, shuffled: 2,500 signed
    commands, 2,000 signed interactions, 1,500 forged, 1,500 stale, 2,000 malformed and
    500 oversized."""
    out: list[tuple[str, str, dict[str, str], set[int]]] = []
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(2500):  # correctly signed slash commands with generated text
        url, _ = fake.response_url()
        body = form_body(slash_command(text(rng), VIEWER, CHANNEL, url))
        out.append(("signed command", body, signed_headers(SECRET, body), {200}))
    for _ in range(2000):  # correctly signed interactions with generated payloads
        url, _ = fake.response_url()
        body = interaction_body(interaction(rng, url))
        # 404: signed, but no listener for it (an action id habot never put on a button)
        out.append(("signed interaction", body, signed_headers(SECRET, body), {200, 400, 404}))
    for _ in range(1500):  # forged: signed with another secret
        body = form_body(slash_command("failover prod", LEAD, CHANNEL, "http://x/"))
        out.append(("forged", body, signed_headers("not-the-secret", body), {401}))
    for _ in range(1500):  # stale: a real signature, ten minutes old
        body = form_body(slash_command("status prod", VIEWER, CHANNEL, "http://x/"))
        out.append(("stale", body, signed_headers(SECRET, body, int(time.time()) - 600), {401}))
    for _ in range(2000):  # malformed: no signature, bad or non-ASCII headers, signed junk
        junk = rng.choice(("payload=not-json", "", "a=b&c", "payload=%7B", "\x00" * 10))
        headers = rng.choice((
            form,
            {**form, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"},
            {**form, "X-Slack-Request-Timestamp": "1" * 40, "X-Slack-Signature": "v1=x"},
            {**form, "X-Slack-Request-Timestamp": "¹⁷⁶⁴", "X-Slack-Signature": "v0=abc"},
            {**signed_headers(SECRET, junk), "X-Slack-Signature": "v0=" + "é" * 64},
            signed_headers(SECRET, junk),
        ))  # fmt: skip
        out.append(("malformed", junk, headers, {400, 401}))
    for _ in range(500):  # oversized
        big = "x" * rng.randint(262_145, 300_000)
        out.append(("oversized", big, signed_headers(SECRET, big), {413}))
    rng.shuffle(out)
    return out


async def test_ten_thousand_hostile_requests_run_nothing_and_never_500(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Every request gets its documented status (401/400/413 for the bad; 200 for the
    signed, 400 for a signed payload that cannot be read, 404 for one no button makes), no
    500 and no traceback; a replay of a signed request is refused; no HA command reaches a
    node; no card is posted; every log line stays short."""
    row = ledger.add(
        Row("10,000 forged/stale/malformed/oversized/generated requests", "nothing runs")
    )
    bot = await start_bot(sim, fake, tmp_path, http=True, verbose=1)
    rng = random.Random(SEED)
    batch = requests(rng, fake)
    statuses: Counter[tuple[str, int]] = Counter()
    wrong: list[tuple[str, int, str]] = []
    limit = asyncio.Semaphore(24)

    async def send(session: aiohttp.ClientSession, kind: str, body: str,
                   headers: dict[str, str], ok: set[int]) -> None:  # fmt: skip
        async with limit, session.post(bot.events_url, data=body.encode(), headers=headers) as r:
            await r.read()
            statuses[(kind, r.status)] += 1
            if r.status not in ok:
                wrong.append((kind, r.status, body[:300]))

    try:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(send(session, *request) for request in batch))
            body = form_body(slash_command("help", VIEWER, CHANNEL, fake.response_url()[0]))
            replay = signed_headers(SECRET, body)
            first = await session.post(bot.events_url, data=body.encode(), headers=replay)
            again = await session.post(bot.events_url, data=body.encode(), headers=replay)
            assert (first.status, again.status) == (200, 401)
    finally:
        log = await bot.stop()
    row.injected = len(batch) + 1
    assert wrong == [], statuses
    assert not any(status >= 500 for _, status in statuses)
    assert "Traceback" not in log
    assert max(len(line) for line in log.splitlines()) < 300
    assert [r for r in sim.pairs["prod"].runs if r[1] != "ha-status"] == []
    assert [r for r in sim.pairs["dr"].runs if r[1] != "ha-status"] == []
    posted = [
        c for c in fake.calls_to("chat.postMessage") if "approve_request" in json.dumps(c.args)
    ]
    assert posted == []


def test_a_replay_is_remembered_for_slacks_window_only() -> None:
    """The same signature twice within five minutes is a replay; after the window it is
    forgotten (the timestamp check refuses it then); memory stays bounded."""
    guard = ReplayGuard()
    assert not guard.replayed("v0=a", 0.0)
    assert guard.replayed("v0=a", 10.0)
    assert not guard.replayed("v0=b", 10.0)
    assert not guard.replayed("v0=a", 10.0 + ReplayGuard.WINDOW + 1)
    for n in range(ReplayGuard.LIMIT + 10):
        guard.replayed(f"v0={n}", 1000.0)
    assert len(guard._seen) <= ReplayGuard.LIMIT


async def test_a_request_replayed_to_another_replica_is_refused_there_too(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Two replicas on one database. A signed `/ha switchover prod` taken by one, then the
    very same bytes and headers sent to the other within Slack's window: refused as a
    replay (401) — no second card in the operator's name."""
    row = ledger.add(Row("a signed request replayed to another replica", "refused"))
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    one = await start_bot(sim, fake, tmp_path, http=True, name="one", database=database)
    other = await start_bot(sim, fake, tmp_path, http=True, name="other", polls=False,
                            database=database)  # fmt: skip
    ops = "U0OPS1"
    try:
        body = form_body(slash_command("switchover prod", ops, CHANNEL, fake.response_url()[0]))
        captured = signed_headers(SECRET, body)
        async with aiohttp.ClientSession() as session:
            first = await session.post(one.events_url, data=body.encode(), headers=captured)
            again = await session.post(other.events_url, data=body.encode(), headers=captured)
            assert (first.status, again.status) == (200, 401)
            assert "replayed request" in await again.text()
        await fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
        await asyncio.sleep(1)  # a second card, had the replay gone through, would be out
    finally:
        await other.stop()
        await one.stop()
    row.injected = 1
    cards = [
        c for c in fake.calls_to("chat.postMessage") if "approve_request" in json.dumps(c.args)
    ]
    assert len(cards) == 1
