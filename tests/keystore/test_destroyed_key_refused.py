"""A crypto-shredded key (sealed blob NULL or empty after revoke) signs nothing, even if an
unsealed copy is still in this process's cache (POLICY.md, "Revocation and expiry")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from session_studio.keystore import KeyContext, KeyDestroyedError, LocalKeystore


@pytest.mark.parametrize("sealed", [None, b""])
def test_destroyed_key_cannot_sign_a_transaction(
    keystore: LocalKeystore,
    ctx: KeyContext,
    make_tx: Callable[..., dict[str, Any]],
    sealed: bytes | None,
) -> None:
    with pytest.raises(KeyDestroyedError):
        keystore.sign_transaction(sealed, ctx, make_tx())


@pytest.mark.parametrize("sealed", [None, b""])
def test_destroyed_key_cannot_sign_a_personal_message(
    keystore: LocalKeystore, ctx: KeyContext, sealed: bytes | None
) -> None:
    with pytest.raises(KeyDestroyedError):
        keystore.sign_personal_message(sealed, ctx, b"hello")


@pytest.mark.parametrize("sealed", [None, b""])
def test_destroyed_key_cannot_sign_typed_data(
    keystore: LocalKeystore,
    ctx: KeyContext,
    make_typed_data: Callable[[], dict[str, Any]],
    sealed: bytes | None,
) -> None:
    with pytest.raises(KeyDestroyedError):
        keystore.sign_typed_data(sealed, ctx, make_typed_data())


def test_destroyed_key_is_refused_while_still_cached(
    keystore: LocalKeystore, ctx: KeyContext, make_tx: Callable[..., dict[str, Any]]
) -> None:
    # Another process revoked the session: this process never got a forget() call.
    sealed = keystore.generate(ctx).sealed
    keystore.sign_transaction(sealed, ctx, make_tx())

    with pytest.raises(KeyDestroyedError):
        keystore.sign_transaction(None, ctx, make_tx())


def test_forgotten_key_still_signs_from_its_blob(
    keystore: LocalKeystore, ctx: KeyContext, make_tx: Callable[..., dict[str, Any]]
) -> None:
    # forget() only frees memory; the database row decides whether a key exists.
    new_key = keystore.generate(ctx)
    keystore.forget(ctx)

    signed = keystore.sign_transaction(new_key.sealed, ctx, make_tx())

    assert signed.raw
