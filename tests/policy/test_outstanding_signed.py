"""The engine's bound on held-back signed transactions (issue 10, item 6).

`max_outstanding_signed` is given only for eth_signTransaction (a send is broadcast by the
sidecar); the store fills `SessionState.outstanding_signed` inside its transaction.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from session_studio.policy import Decision, ReasonCode, decode_transaction, evaluate_transaction

from .builders import ASSETS, NOW_MS, PRICES, make_policy, make_state, make_tx


def _decide(outstanding: int, bound: int | None, **state: Any) -> Decision:
    tx = make_tx()
    return evaluate_transaction(policy=make_policy(), tx=tx, prices=PRICES, now_ms=NOW_MS,
                                state=make_state(outstanding_signed=outstanding, **state),
                                decoded=decode_transaction(tx, ASSETS),
                                max_outstanding_signed=bound)


@given(outstanding=st.integers(0, 50), bound=st.integers(0, 50))
def test_signing_is_allowed_exactly_while_a_slot_is_free(outstanding: int, bound: int) -> None:
    decision = _decide(outstanding, bound)
    assert decision.allowed == (outstanding < bound)
    if not decision.allowed:
        assert decision.reason is ReasonCode.RATE_LIMITED


def test_without_a_bound_outstanding_signatures_do_not_matter() -> None:
    assert _decide(10**6, None).allowed


def test_a_revoked_session_is_reported_revoked_not_rate_limited() -> None:
    assert _decide(9, 4, revoked=True).reason is ReasonCode.SESSION_REVOKED


def test_the_refusal_names_both_figures() -> None:
    figures = dict(_decide(4, 4).figures)
    assert figures == {"outstanding_signed": "4", "max_outstanding_signed": "4"}
