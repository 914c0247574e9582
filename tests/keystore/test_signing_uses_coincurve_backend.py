"""Every signature is made by the coincurve backend, whatever eth-keys' default backend is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from eth_keys.backends.coincurve import CoinCurveECCBackend
from eth_keys.backends.native.main import NativeECCBackend
from session_studio.keystore import KeyContext, LocalKeystore


def test_all_signing_paths_use_coincurve(
    monkeypatch: pytest.MonkeyPatch,
    keystore: LocalKeystore,
    ctx: KeyContext,
    make_tx: Callable[..., dict[str, Any]],
    make_typed_data: Callable[[], dict[str, Any]],
) -> None:
    coincurve_signs: list[None] = []
    original = CoinCurveECCBackend.ecdsa_sign

    def counting_sign(self: CoinCurveECCBackend, msg_hash: bytes, private_key: Any) -> Any:
        coincurve_signs.append(None)
        return original(self, msg_hash, private_key)

    def native_sign(self: NativeECCBackend, msg_hash: bytes, private_key: Any) -> NoReturn:
        raise AssertionError("the pure-Python backend must never sign")

    monkeypatch.setattr(CoinCurveECCBackend, "ecdsa_sign", counting_sign)
    monkeypatch.setattr(NativeECCBackend, "ecdsa_sign", native_sign)
    # Even if the process default says "native", the keystore's explicit choice holds.
    monkeypatch.setenv("ECC_BACKEND_CLASS", "eth_keys.backends.NativeECCBackend")
    sealed = keystore.generate(ctx).sealed
    keystore.forget(ctx)

    keystore.sign_transaction(sealed, ctx, make_tx())
    keystore.sign_personal_message(sealed, ctx, b"x")
    keystore.sign_typed_data(sealed, ctx, make_typed_data())

    assert len(coincurve_signs) == 3
