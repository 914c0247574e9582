"""The unsealed-key cache saves decryptions, stays bounded, and yields to forget() and to the
blob the caller presents."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from session_studio.keystore import KeyContext, LocalKeystore, MasterKey
from session_studio.keystore._envelope import KeyEnvelope


@pytest.fixture
def unseal_count(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts real unsealings (KeyEnvelope.open calls) made during the test."""
    calls: list[None] = []
    original = KeyEnvelope.open

    def counting_open(self: KeyEnvelope, blob: bytes, ctx: KeyContext) -> bytes:
        calls.append(None)
        opened: bytes = original(self, blob, ctx)
        return opened

    monkeypatch.setattr(KeyEnvelope, "open", counting_open)
    return lambda: len(calls)


def _contexts(n: int) -> list[KeyContext]:
    return [KeyContext(workspace_id="ws-lru", session_id=f"sess-{i}") for i in range(n)]


def test_repeated_signs_unseal_once(
    master_key: MasterKey, ctx: KeyContext, unseal_count: Callable[[], int]
) -> None:
    sealed = LocalKeystore(master_key).generate(ctx).sealed
    keystore = LocalKeystore(master_key)

    for _ in range(5):
        keystore.sign_personal_message(sealed, ctx, b"x")

    assert unseal_count() == 1


def test_generated_key_is_cached_for_its_first_sign(
    master_key: MasterKey, ctx: KeyContext, unseal_count: Callable[[], int]
) -> None:
    keystore = LocalKeystore(master_key)
    sealed = keystore.generate(ctx).sealed

    keystore.sign_personal_message(sealed, ctx, b"x")

    assert unseal_count() == 0


def test_forget_drops_the_cached_key(
    master_key: MasterKey, ctx: KeyContext, unseal_count: Callable[[], int]
) -> None:
    keystore = LocalKeystore(master_key)
    sealed = keystore.generate(ctx).sealed

    keystore.forget(ctx)
    keystore.sign_personal_message(sealed, ctx, b"x")

    assert unseal_count() == 1


def test_forget_of_unknown_context_is_a_no_op(keystore: LocalKeystore, ctx: KeyContext) -> None:
    keystore.forget(ctx)


def test_least_recently_used_key_is_evicted_beyond_cache_size(
    master_key: MasterKey, unseal_count: Callable[[], int]
) -> None:
    keystore = LocalKeystore(master_key, cache_size=2)
    first, second, third = _contexts(3)
    sealed = {ctx: keystore.generate(ctx).sealed for ctx in (first, second, third)}
    # Cache now holds second and third; touching second makes third the eviction candidate.

    keystore.sign_personal_message(sealed[second], second, b"x")
    keystore.sign_personal_message(sealed[first], first, b"x")  # unseal, evicts third
    keystore.sign_personal_message(sealed[second], second, b"x")  # still cached
    keystore.sign_personal_message(sealed[third], third, b"x")  # unseal again

    assert unseal_count() == 2


def test_zero_cache_size_unseals_every_time(
    master_key: MasterKey, ctx: KeyContext, unseal_count: Callable[[], int]
) -> None:
    keystore = LocalKeystore(master_key, cache_size=0)
    sealed = keystore.generate(ctx).sealed

    for _ in range(3):
        keystore.sign_personal_message(sealed, ctx, b"x")

    assert unseal_count() == 3


def test_new_blob_for_the_same_session_replaces_the_cached_key(
    master_key: MasterKey, ctx: KeyContext
) -> None:
    # Another process replaced the row's key; this process still caches the old one.
    keystore = LocalKeystore(master_key)
    old = keystore.generate(ctx)
    new = LocalKeystore(master_key).generate(ctx)

    new_signature = keystore.sign_personal_message(new.sealed, ctx, b"x")
    old_signature = keystore.sign_personal_message(old.sealed, ctx, b"x")

    message = encode_defunct(b"x")
    assert Account.recover_message(message, signature=new_signature) == new.address
    assert Account.recover_message(message, signature=old_signature) == old.address


def test_negative_cache_size_is_rejected(master_key: MasterKey) -> None:
    with pytest.raises(ValueError, match="capacity"):
        LocalKeystore(master_key, cache_size=-1)


def test_concurrent_signs_through_a_small_cache_all_recover(
    master_key: MasterKey, make_tx: Callable[..., dict[str, Any]]
) -> None:
    keystore = LocalKeystore(master_key, cache_size=3)
    contexts = _contexts(12)
    keys = {ctx: keystore.generate(ctx) for ctx in contexts}
    failures: list[str] = []

    def sign_many(offset: int) -> None:
        for i in range(40):
            ctx = contexts[(offset + i) % len(contexts)]
            signed = keystore.sign_transaction(keys[ctx].sealed, ctx, make_tx(nonce=i))
            if Account.recover_transaction(signed.raw) != keys[ctx].address:
                failures.append(ctx.session_id)

    threads = [threading.Thread(target=sign_many, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
