"""OP-stack L1 data fee: the quote taken before signing, and settlement to a receipt's `l1Fee`.

anvil's receipts carry no `l1Fee`, so the settlement arithmetic is proven here on a receipt as
an OP Mainnet node returns it (a 21000-gas type-2 transfer, as recorded in op-alloy's receipt
deserialization test), and the quote against a scripted upstream; tests/e2e/test_l1_fee.py
proves the reservation through `serve` on anvil.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from session_studio.proxy._errors import (
    InvalidParams,
    UpstreamError,
    UpstreamUnavailable,
)
from session_studio.proxy._l1_fee import (
    GAS_PRICE_ORACLE,
    GET_L1_FEE_SELECTOR,
    NONCE_PLACEHOLDER,
    quote_l1_fee,
    with_margin,
    worst_case_signed_bytes,
)
from session_studio.proxy._settlement import Receipt, parse_receipt, settled_amount
from session_studio.store import Reservation, ReservationStatus, UnsettledSend

RECORDED_OP_RECEIPT: dict[str, Any] = {
    "blockHash": "0x70a8a64a0f8b141718f60e49c30f027cb9e4f91753d5f13a48d8e1ad263c08bf",
    "blockNumber": "0x1185e55",
    "contractAddress": None,
    "cumulativeGasUsed": "0xc74f5e",
    "effectiveGasPrice": "0x31b41b",
    "from": "0x889ebdac39408782b5165c5185c1a769b4dd3ce6",
    "gasUsed": "0x5208",
    "l1BaseFeeScalar": "0x8dd",
    "l1BlobBaseFee": "0x1",
    "l1BlobBaseFeeScalar": "0x101c12",
    "l1Fee": "0x125f723f3",
    "l1GasPrice": "0x50f928b4",
    "l1GasUsed": "0x640",
    "logs": [],
    "status": "0x1",
    "to": "0x7449061f45d7b39b3b80b4159286cd8682f60a3c",
    "transactionHash": "0xca564948e3e825f65731424da063240eec34ba921dd117ac5d06b8c2e0b2d962",
    "transactionIndex": "0x3e",
    "type": "0x2",
}
GAS_WEI_USED = 0x5208 * 0x31B41B  # 21000 * 3257371 wei
L1_FEE = 0x125F723F3  # 4925627379 wei
CHAIN_ID = 10
FIELDS: dict[str, Any] = {
    "chainId": CHAIN_ID, "nonce": NONCE_PLACEHOLDER, "gas": 21_000, "value": 10**15,
    "data": "0x", "to": "0x7449061f45d7B39B3b80b4159286Cd8682f60A3c", "type": 2,
    "maxFeePerGas": 10**7, "maxPriorityFeePerGas": 10**6}
GAS_RESERVED_WEI = 21_000 * 10**7
QUOTE = 5 * 10**9  # the oracle's answer, a little above what the receipt charged
L1_RESERVED_WEI = QUOTE * 3 // 2
VALUE = 10**15


def _send(*, gas_wei_reserved: int) -> UnsettledSend:
    """A send reserved in ETH atoms (atoms = wei), its gas part being `gas_wei_reserved`."""
    return UnsettledSend(
        reservation=Reservation(id="r", session_id="s", amount=VALUE + gas_wei_reserved,
                                nonce=0, chain_id=CHAIN_ID),
        address="0x0", tx_hash=RECORDED_OP_RECEIPT["transactionHash"],
        status=ReservationStatus.BROADCAST, gas_reserved=gas_wei_reserved,
        gas_wei_reserved=gas_wei_reserved, created_at_ms=0)


# -- settlement -------------------------------------------------------------------------------
def test_the_real_cost_of_an_op_receipt_includes_its_l1_fee() -> None:
    receipt = parse_receipt(RECORDED_OP_RECEIPT, l1_fee_expected=True)

    assert receipt == Receipt(succeeded=True, gas_wei_used=GAS_WEI_USED + L1_FEE)


def test_a_send_reserving_gas_and_l1_fee_settles_to_gas_used_plus_l1_fee() -> None:
    receipt = parse_receipt(RECORDED_OP_RECEIPT, l1_fee_expected=True)
    assert receipt is not None

    settled = settled_amount(_send(gas_wei_reserved=GAS_RESERVED_WEI + L1_RESERVED_WEI), receipt)

    assert settled == VALUE + GAS_WEI_USED + L1_FEE


def test_a_reverted_op_send_keeps_its_gas_and_l1_fee_only() -> None:
    receipt = parse_receipt({**RECORDED_OP_RECEIPT, "status": "0x0"}, l1_fee_expected=True)
    assert receipt is not None

    settled = settled_amount(_send(gas_wei_reserved=GAS_RESERVED_WEI + L1_RESERVED_WEI), receipt)

    assert settled == GAS_WEI_USED + L1_FEE


def test_without_l1_fee_on_an_op_stack_chain_the_worst_case_is_kept() -> None:
    receipt = {k: v for k, v in RECORDED_OP_RECEIPT.items() if k != "l1Fee"}
    parsed = parse_receipt(receipt, l1_fee_expected=True)
    assert parsed == Receipt(succeeded=True, gas_wei_used=None)

    send = _send(gas_wei_reserved=GAS_RESERVED_WEI + L1_RESERVED_WEI)
    assert settled_amount(send, parsed) == send.reservation.amount


def test_a_chain_without_l1_fee_settles_receipts_as_before() -> None:
    receipt = {k: v for k, v in RECORDED_OP_RECEIPT.items() if k != "l1Fee"}

    assert parse_receipt(receipt) == Receipt(succeeded=True, gas_wei_used=GAS_WEI_USED)


def test_a_malformed_l1_fee_is_not_a_receipt() -> None:
    with pytest.raises(Exception, match="l1Fee"):
        parse_receipt({**RECORDED_OP_RECEIPT, "l1Fee": "lots"}, l1_fee_expected=True)


# -- the quote --------------------------------------------------------------------------------
class Oracle:
    """An upstream answering eth_call to the GasPriceOracle; records what it was asked."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = "0x" + QUOTE.to_bytes(32).hex() if answer is None else answer
        self.error = error
        self.asked: list[bytes] = []

    async def call(self, method: str, params: list[Any]) -> Any:
        assert method == "eth_call" and params[1] == "latest"
        assert params[0]["to"] == GAS_PRICE_ORACLE
        data = bytes.fromhex(params[0]["data"][2:])
        assert data[:4] == GET_L1_FEE_SELECTOR
        (payload,) = abi_decode(["bytes"], data[4:])
        self.asked.append(payload)
        if self.error is not None:
            raise self.error
        return self.answer


