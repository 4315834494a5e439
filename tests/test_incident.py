"""An incident's timeline from the audit chain: every event of a request (and of its pair
while it was open) in order, with durations, sequence numbers and hashes; exported as
Markdown or JSON and checked against the chain — an edited, dropped or added line named."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from habot.core.audit import GENESIS, AuditEvent, AuditRecord, chain
from habot.core.incident import Selection, as_json, as_markdown, check, parse, timeline
from habot.sim.simulator import Simulator
from habot.store.audit import AuditStore
from habot.store.db import make_engine, upgrade
from tests.kit.cli import habot, on_database
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import LEAD, ask, button, cards, click, outcome_told, started

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
REQ = "ec340c3a"
#: One night: a status read, the failover asked, approved, run and verified on prod — and
#: a read of dr in the middle (another pair: not this incident's), then a later read.
NIGHT = [
    (0, "status", "U0OLIVIA", "primary_down", "prod", {}),
    (60, "requested", "U0OLIVIA", "pending", "prod", {"request": REQ, "operation": "failover",
                                                      "reason": "INC-7 power cut"}),
    (90, "status", "U0VIC", "bau", "dr", {}),
    (185, "approved", "U0AMIR", "counted", "prod", {"request": REQ}),
    (186, "executing", "U0AMIR", "executing", "prod", {"request": REQ}),
    (200, "acknowledged", "U0AMIR", "acknowledged", "prod", {}),
    (201, "succeeded", "U0OLIVIA", "succeeded", "prod",
     {"request": REQ, "detail": "succeeded: the pair is now Failed over"}),
    (900, "status", "U0OLIVIA", "failed_over", "prod", {}),
]  # fmt: skip


def night() -> list[AuditRecord]:
    records, prev = [], GENESIS
    for n, (after, kind, actor, outcome, pair, detail) in enumerate(NIGHT, 1):
        event = AuditEvent(kind, actor, outcome, T0 + timedelta(seconds=after), pair=pair,
                           detail=detail)  # fmt: skip
        record = chain(n, event, prev)
        records.append(record)
        prev = record.hash
    return records


OPERATIONS = {REQ: "failover"}


def test_a_requests_timeline_holds_its_events_and_its_pairs_while_it_was_open() -> None:
    """A request's timeline holds its own events and its pair's while it was open, with the
    time since the last."""
    made = timeline(night(), Selection("prod", request=REQ), OPERATIONS)
    assert [x.seq for x in made.lines] == [2, 4, 5, 6, 7]  # not dr's read, not the ones outside
    assert made.lines[1].what == f"@U0AMIR approved failover {REQ} on prod"
    assert made.lines[1].since_last == timedelta(seconds=125)
    assert made.lines[0].since_last is None
    assert made.lines[-1].what.endswith("on prod: succeeded: the pair is now Failed over")
    assert (made.head_seq, made.head_hash) == (8, night()[-1].hash)
    window = timeline(night(), Selection("prod", since=T0, until=T0 + timedelta(seconds=200)),
                      OPERATIONS)  # fmt: skip
    assert [x.seq for x in window.lines] == [1, 2, 4, 5, 6]


@pytest.mark.parametrize("render", [as_markdown, as_json])
def test_a_timeline_read_back_matches_the_chain(render: object) -> None:
    """A timeline, rendered and read back, matches the audit chain."""
    records = night()
    made = timeline(records, Selection("prod", request=REQ), OPERATIONS)
    text = render(made)  # type: ignore[operator]
    assert check(parse(text), records, OPERATIONS) == []


def test_the_markdown_says_who_what_when_how_long_and_where_in_the_chain() -> None:
    """The Markdown timeline says who, what, when, how long since the last, and each line's
    place in the chain."""
    text = as_markdown(timeline(night(), Selection("prod", request=REQ), OPERATIONS))
    assert "# Incident timeline: request ec340c3a on prod" in text
    [approved] = [line for line in text.splitlines() if " approved " in line]
    assert approved.startswith("| 2026-12-04 03:03:05 | U0AMIR | @U0AMIR approved failover")
    assert "| 2 min 5 s | 4 | `" in approved
    assert f"Chain head when exported: seq 8, hash `{night()[-1].hash}`." in text


def test_an_edited_a_dropped_and_an_added_line_are_each_named() -> None:
    """Checked against the chain, an edited, a dropped and an added line are each named."""
    records = night()
    lines = as_markdown(timeline(records, Selection("prod", request=REQ), OPERATIONS)).splitlines()
    edited = [ln.replace("@U0AMIR approved", "@U0OLIVIA approved") for ln in lines]
    dropped = [ln for ln in edited if "| 6 | `" not in ln]  # the acknowledgement
    row = next(ln for ln in dropped if "| 7 | `" in ln)
    added = [*dropped[:-3], row.replace("| 7 | `", "| 99 | `"), *dropped[-3:]]
    found = check(parse("\n".join(added)), records, OPERATIONS)
    assert [(f.seq, f.problem) for f in found] == [(4, "edited"), (6, "dropped"), (99, "added")]
    assert "the chain says: @U0AMIR approved failover" in found[0].detail


async def test_export_then_verify_on_the_command_line(sim: Simulator, tmp_path: Path) -> None:
    """`habot incident export ID --format json -o FILE` then `habot audit verify --timeline
    FILE`: exit 0; the file edited: exit 1 naming the line; an unknown id: a usage error."""
    db, config = tmp_path / "night.db", tmp_path / "night.toml"
    config.write_text(on_database(sim, db))
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = AuditStore(engine)
    for r in night():
        store.append_sync(r.event)
    engine.dispose()
    for fmt in ("json", "md"):
        out = tmp_path / f"incident.{fmt}"
        made = await habot("--config", str(config), "incident", "export", REQ, "--format", fmt,
                           "-o", str(out))  # fmt: skip
        assert made.code == 0, made.err
        assert "5 events written" in made.err
        ok = await habot("--config", str(config), "audit", "verify", "--timeline", str(out))
        assert (ok.code, ok.out.strip()) == (0, "timeline matches the audit chain: 5 events, "
                                                 "head seq 8"), ok.err  # fmt: skip
    data = json.loads((tmp_path / "incident.json").read_text())
    data["events"][1]["what"] = "nobody approved anything"
    (tmp_path / "incident.json").write_text(json.dumps(data))
    bad = await habot("--config", str(config), "audit", "verify", "--timeline",
                      str(tmp_path / "incident.json"))  # fmt: skip
    assert bad.code == 1
    assert "line seq 4: edited — the chain says: @U0AMIR approved failover" in bad.err
    unknown = await habot("--config", str(config), "incident", "export", "nosuchid")
    assert unknown.code == 2
    assert "neither a request the audit knows nor a pair" in unknown.err


async def test_a_note_and_the_timeline_in_the_cards_thread_in_slack(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """End to end: a switchover runs; `/ha note ID "…"` is said in its card's thread and
    chained; `/ha incident ID` puts the timeline as a file in the card's thread — request,
    approval, run, outcome and the note, each with its seq and hash — and that file passes
    `habot audit verify --timeline`; edited, it does not."""
    fake.names = {"U0OPS1": "Olivia", "U0LEAD1": "Amir"}
    bot = await started(sim, fake, tmp_path)
    try:
        await ask(bot, fake, "switchover prod")
        card = cards(fake)[-1]
        [posted] = [c for c in fake.calls_to("chat.postMessage") if c.args is card]
        _, rid, _ = button(card, "approve_request")
        await click(bot, fake, card, "approve_request", LEAD)
        assert "succeeded" in await outcome_told(fake, "switchover", "prod")
        noted = await ask(bot, fake, f'note {rid} "checked both consoles: all well"')
        assert "Noted on the timeline of" in noted
        await fake.wait_for(lambda: [
            c for c in fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == posted.ts
            and "Note from <@U0OPS1>: checked both consoles" in str(c.args.get("text"))
        ])  # fmt: skip
        told = await ask(bot, fake, f"incident {rid}")
        assert "is in <" in told
        assert "its card's thread" in told
        [file] = await fake.wait_for(lambda: [f for f in fake.files.values() if f.thread_ts])
        assert (file.channel, file.thread_ts) == ("C0HAOPS", posted.ts)
        assert file.content is not None
        text = file.content.decode()
        for words in ("asked for switchover", "approved switchover", "started switchover",
                      "succeeded", "noted on switchover", "checked both consoles"):  # fmt: skip
            assert words in text, words
        # people by the names Slack shows, the ids kept in the file's own names line
        assert "| Amir | @Amir approved switchover" in text
        assert "| Olivia | @Olivia asked for switchover" in text
        assert '"names": {"U0LEAD1": "Amir", "U0OPS1": "Olivia"}' in text
        (tmp_path / "incident.md").write_text(text)
        (tmp_path / "edited.md").write_text(text.replace("checked both consoles", "nothing"))
        env = bot.env()
        for name, code in (("incident.md", 0), ("edited.md", 1)):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "habot", "audit", "verify", "--timeline",
                str(tmp_path / name), env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
            assert proc.returncode == code, (name, out, err)
        assert b"edited" in err
        assert fake.invalid == []
    finally:
        await bot.stop()
