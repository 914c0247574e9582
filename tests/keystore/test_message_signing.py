"""personal_sign (EIP-191) and EIP-712 signatures recover to the session key's address."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.keystore import (
    KeyContext,
    LocalKeystore,
    NewSessionKey,
    SigningRefusedError,
)

CTX = KeyContext(workspace_id="ws-messages", session_id="sess-messages")


@pytest.fixture(scope="module")
def session_key(keystore: LocalKeystore) -> NewSessionKey:
    return keystore.generate(CTX)


def test_personal_message_signature_recovers_to_the_address(
    keystore: LocalKeystore, session_key: NewSessionKey
) -> None:
    signature = keystore.sign_personal_message(session_key.sealed, CTX, b"I agree")

    recovered = Account.recover_message(encode_defunct(b"I agree"), signature=signature)
    assert recovered == session_key.address


@settings(max_examples=50, deadline=None)
@given(message=st.binary(max_size=512))
def test_any_personal_message_signature_is_65_bytes_and_recovers(
    keystore: LocalKeystore, session_key: NewSessionKey, message: bytes
) -> None:
    signature = keystore.sign_personal_message(session_key.sealed, CTX, message)

    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert Account.recover_message(encode_defunct(message), signature=signature) == (
        session_key.address
    )


def test_personal_message_must_be_bytes(
    keystore: LocalKeystore, session_key: NewSessionKey
) -> None:
    text: Any = "not bytes"

    with pytest.raises(SigningRefusedError, match="bytes"):
        keystore.sign_personal_message(session_key.sealed, CTX, text)


def test_typed_data_signature_recovers_to_the_address(
    keystore: LocalKeystore,
    session_key: NewSessionKey,
    make_typed_data: Callable[[], dict[str, Any]],
) -> None:
    typed = make_typed_data()

    signature = keystore.sign_typed_data(session_key.sealed, CTX, typed)

    assert len(signature) == 65
    assert signature[64] in (27, 28)
    signable = encode_typed_data(full_message=typed)
    assert Account.recover_message(signable, signature=signature) == session_key.address


@settings(max_examples=25, deadline=None)
@given(contents=st.text(max_size=200), chain_id=st.integers(1, 2**64))
def test_any_typed_data_signature_recovers(
    keystore: LocalKeystore,
    session_key: NewSessionKey,
    make_typed_data: Callable[[], dict[str, Any]],
    contents: str,
    chain_id: int,
) -> None:
    typed = make_typed_data()
    typed["message"]["contents"] = contents
    typed["domain"]["chainId"] = chain_id

    signature = keystore.sign_typed_data(session_key.sealed, CTX, typed)

    signable = encode_typed_data(full_message=typed)
    assert Account.recover_message(signable, signature=signature) == session_key.address


def test_malformed_typed_data_is_refused_before_unsealing(
    keystore: LocalKeystore, make_typed_data: Callable[[], dict[str, Any]]
) -> None:
    typed = make_typed_data()
    del typed["types"]["Person"]

    # sealed=None: the refusal, not KeyDestroyedError, shows encoding happens first.
    with pytest.raises(SigningRefusedError, match="typed data"):
        keystore.sign_typed_data(None, CTX, typed)


def test_caller_typed_data_is_left_unchanged(
    keystore: LocalKeystore,
    session_key: NewSessionKey,
    make_typed_data: Callable[[], dict[str, Any]],
) -> None:
    typed = make_typed_data()
    before = copy.deepcopy(typed)

    keystore.sign_typed_data(session_key.sealed, CTX, typed)

    assert typed == before
