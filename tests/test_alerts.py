"""Alerts speak only when it matters: thresholds, one card per incident, hysteresis,
bounded noise under flapping, mutes and quiet hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from habot.core.alerts import (
    AlertState,
    Announced,
    Kind,
    Notice,
    in_quiet_hours,
    parse_quiet_hours,
    resolved_after,
    shape,
    step,
    trouble,
    worth_paging,
)
from habot.core.model import Health, NodeState, Role, Verdict
from habot.core.verdict import NodeView, PairStatus

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
EVERY = timedelta(minutes=5)


def reading(
    verdict: Verdict = Verdict.BAU, health: Health = Health.OK, warnings: tuple[str, ...] = ()
) -> PairStatus:
    """A judged pair."""
    view = NodeView(Role.PRIMARY, "a", True, NodeState.ACTIVE, None, None, T0, "")
    return PairStatus(
        "prod", verdict, "r", health, None, view, replace_role(view), (), warnings, T0
    )


def replace_role(view: NodeView) -> NodeView:
    """The Secondary's view."""
    return NodeView(Role.SECONDARY, "b", True, NodeState.STANDBY, None, None, T0, "")


GOOD, BAD = reading(), reading(Verdict.PRIMARY_DOWN)


def run(
    sequence: list[PairStatus], alert_after: int = 2, state: AlertState | None = None
) -> tuple[AlertState, list[list[Notice]]]:
    """Feed readings five minutes apart; return the last state and each step's notices."""
    state = state or AlertState()
    out = []
    for i, status in enumerate(sequence):
        state, notices = step(state, status, T0 + i * EVERY, alert_after)
        out.append(notices)
    return state, out


def kinds(out: list[list[Notice]]) -> list[list[Kind]]:
    """Just the kinds, per step."""
    return [[n.kind for n in notices] for notices in out]


def test_one_bad_reading_between_good_ones_posts_nothing() -> None:
    """BAU → Degraded for one reading → BAU: silence."""
    _, out = run([GOOD, reading(health=Health.DEGRADED), GOOD])
    assert kinds(out) == [[], [], []]


def test_two_consecutive_bad_readings_raise_exactly_one_alert() -> None:
    """The second bad reading in a row raises the alert, dated from the first."""
    state, out = run([GOOD, BAD, BAD])
    assert kinds(out) == [[], [], [Kind.RAISE]]
    assert out[2][0].incident.since == T0 + EVERY
    assert state.incident is not None


def test_a_long_incident_keeps_one_card_updated_in_place() -> None:
    """Ten more bad readings: still one alert, ten in-place updates with the count."""
    _, out = run([BAD] * 12)
    assert sum(k == [Kind.RAISE] for k in kinds(out)) == 1
    assert kinds(out)[2:] == [[Kind.UPDATE]] * 10
    assert out[-1][0].incident.readings == 12


def test_recovery_needs_two_good_readings_and_says_how_long() -> None:
    """One good reading does not end it; the second posts one recovery."""
    state, out = run([BAD, BAD, BAD, GOOD, GOOD, GOOD])
    assert kinds(out) == [[], [Kind.RAISE], [Kind.UPDATE], [], [Kind.RESOLVE], []]
    assert resolved_after(out[4][0].incident) == "resolved after 20 min"
    assert state.incident is None


@pytest.mark.parametrize("alert_after", [1, 2, 3])
def test_flapping_every_reading_cannot_storm(alert_after: int) -> None:
    """Alternating good/bad for 100 readings: at most one new post (with a threshold above
    1, none at all); everything else is silent in-place editing of one card."""
    _, out = run([BAD, GOOD] * 50, alert_after)
    posts = sum(n.kind in {Kind.RAISE, Kind.RESOLVE} and not n.quiet for ns in out for n in ns)
    assert posts <= (1 if alert_after == 1 else 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.booleans(), max_size=60), st.integers(1, 4))
