"""The self-service window in the ledger: what an agent's self-created sessions spent, together,
bounded by its ceiling's daily limit (POLICY.md, "Limits"), and migration 0009 bringing sessions
created before it into that window."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

from session_studio.policy import Permission, ReasonCode
from session_studio.store import (
    Agent,
    AgentCeiling,
    AuditEvent,
    Session,
    SessionType,
    SqliteStore,
    Workspace,
    new_id,
)

from .conftest import ETHER, T0, new_session, query, reserve

CEILING = AgentCeiling(permissions=(Permission.TRANSFER,), chain_ids=(31337,), tokens=("ETH",),
                       limit_unit="ETH", per_tx=10 * ETHER, daily=10 * ETHER,
                       max_lifetime_s=86400, max_live_sessions=5)


async def _agent(store: SqliteStore, workspace: Workspace, name: str = "churner") -> Agent:
    return await store.create_agent(workspace.id, name, daily_budget=None, now_ms=T0,
                                    credential_hash=os.urandom(32), agent_id=new_id(),
                                    ceiling=CEILING)


async def _session(store: SqliteStore, workspace: Workspace, agent: Agent, *,
                   self_service: bool, at: int = T0) -> Session:
    session = replace(new_session(workspace, per_tx=10 * ETHER, daily=10 * ETHER,
                                  created_at_ms=at),
                      type=SessionType.AGENT, agent_id=agent.id, agent_name=agent.name)
    await store.insert_session(
        session, sealed_key=os.urandom(96), credential_hash=None, self_service=self_service,
        audit=AuditEvent(workspace_id=workspace.id,
                         actor=f"agent:{agent.name}" if self_service else "cli:op",
                         action="session.create", subject=session.key_hash))
    return session


async def test_a_recreated_session_is_refused_what_the_revoked_one_spent(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    first = await _session(store, workspace, agent, self_service=True)
    assert (await reserve(store, first, 8 * ETHER))[0].allowed
    await store.revoke_session(first.id, now_ms=T0 + 1)
    second = await _session(store, workspace, agent, self_service=True, at=T0 + 2)
    decision, _ = await reserve(store, second, 3 * ETHER, now_ms=T0 + 3)
    assert decision.reason is ReasonCode.AGENT_BUDGET_EXCEEDED
    assert decision.figures["self_service_spent_in_window"] == "8"
    assert (await reserve(store, second, 2 * ETHER, now_ms=T0 + 4))[0].allowed


async def test_a_release_gives_the_agent_window_back(store: SqliteStore,
                                                     workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    first = await _session(store, workspace, agent, self_service=True)
    _, reservation = await reserve(store, first, 8 * ETHER)
    assert reservation is not None
    await store.release(reservation, now_ms=T0 + 1, return_nonce=False)
    second = await _session(store, workspace, agent, self_service=True, at=T0 + 2)
    assert (await reserve(store, second, 10 * ETHER, now_ms=T0 + 3))[0].allowed


async def test_operator_made_sessions_neither_fill_nor_use_the_agent_window(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    operators = await _session(store, workspace, agent, self_service=False)
    assert (await reserve(store, operators, 10 * ETHER))[0].allowed
    mine = await _session(store, workspace, agent, self_service=True)
    assert (await reserve(store, mine, 10 * ETHER))[0].allowed


async def test_migration_0009_brings_earlier_self_created_sessions_into_the_window(
        db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    workspace = await store.create_workspace("upgrade", now_ms=T0)
    agent = await _agent(store, workspace)
    earlier = await _session(store, workspace, agent, self_service=True)
    operators = await _session(store, workspace, agent, self_service=False)
    assert (await reserve(store, earlier, 7 * ETHER))[0].allowed
    assert (await reserve(store, operators, 5 * ETHER))[0].allowed
    await store.close()
    _undo_migration_0009(db_path)

    upgraded = SqliteStore(db_path)
    await upgraded.open()
    try:
        assert query(db_path, "SELECT lineage_id FROM self_service_lineages") == [
            (earlier.lineage_id,)]
        recreated = await _session(upgraded, workspace, agent, self_service=True, at=T0 + 1)
        decision, _ = await reserve(upgraded, recreated, 4 * ETHER, now_ms=T0 + 2)
        assert decision.reason is ReasonCode.AGENT_BUDGET_EXCEEDED
        assert decision.figures["self_service_spent_in_window"] == "7"
    finally:
        await upgraded.close()


def _undo_migration_0009(path: Path) -> None:
    """The database as a release before 0009 left it (same rows, none of 0009's)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript("DROP TABLE self_service_lineages; DROP TABLE agent_window_buckets;"
                         " ALTER TABLE agents DROP COLUMN disabled_at;"
                         " DELETE FROM schema_migrations WHERE version = 9;")


async def test_parallel_spends_of_many_self_created_sessions_never_pass_the_ceiling(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    sessions = [await _session(store, workspace, agent, self_service=True) for _ in range(5)]

    results = await asyncio.gather(*(reserve(store, s, 3 * ETHER, now_ms=T0 + i)
                                     for i in range(4) for s in sessions))

    admitted = sum(1 for decision, _ in results if decision.allowed)
    assert admitted == 3  # 3 x 3 ETH fit the ceiling's 10; the 17 others were refused
    assert {d.reason for d, _ in results if not d.allowed} == {
        ReasonCode.AGENT_BUDGET_EXCEEDED}
