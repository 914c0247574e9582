"""Calldata decoding: from a transaction to intents, with eth-abi, refusing to guess.

Calls to contracts that hold value are decoded, never allowlisted: configured tokens (only the
ERC-20 functions listed here) and Permit2 (only `approve`); calldata must have exactly the length
the ABI implies (trailing bytes could smuggle data past a lax decoder), and anything else sent to
them is `Undecodable`. A call to any other address is reported as a swap (one of the chain's
routers) or a contract call, which the engine allows only through the swap permission or the
session's contract allowlist; only the outer call is visible, so a multicall is exactly as
trusted as the contract it is sent to (POLICY.md catalogue 3).

Approval selectors are the exception to "only the outer call": `approve`, `increaseAllowance`,
Permit2's `approve` and `setApprovalForAll` are decoded wherever they are sent, because an
allowlisted NFT collection, vault or unconfigured token honours them exactly like a configured
token would (POLICY.md catalogue 11). Such a call yields its approval intent *and* the call
intent, so it needs both what covers the approval and what covers the call.
"""

from __future__ import annotations

from typing import Any

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
PERMIT2_APPROVE = bytes.fromhex("87517c45")  # Permit2 approve(address,address,uint160,uint48)

_TOKEN_ABIS: dict[bytes, tuple[str, ...]] = {
    TRANSFER: ("address", "uint256"),
    TRANSFER_FROM: ("address", "address", "uint256"),
    APPROVE: ("address", "uint256"),
    INCREASE_ALLOWANCE: ("address", "uint256"),
    SET_APPROVAL_FOR_ALL: ("address", "bool"),
}
_PERMIT2_APPROVE_ABI = ("address", "address", "uint160", "uint48")


def decode_transaction(tx: TransactionRequest, assets: ChainAssets) -> DecodedTransaction:
    """Everything `tx` would do, including its worst-case gas, or why it cannot be told."""
    gas = Intent(kind=IntentKind.GAS, asset=assets.native, amount=tx.worst_case_gas_cost)
    to = None if tx.to is None else tx.to.lower()
    native_value = (
        (Intent(kind=IntentKind.NATIVE_TRANSFER, asset=assets.native, amount=tx.value,
                counterparty=to),)
        if tx.value > 0
        else ()
    )
    if to is None:
        return (Intent(kind=IntentKind.CONTRACT_CREATION, asset=None, amount=0), *native_value, gas)
    if not tx.data:
        plain = Intent(kind=IntentKind.NATIVE_TRANSFER, asset=assets.native, amount=tx.value,
                       counterparty=to)
        return (plain, gas)
    token = assets.token_at(to)
    if token is not None:
        decoded = _decode_token_call(tx, token=token)
    elif assets.is_permit2(to):
        decoded = _decode_permit2_call(tx, assets)
    else:
        # Value plus calldata to anything else (contract or EOA): only the outer call is visible.
        # The value belongs to the call, so the permission that covers the call covers it.
        kind = IntentKind.SWAP if assets.is_router(to) else IntentKind.CONTRACT_CALL
        call = Intent(kind=kind, asset=assets.native if tx.value > 0 else None, amount=tx.value,
                      counterparty=to, selector="0x" + tx.data[:4].hex())
        # Judged before any allowlist, so no allowlist (or listed selector) can wave it through.
        approval = _decode_approval_elsewhere(tx, assets, contract=to)
        if isinstance(approval, Undecodable):
            return approval
        return (*approval, call, gas)
    if isinstance(decoded, Undecodable):
        return decoded
    # Native value riding along a token or Permit2 call is spend too (POLICY.md, "Limits").
    return (*decoded, *native_value, gas)


def _decode_args(data: bytes, types: tuple[str, ...], *, where: str
                 ) -> tuple[Any, ...] | Undecodable:
    selector, body = data[:4], data[4:]
    if len(body) != 32 * len(types):
        return Undecodable(detail=f"calldata length {len(data)} does not match the ABI of "
                                  f"0x{selector.hex()} on {where}")
    try:
        return tuple(abi_decode(list(types), body, strict=True))
    except (DecodingError, ValueError, TypeError) as exc:
        return Undecodable(detail=f"malformed arguments to {where}: {type(exc).__name__}")


