"""No key bytes in any repr, str, exception message or traceback (POLICY.md attack 10)."""

from __future__ import annotations

import base64
import copy
import os
import pickle
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.keystore import (
    KeyContext,
    KeystoreError,
    KeyUnsealError,
    LocalKeystore,
    MasterKey,
    MasterKeyError,
    load_master_key,
)
from session_studio.keystore._envelope import KeyEnvelope

ENV = "SESSION_STUDIO_MASTER_KEY"


def _spellings(secret: bytes) -> list[str]:
    """Ways a secret shows up in text: hex (any case), base64 (both alphabets), bytes repr."""
    return [
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
        repr(secret)[2:-1],
        str(int.from_bytes(secret, "big")),
    ]


def _assert_not_in(secret: bytes, text: str) -> None:
    for spelling in _spellings(secret):
        assert spelling not in text, "key material found in text"


def _all_text_of(exc: BaseException) -> str:
    return "".join([repr(exc), str(exc), *traceback.format_exception(exc)])


@settings(max_examples=100)
@given(raw=st.binary(min_size=32, max_size=32))
def test_master_key_repr_and_str_show_no_bytes(raw: bytes) -> None:
    master = MasterKey.from_bytes(raw)

    _assert_not_in(raw, repr(master) + str(master) + f"{master!r} {master}")


def test_master_key_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(MasterKey.from_bytes(os.urandom(32)))


def test_master_key_copies_are_the_same_object() -> None:
    master = MasterKey.from_bytes(os.urandom(32))

    assert copy.copy(master) is master
    assert copy.deepcopy({"k": master})["k"] is master


def test_keystore_cannot_be_pickled(keystore: LocalKeystore) -> None:
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(keystore)


def test_bad_env_value_is_not_echoed() -> None:
    raw = os.urandom(31)

    with pytest.raises(MasterKeyError) as excinfo:
        load_master_key(path=None, env={ENV: base64.b64encode(raw).decode()})

    _assert_not_in(raw, _all_text_of(excinfo.value))


def test_exposed_key_file_content_is_not_echoed(tmp_path: Path) -> None:
    raw = os.urandom(32)
    path = tmp_path / "master.key"
    path.write_text(base64.b64encode(raw).decode() + "\n")
    path.chmod(0o644)

    with pytest.raises(MasterKeyError) as excinfo:
        load_master_key(path=path, env={})

    _assert_not_in(raw, _all_text_of(excinfo.value))


def test_unseal_failure_mentions_neither_master_nor_private_key(ctx: KeyContext) -> None:
    owner_master, other_master = os.urandom(32), os.urandom(32)
    sealed = LocalKeystore(MasterKey.from_bytes(owner_master)).generate(ctx).sealed
    private_key = KeyEnvelope(MasterKey.from_bytes(owner_master)).open(sealed, ctx)

    with pytest.raises(KeyUnsealError) as excinfo:
        LocalKeystore(MasterKey.from_bytes(other_master)).sign_personal_message(sealed, ctx, b"x")

    text = _all_text_of(excinfo.value)
    for secret in (owner_master, other_master, private_key):
        _assert_not_in(secret, text)


def test_failure_after_unsealing_carries_no_key_and_no_chained_frames(
    master_key: MasterKey,
    keystore: LocalKeystore,
    ctx: KeyContext,
    make_tx: Callable[..., dict[str, Any]],
) -> None:
    sealed = keystore.generate(ctx).sealed
    private_key = KeyEnvelope(master_key).open(sealed, ctx)

    with pytest.raises(KeystoreError) as excinfo:
        keystore.sign_transaction(sealed, ctx, make_tx(value="a lot"))

    # A chained exception would keep eth-account's frames, which hold the key, alive and
    # printable by any logger that renders locals.
    assert excinfo.value.__context__ is None
    assert excinfo.value.__cause__ is None
    _assert_not_in(private_key, _all_text_of(excinfo.value))


def test_keystore_repr_shows_no_cached_key(
    master_key: MasterKey, keystore: LocalKeystore, ctx: KeyContext
) -> None:
    new_key = keystore.generate(ctx)
    private_key = KeyEnvelope(master_key).open(new_key.sealed, ctx)

    _assert_not_in(private_key, repr(keystore) + str(keystore) + repr(new_key))
