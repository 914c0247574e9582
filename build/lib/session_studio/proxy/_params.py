"""Parameter parsing for the RPC plane: strict, so that odd input is refused, never reinterpreted.

Quantities are JSON-RPC hex strings (`0x1a`; leading zeros tolerated since some clients send
them) or non-negative JSON integers; anything negative, fractional or of 2**256 and more is
refused. Byte strings must be even-length hex. Addresses must be 20 bytes; a mixed-case address
must carry a valid EIP-55 checksum, since a wrong one usually means a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_checksum_address, to_checksum_address
from session_studio.store import MAX_LEDGER_NONCE

from ._errors import InvalidParams

_HEX = re.compile(r"0x[0-9a-fA-F]*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
UINT256_MAX = 2**256 - 1

# Fields of execution-apis' GenericTransaction we understand. `gasLimit` is ethers' name.
_TX_FIELDS = frozenset({"from", "to", "gas", "gasLimit", "gasPrice", "maxFeePerGas",
                        "maxPriorityFeePerGas", "value", "data", "input", "nonce", "chainId",
                        "type", "accessList"})
# Fields we recognise and refuse: blob and EIP-7702 transactions are never signed.
_REFUSED_TX_FIELDS = frozenset({"authorizationList", "blobVersionedHashes", "maxFeePerBlobGas",
                                "blobs", "sidecar"})


def quantity(value: Any, name: str, *, limit: int = UINT256_MAX) -> int:
    if isinstance(value, bool):
        raise InvalidParams(f"invalid params: {name} must be a hex quantity")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _HEX.fullmatch(value) and len(value) > 2:
        if len(value) > 66:
            raise InvalidParams(f"invalid params: {name} exceeds 256 bits")
        number = int(value, 16)
    else:
        raise InvalidParams(f"invalid params: {name} must be a hex quantity like 0x1a")
    if number < 0:
        raise InvalidParams(f"invalid params: {name} must not be negative")
    if number > limit:
        raise InvalidParams(f"invalid params: {name} is out of range")
    return number


def hex_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise InvalidParams(f"invalid params: {name} must be 0x-prefixed hex")
    if len(value) % 2:
        raise InvalidParams(f"invalid params: {name} has an odd number of hex digits")
    return bytes.fromhex(value[2:])


def address(value: Any, name: str) -> str:
    """Lower-case address; mixed case must be a valid checksum."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise InvalidParams(f"invalid params: {name} must be a 20-byte 0x address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise InvalidParams(f"invalid params: {name} has an invalid EIP-55 checksum")
    return value.lower()


def checksum(lower_address: str) -> str:
    return str(to_checksum_address(lower_address))


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionParams:
    """The client's transaction, validated, with absent fields left None for the filler."""

    sender: str | None
    to: str | None
    value: int
    data: bytes
    gas: int | None
    gas_price: int | None
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    nonce: int | None
    chain_id: int | None
    tx_type: int | None
    access_list: list[Any] | None
    has_authorization_list: bool


def transaction(value: Any) -> TransactionParams:
    if not isinstance(value, dict):
        raise InvalidParams("invalid params: expected a transaction object")
    unknown = sorted(set(value) - _TX_FIELDS - _REFUSED_TX_FIELDS)
    if unknown:
        raise InvalidParams(f"invalid params: unknown transaction field {unknown[0]!r}")
    for blob_field in ("blobVersionedHashes", "maxFeePerBlobGas", "blobs", "sidecar"):
        if blob_field in value:
            raise InvalidParams("invalid params: blob transactions are not supported")

    def opt_quantity(key: str, limit: int = UINT256_MAX) -> int | None:
        raw = value.get(key)
        return None if raw is None else quantity(raw, key, limit=limit)

    data = value.get("data")
    input_ = value.get("input")
    if data is not None and input_ is not None and data != input_:
        raise InvalidParams("invalid params: 'data' and 'input' differ")
    payload = data if data is not None else input_
    gas = opt_quantity("gas", 2**64 - 1)
    gas_limit = opt_quantity("gasLimit", 2**64 - 1)
    if gas is not None and gas_limit is not None and gas != gas_limit:
        raise InvalidParams("invalid params: 'gas' and 'gasLimit' differ")
    to_raw = value.get("to")
    access_list = value.get("accessList")
    if access_list is not None and not isinstance(access_list, list):
        raise InvalidParams("invalid params: accessList must be an array")
    tx_type = opt_quantity("type", 0xFF)
    gas_price = opt_quantity("gasPrice")
    max_fee = opt_quantity("maxFeePerGas")
    if gas_price is not None and (max_fee is not None or
                                  value.get("maxPriorityFeePerGas") is not None):
        raise InvalidParams("invalid params: gasPrice cannot be combined with EIP-1559 fees")
    return TransactionParams(
        sender=None if value.get("from") is None else address(value["from"], "from"),
        to=None if to_raw is None else address(to_raw, "to"),
        value=opt_quantity("value") or 0,
        data=b"" if payload is None else hex_bytes(payload, "data"),
        gas=gas if gas is not None else gas_limit,
        gas_price=gas_price,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=opt_quantity("maxPriorityFeePerGas"),
        nonce=_nonce(value.get("nonce")),
        chain_id=opt_quantity("chainId", 2**64 - 1),
        tx_type=tx_type,
        access_list=access_list,
        has_authorization_list="authorizationList" in value,
    )


def _nonce(raw: Any) -> int | None:
    """EIP-2681 caps account nonces below 2**64 - 1; the ledger records them up to
    MAX_LEDGER_NONCE (2**63 - 2), which no account can reach either."""
    if raw is None:
        return None
    nonce = quantity(raw, "nonce")
    if nonce >= 2**64 - 1:
        raise InvalidParams("invalid params: nonce must be below 2**64 - 1 (EIP-2681)")
    if nonce > MAX_LEDGER_NONCE:
        raise InvalidParams(f"invalid params: nonce must be at most {MAX_LEDGER_NONCE}: no "
                            "account reaches a higher one, and the ledger does not record it")
    return nonce


def arity(params: list[Any], low: int, high: int, method: str) -> None:
    if not low <= len(params) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise InvalidParams(f"invalid params: {method} takes {expected} parameters, "
                            f"got {len(params)}")
