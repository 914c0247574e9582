"""The held verdict's edges and the approval-time re-check (issue 14).

A 0.001 ETH transfer (`make_tx`) costs about 3.06 USD; the default policy's per-tx cap is 10
and its daily limit is larger. `approve_above = 1` holds it.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from session_studio.policy import ReasonCode, evaluate_approval

from .builders import NOW_MS, decide, make_policy, make_state, make_tx, usd

HOLDING = make_policy(approve_above=usd("1"))


def test_a_held_request_reserves_what_it_would_have_cost_if_allowed() -> None:
    allowed = decide(make_tx())
    held = decide(make_tx(), policy=HOLDING)
    assert held.held and not held.allowed and held.reserves
    assert held.reason is ReasonCode.APPROVAL_REQUIRED
    assert (held.cost, held.gas_cost) == (allowed.cost, allowed.gas_cost)


def test_a_request_costing_exactly_approve_above_is_signed() -> None:
    cost = decide(make_tx()).cost
    assert decide(make_tx(), policy=make_policy(approve_above=cost)).allowed


def test_the_daily_limit_refuses_before_anything_is_held() -> None:
    full = make_state(spent_in_window=make_policy().daily)
    decision = decide(make_tx(), policy=HOLDING, state=full)
    assert decision.reason is ReasonCode.DAILY_LIMIT_EXCEEDED
    assert not decision.held and not decision.reserves


@given(pending=st.integers(0, 30), bound=st.integers(1, 30))
def test_a_request_is_held_only_while_fewer_than_the_bound_wait(pending: int,
                                                                bound: int) -> None:
    policy = make_policy(approve_above=usd("1"), max_pending_approvals=bound)
    decision = decide(make_tx(), policy=policy, state=make_state(pending_approvals=pending))
    assert decision.held == (pending < bound)
    if pending >= bound:
        assert decision.reason is ReasonCode.RATE_LIMITED
        assert not decision.reserves


def test_pending_approvals_do_not_limit_requests_that_are_not_held() -> None:
    policy = make_policy(approve_above=usd("100"), max_pending_approvals=1)
    assert decide(make_tx(), policy=policy, state=make_state(pending_approvals=50)).allowed


# -- evaluate_approval: the re-check when a person approves ---------------------------------
def test_approving_a_revoked_sessions_request_is_refused_as_revoked() -> None:
    decision = evaluate_approval(policy=HOLDING, state=make_state(revoked=True),
                                 cost=usd("3"), now_ms=NOW_MS)
    assert decision.reason is ReasonCode.SESSION_REVOKED


def test_approving_after_the_session_expired_is_refused_as_expired() -> None:
    decision = evaluate_approval(policy=HOLDING, state=make_state(expires_at_ms=NOW_MS),
                                 cost=usd("3"), now_ms=NOW_MS)
    assert decision.reason is ReasonCode.SESSION_EXPIRED


@given(spent=st.integers(0, 10**21), cost=st.integers(0, 10**21))
def test_an_approval_is_signed_only_if_it_fits_the_window_now(spent: int, cost: int) -> None:
    policy = make_policy()
    decision = evaluate_approval(policy=policy, state=make_state(spent_in_window=spent),
                                 cost=cost, now_ms=NOW_MS)
    assert decision.allowed == (spent + cost <= policy.daily)
    if decision.allowed:
        assert decision.cost == cost
    else:
        assert decision.reason is ReasonCode.DAILY_LIMIT_EXCEEDED


def test_approving_is_bounded_by_the_agents_budget() -> None:
    policy = make_policy(agent_daily_budget=usd("5"))
    decision = evaluate_approval(policy=policy, state=make_state(agent_spent_in_window=usd("4")),
                                 cost=usd("3"), now_ms=NOW_MS)
    assert decision.reason is ReasonCode.AGENT_BUDGET_EXCEEDED


def test_approving_a_signed_transaction_counts_the_outstanding_bound() -> None:
    state = make_state(outstanding_signed=4)
    refused = evaluate_approval(policy=HOLDING, state=state, cost=usd("3"), now_ms=NOW_MS,
                                max_outstanding_signed=4)
    assert refused.reason is ReasonCode.RATE_LIMITED
    assert evaluate_approval(policy=HOLDING, state=state, cost=usd("3"),
                             now_ms=NOW_MS).allowed
