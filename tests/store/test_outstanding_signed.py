"""Two processes on one SQLite file never together hold more signatures than the bound (the
bound itself, for every backend: contract/test_ledger_outstanding_signed.py)."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from session_studio.store import SqliteStore, Workspace

from .conftest import insert_session, query
from .contract.test_ledger_outstanding_signed import BOUND, SIGN, _sign

# Starts worker processes on one database file.
pytestmark = pytest.mark.e2e


def _outstanding(path: Path, lineage_id: str) -> int:
    [(count,)] = query(path, "SELECT COUNT(*) FROM reservations WHERE lineage_id = ?"
                             " AND method = ? AND status = 'signed'", (lineage_id, SIGN))
    return int(count)


def _signing_worker(db_path: str, session_id: str, start: Any, results: Any) -> None:
    async def run() -> int:
        store = SqliteStore(Path(db_path))
        await store.open()
        try:
            session = await store.get_session_by_id(session_id)
            start.wait()
            return sum([(await _sign(store, session))[0].allowed for _ in range(20)])
        finally:
            await store.close()

    results.put(asyncio.run(run()))


async def test_two_processes_never_together_exceed_the_bound(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    session = await insert_session(store, workspace)
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_signing_worker,
                           args=(str(db_path), session.id, start, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    admitted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sum(admitted) == BOUND
    assert _outstanding(db_path, session.lineage_id) == BOUND
