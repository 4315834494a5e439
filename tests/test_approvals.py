"""Four-eyes rules, cooldown, and the --override grammar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from habot.core.approvals import (
    ApprovalPolicy,
    Decision,
    Request,
    RequestAction,
    RequestState,
    Ruling,
    actions_for,
    cooldown_refusal,
    judge,
    judge_approval,
    judge_cancel,
    judge_rejection,
)
from habot.core.asks import OperationRequest, parse_operation
from habot.core.blocks import mrkdwn
from habot.core.grammar import Sub, UsageError
from habot.core.model import NodeState, Role, Verdict
from habot.core.operations import Operation
from habot.core.replies import Code, plain, say
from habot.core.roles import Access

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
APPROVER = frozenset({Access.VIEWER, Access.APPROVER})
OPERATOR = frozenset({Access.VIEWER, Access.OPERATOR})


def shown(decision: Decision) -> str:
    """The decision's words as Slack shows them to the clicker."""
    return mrkdwn(say(*decision.words))


def request(
    required: int = 1, approvals: tuple[str, ...] = (), state: RequestState = RequestState.PENDING
) -> Request:
    """A pending switchover requested by U0OPS at T0, open for 15 minutes."""
    return Request(
        "r1",
        Operation.SWITCHOVER,
        "prod",
        Role.PRIMARY,
        "U0OPS",
        T0,
        T0 + timedelta(minutes=15),
        required,
        (Verdict.BAU, NodeState.ACTIVE, NodeState.STANDBY),
        state,
        approvals,
    )


@pytest.mark.parametrize(
    ("req", "user", "roles", "when", "ruling", "words"),
    [
        (request(), "U0LEAD", APPROVER, T0, Ruling.READY, "running it now"),
        (request(2), "U0LEAD", APPROVER, T0, Ruling.COUNTED, "1 more needed"),
        (request(2, ("U0LEAD",)), "U0LEAD2", APPROVER, T0, Ruling.READY, "running it now"),
        (request(2, ("U0LEAD",)), "U0LEAD", APPROVER, T0, Ruling.REFUSED, "already approved"),
        (request(), "U0OPS", APPROVER | OPERATOR, T0, Ruling.REFUSED, "second person"),
        (request(), "U0VIEW", frozenset({Access.VIEWER}), T0, Ruling.REFUSED, "*approver* role"),
        (
            request(),
            "U0LEAD",
            APPROVER,
            T0 + timedelta(minutes=15),
            Ruling.REFUSED,
            "expired <!date^1795662900^{date_short_pretty} at {time}|03:15 UTC>",
        ),
        (
            request(state=RequestState.EXECUTING),
            "U0LEAD",
            APPROVER,
            T0,
            Ruling.REFUSED,
            "already running",
        ),
        (
            request(state=RequestState.SUCCEEDED),
            "U0LEAD",
            APPROVER,
            T0,
            Ruling.REFUSED,
            "already succeeded",
        ),
        (
            request(state=RequestState.CANCELLED),
            "U0LEAD",
            APPROVER,
            T0,
            Ruling.REFUSED,
            "already cancelled",
        ),
    ],
)
def test_approval_decision_table(
    req: Request, user: str, roles: frozenset[Access], when: datetime, ruling: Ruling, words: str
) -> None:
    """Who may approve, when, and when the request becomes ready."""
    decision = judge_approval(req, user, roles, when)
    assert decision.ruling is ruling
    assert words in shown(decision)


def test_rejection_is_for_approvers() -> None:
    """Approvers reject; operators cannot; closed requests cannot be rejected."""
    assert judge_rejection(request(), "U0LEAD", APPROVER, T0).ruling is Ruling.READY
    assert judge_rejection(request(), "U0X", OPERATOR, T0).ruling is Ruling.REFUSED
    done = request(state=RequestState.REJECTED)
    assert judge_rejection(done, "U0LEAD", APPROVER, T0).ruling is Ruling.REFUSED


def test_cancel_is_for_the_requester_or_an_approver() -> None:
    """The requester or any approver may cancel; another operator may not."""
    assert judge_cancel(request(), "U0OPS", OPERATOR, T0).ruling is Ruling.READY
    assert judge_cancel(request(), "U0LEAD", APPROVER, T0).ruling is Ruling.READY
    assert judge_cancel(request(), "U0OTHER", OPERATOR, T0).ruling is Ruling.REFUSED
    running = request(state=RequestState.EXECUTING)
    assert judge_cancel(running, "U0OPS", OPERATOR, T0).message == "Request r1 is already running."


def test_policy_per_operation() -> None:
    """Per-operation counts override the default; 0 means no approval needed."""
    policy = ApprovalPolicy(
        required=1, per_operation={Operation.MAKE_STANDALONE: 2, Operation.JOINING_CODE: 0}
    )
    assert [
        policy.required_for(o)
        for o in (Operation.FAILOVER, Operation.MAKE_STANDALONE, Operation.JOINING_CODE)
    ] == [1, 2, 0]
    assert policy.ttl == timedelta(minutes=15)


