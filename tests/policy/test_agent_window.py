"""The self-service window: what every session an agent created for itself spent, together,
bounded by the ceiling's daily limit, on top of each session's own limits (POLICY.md, "Limits")."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from session_studio.policy import AgentWindow, ReasonCode

from .builders import decide, make_policy, make_state, make_tx, usd

DEFAULT_COST = usd("3.063")  # the default request: 0.001 ETH plus 21000 gas at 1 gwei


def _window(spent: int, limit: int = usd("50"), unit: str = "USD") -> AgentWindow:
    return AgentWindow(unit=unit, limit=limit, spent=spent)


def test_request_taking_the_agent_window_over_the_ceiling_is_refused() -> None:
    state = make_state(self_service=_window(usd("50") - DEFAULT_COST + 1))
    decision = decide(make_tx(), state=state)
    assert not decision.allowed and decision.reason is ReasonCode.AGENT_BUDGET_EXCEEDED


def test_request_reaching_the_ceiling_exactly_is_allowed() -> None:
    assert decide(make_tx(), state=make_state(self_service=_window(usd("50") - DEFAULT_COST)))\
        .allowed


def test_refusal_reports_the_ceiling_limit_and_what_the_agent_window_holds() -> None:
    figures = decide(make_tx(), state=make_state(self_service=_window(usd("49")))).figures
    assert figures["self_service_daily_limit"] == "50"
    assert figures["self_service_spent_in_window"] == "49"


def test_a_window_in_another_unit_than_the_session_refuses_rather_than_guesses() -> None:
    decision = decide(make_tx(), state=make_state(self_service=_window(0, unit="USDC")))
    assert not decision.allowed and decision.reason is ReasonCode.AGENT_BUDGET_EXCEEDED


def test_a_session_the_operator_made_has_no_agent_window() -> None:
    assert decide(make_tx(), state=make_state(self_service=None)).allowed


@given(limit=st.integers(0, usd("200")), agent_spent=st.integers(0, usd("300")),
       own_spent=st.integers(0, usd("100")))
def test_an_allowed_request_never_takes_the_agent_window_past_the_ceiling(
        limit: int, agent_spent: int, own_spent: int) -> None:
    state = make_state(self_service=_window(agent_spent, limit), spent_in_window=own_spent)
    decision = decide(make_tx(), policy=make_policy(), state=state)
    if decision.allowed:
        assert agent_spent + decision.cost <= limit
