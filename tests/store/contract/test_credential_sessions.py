"""What a signing request reads about its credential's sessions: the live ones, and one dead
one by address (CredentialResolver.live_sessions_of / session_by_address).

An agent grows its own history for free (create and revoke sessions, let them expire, rotate),
and every request of its credential reads this: it must cost the agent's live sessions, never
its history. A request whose `from` names a dead session still finds it, so its refusal names
the real reason (session_revoked, session_expired) rather than "not available".
"""

from __future__ import annotations

import os
from dataclasses import replace

from session_studio.store import CredentialOwner, Session, SessionType, Store, Workspace

from ..conftest import T0, new_session

LATER = T0 + 1_000


async def _agent(store: Store, workspace: Workspace, name: str = "churner") -> CredentialOwner:
    agent_id = os.urandom(16).hex()
    await store.create_agent(workspace.id, name, daily_budget=None, now_ms=T0,
                             credential_hash=os.urandom(32), agent_id=agent_id)
    return CredentialOwner(workspace_id=workspace.id, kind="agent", owner_id=agent_id)


async def _session_of(store: Store, workspace: Workspace, owner: CredentialOwner, *,
                      created_at_ms: int = T0, lifetime_ms: int = 3_600_000) -> Session:
    session = replace(new_session(workspace, created_at_ms=created_at_ms,
                                  lifetime_ms=lifetime_ms),
                      type=SessionType.AGENT, agent_id=owner.owner_id)
    await store.insert_session(session, sealed_key=os.urandom(96), credential_hash=None)
    return session


async def _history(store: Store, workspace: Workspace,
                   owner: CredentialOwner) -> tuple[Session, Session, Session]:
    """(live, revoked, expired) sessions of the agent, the dead ones older than the live one."""
    revoked = await _session_of(store, workspace, owner, created_at_ms=T0 - 2)
    await store.revoke_session(revoked.id, now_ms=T0)
    expired = await _session_of(store, workspace, owner, created_at_ms=T0 - 1, lifetime_ms=1)
    live = await _session_of(store, workspace, owner)
    return live, revoked, expired


async def test_an_agents_live_sessions_leave_out_its_revoked_and_expired_ones(
        store: Store, workspace: Workspace) -> None:
    owner = await _agent(store, workspace)
    live, _revoked, _expired = await _history(store, workspace, owner)
    assert [s.id for s in await store.live_sessions_of(owner, now_ms=LATER)] == [live.id]


async def test_live_sessions_come_oldest_first(store: Store, workspace: Workspace) -> None:
    owner = await _agent(store, workspace)
    newer = await _session_of(store, workspace, owner, created_at_ms=T0 + 5)
    older = await _session_of(store, workspace, owner, created_at_ms=T0)
    assert [s.id for s in await store.live_sessions_of(owner, now_ms=LATER)] == [
        older.id, newer.id]


async def test_a_session_is_not_live_from_its_expiry_on(store: Store,
                                                       workspace: Workspace) -> None:
    owner = await _agent(store, workspace)
    session = await _session_of(store, workspace, owner, lifetime_ms=LATER - T0)
    assert [s.id for s in await store.live_sessions_of(owner, now_ms=LATER - 1)] == [session.id]
    assert await store.live_sessions_of(owner, now_ms=LATER) == []


async def test_an_app_credential_reaches_its_session_only_while_it_lives(
        store: Store, workspace: Workspace) -> None:
    session, credential = new_session(workspace, lifetime_ms=LATER - T0), os.urandom(32)
    await store.insert_session(session, sealed_key=os.urandom(96), credential_hash=credential)
    owner = await store.resolve_credential(credential)
    assert owner is not None
    assert [s.id for s in await store.live_sessions_of(owner, now_ms=T0)] == [session.id]
    assert await store.live_sessions_of(owner, now_ms=LATER) == []
    found = await store.session_by_address(owner, session.address.lower())
    assert found is not None and found.id == session.id


async def test_a_dead_session_is_found_by_its_address_for_its_precise_refusal(
        store: Store, workspace: Workspace) -> None:
    owner = await _agent(store, workspace)
    _live, revoked, expired = await _history(store, workspace, owner)
    for dead in (revoked, expired):
        found = await store.session_by_address(owner, dead.address.lower())
        assert found is not None and found.id == dead.id
    found = await store.session_by_address(owner, revoked.address.lower())
    assert found is not None and found.revoked_at_ms == T0


async def test_another_agents_session_is_not_found_by_address(store: Store,
                                                             workspace: Workspace) -> None:
    owner, other = await _agent(store, workspace), await _agent(store, workspace, "other")
    theirs = await _session_of(store, workspace, other)
    assert await store.session_by_address(owner, theirs.address.lower()) is None
    assert await store.session_by_address(owner, "0x" + "00" * 20) is None


async def test_another_workspaces_session_is_not_found_by_address(
        store: Store, workspace: Workspace) -> None:
    owner = await _agent(store, workspace)
    session = await _session_of(store, workspace, owner)
    elsewhere = CredentialOwner(workspace_id=(await store.create_workspace(
        "elsewhere", now_ms=T0)).id, kind="agent", owner_id=owner.owner_id)
    assert await store.session_by_address(elsewhere, session.address.lower()) is None
    assert await store.live_sessions_of(elsewhere, now_ms=LATER) == []
