"""Permit2: its `approve` calldata and its typed permits are approvals in uint160 or uint256.

Permit2 holds the allowances a session gave it, so everything addressed to it is decoded and
valued, never allowlisted: `approve` is an approval of the spender, anything else undecodable.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from session_studio.policy import (
    CANONICAL_PERMIT2,
    USD,
    Intent,
    IntentKind,
    Permission,
    PriceBook,
    ReasonCode,
    SessionPolicy,
    SessionState,
    TransactionRequest,
    TypedDataIntents,
    Undecodable,
    decode_transaction,
    decode_typed_data,
    evaluate_transaction,
)

from .builders import (
    ASSETS,
    CHAIN,
    CONTRACT,
    DAI,
    ETH,
    GWEI,
    MAX_UINT160,
    MAX_UINT256,
    NOW_MS,
    PERMIT2,
    RECIPIENT,
    SENDER,
    SPENDER,
    STRANGER,
    TOKENS,
    UNPRICED,
    USDC,
    USDC_ADDRESS,
    WBTC,
    decide,
    decide_typed,
    make_policy,
    make_tx,
    permit2_approve_data,
    permit_batch,
    permit_batch_transfer_from,
    permit_single,
    permit_transfer_from,
    usd,
)

P = Permission
UNBOUNDED = make_policy(per_tx=2**300, daily=2**300)


def permit2_call(data: bytes, **changes: Any) -> TransactionRequest:
    return make_tx(**{"to": PERMIT2, "value": 0, "data": data, "gas": 0, **changes})


def refused_for(decision: Any, reason: ReasonCode) -> bool:
    return not decision.allowed and decision.reason is reason and decision.cost == 0


def intents_of(typed: dict[str, Any]) -> tuple[Intent, ...]:
    decoded = decode_typed_data(typed, ASSETS, sender=SENDER)
    assert isinstance(decoded, TypedDataIntents), decoded
    return decoded.intents


# -- Permit2 approve, as a transaction ------------------------------------------------------

def test_canonical_permit2_address_is_the_default() -> None:
    assert ASSETS.permit2 == CANONICAL_PERMIT2 == PERMIT2


def test_permit2_approve_selector_is_the_one_of_its_abi() -> None:
    assert permit2_approve_data(USDC_ADDRESS, SPENDER, 1)[:4] == keccak(
        text="approve(address,address,uint160,uint48)")[:4]


def test_permit2_approve_is_a_uint160_approval_of_the_spender() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 7))
    assert decode_transaction(tx, ASSETS) == (
        Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=7, counterparty=SPENDER,
               amount_bits=160),
        Intent(kind=IntentKind.GAS, asset=ETH, amount=0),
    )


def test_permit2_approve_within_the_limits_costs_the_allowance_granted() -> None:
    assert decide(permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 5_000_000))).cost == (
        usd("5"))


def test_permit2_approve_without_the_approve_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset(set(P) - {P.APPROVE}), contracts={PERMIT2: None})
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_unlimited_permit2_approve_is_refused_even_with_unbounded_limits() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, MAX_UINT160))
    assert refused_for(decide(tx, policy=UNBOUNDED), ReasonCode.PERMISSION_DENIED)


def test_permit2_approve_with_the_top_bit_of_uint160_set_is_refused_as_unlimited() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 2**159))
    assert refused_for(decide(tx, policy=UNBOUNDED), ReasonCode.PERMISSION_DENIED)


def test_permit2_approve_just_below_2_pow_159_is_valued_not_refused_as_unlimited() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 2**159 - 1))
    assert decide(tx, policy=UNBOUNDED).allowed


def test_permit2_approve_over_the_per_tx_limit_is_refused() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 10_000_001))
    assert refused_for(decide(tx), ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_permit2_approve_of_an_unknown_token_is_undecodable() -> None:
    tx = permit2_call(permit2_approve_data(STRANGER, SPENDER, 1))
    assert refused_for(decide(tx), ReasonCode.UNDECODABLE_REQUEST)


def test_permit2_approve_of_a_token_outside_the_session_tokens_is_refused() -> None:
    policy = make_policy(tokens=frozenset({"ETH", "DAI"}))
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.TOKEN_NOT_ALLOWED)


def test_permit2_approve_to_a_spender_outside_the_recipients_is_refused() -> None:
    policy = make_policy(recipients=frozenset({RECIPIENT}))
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_value_riding_along_a_permit2_approve_needs_the_transfer_permission() -> None:
    policy = make_policy(permissions=frozenset({P.APPROVE}))
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1), value=1)
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_value_riding_along_a_permit2_approve_is_counted_as_spend() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1_000_000), value=10**15)
    assert decide(tx).cost == usd("4")


@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * 32, b"\xff" * 31])
def test_permit2_approve_with_trailing_bytes_is_undecodable(extra: bytes) -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1) + extra)
    assert isinstance(decode_transaction(tx, ASSETS), Undecodable)


@pytest.mark.parametrize("cut", [1, 32, 100, 128])
def test_truncated_permit2_approve_is_undecodable(cut: int) -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1)[:-cut])
    assert isinstance(decode_transaction(tx, ASSETS), Undecodable)


@pytest.mark.parametrize("word", [2, 3], ids=["uint160", "uint48"])
def test_permit2_approve_with_dirty_integer_padding_is_undecodable(word: int) -> None:
    data = bytearray(permit2_approve_data(USDC_ADDRESS, SPENDER, 1))
    data[4 + 32 * word] = 1  # a high byte the uint160 / uint48 cannot hold
    assert isinstance(decode_transaction(permit2_call(bytes(data)), ASSETS), Undecodable)


@pytest.mark.parametrize("data", [
    keccak(text="transferFrom(address,address,uint160,address)")[:4]
    + encode(["address", "address", "uint160", "address"], [SENDER, RECIPIENT, 1, USDC_ADDRESS]),
    keccak(text="lockdown((address,address)[])")[:4]
    + encode(["(address,address)[]"], [[(USDC_ADDRESS, SPENDER)]]),
    bytes.fromhex("deadbeef"),
], ids=["transferFrom", "lockdown", "unknown"])
def test_other_permit2_functions_are_undecodable_even_when_permit2_is_allowlisted(
    data: bytes,
) -> None:
    policy = make_policy(permissions=frozenset(P), contracts={PERMIT2: None})
    assert refused_for(decide(permit2_call(data), policy=policy), ReasonCode.UNDECODABLE_REQUEST)


def test_permit2_address_in_checksum_case_is_recognised() -> None:
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1),
                      to=to_checksum_address(PERMIT2))
    decoded = decode_transaction(tx, ASSETS)
    assert not isinstance(decoded, Undecodable) and decoded[0].kind is IntentKind.TOKEN_APPROVAL


def test_chain_without_permit2_sees_a_contract_call_there_that_still_values_its_approve() -> None:
    # POLICY.md: an approval selector is decoded and valued wherever it is sent, so a chain
    # where that address is just a contract still charges the allowance the call names.
    tx = permit2_call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1))
    decoded = decode_transaction(tx, replace(ASSETS, permit2=None))
    assert not isinstance(decoded, Undecodable)
    assert [intent.kind for intent in decoded] == [
        IntentKind.TOKEN_APPROVAL, IntentKind.CONTRACT_CALL, IntentKind.GAS]


# -- Permit2 typed permits ------------------------------------------------------------------

def test_permit_single_is_a_uint160_approval_of_the_spender() -> None:
    assert intents_of(permit_single(amount=7)) == (
        Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=7, counterparty=SPENDER,
               amount_bits=160),)


def test_permit_single_within_the_limits_costs_its_amount_without_gas() -> None:
    decision = decide_typed(permit_single(amount=5_000_000))
    assert (decision.allowed, decision.cost, decision.gas_cost) == (True, usd("5"), 0)


def test_unlimited_permit_single_is_refused_even_with_unbounded_limits() -> None:
    assert refused_for(decide_typed(permit_single(amount=MAX_UINT160), policy=UNBOUNDED),
                       ReasonCode.PERMISSION_DENIED)


def test_permit_single_with_the_top_bit_of_uint160_set_is_refused_as_unlimited() -> None:
    assert refused_for(decide_typed(permit_single(amount=2**159), policy=UNBOUNDED),
                       ReasonCode.PERMISSION_DENIED)


def test_permit_single_amount_beyond_uint160_is_undecodable() -> None:
    assert refused_for(decide_typed(permit_single(amount=2**160)),
                       ReasonCode.UNDECODABLE_REQUEST)


def test_permit_single_over_the_per_tx_limit_is_refused() -> None:
    assert refused_for(decide_typed(permit_single(amount=10_000_001)),
                       ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_permit_single_without_the_approve_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset(set(P) - {P.APPROVE}), contracts={PERMIT2: None})
    assert refused_for(decide_typed(permit_single(), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_permit_single_of_an_unknown_token_is_undecodable() -> None:
    typed = permit_single()
    typed["message"]["details"]["token"] = STRANGER
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


def test_permit_single_of_a_token_outside_the_session_tokens_is_refused() -> None:
    policy = make_policy(tokens=frozenset({"ETH", "DAI"}))
    assert refused_for(decide_typed(permit_single(), policy=policy),
                       ReasonCode.TOKEN_NOT_ALLOWED)


def test_permit_single_of_an_unpriced_token_is_refused_as_unpriceable() -> None:
    assert refused_for(decide_typed(permit_single(token=UNPRICED, amount=1)),
                       ReasonCode.UNPRICEABLE_ASSET)


def test_permit_single_to_a_spender_outside_the_recipients_is_refused() -> None:
    policy = make_policy(recipients=frozenset({RECIPIENT}))
    assert refused_for(decide_typed(permit_single(), policy=policy),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_permit_single_with_its_details_fields_reordered_is_undecodable() -> None:
    typed = permit_single()
    typed["types"]["PermitDetails"].reverse()
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


def test_permit_single_with_an_extra_field_is_undecodable() -> None:
    typed = permit_single()
    typed["types"]["PermitSingle"].append({"name": "memo", "type": "string"})
    typed["message"]["memo"] = ""
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


def test_permit_single_with_a_uint256_amount_is_undecodable() -> None:
    typed = permit_single()
    typed["types"]["PermitDetails"][1]["type"] = "uint256"
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


def test_permit2_message_for_another_verifying_contract_is_undecodable() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={CONTRACT: None})
    assert refused_for(decide_typed(permit_single(verifying_contract=CONTRACT), policy=policy),
                       ReasonCode.UNDECODABLE_REQUEST)


def test_permit2_message_on_a_chain_without_permit2_is_undecodable() -> None:
    assert refused_for(decide_typed(permit_single(), assets=replace(ASSETS, permit2=None)),
                       ReasonCode.UNDECODABLE_REQUEST)


def test_permit2_verifying_contract_in_checksum_case_is_recognised() -> None:
    assert decide_typed(permit_single(verifying_contract=to_checksum_address(PERMIT2))).allowed


def test_permit_batch_is_one_approval_per_detail() -> None:
    assert intents_of(permit_batch((USDC, 1), (DAI, 2))) == (
        Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=1, counterparty=SPENDER,
               amount_bits=160),
        Intent(kind=IntentKind.TOKEN_APPROVAL, asset=DAI, amount=2, counterparty=SPENDER,
               amount_bits=160),
    )


def test_permit_batch_costs_the_sum_of_its_details() -> None:
    assert decide_typed(permit_batch((USDC, 2_000_000), (DAI, 3 * 10**18))).cost == usd("5")


def test_permit_batch_over_the_per_tx_limit_in_sum_is_refused() -> None:
    typed = permit_batch((USDC, 6_000_000), (DAI, 5 * 10**18))
    assert refused_for(decide_typed(typed), ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_permit_batch_with_one_unlimited_detail_is_refused() -> None:
    typed = permit_batch((USDC, 1), (DAI, MAX_UINT160))
    assert refused_for(decide_typed(typed, policy=UNBOUNDED), ReasonCode.PERMISSION_DENIED)


def test_permit_batch_with_one_unknown_token_is_undecodable() -> None:
    typed = permit_batch((USDC, 1), (DAI, 1))
    typed["message"]["details"][1]["token"] = STRANGER
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


def test_empty_permit_batch_is_undecodable() -> None:
    assert refused_for(decide_typed(permit_batch()), ReasonCode.UNDECODABLE_REQUEST)


def test_permit_transfer_from_is_a_uint256_approval_of_the_spender() -> None:
    assert intents_of(permit_transfer_from(amount=9)) == (
        Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=9, counterparty=SPENDER),)


def test_permit_transfer_from_within_the_limits_costs_its_amount() -> None:
    assert decide_typed(permit_transfer_from(amount=2_500_000)).cost == usd("2.5")


def test_unlimited_permit_transfer_from_is_refused() -> None:
    assert refused_for(decide_typed(permit_transfer_from(amount=MAX_UINT256), policy=UNBOUNDED),
                       ReasonCode.PERMISSION_DENIED)


def test_permit_batch_transfer_from_costs_the_sum_of_what_it_permits() -> None:
    typed = permit_batch_transfer_from((USDC, 1_000_000), (WBTC, 5_000))  # $1 + $3
    assert decide_typed(typed).cost == usd("4")


def test_permit_batch_transfer_from_with_one_unlimited_entry_is_refused() -> None:
    typed = permit_batch_transfer_from((USDC, 1), (WBTC, 2**255))
    assert refused_for(decide_typed(typed, policy=UNBOUNDED), ReasonCode.PERMISSION_DENIED)


def test_permit_witness_transfer_from_is_undecodable() -> None:
    typed = permit_transfer_from()
    typed["primaryType"] = "PermitWitnessTransferFrom"
    typed["types"]["PermitWitnessTransferFrom"] = [
        *typed["types"].pop("PermitTransferFrom"), {"name": "witness", "type": "bytes32"}]
    typed["message"]["witness"] = "0x" + "00" * 32
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


# -- property: whatever calldata is sent to Permit2 ------------------------------------------

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
APPROVE_ABI = ["address", "address", "uint160", "uint48"]
SYMBOLS = ("ETH", "USDC", "DAI", "WBTC", "NOPRICE")
USD_PRICES = {"ETH": Fraction(3000), "USDC": Fraction(1), "DAI": Fraction(1),
              "WBTC": Fraction(60000)}
PRICE_BOOK = PriceBook({(CHAIN, s): p for s, p in USD_PRICES.items()})
uint160 = st.one_of(st.integers(0, 10**8), st.integers(0, 2 * 10**19), st.integers(0, 2**160 - 1),
                    st.sampled_from([0, 1, 2**159 - 1, 2**159, 2**160 - 1]))
addresses = st.sampled_from([SENDER, SPENDER, RECIPIENT, STRANGER, *(t.address for t in TOKENS)])
token_addresses = st.one_of(st.sampled_from([t.address for t in TOKENS]), addresses)


@st.composite
def permit2_calldata(draw: st.DrawFn) -> bytes:
    """Permit2 approve encodings, sometimes cut, padded or dirtied; or anything at all."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=160))
    data = bytearray(permit2_approve_data(draw(token_addresses), draw(addresses),
                                          draw(uint160), draw(st.integers(0, 2**48 - 1))))
    mangle = draw(st.sampled_from(["none"] * 4 + ["cut", "append", "flip", "selector"]))
    if mangle == "cut":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if mangle == "append":
        return bytes(data) + draw(st.binary(min_size=1, max_size=40))
    if mangle == "flip":
        data[draw(st.integers(4, len(data) - 1))] ^= draw(st.integers(1, 255))
    if mangle == "selector":
        data[:4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


def canonical_permit2_approve(data: bytes) -> tuple[str, str, int] | None:
    """(token, spender, amount) when `data` is exactly an ABI-encoded Permit2 approve."""
    if data[:4] != keccak(text="approve(address,address,uint160,uint48)")[:4]:
        return None
    try:
        token, spender, amount, expiration = decode(APPROVE_ABI, data[4:])
    except Exception:
        return None
    if data[:4] + encode(APPROVE_ABI, [token, spender, amount, expiration]) != data:
        return None
    return token.lower(), spender.lower(), amount


@PROPERTY
@given(data=permit2_calldata(), value=st.sampled_from([0, 0, 1, 10**15]),
       permissions=st.one_of(st.sampled_from([frozenset(P), frozenset({P.APPROVE})]),
                             st.frozensets(st.sampled_from(list(P)))),
       recipients=st.sampled_from([None, frozenset({SPENDER}), frozenset({RECIPIENT})]),
       listed=st.booleans(), per_tx=st.sampled_from([usd("10"), 2**300]))
def test_calldata_to_permit2_is_allowed_only_as_a_bounded_approve_within_the_limits(
    data: bytes, value: int, permissions: frozenset[Permission],
    recipients: frozenset[str] | None, listed: bool, per_tx: int,
) -> None:
    policy = SessionPolicy(permissions=permissions, chain_ids=frozenset({CHAIN}),
                           tokens=frozenset(SYMBOLS), unit=USD, per_tx=per_tx, daily=per_tx,
                           recipients=recipients,
                           contracts={PERMIT2: None} if listed else {})
    tx = TransactionRequest(chain_id=CHAIN, declared_chain_id=CHAIN, sender=SENDER, to=PERMIT2,
                            value=value, data=data, gas=50_000, max_fee_per_gas=GWEI, tx_type=2)
    decision = evaluate_transaction(
        policy=policy, state=SessionState(revoked=False, expires_at_ms=NOW_MS + 1,
                                          spent_in_window=0),
        tx=tx, decoded=decode_transaction(tx, ASSETS), prices=PRICE_BOOK, now_ms=NOW_MS)
    event(f"{decision.allowed} {decision.reason}")
    if not decision.allowed:
        return
    if not data:  # no calldata: a plain native transfer, as to any address
        assert P.TRANSFER in permissions and (recipients is None or PERMIT2 in recipients)
        return
    approve = canonical_permit2_approve(data)
    assert approve is not None, "only a canonical Permit2 approve may be signed"
    token_address, spender, amount = approve
    token = ASSETS.token_at(token_address)
    assert token is not None and P.APPROVE in permissions and amount < 2**159
    assert recipients is None or spender in recipients
    assert value == 0 or P.TRANSFER in permissions
    # A zero allowance of an unpriced token is worth nothing; any other amount needs a price.
    granted = 0 if amount == 0 else Fraction(amount, 10**token.decimals) * USD_PRICES[token.symbol]
    exact = (granted + Fraction(value + 50_000 * GWEI, 10**18) * USD_PRICES["ETH"]) * 10**18
    assert exact <= decision.cost < exact + 3
    assert decision.cost <= per_tx
