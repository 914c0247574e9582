"""A request over its session's `approve_above` is held, not signed (issue 14): what the RPC
plane answers and what it hands the ledger to wait (`_holds.py`, `_pipeline.py`).

The ledger is the pipeline tests' `FakeLedger`, which records the approval draft of a held
request; the store's side (reserving, approving) is the contract suite's.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from session_studio.policy import Asset, Intent, IntentKind, ReasonCode
from session_studio.proxy._errors import ApprovalRequired, PolicyDenied
from session_studio.proxy._holds import describe_intent, units

from .test_pipeline import ETHER, FILL, RECIPIENT, TYPED, Plane

HOLD_ABOVE = ETHER // 10_000  # 0.0001 ETH: the 0.001 ETH transfer of `Plane.transfer` is over it
USDC = Asset(chain_id=31337, symbol="USDC", decimals=6)


def held_plane() -> Plane:
    plane = Plane(FILL)
    plane.session = replace(plane.session, approve_above=HOLD_ABOVE)
    return plane


async def test_a_send_over_approve_above_is_answered_4001_approval_required_with_its_id(
        ) -> None:
    plane = held_plane()
    with pytest.raises(ApprovalRequired) as held:
        await plane.call("eth_sendTransaction", [plane.transfer()])
    data = held.value.data
    assert held.value.code == 4001
    assert held.value.message.startswith("User denied")
    assert data["reason"] == ReasonCode.APPROVAL_REQUIRED
    assert data["approval_id"] == plane.ledger.holds[0].id
    assert data["expires_at"] == "2025-06-15T13:00:30Z"  # NOW + the default hour


async def test_a_held_send_signs_nothing_and_never_reaches_the_node() -> None:
    plane = held_plane()
    with pytest.raises(ApprovalRequired):
        await plane.call("eth_sendTransaction", [plane.transfer()])
    assert plane.keystore.signed == []
    assert plane.upstream.asked("eth_sendRawTransaction") == 0


async def test_the_held_payload_is_the_filled_transaction_without_a_nonce() -> None:
    plane = held_plane()
    with pytest.raises(ApprovalRequired):
        await plane.call("eth_sendTransaction", [plane.transfer()])
    payload = plane.ledger.holds[0].payload
    assert payload["kind"] == "transaction"
    assert payload["broadcast"] is True
    assert "nonce" not in payload["fields"]
    assert payload["fields"]["to"] == RECIPIENT.lower()
    assert payload["fields"]["value"] == 10**15
    assert payload["fields"]["gas"] == 21_000  # filled from the node before it was held


async def test_the_held_summary_says_what_the_request_does_in_words() -> None:
    plane = held_plane()
    with pytest.raises(ApprovalRequired):
        await plane.call("eth_sendTransaction", [plane.transfer()])
    assert plane.ledger.holds[0].summary == (
        f"transfer 0.001 ETH to {RECIPIENT.lower()} on chain 31337")


async def test_a_request_within_approve_above_is_signed_and_holds_nothing() -> None:
    plane = held_plane()
    plane.session = replace(plane.session, approve_above=ETHER)
    await plane.call("eth_signTransaction", [plane.transfer()])
    assert plane.ledger.holds == []
    assert plane.keystore.signed == ["transaction"]


async def test_a_session_without_approve_above_builds_no_draft() -> None:
    plane = Plane(FILL)
    await plane.call("eth_signTransaction", [plane.transfer()])
    assert plane.ledger.holds == []


async def test_a_message_costs_nothing_and_is_never_held() -> None:
    plane = held_plane()
    plane.session = replace(plane.session, approve_above=0)
    signature = await plane.call("personal_sign", ["0x68656c6c6f", plane.session.address])
    assert signature == "0x" + "1b" * 65
    assert plane.ledger.holds == []


async def test_opaque_typed_data_costs_nothing_and_is_never_held() -> None:
    plane = held_plane()
    plane.session = replace(plane.session, approve_above=0)
    await plane.call("eth_signTypedData_v4", [plane.session.address, TYPED])
    assert plane.ledger.holds == []


async def test_a_held_verdict_without_a_draft_is_a_refusal_and_reserves_nothing() -> None:
    """Fail closed: should a held verdict reach the ledger with nothing to wait (a method
    that builds no draft), it is refused, never signed."""
    from session_studio.policy import Decision
    from session_studio.proxy._pipeline import Message, SigningRequest, reserve_and_sign
    plane = held_plane()
    held = Decision(allowed=False, held=True, reason=ReasonCode.APPROVAL_REQUIRED,
                    detail="held", cost=5)
    request = SigningRequest(method="personal_sign", session=plane.session,
                             decide=lambda _state, _now: held,
                             payload=Message(message=b"hi"))
    caller = plane.caller()
    with pytest.raises(PolicyDenied) as refused:
        await reserve_and_sign(plane.deps, caller, request)
    assert not isinstance(refused.value, ApprovalRequired)
    assert plane.keystore.signed == []


@pytest.mark.parametrize(("intent", "words"), [
    (Intent(kind=IntentKind.TOKEN_TRANSFER, asset=USDC, amount=120_000_000,
            counterparty="0xabc"), "transfer 120 USDC to 0xabc"),
    (Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=1_500_000,
            counterparty="0xdef"), "approve 1.5 USDC for spender 0xdef"),
    (Intent(kind=IntentKind.CONTRACT_CALL, asset=None, amount=0, counterparty="0x123",
            selector="0x12345678"), "call 0x123 (selector 0x12345678)"),
])
def test_an_intent_is_described_in_words(intent: Intent, words: str) -> None:
    assert describe_intent(intent) == words


def test_amounts_are_shown_in_whole_tokens_without_exponents() -> None:
    assert units(10**15, 18) == "0.001"
    assert units(120_000_000, 6) == "120"
    assert units(1, 18) == "0.000000000000000001"


