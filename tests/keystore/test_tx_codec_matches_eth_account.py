"""The keystore's own transaction encoder signs exactly what eth-account signs, byte for byte.

`_tx_codec` replaces eth-account's `sign_transaction` on the signing path (it cost ~300 us of
dict validation around a ~20 us signature). Correctness is defined as identity with eth-account:
for random transactions of every type the keystore signs (legacy EIP-155, EIP-2930, EIP-1559),
every field drawn over its whole range (access lists, empty and long data, zero and 2**256 - 1
values, chain ids up to 2**256 - 1) and random keys, the raw bytes and the hash are the same.
Inputs outside the encoder's canonical shape (hex-string numbers, lowercase addresses, bools,
out-of-range ints, unknown keys...) must be declined, never signed differently: whatever
eth-account refuses, the encoder declines.
"""

from __future__ import annotations

from typing import Any

import coincurve
import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.keystore import KeyContext, LocalKeystore
from session_studio.keystore._tx_codec import encode_unsigned

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
UINT256_MAX = 2**256 - 1

keys = st.integers(1, SECP256K1_ORDER - 1).map(lambda k: k.to_bytes(32, "big"))
uint256 = st.one_of(st.sampled_from([0, 1, 127, 128, 255, 256, UINT256_MAX]),
                    st.integers(0, 2**64), st.integers(0, UINT256_MAX))
chain_ids = st.one_of(st.sampled_from([1, 10, 137, 8453, 31337, 11155111, UINT256_MAX]),
                      st.integers(1, 2**64), st.integers(1, UINT256_MAX))
addresses = st.binary(min_size=20, max_size=20)
data = st.one_of(st.just(b""), st.binary(max_size=64), st.binary(min_size=55, max_size=4096))
access_lists = st.lists(
    st.fixed_dictionaries({
        # eth-account reads access-list addresses in any case; `to` must be EIP-55.
        "address": st.one_of(addresses.map(to_checksum_address),
                             addresses.map(lambda b: "0x" + b.hex())),
        "storageKeys": st.lists(st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()),
                                max_size=4),
    }),
    max_size=4)


@st.composite
def canonical_txs(draw: st.DrawFn) -> dict[str, Any]:
    """Transactions in the shape the RPC plane builds (`proxy._transactions._to_eth_account`)
    and the encoder must take: every type, every optional field present or absent."""
    tx_type = draw(st.sampled_from([0, 1, 2]))
    tx: dict[str, Any] = {"chainId": draw(chain_ids), "nonce": draw(uint256),
                          "gas": draw(uint256)}
    if tx_type == 2:
        tx["maxFeePerGas"] = draw(uint256)
        tx["maxPriorityFeePerGas"] = draw(uint256)
        if draw(st.booleans()):
            tx["type"] = 2
    else:
        tx["gasPrice"] = draw(uint256)
    if tx_type == 1:
        tx["accessList"] = draw(access_lists)
        if draw(st.booleans()):
            tx["type"] = 1
    elif tx_type == 2 and draw(st.booleans()):
        tx["accessList"] = draw(access_lists)
    to = draw(st.sampled_from(["checksum", "bytes", "none", "absent"]))
    if to != "absent":
        raw = draw(addresses)
        tx["to"] = {"checksum": to_checksum_address(raw), "bytes": raw, "none": None}[to]
    if draw(st.booleans()):
        tx["value"] = draw(uint256)
    if draw(st.booleans()):
        payload = draw(data)
        tx["data"] = payload if draw(st.booleans()) else "0x" + payload.hex()
    return tx


_ADDRESS = to_checksum_address(b"\xab" * 20)
_BAD_CHECKSUM = _ADDRESS[:2] + _ADDRESS[2:].swapcase()
# Shapes eth-account may read differently, accept or refuse: the encoder must decline them.
ODD_VALUES: dict[str, list[Any]] = {
    "chainId": [UINT256_MAX + 1],
    "nonce": ["0x1", True, -1, 2**256, 1.0],
    "gas": ["0x5208", False, 2**256 + 5],
    "value": ["0x0", "0x", -5, 2**256, None],
    "maxFeePerGas": ["0x3b9aca00", True, None],
    "maxPriorityFeePerGas": ["0x1", -1],
    "gasPrice": ["0x1", 2**300, None],
    "to": ["0x" + "ab" * 20, "0x" + "AB" * 20, _BAD_CHECKSUM, "", b"", b"\x01" * 19,
           "0X" + "00" * 20, "00" * 20, _ADDRESS + "00"],
    "data": ["abcd", "0x1", "0xzz", "0X00", bytearray(b"\x01"), None, 7],
    "type": ["0x2", "0x1", "0x0", 0, 3, True, b"\x02", None],
    "accessList": [(), None, [["0x" + "00" * 20, []]],
                   [{"address": "0x" + "ab" * 20, "storageKeys": []}],
                   [{"address": _BAD_CHECKSUM, "storageKeys": []}],
                   [{"address": _ADDRESS, "storageKeys": ["0x01"]}],
                   [{"address": _ADDRESS, "storageKeys": ["0x" + "AB" * 32]}],
                   [{"address": _ADDRESS, "storageKeys": [1]}],
                   [{"address": _ADDRESS, "storageKeys": ("0x" + "00" * 32,)}],
                   [{"address": _ADDRESS}],
                   [{"address": _ADDRESS, "storageKeys": [], "extra": 1}]],
    "input": ["0x"],
    "maxFeePerBlobGas": [1],
    "authorizationList": [[]],
}
ODD_CASES = [(field, value) for field, values in ODD_VALUES.items() for value in values]
REQUIRED_OR_TYPING = ["chainId", "nonce", "gas", "gasPrice", "maxFeePerGas",
                      "maxPriorityFeePerGas", "type", "accessList"]


