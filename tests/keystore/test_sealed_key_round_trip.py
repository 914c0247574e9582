"""A generated key, stored only as its sealed blob, signs transactions from its own address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rlp
from eth_account import Account
from eth_utils.address import is_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.keystore import KeyContext, LocalKeystore

# Ids as the store might produce them, plus odd Unicode: the envelope must not care.
ids = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)


def test_sealed_key_signs_tx_recovering_to_its_address(
    keystore: LocalKeystore, ctx: KeyContext, make_tx: Callable[..., dict[str, Any]]
) -> None:
    new_key = keystore.generate(ctx)

    signed = keystore.sign_transaction(new_key.sealed, ctx, make_tx())

    assert Account.recover_transaction(signed.raw) == new_key.address


def test_tx_hash_is_keccak_of_raw_transaction(
    keystore: LocalKeystore, ctx: KeyContext, make_tx: Callable[..., dict[str, Any]]
) -> None:
    new_key = keystore.generate(ctx)

    signed = keystore.sign_transaction(new_key.sealed, ctx, make_tx())

    assert signed.tx_hash == "0x" + keccak(signed.raw).hex()
    assert len(signed.tx_hash) == 66


def test_legacy_tx_with_chain_id_is_signed_with_eip155_replay_protection(
    keystore: LocalKeystore, ctx: KeyContext, make_tx: Callable[..., dict[str, Any]]
) -> None:
    new_key = keystore.generate(ctx)
    legacy = make_tx(gasPrice=10**9)
    for field in ("type", "maxFeePerGas", "maxPriorityFeePerGas"):
        del legacy[field]

    signed = keystore.sign_transaction(new_key.sealed, ctx, legacy)

    assert Account.recover_transaction(signed.raw) == new_key.address
    # EIP-155: v = chainId * 2 + 35 or 36 binds the signature to the chain.
    v = int.from_bytes(rlp.decode(signed.raw)[6], "big")
    assert v in (legacy["chainId"] * 2 + 35, legacy["chainId"] * 2 + 36)


def test_new_session_key_describes_its_public_key(keystore: LocalKeystore, ctx: KeyContext) -> None:
    new_key = keystore.generate(ctx)

    assert len(new_key.public_key) == 64
    assert is_checksum_address(new_key.address)
    assert new_key.address.lower() == "0x" + keccak(new_key.public_key)[-20:].hex()
    assert new_key.key_hash == "0x" + keccak(new_key.public_key).hex()
    assert len(new_key.key_hash) == 66


def test_each_generated_key_is_distinct(keystore: LocalKeystore, ctx: KeyContext) -> None:
    addresses = {keystore.generate(ctx).address for _ in range(20)}

    assert len(addresses) == 20


@settings(max_examples=40, deadline=None)
@given(
    workspace_id=ids,
    session_id=ids,
    nonce=st.integers(0, 2**64 - 1),
    chain_id=st.integers(1, 2**32),
)
def test_round_trip_holds_for_any_context_and_tx(
    uncached_keystore: LocalKeystore,
    make_tx: Callable[..., dict[str, Any]],
    workspace_id: str,
    session_id: str,
    nonce: int,
    chain_id: int,
) -> None:
    ctx = KeyContext(workspace_id=workspace_id, session_id=session_id)
    new_key = uncached_keystore.generate(ctx)

    signed = uncached_keystore.sign_transaction(
        new_key.sealed, ctx, make_tx(nonce=nonce, chainId=chain_id)
    )

    assert Account.recover_transaction(signed.raw) == new_key.address
