"""A client's own nonce is signed as given when it leaves no gap; the store's counter never
hands it out again, and never signs a nonce past the next one (a transaction behind a gap can
be held back and land whenever its holder fills the gap: POLICY.md catalogue 15)."""

from __future__ import annotations

import pytest
from session_studio.store import NonceGap, Store, Workspace

from ..conftest import ETHER, T0, fake_sign, insert_session, reserve


async def test_explicit_nonce_is_honoured(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    signed_with: list[int | None] = []

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signed_with.append(nonce)
        return fake_sign(nonce, sealed)

    await reserve(store, session, ETHER)
    _, reservation = await reserve(store, session, ETHER, explicit_nonce=1, sign=sign)
    assert reservation is not None
    assert (signed_with, reservation.nonce) == ([1], 1)


async def test_counter_moves_past_the_next_nonce_taken_explicitly(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, ETHER, explicit_nonce=0)
    _, following = await reserve(store, session, ETHER)
    assert following is not None and following.nonce == 1


async def test_explicit_nonce_past_the_next_is_refused_and_nothing_is_signed(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    signed_with: list[int | None] = []

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signed_with.append(nonce)
        return fake_sign(nonce, sealed)

    with pytest.raises(NonceGap) as refused:
        await reserve(store, session, ETHER, explicit_nonce=7, sign=sign)
    assert (refused.value.nonce, refused.value.next_nonce) == (7, 0)
    assert signed_with == []
    assert await store.reservations(session.id) == []
    _, first = await reserve(store, session, ETHER)
    assert first is not None and first.nonce == 0


async def test_explicit_nonce_at_the_nodes_pending_count_is_no_gap(
        store: Store, workspace: Workspace) -> None:
    # The node counts further than the ledger (a restored backup): its count is the next nonce.
    session = await insert_session(store, workspace)
    _, taken = await reserve(store, session, ETHER, upstream_pending=5, explicit_nonce=5)
    assert taken is not None and taken.nonce == 5
    with pytest.raises(NonceGap):
        await reserve(store, session, ETHER, upstream_pending=5, explicit_nonce=7)


async def test_released_nonce_is_not_pooled_while_a_replacement_holds_it(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, original = await reserve(store, session, ETHER)
    _, replacement = await reserve(store, session, ETHER, explicit_nonce=0)
    assert original is not None and replacement is not None
    await store.release(original, now_ms=T0 + 1, return_nonce=True)
    _, following = await reserve(store, session, ETHER)
    assert following is not None and following.nonce == 1


async def test_explicit_nonce_below_the_counter_does_not_move_it_back(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    for _ in range(5):
        await reserve(store, session, ETHER)
    _, replacement = await reserve(store, session, ETHER, explicit_nonce=2)
    _, following = await reserve(store, session, ETHER)
    assert replacement is not None and following is not None
    assert (replacement.nonce, following.nonce) == (2, 5)


async def test_released_nonce_taken_explicitly_is_not_handed_out_again(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = [(await reserve(store, session, ETHER))[1] for _ in range(3)]
    assert held[1] is not None
    await store.release(held[1], now_ms=T0 + 1, return_nonce=True)
    await reserve(store, session, ETHER, explicit_nonce=1)
    _, following = await reserve(store, session, ETHER)
    assert following is not None and following.nonce == 3
