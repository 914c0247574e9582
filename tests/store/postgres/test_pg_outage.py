"""A store that loses its PostgreSQL server fails closed and recovers by itself.

While the server is down nothing is signed (the reservation raises StoreUnavailable, the sign
callback never runs) and readiness says so within its short timeout; once the server is back
the same store object, never reopened, signs again. These tests stop and start a cluster of
their own, never the session's shared one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pg_cluster as cluster_module
import pytest
from session_studio.store import PostgresStore, Session, StoreUnavailable, Workspace

from ..conftest import ETHER, T0, fake_sign, insert_session, reserve

pytestmark = pytest.mark.e2e
PING_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[cluster_module.PgCluster]:
    try:
        cluster = cluster_module.PgCluster().start()
    except cluster_module.ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def store(own_cluster: cluster_module.PgCluster) -> AsyncIterator[PostgresStore]:
    name = f"outage_{time.monotonic_ns()}"
    opened = PostgresStore(own_cluster.create_database(name), timeout_s=2,
                           ping_timeout_s=PING_TIMEOUT_S)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
        own_cluster.drop_database(name)


@pytest.fixture
async def down(own_cluster: cluster_module.PgCluster,
               store: PostgresStore) -> AsyncIterator[None]:
    """The server is stopped for the test's body and started again after it."""
    await asyncio.to_thread(own_cluster.pause)
    try:
        yield
    finally:
        await asyncio.to_thread(own_cluster.resume)


@pytest.fixture
async def session(store: PostgresStore, workspace: Workspace) -> Session:
    return await insert_session(store, workspace)


def _never_sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
    raise AssertionError("signed while the database was down")


async def test_nothing_is_signed_while_the_database_is_down(
        store: PostgresStore, session: Session, down: None) -> None:
    with pytest.raises(StoreUnavailable):
        await reserve(store, session, ETHER, sign=_never_sign)


async def test_readiness_reports_the_lost_database_promptly(store: PostgresStore,
                                                           down: None) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    assert time.monotonic() - started < PING_TIMEOUT_S + 2


async def test_the_same_store_signs_again_once_the_database_is_back(
        own_cluster: cluster_module.PgCluster, store: PostgresStore, session: Session) -> None:
    await asyncio.to_thread(own_cluster.pause)
    try:
        with pytest.raises(StoreUnavailable):
            await reserve(store, session, ETHER, sign=_never_sign)
    finally:
        await asyncio.to_thread(own_cluster.resume)
    await store.ping()
    decision, reservation = await reserve(store, session, ETHER, sign=fake_sign)
    assert decision.allowed and reservation is not None and reservation.nonce == 0


async def test_readiness_recovers_once_the_database_is_back(
        own_cluster: cluster_module.PgCluster, store: PostgresStore) -> None:
    await asyncio.to_thread(own_cluster.pause)
    await asyncio.to_thread(own_cluster.resume)
    await store.ping()
    assert await store.list_workspaces() == []


async def test_a_revoke_while_the_database_is_down_is_refused(
        store: PostgresStore, session: Session, down: None) -> None:
    with pytest.raises(StoreUnavailable):
        await store.revoke_session(session.id, now_ms=T0)
