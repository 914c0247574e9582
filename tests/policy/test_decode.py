"""Decoding: a transaction becomes explicit intents, or Undecodable; never a guess."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import to_checksum_address
from session_studio.policy import (
    Intent,
    IntentKind,
    TransactionRequest,
    Undecodable,
    decode_transaction,
)

from .builders import (
    ASSETS,
    CONTRACT,
    ETH,
    GWEI,
    MAX_UINT256,
    RECIPIENT,
    SEL_TRANSFER,
    SENDER,
    SPENDER,
    STRANGER,
    USDC,
    USDC_ADDRESS,
    approve_data,
    increase_allowance_data,
    make_tx,
    set_approval_for_all_data,
    token_call,
    transfer_data,
    transfer_from_data,
)


def intents_of(tx: TransactionRequest) -> tuple[Intent, ...]:
    decoded = decode_transaction(tx, ASSETS)
    assert not isinstance(decoded, Undecodable), decoded
    return decoded


def gas_of(tx: TransactionRequest) -> Intent:
    return Intent(kind=IntentKind.GAS, asset=ETH, amount=tx.gas * tx.max_fee_per_gas)


def test_native_transfer_with_empty_data_is_one_native_transfer_plus_gas() -> None:
    tx = make_tx(value=12345)
    assert intents_of(tx) == (
        Intent(kind=IntentKind.NATIVE_TRANSFER, asset=ETH, amount=12345, counterparty=RECIPIENT),
        gas_of(tx),
    )


def test_zero_value_call_with_empty_data_is_a_zero_native_transfer() -> None:
    tx = make_tx(value=0)
    assert intents_of(tx)[0] == Intent(kind=IntentKind.NATIVE_TRANSFER, asset=ETH, amount=0,
                                       counterparty=RECIPIENT)


def test_erc20_transfer_is_a_token_transfer_to_the_recipient() -> None:
    tx = token_call(USDC, transfer_data(RECIPIENT, 5_000_000))
    assert intents_of(tx) == (
        Intent(kind=IntentKind.TOKEN_TRANSFER, asset=USDC, amount=5_000_000,
               counterparty=RECIPIENT),
        gas_of(tx),
    )


def test_erc20_transfer_from_the_sender_is_a_token_transfer() -> None:
    tx = token_call(USDC, transfer_from_data(SENDER, RECIPIENT, 7))
    assert intents_of(tx)[0] == Intent(kind=IntentKind.TOKEN_TRANSFER, asset=USDC, amount=7,
                                       counterparty=RECIPIENT)


def test_erc20_transfer_from_the_sender_in_checksum_case_is_a_token_transfer() -> None:
    tx = token_call(USDC, transfer_from_data(to_checksum_address(SENDER), RECIPIENT, 7))
    assert intents_of(tx)[0].kind is IntentKind.TOKEN_TRANSFER


def test_erc20_transfer_from_another_owner_is_a_foreign_funds_intent() -> None:
    tx = token_call(USDC, transfer_from_data(STRANGER, SENDER, 7))
    assert intents_of(tx) == (
        Intent(kind=IntentKind.FOREIGN_FUNDS, asset=USDC, amount=7, counterparty=SENDER,
               selector="0x23b872dd"),
        gas_of(tx),
    )


def test_erc20_approve_is_a_token_approval_of_the_spender() -> None:
    tx = token_call(USDC, approve_data(SPENDER, 99))
    assert intents_of(tx)[0] == Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=99,
                                       counterparty=SPENDER)


def test_erc20_increase_allowance_is_a_token_approval_of_the_increment() -> None:
    tx = token_call(USDC, increase_allowance_data(SPENDER, 42))
    assert intents_of(tx)[0] == Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=42,
                                       counterparty=SPENDER)


def test_max_uint_approval_is_marked_unlimited() -> None:
    tx = token_call(USDC, approve_data(SPENDER, MAX_UINT256))
    assert intents_of(tx)[0].unlimited


def test_approval_just_below_2_pow_255_is_not_marked_unlimited() -> None:
    tx = token_call(USDC, approve_data(SPENDER, 2**255 - 1))
    assert not intents_of(tx)[0].unlimited


def test_set_approval_for_all_is_an_approval_for_all_intent() -> None:
    tx = token_call(USDC, set_approval_for_all_data(SPENDER, True))
    assert intents_of(tx)[0] == Intent(kind=IntentKind.APPROVAL_FOR_ALL, asset=USDC, amount=0,
                                       counterparty=SPENDER)


@pytest.mark.parametrize("data", [
    transfer_data(RECIPIENT, 1),
    transfer_from_data(SENDER, RECIPIENT, 1),
    approve_data(SPENDER, 1),
    increase_allowance_data(SPENDER, 1),
    set_approval_for_all_data(SPENDER, True),
], ids=["transfer", "transferFrom", "approve", "increaseAllowance", "setApprovalForAll"])
@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * 32, b"\xff" * 31])
def test_token_call_with_trailing_bytes_is_undecodable(data: bytes, extra: bytes) -> None:
    assert isinstance(decode_transaction(token_call(USDC, data + extra), ASSETS), Undecodable)


@pytest.mark.parametrize("cut", [1, 31, 32, 64])
def test_truncated_token_call_is_undecodable(cut: int) -> None:
    data = transfer_data(RECIPIENT, 1)[:-cut]
    assert isinstance(decode_transaction(token_call(USDC, data), ASSETS), Undecodable)


@pytest.mark.parametrize("data", [b"\xa9", b"\xa9\x05\xcb", SEL_TRANSFER])
def test_token_call_shorter_than_its_arguments_is_undecodable(data: bytes) -> None:
    assert isinstance(decode_transaction(token_call(USDC, data), ASSETS), Undecodable)


def test_unknown_selector_on_a_token_is_undecodable() -> None:
    data = bytes.fromhex("12345678") + encode(["address", "uint256"], [RECIPIENT, 1])
    assert isinstance(decode_transaction(token_call(USDC, data), ASSETS), Undecodable)


def test_transfer_with_dirty_address_padding_is_undecodable() -> None:
    data = SEL_TRANSFER + b"\x01" * 12 + bytes.fromhex(RECIPIENT[2:]) + (1).to_bytes(32, "big")
    assert isinstance(decode_transaction(token_call(USDC, data), ASSETS), Undecodable)


def test_set_approval_for_all_with_non_boolean_flag_is_undecodable() -> None:
    data = set_approval_for_all_data(SPENDER, True)[:-1] + b"\x02"
    assert isinstance(decode_transaction(token_call(USDC, data), ASSETS), Undecodable)


def test_calldata_to_a_non_token_is_a_contract_call_with_its_selector() -> None:
    tx = make_tx(to=CONTRACT, value=0, data=bytes.fromhex("deadbeef") + b"\x00" * 32)
    assert intents_of(tx) == (
        Intent(kind=IntentKind.CONTRACT_CALL, asset=None, amount=0, counterparty=CONTRACT,
               selector="0xdeadbeef"),
        gas_of(tx),
    )


def test_value_with_calldata_to_a_non_token_is_carried_by_the_contract_call() -> None:
    tx = make_tx(to=CONTRACT, value=10**18, data=bytes.fromhex("deadbeef"))
    assert intents_of(tx) == (
        Intent(kind=IntentKind.CONTRACT_CALL, asset=ETH, amount=10**18, counterparty=CONTRACT,
               selector="0xdeadbeef"),
        gas_of(tx),
    )


def test_transfer_calldata_to_a_non_token_is_a_contract_call() -> None:
    tx = make_tx(to=CONTRACT, value=0, data=transfer_data(RECIPIENT, 1))
    assert intents_of(tx)[0].kind is IntentKind.CONTRACT_CALL


def test_contract_creation_is_a_creation_intent() -> None:
    tx = make_tx(to=None, value=0, data=bytes.fromhex("6080604052"))
    assert intents_of(tx) == (
        Intent(kind=IntentKind.CONTRACT_CREATION, asset=None, amount=0), gas_of(tx))


def test_contract_creation_with_value_adds_a_native_transfer() -> None:
    tx = make_tx(to=None, value=5, data=bytes.fromhex("6080604052"))
    assert [i.kind for i in intents_of(tx)] == [
        IntentKind.CONTRACT_CREATION, IntentKind.NATIVE_TRANSFER, IntentKind.GAS]


def test_value_riding_along_a_token_call_adds_a_native_transfer_to_the_token() -> None:
    tx = token_call(USDC, transfer_data(RECIPIENT, 1), value=10**16)
    assert intents_of(tx)[1] == Intent(kind=IntentKind.NATIVE_TRANSFER, asset=ETH, amount=10**16,
                                       counterparty=USDC_ADDRESS)


@pytest.mark.parametrize("tx", [
    make_tx(),
    make_tx(value=0, gas=0),
    token_call(USDC, transfer_data(RECIPIENT, 1), gas=65_000, max_fee_per_gas=7 * GWEI),
    make_tx(to=CONTRACT, data=b"\x01\x02\x03\x04"),
    make_tx(to=None, data=b"\x60"),
], ids=["native", "free", "token", "contract-call", "creation"])
def test_gas_intent_is_last_and_reserves_gas_times_max_fee(tx: TransactionRequest) -> None:
    assert intents_of(tx)[-1] == gas_of(tx)


def test_token_map_lookup_ignores_the_case_of_the_address() -> None:
    assert ASSETS.token_at(to_checksum_address(USDC_ADDRESS)) == USDC


def test_recipient_is_reported_lower_case_whatever_the_calldata() -> None:
    tx = token_call(USDC, transfer_data(to_checksum_address(RECIPIENT), 1))
    assert intents_of(tx)[0].counterparty == RECIPIENT


def test_token_call_to_a_checksum_cased_token_address_is_decoded() -> None:
    tx = make_tx(to=to_checksum_address(USDC_ADDRESS), value=0,
                 data=transfer_data(RECIPIENT, 1))
    assert intents_of(tx)[0].kind is IntentKind.TOKEN_TRANSFER
