"""A request that waits for SQLite's write lock, held by another connection to the file (another
process, the CLI), is judged at the time read once it holds it (the rest of issue 10, item 13,
for every backend: contract/test_ledger_clock_in_lock.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from session_studio.policy import ReasonCode
from session_studio.store import SqliteStore, Workspace

from .conftest import ETHER, MINUTE_MS, T0, insert_session, reserve

LIFETIME_MS = 10 * MINUTE_MS


async def test_request_waiting_for_the_lock_past_expiry_is_refused(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    session = await insert_session(store, workspace, lifetime_ms=LIFETIME_MS)
    now = [T0]  # well before expiry when the request arrives
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the ledger's lock
    try:
        waiting = asyncio.create_task(reserve(store, session, ETHER, clock=lambda: now[0]))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        now[0] = session.expires_at_ms  # expiry passes while it waits
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    decision, reservation = await waiting
    assert decision.reason is ReasonCode.SESSION_EXPIRED and reservation is None
