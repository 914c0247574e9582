"""A client's own nonce is signed as given; the store's counter never hands it out again."""

from __future__ import annotations

from session_studio.store import SqliteStore, Workspace

from .conftest import ETHER, T0, fake_sign, insert_session, reserve


async def test_explicit_nonce_is_honoured(store: SqliteStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    signed_with: list[int | None] = []

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signed_with.append(nonce)
        return fake_sign(nonce, sealed)

    _, reservation = await reserve(store, session, ETHER, explicit_nonce=7, sign=sign)
    assert reservation is not None
    assert (signed_with, reservation.nonce) == ([7], 7)


async def test_counter_moves_past_an_explicit_nonce(store: SqliteStore,
                                                    workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, ETHER, explicit_nonce=7)
    _, following = await reserve(store, session, ETHER)
    assert following is not None and following.nonce == 8


async def test_explicit_nonce_below_the_counter_does_not_move_it_back(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    for _ in range(5):
        await reserve(store, session, ETHER)
    _, replacement = await reserve(store, session, ETHER, explicit_nonce=2)
    _, following = await reserve(store, session, ETHER)
    assert replacement is not None and following is not None
    assert (replacement.nonce, following.nonce) == (2, 5)


async def test_released_nonce_taken_explicitly_is_not_handed_out_again(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = [(await reserve(store, session, ETHER))[1] for _ in range(3)]
    assert held[1] is not None
    await store.release(held[1], now_ms=T0 + 1, return_nonce=True)
    await reserve(store, session, ETHER, explicit_nonce=1)
    _, following = await reserve(store, session, ETHER)
    assert following is not None and following.nonce == 3
