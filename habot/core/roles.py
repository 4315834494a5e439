"""Who may do what: roles on immutable Slack IDs, and the role each subcommand needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from habot.core.grammar import MUTATING, Sub


class Access(StrEnum):
    """A role in habot."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"


NEEDS: dict[Sub, Access | None] = {
    Sub.HELP: None,
    Sub.STATUS: Access.VIEWER,
    Sub.LOGS: Access.VIEWER,
    Sub.HISTORY: Access.VIEWER,
    Sub.PENDING: Access.VIEWER,
    Sub.CANCEL: Access.VIEWER,  # who may cancel which request: core.approvals.judge
    Sub.REJECT: Access.APPROVER,
    Sub.FREEZE: Access.APPROVER,
    Sub.UNFREEZE: Access.APPROVER,
    Sub.MUTE: Access.OPERATOR,
    Sub.UNMUTE: Access.OPERATOR,
    Sub.RESOLVE: Access.APPROVER,
    Sub.BREAK_GLASS: Access.OPERATOR,  # and only the request's own requester: core.breakglass
    Sub.REVIEW: Access.APPROVER,  # never the one who broke the glass
    Sub.NOTE: Access.VIEWER,  # anyone who can see it may add what they saw; it is audited
    Sub.INCIDENT: Access.VIEWER,
    **{sub: Access.OPERATOR for sub in MUTATING},
}


@dataclass(frozen=True)
class RolePolicy:
    """Role membership lists: user IDs (U…/W…), user-group IDs (S…) or "*" (everyone)."""

    viewers: frozenset[str]
    operators: frozenset[str]
    approvers: frozenset[str]

    @classmethod
    def of(
        cls, viewers: Iterable[str], operators: Iterable[str], approvers: Iterable[str]
    ) -> RolePolicy:
        """Build a policy from configuration lists."""
        return cls(frozenset(viewers), frozenset(operators), frozenset(approvers))

    def listed(self, role: Access) -> frozenset[str]:
        """The users, user groups and "*" named for one role."""
        return {
            Access.VIEWER: self.viewers,
            Access.OPERATOR: self.operators,
            Access.APPROVER: self.approvers,
        }[role]

    def groups(self) -> frozenset[str]:
        """Every user-group ID the policy mentions (their members must be looked up)."""
        ids = self.viewers | self.operators | self.approvers
        return frozenset(i for i in ids if i.startswith("S"))

    def roles_of(self, user: str, user_groups: Iterable[str]) -> frozenset[Access]:
        """The roles of a user who belongs to the given user groups.

        Operators and approvers may also view.
        """
        me = {user, "*", *user_groups}
        roles = {
            role
            for role, members in (
                (Access.VIEWER, self.viewers),
                (Access.OPERATOR, self.operators),
                (Access.APPROVER, self.approvers),
            )
            if members & me
        }
        if roles & {Access.OPERATOR, Access.APPROVER}:
            roles.add(Access.VIEWER)
        return frozenset(roles)


def needs_with(freeze: Access) -> Mapping[Sub, Access | None]:
    """The roles each subcommand needs, with who may freeze and unfreeze as configured
    ([roles] freeze: approvers unless set)."""
    return {**NEEDS, Sub.FREEZE: freeze, Sub.UNFREEZE: freeze}


def offered(sub: Sub, roles: frozenset[Access], needs: Mapping[Sub, Access | None] = NEEDS) -> bool:
    """Whether help offers ``sub`` to someone with ``roles``: what they may use — less
    cancel for a viewer only, who can neither have asked for a request nor approve one."""
    if sub is Sub.CANCEL and not roles & {Access.OPERATOR, Access.APPROVER}:
        return False
    return missing_role(sub, roles, needs) is None


def missing_role(
    sub: Sub, roles: frozenset[Access], needs: Mapping[Sub, Access | None] = NEEDS
) -> Access | None:
    """The role a subcommand needs that the user lacks, or None when allowed."""
    needed = needs[sub]
    return needed if needed is not None and needed not in roles else None
