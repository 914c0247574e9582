"""Typed data is bounded before it is hashed (catalogue 14): eth-account's hashing cost grows
with struct types times instances, so a payload of a few hundred types and tens of thousands of
instances used to cost minutes, inside the ledger's lock. Payloads past a bound are refused with
`TypedDataTooLarge` (-32602 on the RPC plane); everything within the bounds hashes in a few
milliseconds, exactly as eth-account's reference encoder hashes it, and the keystore signs the
digest it made, never another.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from session_studio.keystore import (
    EncodedTypedData,
    KeyContext,
    LocalKeystore,
    MasterKey,
    SigningRefusedError,
)
from session_studio.policy import TypedDataTooLarge, Undecodable, decode_typed_data
from session_studio.policy._typed_data import (
    MAX_ARRAY_ITEMS,
    MAX_FIELDS,
    MAX_HASH_WORK,
    MAX_STRUCT_TYPES,
    MAX_VALUE_CHARS,
)

from .builders import ASSETS, CHAIN, CONTRACT, SENDER, USDC, permit_batch, typed_data
from .test_typed_data_properties import messages, permits

# Generous for a shared CI machine: the worst accepted payload takes about 6 ms here
# (bench/results/exhaustion.md); the attack this bounds took minutes.
HASHING_BOUND_S = 0.1
KEYSTORE = LocalKeystore(MasterKey.from_bytes(os.urandom(32)))
DOMAIN = {"chainId": CHAIN, "verifyingContract": CONTRACT}


def decode(typed: dict[str, Any]) -> Any:
    return decode_typed_data(typed, ASSETS, sender=SENDER)


def chain_of(types: int, instances: int, *, name: str = "n") -> dict[str, Any]:
    """`instances` instances heading a chain of `types` structs."""
    declared: dict[str, list[tuple[str, str]]] = {"Main": [("items", "T0[]")]}
    for i in range(types - 1):
        declared[f"T{i}"] = [(name, f"T{i + 1}[]")]
    declared[f"T{types - 1}"] = []
    return typed_data("Main", declared, {"items": [{name: []}] * instances}, **DOMAIN)


def wide(instances: int, fields: int) -> dict[str, Any]:
    names = [f"f{i}" for i in range(fields)]
    return typed_data("Main", {"Main": [("items", "E[]")], "E": [(f, "bool") for f in names]},
                      {"items": [dict.fromkeys(names, False)] * instances}, **DOMAIN)


# -- each bound ------------------------------------------------------------------------------
def test_a_few_hundred_types_times_many_instances_is_too_large() -> None:
    started = time.perf_counter()
    with pytest.raises(TypedDataTooLarge, match="types"):
        decode(chain_of(300, 20_000))
    assert time.perf_counter() - started < HASHING_BOUND_S


def test_more_struct_types_than_the_bound_is_too_large() -> None:
    assert not isinstance(decode(chain_of(MAX_STRUCT_TYPES - 1, 1)), Undecodable)
    with pytest.raises(TypedDataTooLarge):
        decode(chain_of(MAX_STRUCT_TYPES, 1))  # plus Main


def test_more_fields_than_the_bound_is_too_large() -> None:
    assert not isinstance(decode(wide(1, MAX_FIELDS)), Undecodable)
    with pytest.raises(TypedDataTooLarge):
        decode(wide(1, MAX_FIELDS + 1))


def test_an_array_longer_than_the_bound_is_too_large() -> None:
    def hashes(count: int) -> dict[str, Any]:
        return typed_data("Main", {"Main": [("items", "bytes32[]")]},
                          {"items": ["0x" + "ab" * 32] * count}, **DOMAIN)

    assert not isinstance(decode(hashes(MAX_ARRAY_ITEMS)), Undecodable)
    with pytest.raises(TypedDataTooLarge):
        decode(hashes(MAX_ARRAY_ITEMS + 1))


def test_a_string_longer_than_the_bound_is_too_large() -> None:
    def text(chars: int) -> dict[str, Any]:
        return typed_data("Main", {"Main": [("text", "string")]}, {"text": "x" * chars},
                          **DOMAIN)

    assert not isinstance(decode(text(MAX_VALUE_CHARS)), Undecodable)
    with pytest.raises(TypedDataTooLarge):
        decode(text(MAX_VALUE_CHARS + 1))


def test_types_times_instances_past_the_work_bound_is_too_large() -> None:
    # 31 types and 84 instances fit; 1000 (within every other bound) would cost 60 000 units.
    assert not isinstance(decode(chain_of(MAX_STRUCT_TYPES - 1, 84)), Undecodable)
    with pytest.raises(TypedDataTooLarge, match=str(MAX_HASH_WORK)):
        decode(chain_of(MAX_STRUCT_TYPES - 1, 1000))


def test_real_payloads_are_far_inside_the_bounds() -> None:
    batch = permit_batch(*[(USDC, 1_000_000)] * 100)
    assert not isinstance(decode(batch), Undecodable)


# -- the keystore signs what it hashed, and only that ---------------------------------------
def test_the_keystore_signs_only_typed_data_it_encoded() -> None:
    forged = EncodedTypedData(domain_separator=b"\x11" * 32, message_hash=b"\x22" * 32,
                              _mark=object())
    ctx = KeyContext(workspace_id="ws", session_id="s-forged")
    key = KEYSTORE.generate(ctx)
    with pytest.raises(SigningRefusedError):
        KEYSTORE.sign_encoded_typed_data(key.sealed, ctx, forged)


# -- property: within the bounds, hashing is quick and exactly the reference ------------------
@st.composite
def large_shapes(draw: st.DrawFn) -> dict[str, Any]:
    """Payloads around the bounds: chains of types, wide structs, many instances."""
    if draw(st.booleans()):
        return chain_of(draw(st.integers(1, MAX_STRUCT_TYPES + 2)),
                        draw(st.integers(0, 400)), name=draw(st.sampled_from(["n", "x" * 200])))
    return wide(draw(st.integers(0, 300)), draw(st.integers(0, MAX_FIELDS + 2)))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(messages(), permits(), large_shapes()))
def test_typed_data_within_the_bounds_hashes_quickly_and_exactly_as_the_reference(
        typed: dict[str, Any]) -> None:
    try:
        decoded = decode(typed)
    except TypedDataTooLarge:
        event("too large")
        return
    if isinstance(decoded, Undecodable):
        event("undecodable")
        return
    event("hashed")
    started = time.perf_counter()
    encoded = KEYSTORE.encode_typed_data(typed)
    assert time.perf_counter() - started < HASHING_BOUND_S
    reference = encode_typed_data(full_message=typed)
    assert (encoded.domain_separator, encoded.message_hash) == (reference.header,
                                                                 reference.body)
    ctx = KeyContext(workspace_id="ws", session_id="s-property")
    key = KEYSTORE.generate(ctx)
    signature = KEYSTORE.sign_encoded_typed_data(key.sealed, ctx, encoded)
    assert Account._recover_hash(_hash_eip191_message(reference),
                                 signature=signature) == key.address
