"""Off-chain signatures (`personal_sign`): session usable, chain in scope, permission held."""

from __future__ import annotations

from session_studio.policy import (
    Decision,
    Permission,
    ReasonCode,
    SessionPolicy,
    SessionState,
    check_session_usable,
    evaluate_message,
)

from .builders import CHAIN, NOW_MS, OTHER_CHAIN, make_policy, make_state

SIGNER = make_policy(permissions=frozenset({Permission.SIGN_MESSAGE}))


def decide_message(*, policy: SessionPolicy = SIGNER, state: SessionState | None = None,
                   chain_id: int = CHAIN,
                   permission: Permission = Permission.SIGN_MESSAGE) -> Decision:
    return evaluate_message(policy=policy, state=make_state() if state is None else state,
                            chain_id=chain_id, permission=permission, now_ms=NOW_MS)


def test_message_with_permission_on_a_scoped_chain_is_allowed_at_no_cost() -> None:
    decision = decide_message()
    assert (decision.allowed, decision.reason, decision.cost) == (True, None, 0)


def test_message_for_a_revoked_session_is_refused() -> None:
    assert decide_message(state=make_state(revoked=True)).reason is ReasonCode.SESSION_REVOKED


def test_message_at_the_instant_of_expiry_is_refused() -> None:
    decision = decide_message(state=make_state(expires_at_ms=NOW_MS))
    assert decision.reason is ReasonCode.SESSION_EXPIRED


def test_message_on_a_chain_outside_the_scope_is_refused() -> None:
    assert decide_message(chain_id=OTHER_CHAIN).reason is ReasonCode.CHAIN_NOT_IN_SCOPE


def test_message_without_the_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset({Permission.TRANSFER, Permission.APPROVE}))
    assert decide_message(policy=policy).reason is ReasonCode.PERMISSION_DENIED


def test_typed_data_needs_its_own_permission() -> None:
    decision = decide_message(permission=Permission.SIGN_TYPED_DATA)
    assert decision.reason is ReasonCode.PERMISSION_DENIED


def test_message_refusal_for_revocation_beats_chain_scope() -> None:
    decision = decide_message(state=make_state(revoked=True), chain_id=OTHER_CHAIN)
    assert decision.reason is ReasonCode.SESSION_REVOKED


def test_usable_session_check_passes_an_active_session() -> None:
    assert check_session_usable(make_state(), NOW_MS) is None


def test_usable_session_check_refuses_at_the_expiry_instant() -> None:
    refusal = check_session_usable(SessionState(revoked=False, expires_at_ms=NOW_MS,
                                                spent_in_window=0), NOW_MS)
    assert refusal is not None and refusal.reason is ReasonCode.SESSION_EXPIRED
