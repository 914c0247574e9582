"""A sealed blob that was altered in any way does not open: AES-GCM authenticates every byte."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.keystore import (
    KeyContext,
    KeyUnsealError,
    LocalKeystore,
    NewSessionKey,
)

SEALED_LENGTH = 121
CTX = KeyContext(workspace_id="ws-tamper", session_id="sess-tamper")


@pytest.fixture(scope="module")
def sealed_key(keystore: LocalKeystore) -> NewSessionKey:
    return keystore.generate(CTX)


def test_sealed_blob_has_documented_length_and_version(sealed_key: NewSessionKey) -> None:
    assert len(sealed_key.sealed) == SEALED_LENGTH
    assert sealed_key.sealed[0] == 1


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, SEALED_LENGTH - 1), mask=st.integers(1, 255))
def test_flipping_any_bit_pattern_of_any_byte_is_refused(
    keystore: LocalKeystore,
    sealed_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
    position: int,
    mask: int,
) -> None:
    tampered = bytearray(sealed_key.sealed)
    tampered[position] ^= mask

    # The cached keystore is used on purpose: the original blob is cached for CTX, and the
    # tampered one must still not reach that entry.
    with pytest.raises(KeyUnsealError):
        keystore.sign_transaction(bytes(tampered), CTX, make_tx())


def test_every_byte_position_is_authenticated(
    uncached_keystore: LocalKeystore, sealed_key: NewSessionKey
) -> None:
    for position in range(SEALED_LENGTH):
        tampered = bytearray(sealed_key.sealed)
        tampered[position] ^= 0x01
        with pytest.raises(KeyUnsealError):
            uncached_keystore.sign_personal_message(bytes(tampered), CTX, b"x")


@pytest.mark.parametrize("length", [1, 60, SEALED_LENGTH - 1, SEALED_LENGTH + 1, 4096])
def test_blob_of_wrong_length_is_refused(
    keystore: LocalKeystore, sealed_key: NewSessionKey, length: int
) -> None:
    blob = (sealed_key.sealed * 40)[:length]

    with pytest.raises(KeyUnsealError, match="bytes"):
        keystore.sign_personal_message(blob, CTX, b"x")


def test_unknown_format_version_is_refused_by_name(
    keystore: LocalKeystore, sealed_key: NewSessionKey
) -> None:
    blob = bytes([2]) + sealed_key.sealed[1:]

    with pytest.raises(KeyUnsealError, match="version 2"):
        keystore.sign_personal_message(blob, CTX, b"x")


def test_swapping_the_two_layers_is_refused(
    keystore: LocalKeystore, sealed_key: NewSessionKey
) -> None:
    blob = sealed_key.sealed
    swapped = blob[:1] + blob[61:121] + blob[1:61]

    with pytest.raises(KeyUnsealError):
        keystore.sign_personal_message(swapped, CTX, b"x")
