"""Release: a request that provably never reached the chain gives back its spend and its nonce.

A returned nonce fills the gap at the next send, unless the chain has already counted past it
(then another transaction used it, and handing it out again would be a guaranteed failure).
"""

from __future__ import annotations

from typing import Any

from session_studio.policy import window_start_ms
from session_studio.store import Reservation, Session, Store, Workspace

from ..conftest import ETHER, T0, insert_session, reserve
from .conftest import LedgerProbe


async def _reserved(store: Store, session: Session, value: int, **kw: Any) -> Reservation:
    decision, reservation = await reserve(store, session, value, **kw)
    assert decision.allowed and reservation is not None
    return reservation


async def test_release_gives_the_spend_back(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=8 * ETHER, daily=10 * ETHER)
    held = await _reserved(store, session, 8 * ETHER)
    await store.release(held, now_ms=T0 + 1, return_nonce=True)
    assert await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(T0 + 1)) == 0


async def test_released_spend_can_be_reserved_again(store: Store,
                                                   workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=8 * ETHER, daily=10 * ETHER)
    held = await _reserved(store, session, 8 * ETHER)
    await store.release(held, now_ms=T0 + 1, return_nonce=True)
    decision, _ = await reserve(store, session, 8 * ETHER, now_ms=T0 + 2)
    assert decision.allowed


async def test_release_marks_the_reservation_released(store: Store,
                                                      workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = await _reserved(store, session, ETHER)
    await store.release(held, now_ms=T0 + 1, return_nonce=True)
    assert [status for status, _, _ in await store.reservations(session.id)] == ["released"]


async def test_releasing_twice_gives_the_spend_back_once(store: Store,
                                                         workspace: Workspace,
                                                         probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    await _reserved(store, session, 2 * ETHER)
    held = await _reserved(store, session, 3 * ETHER)
    await store.release(held, now_ms=T0 + 1, return_nonce=True)
    await store.release(held, now_ms=T0 + 2, return_nonce=True)
    assert sum(probe.buckets(session.lineage_id).values()) == 2 * ETHER
    assert await store.spent_in_window(session.lineage_id, window_start_ms=0) == 2 * ETHER


async def test_released_nonce_is_handed_out_next(store: Store,
                                                 workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, middle, _ = [await _reserved(store, session, ETHER) for _ in range(3)]
    await store.release(middle, now_ms=T0 + 1, return_nonce=True)
    assert (await _reserved(store, session, ETHER)).nonce == middle.nonce == 1


async def test_after_filling_the_gap_the_counter_continues(store: Store,
                                                           workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, middle, _ = [await _reserved(store, session, ETHER) for _ in range(3)]
    await store.release(middle, now_ms=T0 + 1, return_nonce=True)
    await _reserved(store, session, ETHER)
    assert (await _reserved(store, session, ETHER)).nonce == 3


async def test_released_nonce_below_the_upstream_pending_count_is_not_handed_out(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, middle, _ = [await _reserved(store, session, ETHER) for _ in range(3)]
    await store.release(middle, now_ms=T0 + 1, return_nonce=True)
    # The chain already counts 2 transactions: nonce 1 was used by someone else.
    assert (await _reserved(store, session, ETHER, upstream_pending=2)).nonce == 3


async def test_released_nonce_below_the_upstream_pending_count_is_never_reused_later(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, middle, _ = [await _reserved(store, session, ETHER) for _ in range(3)]
    await store.release(middle, now_ms=T0 + 1, return_nonce=True)
    await _reserved(store, session, ETHER, upstream_pending=2)
    # A later send whose pending count was read earlier (or from a lagging node) still may
    # not get nonce 1 back: it was forgotten once the chain had counted past it.
    later = [(await _reserved(store, session, ETHER, upstream_pending=0)).nonce
             for _ in range(2)]
    assert later == [4, 5]


async def test_release_without_returning_the_nonce_keeps_it_consumed(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, middle, _ = [await _reserved(store, session, ETHER) for _ in range(3)]
    await store.release(middle, now_ms=T0 + 1, return_nonce=False)
    assert (await _reserved(store, session, ETHER)).nonce == 3
