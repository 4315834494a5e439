"""An anchor kept outside the database catches what the chain alone cannot: rows deleted
from the end, and a rewrite whose hashes were all recomputed."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from habot.config import Settings, parse_settings
from habot.core.anchor import check_anchor, make_anchor, parse_anchor
from habot.core.approvals import RequestState
from habot.core.audit import AuditEvent, AuditRecord, RequestRow, chain, disagreements, verify
from habot.scheduling import Jobs, build_scheduler
from habot.services.anchoring import AnchorService
from habot.services.ports import Stores
from habot.store.audit import AuditStore
from habot.store.db import make_engine
from habot.store.requests import RequestStore
from tests.kit.anchor import KEY, _habot, config_for, rechained
from tests.kit.audit import event
from tests.kit.factories import Clock
from tests.kit.fakeslack import FakeSlack
from tests.kit.outbox import worker
from tests.kit.requests import PLAN, T0, request, said
from tests.kit.slackcheck import problems_in_blocks


def log(n: int) -> list[AuditRecord]:
    """A well-formed chain of ``n`` events."""
    records: list[AuditRecord] = []
    for i in range(1, n + 1):
        records.append(chain(i, event(i), records[-1].hash if records else "0" * 64))
    return records


def test_an_intact_log_holds_its_anchor() -> None:
    """The head's anchor, keyed or not, checks out against the same log."""
    records = log(60)
    for key in (None, KEY):
        anchor = parse_anchor(make_anchor(records[-1], key).line())
        assert check_anchor(records, anchor, key) is None


def test_truncation_and_a_rechained_rewrite_pass_the_chain_but_not_the_anchor() -> None:
    """Delete the last 50 rows, or edit a row and recompute every hash after it: the chain
    still verifies — the anchor does not."""
    records = log(60)
    anchor = make_anchor(records[-1], KEY)
    truncated, rewritten = records[:10], rechained(records, 30)
    assert verify(truncated).ok
    assert verify(rewritten).ok
    assert check_anchor(truncated, anchor, KEY) == "row 60 is missing (the log was truncated)"
    assert check_anchor(rewritten, anchor, KEY) == (
        "row 60 is not the row the anchor saw (rewritten)"
    )


def test_a_forged_anchor_is_refused_without_the_key() -> None:
    """Whoever rewrote the log cannot make a matching keyed anchor without the key."""
    rewritten = rechained(log(20), 5)
    forged = make_anchor(rewritten[-1], "a guess")
    assert "MAC does not match" in (check_anchor(rewritten, forged, KEY) or "")
    assert "no audit key" in (check_anchor(rewritten, forged, None) or "")


@pytest.mark.parametrize("line", ["", "habot-audit-anchor v1 seq=x hash=00", "seq=1 hash=ab"])
def test_a_malformed_anchor_line_says_what_one_looks_like(line: str) -> None:
    """Bad input gets the expected shape."""
    with pytest.raises(ValueError, match="habot-audit-anchor v1 seq=N"):
        parse_anchor(line)


def test_a_request_changed_behind_habots_back_is_caught(tmp_path: Path) -> None:
    """Requests change only with their audit event, so `verify` checks the table against
    the chain: with the guards dropped, a failed run rewritten as succeeded, or an approval
    slipped in, makes it exit 1 naming the request."""
    config, db = config_for(tmp_path)
    engine = make_engine(f"sqlite:///{db}")
    store = RequestStore(engine)
    store.create_sync(request(required=2), "C0HAOPS", PLAN, said("requested"))
    store.add_approval_sync("r1", "U0LEAD", T0, replace(said("approved"), actor="U0LEAD"))
    store.transition_sync(
        "r1", RequestState.PENDING, RequestState.EXECUTING, said=said("executing")
    )
    store.transition_sync("r1", RequestState.EXECUTING, RequestState.FAILED, said=said("failed"))
    engine.dispose()
    assert _habot(config, "audit", "verify").returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER requests_ended")
    conn.execute("UPDATE requests SET state = 'succeeded'")
    conn.execute("INSERT INTO approvals VALUES ('r1', 'U0LEAD2', '2026-11-26T03:00:00+00:00')")
    conn.commit()
    conn.close()
    caught = _habot(config, "audit", "verify")
    assert caught.returncode == 1
    assert "request r1 is 'succeeded' in its table; the chain says failed" in caught.stderr
    assert "request r1's approvers ['U0LEAD', 'U0LEAD2'] are not the chain's ['U0LEAD']" in (
        caught.stderr
    )


