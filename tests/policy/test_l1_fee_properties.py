"""Property: on an OP-stack chain the reserved worst case covers the real cost (issue 10, item 9).

The sidecar reserves `gas * maxFeePerGas + with_margin(quote)`, where the quote is the
GasPriceOracle's `getL1Fee` of the transaction's worst-case signed bytes
(session_studio.proxy._l1_fee), taken before the nonce is picked and before any signature
exists. The chain charges
`gasUsed * effectiveGasPrice + l1Fee`, with `l1Fee` computed by the node from the *real* signed
bytes and the L1 fee parameters at inclusion.

Modelled here with the Ecotone formulas, as the Optimism contract and op-geth state them: the
oracle counts `calldataGas(data) + 68 * 16` (it adds a signature's worth to the unsigned data it
expects), the node counts `calldataGas(signedTx)`; both times `(16 * baseFeeScalar * l1BaseFee +
blobBaseFeeScalar * blobBaseFee) / (16 * 10**6)`. "Whenever the quoted L1 fee holds" means the
parameters at inclusion are at most the margin (3/2) above those quoted; gasUsed <= gas and
effectiveGasPrice <= maxFeePerGas, as the protocol guarantees. The real transaction is signed
with a real key, with any nonce EIP-2681 allows.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import TransactionRequest
from session_studio.proxy._l1_fee import (
    NONCE_PLACEHOLDER,
    with_margin,
    worst_case_signed_bytes,
)

KEY = Account.create()
CHAIN_ID = 8453
SIGNATURE_BYTES = 68  # what the GasPriceOracle adds for the signature of unsigned data


def calldata_gas(data: bytes) -> int:
    return sum(4 if byte == 0 else 16 for byte in data)


def ecotone_fee(gas: int, params: tuple[int, int, int, int]) -> int:
    base_fee_scalar, l1_base_fee, blob_scalar, blob_base_fee = params
    return gas * (16 * base_fee_scalar * l1_base_fee + blob_scalar * blob_base_fee) // (16 * 10**6)


def oracle_quote(data: bytes, params: tuple[int, int, int, int]) -> int:
    """GasPriceOracle.getL1Fee(data) after Ecotone."""
    return ecotone_fee(calldata_gas(data) + SIGNATURE_BYTES * 16, params)


def charged(signed: bytes, params: tuple[int, int, int, int]) -> int:
    """The l1Fee an Ecotone node charges for the signed transaction."""
    return ecotone_fee(calldata_gas(signed), params)


def risen(value: int, rise: tuple[int, int]) -> int:
    """`value` after a rise of at most the margin (numerator <= 3/2 of denominator)."""
    numerator, denominator = rise
    return value * numerator // denominator


@st.composite
def transactions(draw: st.DrawFn) -> dict[str, Any]:
    tx_type = draw(st.sampled_from([0, 1, 2]))
    fields: dict[str, Any] = {
        "chainId": CHAIN_ID,
        "nonce": draw(st.integers(0, 2**64 - 2)),
        "gas": draw(st.integers(21_000, 30_000_000)),
        "value": draw(st.integers(0, 2**128)),
        "data": "0x" + draw(st.integers(0, 2_000).flatmap(
            lambda n: st.binary(min_size=n, max_size=n))).hex(),
        "to": to_checksum_address(draw(st.binary(min_size=20, max_size=20))),
    }
    fee = draw(st.integers(1, 10**12))
    if tx_type == 2:
        fields.update(type=2, maxFeePerGas=fee,
                      maxPriorityFeePerGas=draw(st.integers(0, fee)))
    else:
        fields["gasPrice"] = fee
        if tx_type == 1:
            fields.update(type=1, accessList=[])
    return fields


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=transactions(),
    params=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 10**12),
                     st.integers(0, 2**32 - 1), st.integers(0, 10**12)),
    rises=st.lists(st.integers(2, 3).map(lambda n: (n, 2)) | st.just((1, 1)),
                   min_size=2, max_size=2),
    gas_used_share=st.just(1) | st.fractions(0, 1),
    price_share=st.just(1) | st.fractions(0, 1),
)
def test_reserved_worst_case_covers_the_real_cost_while_the_quote_holds(
        fields: dict[str, Any], params: tuple[int, int, int, int],
        rises: list[tuple[int, int]], gas_used_share: Any, price_share: Any) -> None:
    max_fee = fields.get("maxFeePerGas", fields.get("gasPrice"))
    # What the sidecar reserves, before the nonce is known and before anything is signed.
    quoted = oracle_quote(worst_case_signed_bytes({**fields, "nonce": NONCE_PLACEHOLDER}), params)
    request = TransactionRequest(chain_id=CHAIN_ID, declared_chain_id=CHAIN_ID, sender="0x0",
                                 to=fields["to"], value=fields["value"], data=b"",
                                 gas=fields["gas"], max_fee_per_gas=max_fee,
                                 tx_type=fields.get("type", 0), l1_fee_wei=with_margin(quoted))
    # What the chain charges for the real, signed transaction.
    signed = bytes(Account.sign_transaction(fields, KEY.key).raw_transaction)
    base_fee_scalar, l1_base_fee, blob_scalar, blob_base_fee = params
    at_inclusion = (base_fee_scalar, risen(l1_base_fee, rises[0]), blob_scalar,
                    risen(blob_base_fee, rises[1]))
    gas_used = int(fields["gas"] * gas_used_share)
    effective_price = int(max_fee * price_share)
    real_l1_fee = charged(signed, at_inclusion)

    assert request.l1_fee_wei >= real_l1_fee  # the L1 part alone, without gas's slack
    assert request.worst_case_gas_cost >= gas_used * effective_price + real_l1_fee


@settings(max_examples=200, deadline=None)
@given(fields=transactions())
def test_worst_case_bytes_are_never_shorter_than_the_signed_transaction(
        fields: dict[str, Any]) -> None:
    signed = bytes(Account.sign_transaction(fields, KEY.key).raw_transaction)
    assert len(worst_case_signed_bytes({**fields, "nonce": NONCE_PLACEHOLDER})) >= len(signed)
