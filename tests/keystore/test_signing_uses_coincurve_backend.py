"""Every signature is made by the coincurve backend, whatever eth-keys' default backend is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import coincurve
import pytest
from eth_keys.backends.native.main import NativeECCBackend
from session_studio.keystore import KeyContext, LocalKeystore


def test_all_signing_paths_use_coincurve(
    monkeypatch: pytest.MonkeyPatch,
    keystore: LocalKeystore,
    ctx: KeyContext,
    make_tx: Callable[..., dict[str, Any]],
    make_typed_data: Callable[[], dict[str, Any]],
) -> None:
    # Counted at coincurve itself: transactions are signed there directly (over `_tx_codec`'s
    # digest), the rest through eth-keys' coincurve backend, which calls the same function.
    coincurve_signs: list[None] = []
    original = coincurve.PrivateKey.sign_recoverable

    def counting_sign(self: coincurve.PrivateKey, message: bytes, hasher: Any = None) -> bytes:
        assert hasher is None, "the keystore signs digests it computed itself"
        coincurve_signs.append(None)
        return original(self, message, hasher=None)

    def native_sign(self: NativeECCBackend, msg_hash: bytes, private_key: Any) -> NoReturn:
        raise AssertionError("the pure-Python backend must never sign")

    monkeypatch.setattr(coincurve.PrivateKey, "sign_recoverable", counting_sign)
    monkeypatch.setattr(NativeECCBackend, "ecdsa_sign", native_sign)
    # Even if the process default says "native", the keystore's explicit choice holds.
    monkeypatch.setenv("ECC_BACKEND_CLASS", "eth_keys.backends.NativeECCBackend")
    sealed = keystore.generate(ctx).sealed
    keystore.forget(ctx)

    keystore.sign_transaction(sealed, ctx, make_tx())
    # Hex-string numbers are outside `_tx_codec`'s shape: eth-account signs this one.
    keystore.sign_transaction(sealed, ctx, make_tx(value="0x1"))
    keystore.sign_personal_message(sealed, ctx, b"x")
    keystore.sign_typed_data(sealed, ctx, make_typed_data())

    assert len(coincurve_signs) == 4