def test_posts_are_bounded_by_incidents(pattern: list[bool], alert_after: int) -> None:
    """For any sequence: raises and resolves alternate, starting with a raise, and each
    incident needs alert_after bad readings — so posts ≤ 2·(bad readings / alert_after)."""
    _, out = run([BAD if bad else GOOD for bad in pattern], alert_after)
    posted = [n.kind for ns in out for n in ns if n.kind is not Kind.UPDATE]
    assert posted == [Kind.RAISE, Kind.RESOLVE] * (len(posted) // 2) + [Kind.RAISE] * (
        len(posted) % 2
    )
    assert len(posted) <= 2 * (sum(pattern) // alert_after)


def test_restart_mid_incident_does_not_re_alert() -> None:
    """The state survives a restart: the same incident keeps its card (update, not raise)."""
    state, _ = run([BAD, BAD])
    restored = AlertState(**state.__dict__)  # as loaded back from storage
    _, out = run([BAD], state=restored)
    assert kinds(out) == [[Kind.UPDATE]]


def test_mute_suppresses_new_alerts_but_not_the_truth() -> None:
    """Muted: no alert is raised; an open card is still edited and marked resolved quietly;
    after the mute, a pair still bad alerts."""
    muted = replace(AlertState(), muted_until=T0 + timedelta(hours=1))
    state, out = run([BAD, BAD, BAD], state=muted)
    assert kinds(out) == [[], [], []]
    later, notices = step(replace(state, muted_until=None), BAD, T0 + 4 * EVERY, 2)
    assert [n.kind for n in notices] == [Kind.RAISE]
    muted_again = replace(later, muted_until=T0 + timedelta(hours=2))
    _, out = run([GOOD, GOOD], state=muted_again)
    assert [(n.kind, n.quiet) for ns in out for n in ns] == [(Kind.RESOLVE, True)]


def test_quiet_hours_resolve_without_posting() -> None:
    """In quiet hours only changes to worse are posted; a recovery just edits the card."""
    state, _ = run([BAD, BAD])
    state, _ = step(state, GOOD, T0 + 3 * EVERY, 2, in_quiet_hours=True)
    _, notices = step(state, GOOD, T0 + 4 * EVERY, 2, in_quiet_hours=True)
    assert [(n.kind, n.quiet) for n in notices] == [(Kind.RESOLVE, True)]


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (GOOD, None),
        (BAD, "Primary down: r"),
        (reading(health=Health.DEGRADED), "HA health is Degraded"),
        (
            reading(warnings=("SMB share 91% full (primary)",)),
            "SMB share 91% full (primary) (≥ 80%)",
        ),
        (reading(warnings=("SMB share not configured (primary)",)), None),
    ],
)
def test_what_counts_as_trouble(status: PairStatus, why: str | None) -> None:
    """Off BAU, Degraded health or a nearly full share are trouble; SMB advice is not."""
    assert trouble(status) == why


def test_lines_not_understood_are_trouble_for_the_channel_but_wake_nobody() -> None:
    """ha-status with lines no rule reads (an appliance upgrade?) is one alert in the
    channel even in BAU — never silence — but not worth a page; a pair also in trouble is."""
    unread = replace(GOOD, primary=replace(GOOD.primary, not_understood=("Firmware: 9.1",)))
    assert trouble(unread) == (
        "ha-status has 1 line not understood (an appliance upgrade?): the verdict may miss "
        "what they say"
    )
    assert not worth_paging(unread)
    assert worth_paging(replace(unread, verdict=Verdict.PRIMARY_DOWN))
    _, out = run([unread, unread, unread])
    assert kinds(out) == [[], [Kind.RAISE], [Kind.UPDATE]]


def test_quiet_hours_parse_and_span_midnight() -> None:
    """ "22:00-07:00" covers late night and early morning, not the day."""
    window = parse_quiet_hours("22:00-07:00")
    assert window == (time(22, 0), time(7, 0))
    at = datetime(2026, 11, 26, tzinfo=UTC)
    assert in_quiet_hours(window, at.replace(hour=23))
    assert in_quiet_hours(window, at.replace(hour=6, minute=59))
    assert not in_quiet_hours(window, at.replace(hour=7))
    assert not in_quiet_hours(window, at.replace(hour=12))
    assert in_quiet_hours(parse_quiet_hours("01:00-05:00"), at.replace(hour=3))
    assert parse_quiet_hours("") is None
    for bad in ("22-07", "25:00-07:00", "07:00-07:00"):
        with pytest.raises(ValueError, match=r"HH:MM|not a valid"):
            parse_quiet_hours(bad)


FAILED_OVER = reading(Verdict.FAILED_OVER)
DAY = timedelta(hours=24)


def announced(status: PairStatus, at: datetime = T0) -> AlertState:
    """The state right after habot's own operation reported ``status`` on its card."""
    return AlertState(announced=Announced(shape(status), at, "r1", "switchover"))


def test_a_shape_habot_itself_produced_and_reported_raises_no_alert() -> None:
    """After an approved switchover the pair is failed over: no alert however long it lasts
    (within remind_after), because its card already said so."""
    state, out = run([FAILED_OVER] * 12, state=announced(FAILED_OVER))
    assert kinds(out) == [[]] * 12
    assert state.incident is None
    assert state.announced is not None


def test_one_reminder_when_the_produced_shape_outlasts_remind_after() -> None:
    """Off BAU for remind_after (24h by default): exactly one reminder, then silence."""
    state = announced(FAILED_OVER)
    sent: list[Kind] = []
    for hour in range(0, 49):
        state, notices = step(state, FAILED_OVER, T0 + timedelta(hours=hour), 2)
        sent += [n.kind for n in notices]
    assert sent == [Kind.REMIND]
    assert state.reminded


