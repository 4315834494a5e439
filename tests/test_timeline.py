"""`/ha history` and `habot history` read as a timeline: one sentence per event, people
as mentions, moments as Slack dates, no identifiers but the ones people type, no reprs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from habot.core.answers import HistoryAnswer
from habot.core.audit import AuditEvent, AuditRecord, chain
from habot.core.blocks import HISTORY_INLINE, history_message, mrkdwn
from habot.core.budget import attachment, overflows
from habot.core.replies import plain
from habot.core.timeline import timeline_line
from tests.kit.slackcheck import problems_in_blocks

T0 = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
REQ = "ec340c3a"
#: One failover, from the ask to the outcome, and the things people do around it.
EVENTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("requested", "U0OLIVIA", "pending",
     {"request": REQ, "operation": "failover", "override": None, "reason": "INC-7 power cut",
      "snapshot": ["primary_down", "unreachable", "standby"], "required": 1}),
    ("approved", "U0AMIR", "counted", {"request": REQ, "confirm": "click"}),
    ("executing", "U0AMIR", "executing", {"request": REQ}),
    ("succeeded", "U0OLIVIA", "succeeded",
     {"request": REQ, "detail": "succeeded: the pair is now Failed over"}),
    ("muted", "U0OLIVIA", "muted", {"until": "2026-12-04T09:00:00+00:00", "reason": "vendor"}),
    ("click_refused", "U0VIEW", "refused",
     {"request": REQ, "action": "approve", "reason": "That click came from another workspace",
      "channel": None, "team": "T0ELSE"}),
    ("status", "cli:root", "failed_over", {"primary": "demoted", "secondary": "promoted_active"}),
    ("anchored", "habot", "ok", {"head": "ab" * 32}),
]  # fmt: skip


def records() -> list[AuditRecord]:
    """The events above, chained, one minute apart, newest first (as the audit reads)."""
    chained, prev = [], "0" * 64
    for n, (kind, actor, outcome, detail) in enumerate(EVENTS, 1):
        event = AuditEvent(kind, actor, outcome, T0 + timedelta(minutes=n), pair="prod",
                           detail=detail)  # fmt: skip
        record = chain(n, event, prev)
        chained.append(record)
        prev = record.hash
    return chained[::-1]


def lines(named: dict[str, str] | None = None) -> dict[str, str]:
    """Each event's Slack line, by kind."""
    return {r.event.kind: mrkdwn(timeline_line(r, named or {})) for r in records()}


def test_each_event_is_one_sentence_with_mentions_and_slack_dates() -> None:
    """Each audit event is one sentence with mentions, Slack dates and its place in the chain."""
    said = lines({REQ: "failover"})
    at = int((T0 + timedelta(minutes=2)).timestamp())
    assert said["approved"] == (
        f"<!date^{at}^{{date_short_pretty}} at {{time}}|07:02 UTC> · <@U0AMIR> "
        f"approved `failover` `{REQ}` on prod · #2"
    )
    assert said["requested"].endswith(
        f"<@U0OLIVIA> asked for `failover` `{REQ}` on prod: INC-7 power cut · #1"
    )
    assert said["succeeded"].endswith(
        f"· `failover` `{REQ}` on prod: succeeded: the pair is now Failed over · #4"
    )  # what happened to it, in the run's words: no person first
    assert "<@U0OLIVIA> muted the alerts on prod: vendor" in said["muted"]
    assert (
        "<@U0VIEW> was refused `failover` `ec340c3a` on prod: That click came"
        in said["click_refused"]
    )
    assert "cli:root read the status on prod: Failed over" in said["status"]
    assert "habot anchored on prod — ok · #8" in said["anchored"]  # a kind not listed: words


def test_no_line_carries_a_repr_or_a_bare_identifier() -> None:
    """Python reprs (override=None, snapshot=[…]) and internal identifiers never show;
    the operation is named even when the event carries only the request's id."""
    for line in lines({REQ: "failover"}).values():
        words = re.sub(r"<!date\^[^>]+>", "", line)  # a Slack date's own {tokens}
        assert not re.search(r"=None|\[|\]|\{|'|primary_down|failed_over|promoted_active", words)
    assert f"`{REQ}`" in lines()["approved"]  # unknown operation: the id alone, still a line


def history(n: int) -> HistoryAnswer:
    """``n`` status reads of prod, newest first."""
    made, prev = [], "0" * 64
    for i in range(1, n + 1):
        event = AuditEvent("status", "U0ABC", "bau", T0, pair="prod", detail={"note": "n" * 200})
        record = chain(i, event, prev)
        made.append(record)
        prev = record.hash
    return HistoryAnswer("prod", tuple(made[::-1]))


def test_the_first_lines_are_inline_and_all_of_them_in_the_file() -> None:
    """40 events: the newest 15 in the message, every one in the file (plain words)."""
    answer = history(40)
    message = history_message(answer.pair, answer.records, {})
    shown = "".join(b["text"]["text"] for b in message.blocks)
    assert "#40" in shown
    assert f"#{40 - HISTORY_INLINE + 1} " in shown + " "
    assert f"#{40 - HISTORY_INLINE}" not in shown
    assert problems_in_blocks(message.blocks) == []
    assert overflows(answer)
    file = attachment(answer)
    assert file is not None
    assert file.lines == 40
    assert "U0ABC read the status on prod: BAU · #1" in file.content
    assert "<!date" not in file.content
    assert "2026-12-04 07:00 UTC" in file.content
    assert not overflows(history(HISTORY_INLINE))
    assert plain(timeline_line(answer.records[0], {}).parts).startswith("2026-12-04 07:00 UTC · ")
