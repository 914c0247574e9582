"""The agent's daily budget: one cap across every session of the agent, on top of each
session's own limits (POLICY.md, "Limits")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from session_studio.policy import Decision, ReasonCode

from .builders import decide, make_policy, make_state, make_tx, usd

DEFAULT_COST = usd("3.063")  # the default request: 0.001 ETH plus 21000 gas at 1 gwei


def refused_for(decision: Decision, reason: ReasonCode) -> bool:
    return not decision.allowed and decision.reason is reason and decision.cost == 0


def test_request_taking_the_agent_over_its_budget_is_refused() -> None:
    policy = make_policy(agent_daily_budget=usd("50"))
    state = make_state(agent_spent_in_window=usd("50") - DEFAULT_COST + 1)
    assert refused_for(decide(make_tx(), policy=policy, state=state),
                       ReasonCode.AGENT_BUDGET_EXCEEDED)


def test_request_reaching_the_agent_budget_exactly_is_allowed() -> None:
    policy = make_policy(agent_daily_budget=usd("50"))
    state = make_state(agent_spent_in_window=usd("50") - DEFAULT_COST)
    assert decide(make_tx(), policy=policy, state=state).allowed


def test_agent_refusal_reports_the_budget_and_what_the_agent_spent() -> None:
    policy = make_policy(agent_daily_budget=usd("50"))
    state = make_state(agent_spent_in_window=usd("49"))
    figures = decide(make_tx(), policy=policy, state=state).figures
    assert figures["agent_daily_budget"] == "50" and figures["agent_spent_in_window"] == "49"


def test_a_session_without_an_agent_budget_ignores_agent_spend() -> None:
    state = make_state(agent_spent_in_window=usd("1000000"))
    assert decide(make_tx(), state=state).allowed


@given(budget=st.integers(0, usd("200")), agent_spent=st.integers(0, usd("300")),
       own_spent=st.integers(0, usd("100")))
def test_an_allowed_request_never_takes_the_agent_past_its_budget(
        budget: int, agent_spent: int, own_spent: int) -> None:
    policy = make_policy(agent_daily_budget=budget)
    state = make_state(agent_spent_in_window=agent_spent, spent_in_window=own_spent)
    decision = decide(make_tx(), policy=policy, state=state)
    if decision.allowed:
        assert agent_spent + decision.cost <= budget
