"""Serialisation per account, not per database: what one signature locks, and what it leaves.

A signature in flight holds its lineage's lock (and its signer's) until it commits. Another
session's signature neither waits for it nor is refused; the same session's next one, and a
revoke of it, wait for it. Approving a held request takes the same locks as signing one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from session_studio.policy import ReasonCode
from session_studio.store import PostgresStore, Session, Workspace

from ..conftest import ETHER, T0, fake_sign, insert_session, reserve
from ..contract._approval_steps import approval_session, approve, hold

pytestmark = pytest.mark.e2e
WAIT_S = 10


@asynccontextmanager
async def signing_in_flight(store: PostgresStore,
                            session: Session) -> AsyncIterator[asyncio.Task[tuple]]:
    """A reservation of `session` held inside its signature until the block ends."""
    signing, finish = threading.Event(), threading.Event()

    def slow_sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signing.set()
        assert finish.wait(WAIT_S)
        return fake_sign(nonce, sealed)

    held = asyncio.create_task(reserve(store, session, ETHER, sign=slow_sign))
    assert await asyncio.to_thread(signing.wait, WAIT_S)
    try:
        yield held
    finally:
        finish.set()
        await held


async def _still_waiting(task: asyncio.Task[object], seconds: float = 0.3) -> bool:
    await asyncio.sleep(seconds)
    return not task.done()


async def _reserve_soon(store: PostgresStore, session: Session,
                        sign: Callable[..., tuple] = fake_sign) -> tuple:
    return await asyncio.wait_for(reserve(store, session, ETHER, sign=sign), WAIT_S / 2)


async def test_another_session_signs_while_a_signature_is_in_flight(
        store: PostgresStore, workspace: Workspace) -> None:
    busy = await insert_session(store, workspace)
    other = await insert_session(store, workspace)
    async with signing_in_flight(store, busy) as held:
        decision, reservation = await _reserve_soon(store, other)
        assert decision.allowed and reservation is not None
        assert not held.done()


async def test_the_same_session_waits_for_its_signature_in_flight(
        store: PostgresStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    async with signing_in_flight(store, session):
        waiting = asyncio.create_task(reserve(store, session, ETHER))
        assert await _still_waiting(waiting)
    decision, reservation = await waiting
    assert decision.allowed and reservation is not None and reservation.nonce == 1


async def test_a_rotated_successor_waits_for_its_lineages_signature_in_flight(
        store: PostgresStore, workspace: Workspace) -> None:
    first = await insert_session(store, workspace)
    second = await insert_session(store, workspace, lineage_id=first.lineage_id)
    async with signing_in_flight(store, first):
        waiting = asyncio.create_task(reserve(store, second, ETHER))
        assert await _still_waiting(waiting)
    assert (await waiting)[0].allowed


async def test_a_revoke_returns_only_after_the_signature_in_flight(
        store: PostgresStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    async with signing_in_flight(store, session) as held:
        revoking = asyncio.create_task(store.revoke_session(session.id, now_ms=T0))
        assert await _still_waiting(revoking)
    await revoking
    assert held.result()[0].allowed


async def test_no_signature_begins_after_a_revoke_returned(
        store: PostgresStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await store.revoke_session(session.id, now_ms=T0)
    decision, reservation = await _reserve_soon(store, session)
    assert decision.reason is ReasonCode.SESSION_REVOKED and reservation is None


async def test_revoking_another_session_does_not_wait_for_a_signature_in_flight(
        store: PostgresStore, workspace: Workspace) -> None:
    busy = await insert_session(store, workspace)
    other = await insert_session(store, workspace)
    async with signing_in_flight(store, busy):
        await asyncio.wait_for(store.revoke_session(other.id, now_ms=T0), WAIT_S / 2)


async def test_two_stores_on_one_database_sign_one_session_in_turn(
        store: PostgresStore, pg_url: str, workspace: Workspace) -> None:
    """A second pool (a second replica) sees the first's signature in flight and waits."""
    session = await insert_session(store, workspace)
    replica = PostgresStore(pg_url)
    await replica.open()
    try:
        async with signing_in_flight(store, session):
            waiting = asyncio.create_task(reserve(replica, session, ETHER))
            assert await _still_waiting(waiting)
        decision, reservation = await waiting
        assert decision.allowed and reservation is not None and reservation.nonce == 1
    finally:
        await replica.close()


async def test_an_approval_waits_for_its_lineages_signature_in_flight(
        store: PostgresStore, workspace: Workspace) -> None:
    session = await approval_session(store, workspace)
    _, _, draft = await hold(store, session, 8 * ETHER)
    async with signing_in_flight(store, session):
        waiting = asyncio.create_task(approve(store, session, draft.id, now_ms=T0 + 1))
        assert await _still_waiting(waiting)
    _, decision, reservation, _ = await waiting
    assert decision.allowed and reservation is not None and reservation.nonce == 1


async def test_expiring_approvals_does_not_wait_for_another_lineages_signature(
        store: PostgresStore, workspace: Workspace) -> None:
    busy = await insert_session(store, workspace)
    other = await approval_session(store, workspace)
    await hold(store, other, 8 * ETHER, ttl_ms=1)
    async with signing_in_flight(store, busy) as held:
        expired = await asyncio.wait_for(store.expire_approvals(now_ms=T0 + 1), WAIT_S / 2)
        assert expired == 1 and not held.done()
