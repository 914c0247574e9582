"""MasterKey.derive: independent 32-byte HKDF-SHA256 subkeys, one per purpose."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.keystore import MasterKey

# Any purpose a module might choose; "keystore/..." is reserved and tested separately.
purposes = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30).filter(
    lambda purpose: not purpose.startswith("keystore/")
)


def test_derive_is_hkdf_sha256_with_the_documented_info() -> None:
    raw = os.urandom(32)
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"session-studio/credential-hmac"
    ).derive(raw)

    assert MasterKey.from_bytes(raw).derive("credential-hmac") == expected


@settings(max_examples=50)
@given(raw=st.binary(min_size=32, max_size=32), purpose=purposes)
def test_derive_is_deterministic_and_32_bytes(raw: bytes, purpose: str) -> None:
    master = MasterKey.from_bytes(raw)

    assert master.derive(purpose) == MasterKey.from_bytes(raw).derive(purpose)
    assert len(master.derive(purpose)) == 32


@settings(max_examples=50)
@given(first=purposes, second=purposes)
def test_distinct_purposes_give_distinct_keys(first: str, second: str) -> None:
    master = MasterKey.from_bytes(b"\x07" * 32)

    assert (master.derive(first) == master.derive(second)) == (first == second)


@pytest.mark.parametrize("purpose", ["keystore/kek/v1", "keystore/anything"])
def test_keystore_purposes_are_reserved(purpose: str) -> None:
    # Otherwise any module could obtain the key-encryption key that wraps every session key.
    with pytest.raises(ValueError, match="reserved"):
        MasterKey.from_bytes(os.urandom(32)).derive(purpose)


def test_empty_purpose_is_rejected() -> None:
    with pytest.raises(ValueError, match="purpose"):
        MasterKey.from_bytes(os.urandom(32)).derive("")
