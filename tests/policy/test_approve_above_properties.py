"""Properties of `approve_above`, the engine's third verdict (issue 14), over random policies,
requests, prices and usage.

(a) A request is held exactly when it passes every other check and costs more than the
    threshold; anything else is decided as if the session had no threshold at all.
(b) A held decision reserves exactly what the allowed decision would have: same cost, same
    worst-case gas part (approving later signs that request, so its reservation must be the one
    signing would have made).
(c) The per-tx and daily caps are hard: a request over either is refused, never held, however
    low the threshold, and against an independently computed cost.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import event, given
from hypothesis import strategies as st
from session_studio.policy import (
    AgentWindow,
    Decision,
    ReasonCode,
    SessionPolicy,
    evaluate_transaction,
)
from session_studio.policy import decode_transaction as decode

from .builders import ASSETS, NOW_MS, PRICES, make_policy, make_state, make_tx, usd
from .test_properties import PROPERTY, Scenario, price_book, scaled, scenarios


def _decide(s: Scenario, policy: SessionPolicy) -> Decision:
    return evaluate_transaction(policy=policy, state=s.state, tx=s.tx,
                                decoded=decode(s.tx, ASSETS), prices=price_book(s.prices),
                                now_ms=NOW_MS, chain_max_fee_per_gas=s.chain_cap)


@st.composite
def thresholds(draw: st.DrawFn, policy: SessionPolicy) -> int:
    """Mostly what the service accepts (0 to per_tx), sometimes anything at all."""
    within = st.integers(0, max(policy.per_tx, 0))
    return draw(st.one_of(st.just(0), within, within, scaled(0, 30)))


@st.composite
def budgeted(draw: st.DrawFn) -> Scenario:
    """A scenario whose session may also have an agent budget, a self-service window and a
    rate limit: every other check a held request must pass first."""
    s = draw(scenarios())
    policy, state = s.policy, s.state
    if draw(st.booleans()):
        policy = replace(policy, agent_daily_budget=draw(scaled(14, 26)))
        state = replace(state, agent_spent_in_window=draw(st.integers(
            0, policy.agent_daily_budget or 0)))
    if draw(st.booleans()):
        limit = draw(scaled(14, 26))
        state = replace(state, self_service=AgentWindow(
            unit=policy.unit, limit=limit, spent=draw(st.integers(0, limit))))
    if draw(st.booleans()):
        policy = replace(policy, rate_limit_per_minute=draw(st.integers(1, 5)))
        state = replace(state, requests_last_minute=draw(st.integers(0, 6)))
    return replace(s, policy=policy, state=state)


# -- (a) and (b) ------------------------------------------------------------------------------
@PROPERTY
@given(data=st.data(), s=budgeted())
def test_a_request_is_held_iff_it_passes_every_other_check_and_costs_more_than_the_threshold(
        data: st.DataObject, s: Scenario) -> None:
    threshold = data.draw(thresholds(s.policy))
    unheld = _decide(s, replace(s.policy, approve_above=None))

    decision = _decide(s, replace(s.policy, approve_above=threshold))

    should_hold = unheld.allowed and unheld.cost > threshold
    event("held" if decision.held else str(decision.reason))
    assert decision.held is should_hold
    if not should_hold:
        assert decision == unheld
        return
    assert not decision.allowed and decision.reserves
    assert decision.reason is ReasonCode.APPROVAL_REQUIRED


@PROPERTY
@given(data=st.data(), s=budgeted())
def test_a_held_request_reserves_what_signing_it_would_have(data: st.DataObject,
                                                             s: Scenario) -> None:
    threshold = data.draw(thresholds(s.policy))
    unheld = _decide(s, replace(s.policy, approve_above=None))

    decision = _decide(s, replace(s.policy, approve_above=threshold))

    if decision.held:
        assert (decision.cost, decision.gas_cost) == (unheld.cost, unheld.gas_cost)
        assert decision.figures["cost"] == unheld.figures["cost"]


def test_a_session_without_a_threshold_never_holds() -> None:
    assert not _decide_plain(make_policy(approve_above=None), value=10**18).held


def _decide_plain(policy: SessionPolicy, *, value: int, spent: int = 0) -> Decision:
    tx = make_tx(value=value)
    return evaluate_transaction(policy=policy, state=make_state(spent_in_window=spent), tx=tx,
                                decoded=decode(tx, ASSETS), prices=PRICES, now_ms=NOW_MS)


# -- (c) --------------------------------------------------------------------------------------
@PROPERTY
@given(per_tx=scaled(17, 21), widths=st.integers(1, 5),
       spent_share=st.one_of(st.floats(0, 1), st.floats(0.9, 1)),
       value=scaled(12, 17), threshold_share=st.floats(0, 1))
def test_per_tx_and_daily_refusals_win_over_holding(per_tx: int, widths: int, spent_share: float,
                                                    value: int,
                                                    threshold_share: float) -> None:
    daily = per_tx * widths
    spent = int(daily * spent_share)
    threshold = int(per_tx * threshold_share)
    # The cost, found independently: the same request under limits it cannot reach.
    unbounded = make_policy(per_tx=usd("1000000000"), daily=usd("1000000000"))
    cost = _decide_plain(unbounded, value=value).cost

    decision = _decide_plain(make_policy(per_tx=per_tx, daily=daily, approve_above=threshold),
                             value=value, spent=spent)

    if cost > per_tx:
        expected = ReasonCode.PER_TX_LIMIT_EXCEEDED
    elif spent + cost > daily:
        expected = ReasonCode.DAILY_LIMIT_EXCEEDED
    elif cost > threshold:
        expected = ReasonCode.APPROVAL_REQUIRED
    else:
        expected = None
    event(str(expected))
    assert decision.reason is expected
    assert decision.held is (expected is ReasonCode.APPROVAL_REQUIRED)
    assert decision.reserves is (expected in (None, ReasonCode.APPROVAL_REQUIRED))
    if decision.reserves:
        assert decision.cost == cost
