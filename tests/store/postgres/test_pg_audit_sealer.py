"""The audit chain off the signing path (PostgreSQL): a transaction records its event unchained
in `audit_pending`; a sealer chains pending events into `audit_log` in id order under the AUDIT
lock. So no decision waits for the chain's lock, and still every committed event ends up in one
valid chain exactly once, whichever replica recorded it and whichever sealed it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import psycopg
import pytest
from session_studio.store import AuditEntry, AuditEvent, PostgresStore, Workspace
from session_studio.store._audit import verify_chain
from session_studio.store._pg_base import Lock

from ..conftest import ETHER, T0, insert_session, reserve

pytestmark = pytest.mark.e2e
WAIT_S = 10
NEVER_S = 3600.0  # a periodic sealer that does not tick during the test


@contextmanager
def audit_lock_held(url: str) -> Iterator[None]:
    """Another party (a sealer of another replica, mid-batch) holds the chain's lock."""
    with psycopg.connect(url) as conn:  # not autocommit: the xact lock lasts until rollback
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (int(Lock.AUDIT),))
        yield
        conn.rollback()


def record_unsealed(url: str, subject: str, *, at_ms: int = T0) -> None:
    """What a replica that committed an audited change and died before sealing leaves."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_pending (at, workspace_id, actor, action, subject,"
                     " detail) VALUES (%s, NULL, 'test', 'test.crashed', %s, '{}')",
                     (at_ms, subject))


def table_counts(url: str) -> tuple[int, int]:
    """(pending, sealed) rows, read as an outsider."""
    with psycopg.connect(url, autocommit=True) as conn:
        pending = conn.execute("SELECT COUNT(*) FROM audit_pending").fetchone()
        sealed = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()
    assert pending is not None and sealed is not None
    return int(pending[0]), int(sealed[0])


@asynccontextmanager
async def replica(url: str, *,
                  audit_seal_interval_s: float = 1.0) -> AsyncIterator[PostgresStore]:
    """Another replica: its own pool on the same database."""
    opened = PostgresStore(url, audit_seal_interval_s=audit_seal_interval_s)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def _event(n: int) -> AuditEvent:
    return AuditEvent(workspace_id=None, actor="test", action="test.view",
                      subject=f"subject-{n}", detail={"n": n})


async def _whole_chain(store: PostgresStore) -> list[AuditEntry]:
    entries = await store.audit_entries(workspace_id=None, limit=100_000)
    assert verify_chain(entries).ok
    assert (await store.verify_audit()).ok
    return entries


async def test_a_decision_does_not_wait_for_the_audit_chains_lock(
        store: PostgresStore, pg_url: str, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    with audit_lock_held(pg_url):
        decision, reservation = await asyncio.wait_for(
            reserve(store, session, ETHER), WAIT_S / 2)
        assert decision.allowed and reservation is not None
    entries = await store.audit_entries(workspace_id=workspace.id, subject=session.key_hash)
    assert [e.action for e in entries] == ["rpc.decision"]


async def test_concurrent_decisions_of_many_sessions_leave_one_valid_chain(
        store: PostgresStore, pg_url: str, workspace: Workspace) -> None:
    sessions = [await insert_session(store, workspace) for _ in range(12)]
    async with replica(pg_url) as other:
        results = await asyncio.gather(*(
            reserve(store if i % 2 else other, sessions[i % 12], ETHER) for i in range(48)))
    assert all(decision.allowed for decision, _ in results)
    entries = await _whole_chain(store)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    decisions = [e for e in entries if e.action == "rpc.decision"]
    assert sorted(e.subject for e in decisions) == sorted(
        sessions[i % 12].key_hash for i in range(48))
    assert all(json.loads(e.detail)["allowed"] for e in decisions)
    assert table_counts(pg_url)[0] == 0


async def test_an_event_committed_but_never_sealed_is_sealed_by_the_periodic_sealer(
        pg_url: str) -> None:
    async with replica(pg_url, audit_seal_interval_s=0.2):
        record_unsealed(pg_url, "left-by-a-dead-replica")
        for _ in range(int(WAIT_S / 0.1)):
            if table_counts(pg_url) == (0, 1):
                break
            await asyncio.sleep(0.1)
        assert table_counts(pg_url) == (0, 1)


async def test_an_audit_read_sees_an_event_committed_just_before_it(pg_url: str) -> None:
    async with replica(pg_url, audit_seal_interval_s=NEVER_S) as store:
        record_unsealed(pg_url, "committed-elsewhere")
        entries = await store.audit_entries(workspace_id=None)
        assert [e.subject for e in entries] == ["committed-elsewhere"]
        await store.append_audit(_event(1), now_ms=T0)
        assert [e.subject for e in await store.audit_entries(workspace_id=None)] == [
            "committed-elsewhere", "subject-1"]
        assert (await store.verify_audit()).ok


async def test_a_read_waits_for_a_sealer_holding_the_chain_then_sees_everything(
        pg_url: str) -> None:
    async with replica(pg_url, audit_seal_interval_s=NEVER_S) as store:
        record_unsealed(pg_url, "before-the-read")
        with audit_lock_held(pg_url):
            reading = asyncio.create_task(store.audit_entries(workspace_id=None))
            await asyncio.sleep(0.3)
            assert not reading.done()
        assert [e.subject for e in await reading] == ["before-the-read"]


async def test_two_replicas_sealing_at_once_keep_one_chain(pg_url: str) -> None:
    async with replica(pg_url, audit_seal_interval_s=0.05) as first, \
            replica(pg_url, audit_seal_interval_s=0.05) as second:
        for round_ in range(5):
            await asyncio.gather(
                *(first.append_audit(_event(100 * round_ + n), now_ms=T0) for n in range(20)),
                *(second.append_audit(_event(100 * round_ + 50 + n), now_ms=T0)
                  for n in range(20)),
                *(asyncio.to_thread(record_unsealed, pg_url, f"raw-{round_}-{n}")
                  for n in range(5)),
                first.verify_audit(), second.verify_audit())
        entries = await _whole_chain(second)
    assert len(entries) == 5 * 45
    assert len({e.subject for e in entries}) == len(entries)
    assert table_counts(pg_url) == (0, 5 * 45)


async def test_an_event_committed_late_is_chained_after_those_sealed_before_it(
        pg_url: str) -> None:
    """Chain order is seal order, not id order: a transaction that took a lower id but
    committed after a higher one is sealed (and chained) after it; no entry is lost."""
    async with replica(pg_url, audit_seal_interval_s=NEVER_S) as store:
        with psycopg.connect(pg_url) as slow:  # its transaction stays open
            slow.execute("INSERT INTO audit_pending (at, workspace_id, actor, action, subject,"
                         " detail) VALUES (%s, NULL, 'test', 'test.slow', 'first-id', '{}')",
                         (T0,))
            record_unsealed(pg_url, "second-id")
            assert [e.subject for e in await store.audit_entries(workspace_id=None)] == [
                "second-id"]
            slow.commit()
        entries = await _whole_chain(store)
    assert [(e.seq, e.subject) for e in entries] == [(1, "second-id"), (2, "first-id")]


async def test_a_sealer_that_dies_mid_batch_leaves_its_rows_pending(pg_url: str) -> None:
    """A sealer's batch is one transaction: killed before its commit, nothing of it stays, and
    the next sealer chains the same rows."""
    async with replica(pg_url, audit_seal_interval_s=NEVER_S) as store:
        record_unsealed(pg_url, "survives")
        dying = psycopg.connect(pg_url)
        dying.execute("SELECT pg_advisory_xact_lock(%s, 0)", (int(Lock.AUDIT),))
        dying.execute("INSERT INTO audit_log VALUES (1, 0, NULL, 'x', 'x', 'x', '{}',"
                      " '\\x00'::bytea, '\\x00'::bytea)")
        dying.execute("DELETE FROM audit_pending")
        dying.close()  # the sealer's process dies: its connection ends without a commit
        entries = await _whole_chain(store)
    assert [e.subject for e in entries] == ["survives"]
