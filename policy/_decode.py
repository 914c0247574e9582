"""Calldata decoding: from a transaction to intents, with eth-abi, refusing to guess.

Only calls to tokens the operator configured are decoded, and only the ERC-20 functions listed
here; calldata must have exactly the length the ABI implies (trailing bytes could smuggle data
past a lax decoder). Everything else is reported as a contract call or creation, which the engine
refuses unless a permission covers it.
"""

from __future__ import annotations

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError

from ._intents import (
    ChainAssets,
    DecodedTransaction,
    Intent,
    IntentKind,
    TransactionRequest,
    Undecodable,
)
from ._money import Asset

TRANSFER = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
TRANSFER_FROM = bytes.fromhex("23b872dd")  # transferFrom(address,address,uint256)
APPROVE = bytes.fromhex("095ea7b3")  # approve(address,uint256)
INCREASE_ALLOWANCE = bytes.fromhex("39509351")  # increaseAllowance(address,uint256)
SET_APPROVAL_FOR_ALL = bytes.fromhex("a22cb465")  # setApprovalForAll(address,bool)

_TOKEN_ABIS: dict[bytes, tuple[str, ...]] = {
    TRANSFER: ("address", "uint256"),
    TRANSFER_FROM: ("address", "address", "uint256"),
    APPROVE: ("address", "uint256"),
    INCREASE_ALLOWANCE: ("address", "uint256"),
    SET_APPROVAL_FOR_ALL: ("address", "bool"),
}


def decode_transaction(tx: TransactionRequest, assets: ChainAssets) -> DecodedTransaction:
    """Everything `tx` would do, including its worst-case gas, or why it cannot be told."""
    gas = Intent(kind=IntentKind.GAS, asset=assets.native, amount=tx.worst_case_gas_cost)
    native_value = (
        (Intent(kind=IntentKind.NATIVE_TRANSFER, asset=assets.native, amount=tx.value,
                counterparty=tx.to),)
        if tx.value > 0
        else ()
    )
    if tx.to is None:
        return (Intent(kind=IntentKind.CONTRACT_CREATION, asset=None, amount=0), *native_value, gas)
    if not tx.data:
        plain = Intent(kind=IntentKind.NATIVE_TRANSFER, asset=assets.native, amount=tx.value,
                       counterparty=tx.to)
        return (plain, gas)
    token = assets.token_at(tx.to)
    if token is None:
        # Value plus calldata to an unknown address (contract or EOA): only the outer call is
        # visible, so it is a contract call and needs an allowlist (POLICY.md catalogue 3).
        call = Intent(kind=IntentKind.CONTRACT_CALL, asset=None, amount=0, counterparty=tx.to,
                      selector="0x" + tx.data[:4].hex())
        return (call, *native_value, gas)
    decoded = _decode_token_call(tx, token=token)
    if isinstance(decoded, Undecodable):
        return decoded
    # Native value riding along a token call is spend too (POLICY.md, "Limits").
    return (*decoded, *native_value, gas)


def _decode_token_call(tx: TransactionRequest, *, token: Asset) -> tuple[Intent, ...] | Undecodable:
    selector, body = tx.data[:4], tx.data[4:]
    types = _TOKEN_ABIS.get(selector)
    if types is None:
        return Undecodable(detail=f"unknown function 0x{selector.hex()} on token {token.symbol}")
    if len(body) != 32 * len(types):
        return Undecodable(detail=f"calldata length {len(tx.data)} does not match the ABI of "
                                  f"0x{selector.hex()} on {token.symbol}")
    try:
        args = abi_decode(list(types), body, strict=True)
    except (DecodingError, ValueError, TypeError) as exc:
        return Undecodable(detail=f"malformed arguments to {token.symbol}: {type(exc).__name__}")
    if selector == TRANSFER:
        to, amount = args
        return (Intent(kind=IntentKind.TOKEN_TRANSFER, asset=token, amount=amount,
                       counterparty=str(to).lower()),)
    if selector == TRANSFER_FROM:
        owner, to, amount = args
        if str(owner).lower() != tx.sender:
            # Spending someone else's allowance is never a transfer of the session's own funds
            # (POLICY.md catalogue 2); the engine refuses this contract-call-shaped intent.
            return (Intent(kind=IntentKind.CONTRACT_CALL, asset=None, amount=0,
                           counterparty=token.address, selector="0x" + selector.hex()),)
        return (Intent(kind=IntentKind.TOKEN_TRANSFER, asset=token, amount=amount,
                       counterparty=str(to).lower()),)
    if selector in (APPROVE, INCREASE_ALLOWANCE):
        spender, amount = args
        return (Intent(kind=IntentKind.TOKEN_APPROVAL, asset=token, amount=amount,
                       counterparty=str(spender).lower()),)
    operator, _approved = args
    return (Intent(kind=IntentKind.APPROVAL_FOR_ALL, asset=token, amount=0,
                   counterparty=str(operator).lower()),)
