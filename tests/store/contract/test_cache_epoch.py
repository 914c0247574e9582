"""The cache epoch: every change a credential cache could go stale on moves it, in the same
commit; the hot paths (signing, usage counting, reads) never do, so caches stay warm."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest
from session_studio.policy import Permission
from session_studio.store import (
    Agent,
    AgentCeiling,
    AuditEvent,
    Conflict,
    SessionUsage,
    Store,
    Workspace,
    new_id,
)

from ..conftest import ETHER, T0, insert_session, new_session, reserve

CEILING = AgentCeiling(permissions=(Permission.TRANSFER,), chain_ids=(31337,), tokens=("ETH",),
                       limit_unit="ETH", per_tx=10 * ETHER, daily=10 * ETHER,
                       max_lifetime_s=86400, max_live_sessions=5)


async def _agent(store: Store, workspace: Workspace) -> Agent:
    return await store.create_agent(workspace.id, "cached", daily_budget=None, now_ms=T0,
                                    credential_hash=os.urandom(32), agent_id=new_id(),
                                    ceiling=CEILING)


async def _moves(store: Store, change: Callable[[], Awaitable[object]]) -> bool:
    before = await store.cache_epoch()
    await change()
    return await store.cache_epoch() > before


async def test_creating_a_session_moves_the_epoch(store: Store, workspace: Workspace) -> None:
    assert await _moves(store, lambda: insert_session(store, workspace))


async def test_revoking_a_session_moves_the_epoch(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    assert await _moves(store, lambda: store.revoke_session(session.id, now_ms=T0 + 1))


async def test_rotating_a_session_moves_the_epoch(store: Store, workspace: Workspace) -> None:
    old = await insert_session(store, workspace)
    successor = new_session(workspace, lineage_id=old.lineage_id, predecessor_id=old.id,
                            created_at_ms=T0 + 1)
    assert await _moves(store, lambda: store.rotate_session(
        old, successor, sealed_key=os.urandom(96), credential_hash=os.urandom(32),
        now_ms=T0 + 1))


async def test_creating_an_agent_moves_the_epoch(store: Store, workspace: Workspace) -> None:
    assert await _moves(store, lambda: _agent(store, workspace))


async def test_reissuing_an_agent_credential_moves_the_epoch(store: Store,
                                                              workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    assert await _moves(store, lambda: store.reissue_agent_credential(
        agent, credential_hash=os.urandom(32), now_ms=T0 + 1))


async def test_disabling_an_agent_moves_the_epoch(store: Store, workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    audit = AuditEvent(workspace_id=workspace.id, actor="test", action="agent.disable",
                       subject=agent.name)
    assert await _moves(store, lambda: store.disable_agent(agent, now_ms=T0 + 1, audit=audit))


async def test_signing_leaves_the_epoch_alone(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)

    async def sign() -> None:
        decision, _ = await reserve(store, session, ETHER)
        assert decision.allowed

    assert not await _moves(store, sign)


async def test_counting_usage_leaves_the_epoch_alone(store: Store,
                                                     workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    assert not await _moves(store, lambda: store.record_usage(
        [SessionUsage(session_id=session.id, requests=3, last_used_at_ms=T0 + 50)]))


async def test_a_refused_change_leaves_the_epoch_alone(store: Store,
                                                       workspace: Workspace) -> None:
    agent = await _agent(store, workspace)
    await store.reissue_agent_credential(agent, credential_hash=os.urandom(32), now_ms=T0 + 1)
    before = await store.cache_epoch()
    with pytest.raises(Conflict):  # the version moved: a stale reissue is refused
        await store.reissue_agent_credential(agent, credential_hash=os.urandom(32),
                                             now_ms=T0 + 2)
    assert await store.cache_epoch() == before