def test_the_table_and_the_chain_agree_only_when_they_say_the_same() -> None:
    """The rule itself: the last state event is the state; approved events are approvers;
    a request the chain never mentions is a disagreement too."""
    records = log_of(
        ("requested", "U0OPS", "r1"), ("approved", "U0LEAD", "r1"), ("executing", "U0LEAD", "r1"),
        ("command_result", "U0OPS", "r1"), ("succeeded", "U0OPS", "r1"),
        ("requested", "U0OPS", "r2"), ("cancelled", "U0OPS", "r2"),
    )  # fmt: skip
    agreeing = [
        RequestRow("r1", "succeeded", frozenset({"U0LEAD"})),
        RequestRow("r2", "cancelled", frozenset()),
    ]
    assert disagreements(agreeing, records) == []
    assert disagreements([RequestRow("r2", "expired", frozenset())], records) == [
        "request r2 is 'expired' in its table; the chain says cancelled"
    ]
    assert len(disagreements([RequestRow("r3", "pending", frozenset())], records)) == 1


def log_of(*events: tuple[str, str, str]) -> list[AuditRecord]:
    """A chain of (kind, actor, request) events."""
    records: list[AuditRecord] = []
    for i, (kind, actor, rid) in enumerate(events, start=1):
        e = AuditEvent(kind, actor, kind, T0, pair="prod", detail={"request": rid})
        records.append(chain(i, e, records[-1].hash if records else "0" * 64))
    return records


def test_cli_anchor_then_truncation_is_caught(tmp_path: Path) -> None:
    """`habot audit anchor` prints one keyed line; after the last rows are deleted (guards
    dropped), plain `verify` says intact but `verify --anchor LINE` exits 1 saying why."""
    config, db = config_for(tmp_path)
    engine = make_engine(f"sqlite:///{db}")
    store = AuditStore(engine)
    for i in range(1, 8):
        store.append_sync(event(i))
    engine.dispose()
    made = _habot(config, "audit", "anchor")
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith("habot-audit-anchor v1 seq=7 hash=")
    assert " mac=" in line
    held = _habot(config, "audit", "verify", "--anchor", line)
    assert (held.returncode, held.stdout.strip()) == (
        0,
        "audit log intact: 7 rows; it holds the anchor at row 7; requests agree with it",
    )
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_events_no_delete")
    conn.execute("DELETE FROM audit_events WHERE seq > 4")
    conn.commit()
    conn.close()
    assert _habot(config, "audit", "verify").returncode == 0  # the chain alone is fooled
    caught = _habot(config, "audit", "verify", "--anchor", line)
    assert caught.returncode == 1
    assert "row 7 is missing (the log was truncated)" in caught.stderr
    bad = _habot(config, "audit", "verify", "--anchor", "nonsense")
    assert bad.returncode == 2
    assert "habot-audit-anchor v1 seq=N" in bad.stderr


async def test_the_anchor_is_posted_to_the_alert_channel_when_the_log_grew(
    memory: Stores, fake: FakeSlack
) -> None:
    """Every anchor_every the leader posts the chain's head (keyed) through the outbox to the
    alert channel, only when something was appended since the last one; the posted line
    is one `habot audit verify --anchor` accepts."""
    audit, clock = memory.audit, Clock()
    service = AnchorService(
        settings=anchor_settings(), audit=audit, outbox=memory.outbox, clock=clock, key=KEY
    )
    assert await service.post() is None  # an empty log: nothing to anchor
    for i in range(1, 4):
        await audit.append(event(i))
    assert await service.post() is not None
    assert await service.post() is None  # nothing new since
    await audit.append(event(4))
    assert await service.post() is not None
    assert await worker(memory.outbox, fake, clock).deliver_due() == 2
    posts = fake.calls_to("chat.postMessage")
    assert {p.args["channel"] for p in posts} == {"C0ALERTS"}
    lines = [p.args["text"].split("```")[1] for p in posts]
    anchors = [parse_anchor(line) for line in lines]
    assert [a.seq for a in anchors] == [3, 4]
    assert check_anchor([r async for r in audit.records()], anchors[-1], KEY) is None
    assert problems_in_blocks(posts[-1].args["blocks"]) == []
    job = build_scheduler(anchor_settings(anchor_every="1h"), JOBS).get_job("audit_anchor")
    assert job.trigger.interval.total_seconds() == 3600


def anchor_settings(**schedule: str) -> Settings:
    """Settings with an alert channel (and a [schedule] section)."""
    return parse_settings(
        {
            "ssh": {"client_keys": ["/dev/null"], "known_hosts": "/dev/null"},
            "pairs": [{"name": "prod", "primary": "10.0.0.1", "secondary": "10.0.0.2"}],
            "slack": {"alert_channel": "C0ALERTS"},
            "schedule": schedule,
        },
        "test",
    )


async def _nothing() -> None:
    """A job that does nothing."""


JOBS = Jobs(_nothing, _nothing, _nothing, _nothing, _nothing)