def _decode_token_call(tx: TransactionRequest, *, token: Asset) -> tuple[Intent, ...] | Undecodable:
    selector = tx.data[:4]
    types = _TOKEN_ABIS.get(selector)
    if types is None:
        return Undecodable(detail=f"unknown function 0x{selector.hex()} on token {token.symbol}")
    args = _decode_args(tx.data, types, where=token.symbol)
    if isinstance(args, Undecodable):
        return args
    if selector == TRANSFER:
        to, amount = args
        return (Intent(kind=IntentKind.TOKEN_TRANSFER, asset=token, amount=amount,
                       counterparty=str(to).lower()),)
    if selector == TRANSFER_FROM:
        owner, to, amount = args
        if str(owner).lower() != tx.sender.lower():
            # Spending someone else's allowance is never a transfer of the session's own funds
            # (POLICY.md catalogue 2), whatever allowlist the token might be on.
            return (Intent(kind=IntentKind.FOREIGN_FUNDS, asset=token, amount=amount,
                           counterparty=str(to).lower(), selector="0x" + selector.hex()),)
        return (Intent(kind=IntentKind.TOKEN_TRANSFER, asset=token, amount=amount,
                       counterparty=str(to).lower()),)
    if selector in (APPROVE, INCREASE_ALLOWANCE):
        spender, amount = args
        return (Intent(kind=IntentKind.TOKEN_APPROVAL, asset=token, amount=amount,
                       counterparty=str(spender).lower()),)
    operator, _approved = args
    return (Intent(kind=IntentKind.APPROVAL_FOR_ALL, asset=token, amount=0,
                   counterparty=str(operator).lower()),)


def _decode_permit2_call(tx: TransactionRequest, assets: ChainAssets
                         ) -> tuple[Intent, ...] | Undecodable:
    """Permit2's `approve` grants an allowance like ERC-20's; nothing else sent to it is valued.

    Its other functions (`transferFrom` on an allowance, `permit` with a signature, `lockdown`,
    nonce invalidation) are refused as undecodable: failing closed costs availability, not funds.
    """
    selector = tx.data[:4]
    if selector != PERMIT2_APPROVE:
        return Undecodable(detail=f"unknown function 0x{selector.hex()} on Permit2")
    args = _decode_args(tx.data, _PERMIT2_APPROVE_ABI, where="Permit2")
    if isinstance(args, Undecodable):
        return args
    token_address, spender, amount, _expiration = args
    token = assets.token_at(str(token_address))
    if token is None:
        return Undecodable(detail=f"Permit2 approve of unknown token {str(token_address).lower()}")
    return (Intent(kind=IntentKind.TOKEN_APPROVAL, asset=token, amount=amount,
                   counterparty=str(spender).lower(), amount_bits=160),)


_APPROVAL_ABIS: dict[bytes, tuple[str, ...]] = {
    APPROVE: ("address", "uint256"),
    INCREASE_ALLOWANCE: ("address", "uint256"),
    PERMIT2_APPROVE: _PERMIT2_APPROVE_ABI,
    SET_APPROVAL_FOR_ALL: ("address", "bool"),
}


def _decode_approval_elsewhere(tx: TransactionRequest, assets: ChainAssets, *, contract: str
                               ) -> tuple[Intent, ...] | Undecodable:
    """The approval an approval selector grants when sent to a contract that is not a
    configured token or Permit2; () when the calldata does not start with one, or only revokes.

    - `setApprovalForAll(operator, true)` hands over every token of the collection: an intent
      that is never signed. `(operator, false)` grants nothing and stays an ordinary call.
    - `approve` / `increaseAllowance` grant an allowance of `contract`'s own asset, which the
      sidecar cannot value (ERC-721's `approve(to, tokenId)` shares the selector, so not even an
      amount of 0 is a safe revocation): an unvalued approval, refused.
    - Permit2's `approve(token, spender, amount, expiration)` is valued as an allowance of
      `token`, as if `contract` were a Permit2: charging what it says it grants fails safe.
    Calldata behind one of these selectors that does not decode exactly is `Undecodable`: a
    contract's own decoder may well read it as an approval.
    """
    selector = tx.data[:4]
    types = _APPROVAL_ABIS.get(selector)
    if types is None:
        return ()
    args = _decode_args(tx.data, types, where=f"contract {contract}")
    if isinstance(args, Undecodable):
        return args
    hex_selector = "0x" + selector.hex()
    if selector == SET_APPROVAL_FOR_ALL:
        operator, approved = args
        if not approved:
            return ()
        return (Intent(kind=IntentKind.APPROVAL_FOR_ALL, asset=None, amount=0,
                       counterparty=str(operator).lower(), selector=hex_selector),)
    if selector == PERMIT2_APPROVE:
        token_address, spender, amount, _expiration = args
        token = assets.token_at(str(token_address))
        if token is None:
            return (Intent(kind=IntentKind.UNVALUED_APPROVAL, asset=None, amount=amount,
                           counterparty=str(token_address).lower(), selector=hex_selector,
                           amount_bits=160),)
        return (Intent(kind=IntentKind.TOKEN_APPROVAL, asset=token, amount=amount,
                       counterparty=str(spender).lower(), amount_bits=160),)
    _spender, amount = args
    return (Intent(kind=IntentKind.UNVALUED_APPROVAL, asset=None, amount=amount,
                   counterparty=contract, selector=hex_selector),)
