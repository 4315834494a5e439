"""What habot checked before it opened a request, and the steps it will take: one line per
check with ✓ / ⚠ / ✗, kept with the request so the approver sees what they approve, and so
the re-check before the run can name the check that changed (pure).

Necessary, not sufficient: the checks are what habot can read; the approver still judges.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from habot.core.blocks import node_state_words
from habot.core.freeze import Freeze
from habot.core.model import Check, Health, Mark
from habot.core.operations import ROLE_NEUTRAL, OperationPlan
from habot.core.verdict import NodeView, PairStatus


def checks_made(
    status: PairStatus,
    plan: OperationPlan,
    cooldown: str,
    override: str | None,
    freeze: Freeze | None = None,
) -> tuple[Check, ...]:
    """Each check behind a request, from the fresh reading it was judged on (``cooldown``:
    the configured cooldown in words; ``override``: the reason typed to skip it or a
    ``freeze``)."""
    return (
        _node(status.primary),
        _node(status.secondary),
        _peers(status),
        _health(status.health),
        _cooldown(plan, cooldown, override),
        _smb(status.warnings),
        _console(status.node(plan.node), plan),
        Check("open", Mark.OK, f"no other request holds {status.pair}"),
        _freeze(status.pair, freeze, override),
    )


def _freeze(pair: str, freeze: Freeze | None, override: str | None) -> Check:
    if freeze is None:
        return Check("freeze", Mark.OK, f"no change freeze holds {pair}")
    why = override or "no reason given"
    words = f"{pair} is under a change freeze ({freeze.reason}); asked anyway: {why}"
    return Check("freeze", Mark.WARN, words)


def _node(view: NodeView) -> Check:
    said = f"{view.role.label} ({view.address}) says {node_state_words(view.state)}"
    if not view.reachable:
        return Check(view.role.value, Mark.WARN, f"habot cannot reach the {view.role.label} "
                     f"({view.address}): {view.error or 'no answer'}")  # fmt: skip
    return Check(view.role.value, Mark.OK, said)


def _peers(status: PairStatus) -> Check:
    if status.disagreements:
        return Check("peers", Mark.WARN, "the nodes disagree: " + "; ".join(status.disagreements))
    for view in (status.primary, status.secondary):
        peer = status.node(view.role.peer)
        if not view.reachable and view.seen_by_peer is not None:
            words = node_state_words(view.seen_by_peer)
            return Check("peers", Mark.OK, f"the {peer.role.label} sees the "
                         f"{view.role.label} {words}")  # fmt: skip
    return Check("peers", Mark.OK, "each node sees the other as it says it is")


def _health(health: Health | None) -> Check:
    if health is Health.OK:
        return Check("health", Mark.OK, "HA health OK")
    if health is Health.DEGRADED:
        return Check("health", Mark.WARN, "HA health Degraded")
    return Check("health", Mark.WARN, "HA health not reported by either node")


def _cooldown(plan: OperationPlan, cooldown: str, override: str | None) -> Check:
    if plan.operation in ROLE_NEUTRAL:
        return Check("cooldown", Mark.OK, "not held by the cooldown (it changes no roles)")
    if override:
        return Check("cooldown", Mark.WARN, f"cooldown overridden: {override}")
    return Check("cooldown", Mark.OK, f"no role change in the last {cooldown}")


def _smb(warnings: Sequence[str]) -> Check:
    smb = [w for w in warnings if "SMB" in w]
    if smb:
        return Check("smb", Mark.WARN, "; ".join(smb))
    return Check("smb", Mark.OK, "SMB share: no warning")


def _console(view: NodeView, plan: OperationPlan) -> Check:
    command = plan.command.value
    if view.offered is None:
        return Check("console", Mark.OK, f"the {plan.node} lists no commands at login "
                     f"(plain exec): {command} is typed as planned")  # fmt: skip
    if command in view.offered:
        return Check("console", Mark.OK, f"the {plan.node}'s console offers {command}")
    return Check("console", Mark.FAIL, f"the {plan.node}'s console does not offer {command}")


def steps(plan: OperationPlan) -> tuple[str, ...]:
    """What habot will do, in order, once approved."""
    done: list[str] = []
    if plan.joining_code_from is not None:
        done.append(f"on the {plan.joining_code_from}, type `ha-create-joining-code` (the code "
                    "stays in habot's memory, shown to nobody)")  # fmt: skip
    done.append(f"log in to the {plan.node} ({plan.address}) and type `{plan.command.value}`")
    done.append("answer `y` to its confirmation question; any other question stops the run")
    expected = ", ".join(
        f"{role.label} {' or '.join(sorted(node_state_words(s) for s in states))}"
        for role, states in plan.expected
    )
    health = " with HA health OK" if plan.expect_health_ok else ""
    done.append(f"read both nodes again and expect {expected}{health}")
    return tuple(done)


def changed(before: Sequence[Check], after: Sequence[Check]) -> str | None:
    """How the checks differ between approval and the run (None: alike), naming each
    check that changed."""
    was = {c.name: c for c in before}
    diffs = [
        f"{c.words} (was: {was[c.name].words})"
        for c in after
        if c.name in was and c.name != "cooldown" and (c.mark, c.words) != (was[c.name].mark,
                                                                            was[c.name].words)
    ]  # fmt: skip
    return "; ".join(diffs) or None


def to_json(found: Sequence[Check]) -> str:
    """As stored with the request."""
    return json.dumps([[c.name, c.mark.value, c.words] for c in found])


def from_json(text: str | None) -> tuple[Check, ...]:
    """The stored form back (none for requests made before checks were kept)."""
    return tuple(Check(n, Mark(m), w) for n, m, w in json.loads(text)) if text else ()
