"""Session reads cost the rows they return, not the size of the inventory (issue 13, "Scale").

With 100,000 sessions a read that walks the workspace or sorts it costs 100-200 ms: every send
of an agent credential paid that (its sessions were found through the workspace index, chosen
to avoid sorting by created_at), and every admin listing sorted by expiry or last use did too.
These tests capture the SQL the store really runs (with its bound values) and ask SQLite's
planner how it would run it on the migrated schema: an index search that yields rows already in
order, never a scan and never a sort of the whole workspace. The planner's choice does not
depend on row counts here (no ANALYZE statistics), so an empty database shows the same plan as
a full one; bench/scale.py measures the full one.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Awaitable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from session_studio.store import (
    CredentialOwner,
    SessionFilter,
    SessionStatus,
    SessionType,
    SqliteStore,
    Workspace,
)

from .conftest import T0, new_session

SORTS = [f"{d}{key}" for key in ("created", "last_used", "expiry") for d in ("", "-")]


async def _plans_of(store: SqliteStore, db_path: Path, read: Awaitable[object]) -> list[str]:
    """The query plan of every SELECT on `sessions` that `read` (an awaitable) runs."""
    statements: list[str] = []
    reader = store._reader  # the one connection every read goes through
    assert reader is not None
    await reader.set_trace_callback(statements.append)
    try:
        await read
    finally:
        await reader.set_trace_callback(None)
    plans = []
    with closing(sqlite3.connect(db_path)) as db:
        for sql in statements:
            if sql.lstrip().upper().startswith("SELECT") and "sessions s" in sql:
                plans.append("\n".join(row[-1] for row in db.execute(
                    f"EXPLAIN QUERY PLAN {sql}")))
    assert plans, "the read ran no SELECT on sessions"
    return plans


async def _agent_with_session(store: SqliteStore, workspace: Workspace) -> str:
    agent_id = os.urandom(16).hex()
    await store.create_agent(workspace.id, "planner", daily_budget=None, now_ms=T0,
                             credential_hash=os.urandom(32), agent_id=agent_id)
    session = replace(new_session(workspace), type=SessionType.AGENT, agent_id=agent_id)
    await store.insert_session(session, sealed_key=os.urandom(96), credential_hash=None)
    return agent_id


async def test_an_agent_credentials_sessions_are_found_through_the_agent_not_the_workspace(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    agent_id = await _agent_with_session(store, workspace)
    owner = CredentialOwner(workspace_id=workspace.id, kind="agent", owner_id=agent_id)
    for plan in await _plans_of(store, db_path, store.sessions_of(owner)):
        assert "SEARCH s USING INDEX sessions_by_agent" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


async def test_an_agent_credentials_live_sessions_are_one_index_range_over_live_sessions(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    """Every signing request reads this: the agent's revoked and expired sessions (a history
    it can grow itself) are outside the range, so they cost nothing here."""
    agent_id = await _agent_with_session(store, workspace)
    owner = CredentialOwner(workspace_id=workspace.id, kind="agent", owner_id=agent_id)
    for plan in await _plans_of(store, db_path, store.live_sessions_of(owner, now_ms=T0)):
        assert ("SEARCH s USING INDEX sessions_live_by_agent "
                "(agent_id=? AND workspace_id=? AND expires_at>?)") in plan, plan


async def test_a_session_named_by_address_is_one_index_lookup(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    agent_id = await _agent_with_session(store, workspace)
    owner = CredentialOwner(workspace_id=workspace.id, kind="agent", owner_id=agent_id)
    read = store.session_by_address(owner, "0x" + "ab" * 20)
    for plan in await _plans_of(store, db_path, read):
        assert "SEARCH s USING INDEX sessions_by_address (address_lower=?)" in plan, plan


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("status", [None, SessionStatus.ACTIVE])
async def test_every_listing_sort_reads_one_index_range_in_order(
        store: SqliteStore, workspace: Workspace, db_path: Path, sort: str,
        status: SessionStatus | None) -> None:
    await _agent_with_session(store, workspace)
    for after in (None, (T0, "f" * 32)):  # the first page and a later one (keyset cursor)
        read = store.list_sessions(workspace.id,
                                   SessionFilter(sort=sort, status=status, after=after),
                                   now_ms=T0)
        for plan in await _plans_of(store, db_path, read):
            assert "SEARCH s USING" in plan and "sessions_by_workspace" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            if after is not None:  # the cursor seeks into the index, it does not walk to it
                assert re.search(r"\(workspace_id=\? AND [^)]*[<>]\?\)", plan), plan