@st.composite
def odd_txs(draw: st.DrawFn) -> dict[str, Any]:
    """A canonical transaction with one field bent out of shape."""
    field, value = draw(st.sampled_from(ODD_CASES))
    return {**draw(canonical_txs()), field: value}


def _eth_account(tx: dict[str, Any], key: bytes) -> tuple[bytes, str] | Exception:
    try:
        signed = Account.sign_transaction(dict(tx), key)
    except Exception as exc:  # what eth-account refuses, in whatever type it raises
        return exc
    return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()


def _encoder(tx: dict[str, Any], key: bytes) -> tuple[bytes, str] | None:
    unsigned = encode_unsigned(tx)
    if unsigned is None:
        return None
    signed = unsigned.signed(coincurve.PrivateKey(key).sign_recoverable(unsigned.digest,
                                                                        hasher=None))
    return signed.raw, signed.tx_hash


@settings(max_examples=600, deadline=None)
@given(tx=canonical_txs(), key=keys)
def test_canonical_transactions_encode_and_sign_exactly_as_eth_account(
        tx: dict[str, Any], key: bytes) -> None:
    expected = _eth_account(tx, key)
    assert not isinstance(expected, Exception), expected
    assert _encoder(tx, key) == expected


@pytest.mark.parametrize(("field", "value"), ODD_CASES)
@settings(max_examples=15, deadline=None)
@given(tx=canonical_txs(), key=keys)
def test_odd_fields_are_declined_or_signed_identically(
        field: str, value: Any, tx: dict[str, Any], key: bytes) -> None:
    _declined_or_identical({**tx, field: value}, key)


@pytest.mark.parametrize("field", REQUIRED_OR_TYPING)
@settings(max_examples=25, deadline=None)
@given(tx=canonical_txs(), key=keys)
def test_missing_fields_are_declined_or_signed_identically(
        field: str, tx: dict[str, Any], key: bytes) -> None:
    tx.pop(field, None)
    _declined_or_identical(tx, key)


def _declined_or_identical(tx: dict[str, Any], key: bytes) -> None:
    expected = _eth_account(tx, key)
    ours = _encoder(tx, key)
    if isinstance(expected, Exception):
        assert ours is None, f"eth-account refuses ({expected!r}) what the encoder signed"
    else:
        assert ours is None or ours == expected


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tx=st.one_of(canonical_txs(), odd_txs()))
def test_keystore_signs_what_eth_account_signs_with_the_same_key(
        tx: dict[str, Any], keystore: LocalKeystore,
        new_context: Any) -> None:
    ctx: KeyContext = new_context()
    sealed = keystore.generate(ctx).sealed
    secret = keystore._unseal(sealed, ctx).private_key.to_bytes()
    tx = {**tx, "chainId": tx.get("chainId", 1)}  # the keystore refuses a missing chain id
    expected = _eth_account(tx, secret)
    if isinstance(expected, Exception):
        with pytest.raises(Exception):  # noqa: B017, PT011  refused as eth-account refuses
            keystore.sign_transaction(sealed, ctx, tx)
        return
    signed = keystore.sign_transaction(sealed, ctx, tx)
    assert (signed.raw, signed.tx_hash) == expected


def test_the_transfer_the_rpc_plane_builds_takes_the_fast_path() -> None:
    tx = {"chainId": 31337, "nonce": 7, "gas": 21_000, "value": 10**15, "data": "0x",
          "to": to_checksum_address("0x" + "be" * 20), "type": 2,
          "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9}
    assert encode_unsigned(tx) is not None


def test_keystore_signs_a_canonical_transaction_without_eth_account(
        monkeypatch: pytest.MonkeyPatch, keystore: LocalKeystore, new_context: Any,
        make_tx: Any) -> None:
    ctx: KeyContext = new_context()
    sealed = keystore.generate(ctx).sealed
    secret = keystore._unseal(sealed, ctx).private_key.to_bytes()
    expected = _eth_account(make_tx(), secret)

    def eth_account_sign(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eth-account's sign_transaction is off the signing path")

    monkeypatch.setattr(Account, "sign_transaction", eth_account_sign)
    signed = keystore.sign_transaction(sealed, ctx, make_tx())
    assert (signed.raw, signed.tx_hash) == expected
