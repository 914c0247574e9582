"""The self-service window in the ledger: what an agent's self-created sessions spent, together,
bounded by its ceiling's daily limit (POLICY.md, "Limits"). (SQLite's migration 0009, which
brought earlier sessions into that window: tests/store/test_agent_window.py.)"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

from session_studio.policy import Permission, ReasonCode
from session_studio.store import (
    Agent,
    AgentCeiling,
    AuditEvent,
    Session,
    SessionType,
    Store,
    Workspace,
    new_id,
)

from ..conftest import ETHER, T0, new_session, reserve

CEILING = AgentCeiling(permissions=(Permission.TRANSFER,), chain_ids=(31337,), tokens=("ETH",),
                       limit_unit="ETH", per_tx=10 * ETHER, daily=10 * ETHER,
                       max_lifetime_s=86400, max_live_sessions=5)


async def _agent(store: Store, workspace: Workspace, name: str = "churner") -> Agent:
    return await store.create_agent(workspace.id, name, daily_budget=None, now_ms=T0,
                                    credential_hash=os.urandom(32), agent_id=new_id(),
                                    ceiling=CEILING)


async def _session(store: Store, workspace: Workspace, agent: Agent, *,
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
        store: Store, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    first = await _session(store, workspace, agent, self_service=True)
    assert (await reserve(store, first, 8 * ETHER))[0].allowed
    await store.revoke_session(first.id, now_ms=T0 + 1)
    second = await _session(store, workspace, agent, self_service=True, at=T0 + 2)
    decision, _ = await reserve(store, second, 3 * ETHER, now_ms=T0 + 3)
    assert decision.reason is ReasonCode.AGENT_BUDGET_EXCEEDED
    assert decision.figures["self_service_spent_in_window"] == "8"
    assert (await reserve(store, second, 2 * ETHER, now_ms=T0 + 4))[0].allowed


async def test_a_release_gives_the_agent_window_back(store: Store,
                                                     workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    first = await _session(store, workspace, agent, self_service=True)
    _, reservation = await reserve(store, first, 8 * ETHER)
    assert reservation is not None
    await store.release(reservation, now_ms=T0 + 1, return_nonce=False)
    second = await _session(store, workspace, agent, self_service=True, at=T0 + 2)
    assert (await reserve(store, second, 10 * ETHER, now_ms=T0 + 3))[0].allowed


async def test_operator_made_sessions_neither_fill_nor_use_the_agent_window(
        store: Store, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    operators = await _session(store, workspace, agent, self_service=False)
    assert (await reserve(store, operators, 10 * ETHER))[0].allowed
    mine = await _session(store, workspace, agent, self_service=True)
    assert (await reserve(store, mine, 10 * ETHER))[0].allowed


async def test_parallel_spends_of_many_self_created_sessions_never_pass_the_ceiling(
        store: Store, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    sessions = [await _session(store, workspace, agent, self_service=True) for _ in range(5)]

    results = await asyncio.gather(*(reserve(store, s, 3 * ETHER, now_ms=T0 + i)
                                     for i in range(4) for s in sessions))

    admitted = sum(1 for decision, _ in results if decision.allowed)
    assert admitted == 3  # 3 x 3 ETH fit the ceiling's 10; the 17 others were refused
    assert {d.reason for d, _ in results if not d.allowed} == {
        ReasonCode.AGENT_BUDGET_EXCEEDED}