def test_cooldown() -> None:
    """Inside the cooldown a request is refused unless overridden; after it, allowed."""
    ten = timedelta(minutes=10)
    refusal = cooldown_refusal(T0, ten, T0 + timedelta(minutes=3), None)
    assert refusal is not None
    assert "wait until 2026-11-26 03:10 UTC" in plain(refusal)
    assert Code('--override "reason"') in refusal  # shown as something to type
    assert cooldown_refusal(T0, ten, T0 + timedelta(minutes=3), "vendor on the phone") is None
    assert cooldown_refusal(T0, ten, T0 + ten, None) is None
    assert cooldown_refusal(None, ten, T0, None) is None


PAIRS = ("prod", "dr")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("switchover prod", OperationRequest(Sub.SWITCHOVER, "prod")),
        ("FAILOVER Prod", OperationRequest(Sub.FAILOVER, "prod")),
        ("initialize dr", OperationRequest(Sub.INITIALISE, "dr")),
        (
            "make-standalone dr secondary",
            OperationRequest(Sub.MAKE_STANDALONE, "dr", Role.SECONDARY),
        ),
        (
            'failover prod --override "primary dead, vendor agrees"',
            OperationRequest(Sub.FAILOVER, "prod", override="primary dead, vendor agrees"),
        ),
        (
            "failover prod --override \u201cphone   typed\u201d",
            OperationRequest(Sub.FAILOVER, "prod", override="phone typed"),
        ),
        (
            "failover prod --override \u2018single\u2019",
            OperationRequest(Sub.FAILOVER, "prod", override="single"),
        ),
        (
            "failover prod --override 'rm -rf /; `x`'",
            OperationRequest(Sub.FAILOVER, "prod", override="rm -rf /; `x`"),
        ),
    ],
)
def test_operation_requests_parse(text: str, parsed: OperationRequest) -> None:
    """Pair, node and an override reason in straight or curly quotes."""
    assert parse_operation(text, PAIRS) == parsed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("failover", "Which pair?"),
        ("failover qa", "There is no pair `qa`"),
        ("make-standalone prod", "Say which node"),
        ("switchover prod now later", "Unexpected `later`"),
        ('switchover prod x "why now, exactly"', "Unexpected `x`"),
        ('switchover prod "unclosed', "Close the reason's quotes"),
        ('switchover prod "" CHG1', "quoted reason is empty"),
        ("failover prod --override", "reason in quotes"),
        ("failover prod --override because", "reason in quotes"),
        ('failover prod --override ""', "reason is empty"),
        ('failover prod --override "' + "x" * 301 + '"', "keep it under 300"),
        ("status prod", "not an operation"),
        ("failover prod;reboot", "not a pair, node or ticket"),
        ('switchover prod "why" CHG;reboot', "not a pair, node or ticket"),
    ],
)
def test_bad_operation_requests(text: str, words: str) -> None:
    """Every mistake is named."""
    with pytest.raises(UsageError) as info:
        parse_operation(text, PAIRS)
    assert words in str(info.value)


VIEWER = frozenset({Access.VIEWER})
BOTH = APPROVER | OPERATOR
A, R, C = RequestAction.APPROVE, RequestAction.REJECT, RequestAction.CANCEL
PENDING, RUNNING, DONE = RequestState.PENDING, RequestState.EXECUTING, RequestState.SUCCEEDED
# (action, caller's roles, caller is the requester?, request state) → allowed, or a phrase of
# the reason. The one rule asked by typed commands, buttons and App Home alike.
POLICY = [
    (A, APPROVER, False, PENDING, True),
    (A, BOTH, True, PENDING, "second person"),
    (A, OPERATOR, False, PENDING, "*approver* role"),
    (A, VIEWER, False, PENDING, "*approver* role"),
    (A, APPROVER, False, RUNNING, "already running"),
    (A, APPROVER, False, DONE, "already succeeded"),
    (R, APPROVER, False, PENDING, True),
    (R, BOTH, True, PENDING, True),
    (R, OPERATOR, False, PENDING, "*approver* role"),
    (R, APPROVER, False, RUNNING, "already running"),
    (C, OPERATOR, True, PENDING, True),
    (C, VIEWER, True, PENDING, True),
    (C, APPROVER, False, PENDING, True),
    (C, OPERATOR, False, PENDING, "Only the requester (<@U0OPS>) or an approver"),
    (C, VIEWER, False, PENDING, "Only the requester (<@U0OPS>) or an approver"),
    (C, OPERATOR, True, RUNNING, "already running"),
    (C, APPROVER, False, DONE, "already succeeded"),
]


@pytest.mark.parametrize(("action", "roles", "own", "state", "allowed"), POLICY)
def test_one_policy_decides_who_may_do_what_to_a_request(
    action: RequestAction,
    roles: frozenset[Access],
    own: bool,
    state: RequestState,
    allowed: bool | str,
) -> None:
    """Each (action, roles, requester?, state) is allowed or refused with its reason."""
    decision = judge(action, request(state=state), "U0OPS" if own else "U0LEAD", roles, T0)
    if allowed is True:
        assert decision.ruling is not Ruling.REFUSED
    else:
        assert decision.ruling is Ruling.REFUSED
        assert str(allowed) in shown(decision)


def test_home_offers_exactly_what_the_policy_allows() -> None:
    """The requester may cancel their own; an approver may approve, reject and cancel; a
    bystander operator nothing."""
    pending = request()
    assert actions_for(pending, "U0OPS", OPERATOR, T0) == (C,)
    assert actions_for(pending, "U0LEAD", APPROVER, T0) == (A, R, C)
    assert actions_for(pending, "U0OTHER", OPERATOR, T0) == ()
