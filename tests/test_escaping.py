"""Nothing typed or printed becomes live markup: every renderer escapes outside text."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from habot.cli.render import status_details
from habot.core.alert_cards import alert_card
from habot.core.alerts import Incident
from habot.core.approvals import Request, RequestState
from habot.core.blocks import escape, logs_message, raw_message, status_card
from habot.core.cards import approval_card
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation
from habot.core.outcomes import topology
from habot.core.preflight import preflight
from habot.core.verdict import NodeView, PairStatus
from tests.kit.statuses import pair_status

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0BOSS> <https://evil.example|click> &amp; fin"


@given(st.text())
def test_escaped_text_has_no_markup_and_reads_back_the_same(text: str) -> None:
    """Any text: no '<' or '>' survives, and un-escaping gives the text back exactly."""
    made = escape(text)
    assert "<" not in made
    assert ">" not in made
    assert made.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


def _view(role: Role, state: NodeState) -> NodeView:
    return NodeView(role, "10.0.0.1", True, state, None, HOSTILE, T0, HOSTILE)


def _status() -> PairStatus:
    return PairStatus(
        "prod",
        Verdict.BAU,
        HOSTILE,
        None,
        None,
        _view(Role.PRIMARY, NodeState.ACTIVE),
        _view(Role.SECONDARY, NodeState.STANDBY),
        (HOSTILE,),
        (HOSTILE,),
        T0,
    )


def _assert_inert(payload: object) -> None:
    text = json.dumps(payload)
    for live in ("<!channel>", "<@U0BOSS>", "<https://evil"):
        assert live not in text
    assert "&lt;!channel&gt;" in text


def test_status_card_raw_output_and_logs_escape_appliance_text() -> None:
    """Errors, reasons, disagreements, warnings, raw output and log lines are inert."""
    status = _status()
    _assert_inert(status_card(status, T0, "r1"))
    _assert_inert(raw_message(status).blocks)
    _assert_inert(logs_message("prod", "primary", "10.0.0.1", 5, HOSTILE).blocks)


def test_alert_card_escapes_reason_and_node_errors() -> None:
    """An alert carries the appliance's words, never its markup."""
    incident = Incident(HOSTILE, T0, T0, 2)
    _assert_inert(alert_card(_status(), incident).blocks)


def test_approval_card_escapes_override_reason_and_outcome() -> None:
    """A typed override reason and the run's outcome words are shown as typed."""
    status = _status()
    bau = PairStatus(**{**status.__dict__, "reason": "ok"})
    plan = preflight(Operation.SWITCHOVER, bau)
    request = Request(
        "r1",
        Operation.SWITCHOVER,
        "prod",
        Role.PRIMARY,
        "U0OPS",
        T0,
        T0 + timedelta(minutes=15),
        1,
        topology(bau),
        override=HOSTILE,
    )
    _assert_inert(approval_card(request, plan, outcome=HOSTILE).blocks)


def test_an_open_approval_card_names_its_approvers_and_a_closed_one_does_not() -> None:
    """[slack] approvers_mention: a pending card names them (text and card: notified);
    once decided, the card names nobody (an edit would not notify anyway)."""
    status = _status()
    bau = PairStatus(**{**status.__dict__, "reason": "ok"})
    plan = preflight(Operation.SWITCHOVER, bau)
    request = Request(
        "r1", Operation.SWITCHOVER, "prod", Role.PRIMARY, "U0OPS", T0,
        T0 + timedelta(minutes=15), 1, topology(bau),
    )  # fmt: skip
    card = approval_card(request, plan, approvers=("S0LEADS", "U0LEAD1"))
    assert card.text.startswith("<!subteam^S0LEADS>, <@U0LEAD1> switchover prod")
    assert "Approvers: <!subteam^S0LEADS>, <@U0LEAD1>" in json.dumps(card.blocks)
    done = approval_card(
        replace(request, state=RequestState.SUCCEEDED), plan, approvers=("S0LEADS",)
    )
    assert "S0LEADS" not in done.text + json.dumps(done.blocks)


def test_a_finished_card_says_why_it_was_allowed_and_no_longer_when_it_expires() -> None:
    """While it waits the card says why it is allowed now and when it expires; once it has
    run, why it was allowed — and no deadline that no longer means anything."""
    bau = PairStatus(**{**_status().__dict__, "reason": "ok"})
    plan = preflight(Operation.SWITCHOVER, bau)
    request = Request(
        "r1", Operation.SWITCHOVER, "prod", Role.PRIMARY, "U0OPS", T0,
        T0 + timedelta(minutes=15), 1, topology(bau),
    )  # fmt: skip
    waiting = json.dumps(approval_card(request, plan).blocks, ensure_ascii=False)
    assert ("Why it is allowed now:" in waiting, "· expires <!date^" in waiting) == (True, True)
    done = json.dumps(approval_card(replace(request, state=RequestState.SUCCEEDED), plan).blocks)
    assert ("Why it was allowed:" in done, "expires" in done) == (True, False)


def test_the_terminal_shows_node_text_as_text() -> None:
    """`habot status`'s details: rich markup (`[/bold]` once crashed it), terminal escapes
    and newlines from a node are printed as text — escapes stripped, newlines escaped — and
    the raw output keeps its lines but loses its escapes."""
    hostile = "[/bold] [red]x[/red]\x1b[2J\nFORGED LINE"
    base = pair_status(Verdict.DEGRADED, raw="Primary: \x1b[32mActive\x1b[0m\nSecondary: [b]x")
    view = replace(base.primary, error=hostile)
    status = replace(base, reason=hostile, primary=view, warnings=(hostile,))
    out = io.StringIO()
    console = Console(file=out, width=300, force_terminal=False, color_system=None)
    status_details(console, [status], raw=True)
    text = out.getvalue()
    assert "\x1b" not in text
    assert "[/bold] [red]x[/red]\\nFORGED LINE" in text
    assert not any(line.startswith("FORGED") for line in text.splitlines())
    assert "Primary: Active\nSecondary: [b]x" in text
