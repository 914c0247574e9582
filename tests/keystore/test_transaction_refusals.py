"""Transactions the keystore refuses whatever the policy engine said: defense in depth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from session_studio.keystore import (
    KeyContext,
    KeystoreError,
    LocalKeystore,
    NewSessionKey,
    SigningRefusedError,
)

AUTHORIZATION = {
    "chainId": 31337,
    "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "nonce": 1,
    "yParity": 0,
    "r": 1,
    "s": 1,
}


@pytest.fixture
def session_key(keystore: LocalKeystore, ctx: KeyContext) -> NewSessionKey:
    return keystore.generate(ctx)


def test_tx_without_chain_id_is_refused(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
) -> None:
    tx = make_tx()
    del tx["chainId"]

    with pytest.raises(KeystoreError, match="chainId"):
        keystore.sign_transaction(session_key.sealed, ctx, tx)


def test_legacy_tx_without_chain_id_is_refused(
    keystore: LocalKeystore, ctx: KeyContext, session_key: NewSessionKey
) -> None:
    tx = {"to": "0x09616C3d61b3331fc4109a9E41a8BDB7d9776609", "value": 1, "gas": 21_000}
    tx |= {"gasPrice": 10**9, "nonce": 0}

    with pytest.raises(SigningRefusedError, match="chainId"):
        keystore.sign_transaction(session_key.sealed, ctx, tx)


@pytest.mark.parametrize("chain_id", [None, 0, -1, True, "0x1", 1.0])
def test_tx_with_unusable_chain_id_is_refused(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
    chain_id: object,
) -> None:
    with pytest.raises(SigningRefusedError, match="chainId"):
        keystore.sign_transaction(session_key.sealed, ctx, make_tx(chainId=chain_id))


@pytest.mark.parametrize("tx_type", [4, "0x4", "0x04", "0X4"])
def test_type_4_tx_is_refused(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
    tx_type: object,
) -> None:
    with pytest.raises(SigningRefusedError, match="EIP-7702"):
        keystore.sign_transaction(session_key.sealed, ctx, make_tx(type=tx_type))


@pytest.mark.parametrize("tx_type", [None, 2, "0x2"])
def test_authorization_list_is_refused_whatever_the_type(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
    tx_type: object,
) -> None:
    tx = make_tx(authorizationList=[AUTHORIZATION])
    if tx_type is None:
        del tx["type"]  # eth-account would infer type 4 from the list
    else:
        tx["type"] = tx_type

    with pytest.raises(SigningRefusedError, match="EIP-7702"):
        keystore.sign_transaction(session_key.sealed, ctx, tx)


@pytest.mark.parametrize("tx_type", ["4", "two", b"\x04", 4.0])
def test_unreadable_tx_type_is_refused(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
    tx_type: object,
) -> None:
    with pytest.raises(SigningRefusedError, match="type"):
        keystore.sign_transaction(session_key.sealed, ctx, make_tx(type=tx_type))


def test_refusal_happens_before_the_key_is_touched(
    keystore: LocalKeystore, ctx: KeyContext, make_tx: Callable[..., dict[str, Any]]
) -> None:
    # With no key at all, the refusal (not KeyDestroyedError) shows the check runs first.
    with pytest.raises(SigningRefusedError):
        keystore.sign_transaction(None, ctx, make_tx(type=4))


def test_tx_from_another_address_is_refused(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
) -> None:
    other = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

    with pytest.raises(SigningRefusedError, match="from"):
        keystore.sign_transaction(session_key.sealed, ctx, make_tx(**{"from": other}))


@pytest.mark.parametrize("spelling", [str.lower, str.upper, lambda a: a])
def test_tx_from_own_address_in_any_case_is_signed(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
    spelling: Callable[[str], str],
) -> None:
    sender = "0x" + spelling(session_key.address[2:])

    signed = keystore.sign_transaction(session_key.sealed, ctx, make_tx(**{"from": sender}))

    assert Account.recover_transaction(signed.raw) == session_key.address


def test_malformed_tx_field_is_refused_with_a_keystore_error(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
) -> None:
    with pytest.raises(SigningRefusedError, match="gas"):
        keystore.sign_transaction(session_key.sealed, ctx, make_tx(gas="plenty"))


def test_caller_tx_is_left_unchanged(
    keystore: LocalKeystore,
    ctx: KeyContext,
    session_key: NewSessionKey,
    make_tx: Callable[..., dict[str, Any]],
) -> None:
    tx = make_tx(**{"from": session_key.address})
    before = dict(tx)

    keystore.sign_transaction(session_key.sealed, ctx, tx)

    assert tx == before
