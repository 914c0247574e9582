"""Two OS processes, each with its own `SqliteStore` on the same file, reserving in a loop.

The cap and the nonce sequence must hold across processes (POLICY.md attack catalogue 6): this
is what `BEGIN IMMEDIATE` is for. Workers are spawned (not forked), so each has its own
interpreter, event loop, connections and asyncio lock; only the file is shared.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from session_studio.store import SqliteStore, Workspace

from .conftest import ETHER, held_amounts, insert_session, reserve

# Starts worker processes on one database file.
pytestmark = pytest.mark.e2e

ATTEMPTS_PER_PROCESS = 120
COST = ETHER
DAILY = 150 * ETHER  # 240 attempts in all, 150 fit


def _worker(db_path: str, session_id: str, start: Any, results: Any) -> None:
    async def run() -> list[int]:
        store = SqliteStore(Path(db_path))
        await store.open()
        try:
            session = await store.get_session_by_id(session_id)
            start.wait()
            nonces = []
            for _ in range(ATTEMPTS_PER_PROCESS):
                decision, reservation = await reserve(store, session, COST)
                if decision.allowed:
                    assert reservation is not None and reservation.nonce is not None
                    nonces.append(reservation.nonce)
            return nonces
        finally:
            await store.close()

    results.put(asyncio.run(run()))


@pytest.fixture
async def two_process_run(store: SqliteStore, workspace: Workspace,
                          db_path: Path) -> tuple[str, list[list[int]]]:
    session = await insert_session(store, workspace, per_tx=10 * ETHER, daily=DAILY)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(db_path), session.id, start, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    collected = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    return session.id, collected


async def test_two_processes_never_together_exceed_the_daily_cap(
        two_process_run: tuple[str, list[list[int]]], db_path: Path) -> None:
    session_id, _ = two_process_run
    assert sum(held_amounts(db_path, session_id)) == DAILY


async def test_two_processes_admit_exactly_what_fits(
        two_process_run: tuple[str, list[list[int]]]) -> None:
    _, per_process = two_process_run
    assert sum(len(nonces) for nonces in per_process) == DAILY // COST


async def test_two_processes_never_pick_the_same_nonce(
        two_process_run: tuple[str, list[list[int]]]) -> None:
    _, per_process = two_process_run
    assert sorted(per_process[0] + per_process[1]) == list(range(DAILY // COST))
