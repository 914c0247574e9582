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


async def test_counter_moves_past_the_next_nonce_taken_explicitly(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, ETHER, explicit_nonce=0)
    _, following = await reserve(store, session, ETHER)
    assert following is not None and following.nonce == 1


async def test_explicit_nonce_ahead_is_stepped_over_without_jumping_the_gap(
        store: SqliteStore, workspace: Workspace) -> None:
    # Was: the counter jumped to 8 at once, so every later send queued behind a gap of 0..6
    # (and a nonce near 2**63 overflowed the column). Now the counter fills the gap and never
    # hands out the client's 7 again.
    session = await insert_session(store, workspace)
    await reserve(store, session, ETHER, explicit_nonce=7)
    picked = [(await reserve(store, session, ETHER // 10))[1] for _ in range(8)]
    assert [r.nonce for r in picked if r is not None] == [0, 1, 2, 3, 4, 5, 6, 8]


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