async def test_the_quote_is_for_the_worst_case_signed_bytes_times_the_margin() -> None:
    oracle = Oracle()

    reserved = await quote_l1_fee(oracle, FIELDS)

    assert oracle.asked == [worst_case_signed_bytes(FIELDS)]
    assert reserved == with_margin(QUOTE) == L1_RESERVED_WEI


def test_get_l1_fee_selector_is_the_optimism_contracts() -> None:
    assert GET_L1_FEE_SELECTOR.hex() == "49948e0e"  # getL1Fee(bytes)


@pytest.mark.parametrize("oracle", [
    pytest.param(Oracle(error=UpstreamError({"code": 3, "message": "execution reverted"})),
                 id="reverts"),
    pytest.param(Oracle(error=UpstreamUnavailable("timeout")), id="no_answer"),
    pytest.param(Oracle(answer="0x"), id="no_contract"),
    pytest.param(Oracle(answer="0x" + "00" * 64), id="two_words"),
    pytest.param(Oracle(answer=17), id="not_hex"),
])
async def test_an_oracle_that_cannot_quote_fails_closed(oracle: Oracle) -> None:
    with pytest.raises(UpstreamUnavailable):
        await quote_l1_fee(oracle, FIELDS)


async def test_fields_that_cannot_be_serialized_are_invalid_params() -> None:
    with pytest.raises(InvalidParams):
        await quote_l1_fee(Oracle(), {**FIELDS, "gas": "lots"})
