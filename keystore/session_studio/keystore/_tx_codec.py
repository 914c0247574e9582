"""Transaction bytes without eth-account: the digest to sign and the raw signed transaction.

Why: eth-account's `sign_transaction` spends about 300 us validating, formatting and
re-serialising a dict around a 20 us secp256k1 signature; on the signing path (decide +
reserve + sign, inside the ledger's write lock) that was most of the time. This module builds
the same bytes with `rlp` directly, for the shapes the RPC plane produces:

- legacy with EIP-155: rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0]) is hashed;
  the signed form replaces the last three with v = recovery id + 35 + 2 * chainId, r, s;
- EIP-2930 (type 1): 0x01 || rlp([chainId, nonce, gasPrice, gas, to, value, data, accessList]);
- EIP-1559 (type 2): 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to,
  value, data, accessList]); typed transactions append [yParity, r, s] when signed.

It never guesses: `encode_unsigned` answers None for anything outside one canonical shape
(plain ints below 2**256, 0x-hex or bytes data, EIP-55 or 20-byte `to`, RPC-style access lists,
no unknown keys), and the keystore then signs through eth-account exactly as before, so an odd
input gets eth-account's answer or refusal. Within the shape the output is byte-for-byte
eth-account's: tests/keystore/test_tx_codec_matches_eth_account.py proves it over random
transactions and keys. No key is handled here: the caller signs `digest` and hands back the
65-byte recoverable signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rlp
from eth_hash.auto import keccak  # eth_utils' keccak adds ~2 us of argument conversion
from eth_utils.address import is_checksum_address
from rlp.sedes import Binary, CountableList, List, big_endian_int, binary

from ._models import SignedTransaction

__all__ = ["UnsignedTransaction", "encode_unsigned"]

_UINT256_BOUND = 2**256
_LEGACY, _ACCESS_LIST, _DYNAMIC_FEE = 0, 1, 2
# Required and optional keys per type, as eth-account reads them (`from` is already taken off).
_REQUIRED = {
    _LEGACY: frozenset({"chainId", "nonce", "gasPrice", "gas"}),
    _ACCESS_LIST: frozenset({"chainId", "nonce", "gasPrice", "gas"}),
    _DYNAMIC_FEE: frozenset({"chainId", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"}),
}
_OPTIONAL = {
    _LEGACY: frozenset({"to", "value", "data"}),
    _ACCESS_LIST: frozenset({"to", "value", "data", "accessList", "type"}),
    _DYNAMIC_FEE: frozenset({"to", "value", "data", "accessList", "type"}),
}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

# The wire formats, field for field as eth-account declares them; explicit sedes also save
# rlp's per-item type inference (~6 us per encoding).
_ADDRESS_OR_EMPTY = Binary.fixed_length(20, allow_empty=True)
_ACCESS_LIST_SEDES = CountableList(List([Binary.fixed_length(20),
                                         CountableList(Binary.fixed_length(32))]))
_SIGNATURE = [big_endian_int, big_endian_int, big_endian_int]  # v or yParity, r, s
_COMMON = [_ADDRESS_OR_EMPTY, big_endian_int, binary]  # to, value, data
_UNSIGNED = {
    # nonce, gasPrice, gas, (to, value, data), then EIP-155's chainId, 0, 0
    _LEGACY: [big_endian_int] * 3 + _COMMON + [big_endian_int] * 3,
    # chainId, nonce, gasPrice, gas, (to, value, data), accessList
    _ACCESS_LIST: [big_endian_int] * 4 + _COMMON + [_ACCESS_LIST_SEDES],
    # chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, (to, value, data), accessList
    _DYNAMIC_FEE: [big_endian_int] * 5 + _COMMON + [_ACCESS_LIST_SEDES],
}
_UNSIGNED_SEDES = {tx_type: List(fields) for tx_type, fields in _UNSIGNED.items()}
_SIGNED_SEDES = {
    _LEGACY: List(_UNSIGNED[_LEGACY][:6] + _SIGNATURE),
    _ACCESS_LIST: List(_UNSIGNED[_ACCESS_LIST] + _SIGNATURE),
    _DYNAMIC_FEE: List(_UNSIGNED[_DYNAMIC_FEE] + _SIGNATURE),
}


class _Declined(Exception):
    """Outside the canonical shape: eth-account signs (or refuses) it instead."""


@dataclass(frozen=True, slots=True)
class UnsignedTransaction:
    """A transaction ready to sign: its type, its RLP fields and the digest to sign."""

    tx_type: int
    chain_id: int
    fields: list[Any]
    digest: bytes

    def signed(self, signature: bytes) -> SignedTransaction:
        """The raw transaction carrying `signature` (65 bytes: r || s || recovery id)."""
        if len(signature) != 65 or signature[64] not in (0, 1):
            raise ValueError("expected a 65-byte recoverable secp256k1 signature")
        r = int.from_bytes(signature[0:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        recovery_id = signature[64]
        if self.tx_type == _LEGACY:
            # EIP-155: the chain id is folded into v, and the hashed tail (chainId, 0, 0) goes.
            v = recovery_id + 35 + 2 * self.chain_id
            raw = rlp.encode([*self.fields[:6], v, r, s], sedes=_SIGNED_SEDES[_LEGACY])
        else:
            raw = bytes((self.tx_type,)) + rlp.encode([*self.fields, recovery_id, r, s],
                                                      sedes=_SIGNED_SEDES[self.tx_type])
        return SignedTransaction(raw=raw, tx_hash="0x" + keccak(raw).hex())


def encode_unsigned(tx: Mapping[str, Any]) -> UnsignedTransaction | None:
    """The transaction eth-account would sign for `tx`, or None when `tx` is not canonical."""
    try:
        return _encode(tx)
    except _Declined:
        return None


def _encode(tx: Mapping[str, Any]) -> UnsignedTransaction:
    tx_type = _tx_type(tx)
    keys = tx.keys()
    if not _REQUIRED[tx_type] <= keys or not keys <= _REQUIRED[tx_type] | _OPTIONAL[tx_type]:
        raise _Declined
    chain_id = _uint(tx["chainId"])
    nonce, gas = _uint(tx["nonce"]), _uint(tx["gas"])
    to = _to(tx.get("to"))
    value = _uint(tx.get("value", 0))
    data = _data(tx.get("data", b""))
    if tx_type == _LEGACY:
        fields: list[Any] = [nonce, _uint(tx["gasPrice"]), gas, to, value, data, chain_id, 0, 0]
        return UnsignedTransaction(tx_type=tx_type, chain_id=chain_id, fields=fields,
                                   digest=keccak(rlp.encode(fields,
                                                            sedes=_UNSIGNED_SEDES[tx_type])))
    access_list = _access_list(tx.get("accessList", []))
    if tx_type == _ACCESS_LIST:
        fields = [chain_id, nonce, _uint(tx["gasPrice"]), gas, to, value, data, access_list]
    else:
        fields = [chain_id, nonce, _uint(tx["maxPriorityFeePerGas"]),
                  _uint(tx["maxFeePerGas"]), gas, to, value, data, access_list]
    payload = bytes((tx_type,)) + rlp.encode(fields, sedes=_UNSIGNED_SEDES[tx_type])
    return UnsignedTransaction(tx_type=tx_type, chain_id=chain_id, fields=fields,
                               digest=keccak(payload))


def _tx_type(tx: Mapping[str, Any]) -> int:
    """The type eth-account infers (`set_transaction_type_if_needed`), for plain int types."""
    if "type" in tx:
        declared = tx["type"]
        if type(declared) is not int or declared not in (_ACCESS_LIST, _DYNAMIC_FEE):
            raise _Declined
        return declared
    if "gasPrice" in tx and "accessList" in tx:
        return _ACCESS_LIST
    if "maxFeePerGas" in tx or "maxPriorityFeePerGas" in tx:
        return _DYNAMIC_FEE
    return _LEGACY


def _uint(value: object) -> int:
    # type() rather than isinstance: bool is an int, and eth-account refuses it.
    if type(value) is not int or not 0 <= value < _UINT256_BOUND:
        raise _Declined
    return value


def _data(value: object) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is str:
        return _hex(value)
    raise _Declined


def _hex(value: str, *, length: int | None = None) -> bytes:
    body = value[2:]
    if value[:2] != "0x" or len(body) % 2 or not _HEX_DIGITS.issuperset(body):
        raise _Declined
    raw = bytes.fromhex(body)
    if length is not None and len(raw) != length:
        raise _Declined
    return raw


def _to(value: object) -> bytes:
    if value is None:
        return b""  # contract creation
    if type(value) is bytes and len(value) == 20:
        return value
    if type(value) is str and len(value) == 42 and is_checksum_address(value):
        return bytes.fromhex(value[2:])
    raise _Declined


def _access_list(value: object) -> list[list[Any]]:
    if type(value) is not list:
        raise _Declined
    entries: list[list[Any]] = []
    for entry in value:
        if type(entry) is not dict or entry.keys() != {"address", "storageKeys"}:
            raise _Declined
        address, keys = entry["address"], entry["storageKeys"]
        # eth-account reads access-list addresses in any case (no EIP-55 check), unlike `to`.
        if type(address) is not str or type(keys) is not list:
            raise _Declined
        entries.append([_hex(address, length=20), [_storage_key(key) for key in keys]])
    return entries


def _storage_key(value: object) -> bytes:
    if type(value) is not str:
        raise _Declined
    return _hex(value, length=32)
