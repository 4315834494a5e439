"""Roles on immutable Slack IDs decide who may run each subcommand."""

from __future__ import annotations

import pytest

from habot.core.grammar import MUTATING, Sub
from habot.core.roles import Access, RolePolicy, missing_role, offered

POLICY = RolePolicy.of(viewers=["*"], operators=["U0OPS1", "S0ONCALL"], approvers=["U0LEAD1"])


def test_everyone_is_a_viewer_with_star() -> None:
    """ "*" makes any workspace member a viewer."""
    assert POLICY.roles_of("U0RANDOM", []) == {Access.VIEWER}


def test_operators_by_user_and_by_group() -> None:
    """A user is an operator by ID or through a configured user group."""
    assert Access.OPERATOR in POLICY.roles_of("U0OPS1", [])
    assert Access.OPERATOR in POLICY.roles_of("U0NEW", ["S0ONCALL"])
    assert Access.OPERATOR not in POLICY.roles_of("U0NEW", ["S0OTHER"])


def test_operators_and_approvers_may_view_even_without_star() -> None:
    """Operators and approvers can always see status."""
    policy = RolePolicy.of(viewers=[], operators=["U1"], approvers=["U2"])
    assert Access.VIEWER in policy.roles_of("U1", [])
    assert Access.VIEWER in policy.roles_of("U2", [])
    assert policy.roles_of("U3", []) == frozenset()


@pytest.mark.parametrize(
    ("sub", "roles", "missing"),
    [
        (Sub.HELP, frozenset(), None),
        (Sub.STATUS, frozenset(), Access.VIEWER),
        (Sub.STATUS, frozenset({Access.VIEWER}), None),
        (Sub.LOGS, frozenset({Access.VIEWER}), None),
        (Sub.HISTORY, frozenset({Access.VIEWER}), None),
        *[(sub, frozenset({Access.VIEWER}), Access.OPERATOR) for sub in sorted(MUTATING)],
        *[(sub, frozenset({Access.VIEWER, Access.OPERATOR}), None) for sub in sorted(MUTATING)],
        (Sub.FAILOVER, frozenset({Access.VIEWER, Access.APPROVER}), Access.OPERATOR),
    ],
)
def test_decision_table(sub: Sub, roles: frozenset[Access], missing: Access | None) -> None:
    """Which role each subcommand needs, for each set of roles a user may hold."""
    assert missing_role(sub, roles) is missing


def test_groups_to_resolve_are_the_s_ids() -> None:
    """Only user-group IDs need a membership lookup."""
    assert POLICY.groups() == {"S0ONCALL"}


def test_help_offers_cancel_only_to_those_who_can_have_a_request_to_cancel() -> None:
    """Cancel is allowed to a viewer (a requester who lost the operator role may still
    withdraw theirs) but not offered to one: they can neither ask nor approve."""
    viewer = frozenset({Access.VIEWER})
    assert missing_role(Sub.CANCEL, viewer) is None
    assert not offered(Sub.CANCEL, viewer)
    assert offered(Sub.CANCEL, frozenset({Access.VIEWER, Access.OPERATOR}))
    assert offered(Sub.CANCEL, frozenset({Access.VIEWER, Access.APPROVER}))
    assert offered(Sub.STATUS, viewer)
    assert not offered(Sub.FAILOVER, viewer)
