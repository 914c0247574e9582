"""Off-chain signatures (`personal_sign`): session usable, chain in scope, permission held.

Which permission depends on the exact bytes signed: exactly 32 bytes can be a hash that an
account contract (a Safe, an ERC-4337 account) accepts as authorisation of whatever it stands
for, so it needs `sign_digest`; every other length needs `sign_message` (POLICY.md).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.policy import (
    Decision,
    Permission,
    ReasonCode,
    SessionPolicy,
    SessionState,
    check_session_usable,
    evaluate_message,
    message_permission,
)

from .builders import CHAIN, NOW_MS, OTHER_CHAIN, make_policy, make_state

SIGNER = make_policy(permissions=frozenset({Permission.SIGN_MESSAGE}))
DIGEST_SIGNER = make_policy(permissions=frozenset({Permission.SIGN_DIGEST}))
HELLO = b"Sign in to example.org"
SAFE_TX_HASH = bytes.fromhex("e2a8b4c1" * 8)  # any 32 bytes: what a Safe owner would sign


def decide_message(*, policy: SessionPolicy = SIGNER, state: SessionState | None = None,
                   chain_id: int = CHAIN, message: bytes = HELLO) -> Decision:
    return evaluate_message(policy=policy, state=make_state() if state is None else state,
                            chain_id=chain_id, message=message, now_ms=NOW_MS)


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


def test_typed_data_permission_does_not_cover_personal_sign() -> None:
    policy = make_policy(permissions=frozenset({Permission.SIGN_TYPED_DATA}))
    assert decide_message(policy=policy).reason is ReasonCode.PERMISSION_DENIED


def test_message_refusal_for_revocation_beats_chain_scope() -> None:
    decision = decide_message(state=make_state(revoked=True), chain_id=OTHER_CHAIN)
    assert decision.reason is ReasonCode.SESSION_REVOKED


def test_usable_session_check_passes_an_active_session() -> None:
    assert check_session_usable(make_state(), NOW_MS) is None


def test_usable_session_check_refuses_at_the_expiry_instant() -> None:
    refusal = check_session_usable(SessionState(revoked=False, expires_at_ms=NOW_MS,
                                                spent_in_window=0), NOW_MS)
    assert refusal is not None and refusal.reason is ReasonCode.SESSION_EXPIRED


# -- hashes dressed as messages (POLICY.md catalogue 13) --------------------------------------

def test_a_32_byte_hash_with_sign_message_only_is_refused_and_says_why() -> None:
    decision = decide_message(message=SAFE_TX_HASH)
    assert (decision.allowed, decision.reason, decision.cost) == (
        False, ReasonCode.PERMISSION_DENIED, 0)
    assert "sign_digest" in decision.detail and "32 bytes" in decision.detail


def test_a_32_byte_hash_with_sign_digest_is_allowed_at_no_cost() -> None:
    decision = decide_message(policy=DIGEST_SIGNER, message=SAFE_TX_HASH)
    assert (decision.allowed, decision.cost) == (True, 0)


def test_sign_digest_does_not_cover_an_ordinary_message() -> None:
    decision = decide_message(policy=DIGEST_SIGNER, message=HELLO)
    assert decision.reason is ReasonCode.PERMISSION_DENIED
    assert "'sign_message'" in decision.detail


def test_32_bytes_of_text_count_as_a_digest() -> None:
    # Literal: the contract that checks the signature sees bytes, not how a client typed them.
    assert message_permission(b"pay the bearer one ether, ok? 32") is Permission.SIGN_DIGEST


def test_a_digest_for_a_revoked_session_is_refused_as_revoked() -> None:
    decision = decide_message(policy=DIGEST_SIGNER, message=SAFE_TX_HASH,
                              state=make_state(revoked=True))
    assert decision.reason is ReasonCode.SESSION_REVOKED


@settings(max_examples=300, deadline=None)
@given(message=st.one_of(st.binary(min_size=30, max_size=34), st.binary(max_size=200),
                         st.text(max_size=40).map(str.encode)),
       permissions=st.frozensets(st.sampled_from(list(Permission))))
def test_a_message_is_signed_only_with_the_permission_its_length_needs(
    message: bytes, permissions: frozenset[Permission],
) -> None:
    decision = decide_message(policy=make_policy(permissions=permissions), message=message)
    needed = Permission.SIGN_DIGEST if len(message) == 32 else Permission.SIGN_MESSAGE
    assert decision.allowed == (needed in permissions)
    assert decision.cost == 0
    if not decision.allowed:
        assert decision.reason is ReasonCode.PERMISSION_DENIED
