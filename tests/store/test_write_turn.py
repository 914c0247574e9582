"""The write turn (store/_sqlite_turn.py): fail closed when another process keeps it too long.

Another process holds the write-lock file as a `serve` stuck mid-transaction would (or one that
is SIGSTOPped): a request that cannot get its turn within the busy timeout ends in
StoreUnavailable and reserves nothing, not even once the turn finally comes; a process that
dies releases its turn.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from session_studio.store import Session, SqliteStore, StoreUnavailable, Workspace
from session_studio.store._sqlite_turn import turnstile_path, write_lock_path

from .conftest import ETHER, held_amounts, insert_session, query, reserve

# Starts a process that holds the lock file.
pytestmark = pytest.mark.e2e

BUSY_TIMEOUT_MS = 300  # short only to keep the test fast; the default (30 s) ends the same way
_HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
async def short_store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path, busy_timeout_ms=BUSY_TIMEOUT_MS)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def session(short_store: SqliteStore) -> Session:
    workspace: Workspace = await short_store.create_workspace("turn-tests", now_ms=0)
    return await insert_session(short_store, workspace, per_tx=10 * ETHER, daily=100 * ETHER)


def _hold_write_lock(db_path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(write_lock_path(db_path))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def _end(holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)


async def test_a_write_turn_held_past_the_busy_timeout_ends_in_store_unavailable(
        short_store: SqliteStore, session: Session, db_path: Path) -> None:
    holder = _hold_write_lock(db_path)
    try:
        with pytest.raises(StoreUnavailable):
            await reserve(short_store, session, ETHER)
    finally:
        _end(holder)


async def test_a_request_that_timed_out_waiting_reserves_nothing_once_the_turn_comes(
        short_store: SqliteStore, session: Session, db_path: Path) -> None:
    holder = _hold_write_lock(db_path)
    try:
        with pytest.raises(StoreUnavailable):
            await reserve(short_store, session, ETHER)
    finally:
        _end(holder)
    # The writer thread gets the turn now; the next transaction queues behind the abandoned
    # one, so once it is done the abandoned one has had every chance to run.
    await short_store.revoke_session(session.id, now_ms=1)
    assert (held_amounts(db_path, session.id),
            query(db_path, "SELECT COUNT(*) FROM decisions WHERE session_id = ?",
                  (session.id,))) == ([], [(0,)])


async def test_a_write_turn_held_by_a_process_that_dies_is_released(
        short_store: SqliteStore, session: Session, db_path: Path) -> None:
    _end(_hold_write_lock(db_path))
    decision, _ = await reserve(short_store, session, ETHER)
    assert decision.allowed


async def test_the_write_turn_files_are_private_to_the_owner(
        short_store: SqliteStore, db_path: Path) -> None:
    modes = {stat.S_IMODE(os.stat(p).st_mode)
             for p in (write_lock_path(db_path), turnstile_path(db_path))}
    assert modes == {0o600}


async def test_a_store_closes_while_another_process_keeps_the_write_turn(
        session: Session, db_path: Path) -> None:
    other = SqliteStore(db_path, busy_timeout_ms=BUSY_TIMEOUT_MS)
    await other.open()
    holder = _hold_write_lock(db_path)
    try:
        with pytest.raises(StoreUnavailable):
            await reserve(other, session, ETHER)
        await other.close()  # the writer thread is not stuck waiting for the turn
    finally:
        _end(holder)
    assert held_amounts(db_path, session.id) == []