def test_a_reading_older_than_the_operations_report_is_not_news() -> None:
    """A poll that read the pair in the middle of the operation but is judged after its card
    reported the outcome: stale — no alert, and the announcement stands, so the reminder
    still comes when the reported shape outlasts remind_after."""
    midway = replace(reading(Verdict.SPLIT_BRAIN), observed_at=T0 - timedelta(seconds=2))
    state, out = run([midway, FAILED_OVER, midway], alert_after=1, state=announced(FAILED_OVER))
    assert kinds(out) == [[], [], []]
    assert state.announced is not None
    assert state.incident is None
    later = replace(FAILED_OVER, observed_at=T0 + timedelta(days=1, minutes=5))
    state, notices = step(state, later, T0 + timedelta(days=1, minutes=5), 1)
    assert [n.kind for n in notices] == [Kind.REMIND]


def test_anything_else_after_an_operation_alerts_as_usual() -> None:
    """A different shape than the one reported (the promoted Secondary then goes down) is
    not habot's doing: the announcement is forgotten and the alert raised."""
    down = reading(Verdict.SECONDARY_DOWN)
    state, out = run([FAILED_OVER, down, down], state=announced(FAILED_OVER))
    assert kinds(out) == [[], [], [Kind.RAISE]]
    assert state.announced is None


def test_returning_to_bau_and_failing_over_again_by_hand_alerts() -> None:
    """Once the pair has left the announced shape, the same shape made later by someone
    else (at the console) is news."""
    _, out = run([FAILED_OVER, GOOD, GOOD, FAILED_OVER, FAILED_OVER], state=announced(FAILED_OVER))
    assert kinds(out) == [[], [], [], [], [Kind.RAISE]]


def test_a_degraded_health_is_not_hidden_by_an_announced_shape() -> None:
    """Same verdict and states but health turned Degraded: not the shape reported."""
    degraded = reading(Verdict.FAILED_OVER, Health.DEGRADED)
    _, out = run([degraded, degraded], state=announced(FAILED_OVER))
    assert kinds(out) == [[], [Kind.RAISE]]


def nudged(
    sequence: list[PairStatus],
    every: timedelta | None = timedelta(minutes=30),
    state: AlertState | None = None,
    quiet: bool = False,
) -> tuple[AlertState, list[list[Kind]]]:
    """Feed readings five minutes apart with nudges every ``every``; return the kinds."""
    state = state or AlertState()
    out = []
    for i, status in enumerate(sequence):
        state, notices = step(state, status, T0 + i * EVERY, 2, quiet, nudge_every=every)
        out.append([n.kind for n in notices])
    return state, out


def test_an_open_alert_nobody_acknowledged_calls_its_people_again() -> None:
    """Raised at the second reading; nudged every 30 minutes of being open (from its
    raise), alongside the usual in-place update — and nothing else posted."""
    _, out = nudged([BAD] * 16)  # 75 minutes
    assert out[1] == [Kind.RAISE]
    nudges = [i for i, kinds in enumerate(out) if Kind.NUDGE in kinds]
    assert nudges == [7, 13]  # 30 and 60 minutes after the raise at reading 1
    assert all(kinds[0] is Kind.UPDATE for kinds in out[2:])


def test_acknowledging_stops_the_nudges() -> None:
    """Once someone acknowledges an incident, no further nudge calls its people again."""
    state, _ = nudged([BAD] * 3)
    assert state.incident is not None
    acked = replace(state.incident, acknowledged_by="U0OPS1", acknowledged_at=T0)
    _, out = nudged([BAD] * 20, state=replace(state, incident=acked))
    assert not any(Kind.NUDGE in kinds for kinds in out)


@pytest.mark.parametrize(
    ("every", "quiet", "muted"),
    [
        (None, False, False),
        (timedelta(minutes=30), True, False),
        (timedelta(minutes=30), False, True),
    ],
)
def test_no_nudges_when_off_in_quiet_hours_or_muted(
    every: timedelta | None, quiet: bool, muted: bool
) -> None:
    """No nudge when nudging is off, during quiet hours, or while the pair is muted."""
    state, _ = nudged([BAD] * 3)
    if muted:
        state = replace(state, muted_until=T0 + timedelta(days=1))
    _, out = nudged([BAD] * 20, every, state, quiet)
    assert not any(Kind.NUDGE in kinds for kinds in out)


def test_an_incident_stored_before_nudges_existed_counts_from_its_start() -> None:
    """An incident loaded without called_at (stored by an older habot) is nudged as soon as
    it has been open ``every``, not never and not at once."""
    state, _ = nudged([BAD] * 3)
    assert state.incident is not None
    old = replace(state, incident=replace(state.incident, called_at=None))
    _, out = nudged([BAD] * 8, state=old)
    assert [i for i, kinds in enumerate(out) if Kind.NUDGE in kinds] == [6]  # since + 30 min
