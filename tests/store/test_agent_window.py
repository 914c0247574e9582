"""Migration 0009 brings the self-created sessions made before it into the agent's
self-service window (the window itself, for every backend: contract/test_ledger_agent_window.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from session_studio.policy import ReasonCode
from session_studio.store import SqliteStore

from .conftest import ETHER, T0, query, reserve
from .contract.test_ledger_agent_window import _agent, _session


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
