"""Time judged too early (issue 10, item 13; POLICY.md attack catalogue 7).

Expiry and rate limits must be judged at the moment the ledger lock is held, not when the
request arrived: a request that waits behind a slow writer (another process, a long
transaction, a busy disk) and gets the lock after `expires_at` must be refused. Here the test
itself is the slow writer: it holds SQLite's write lock on the database file (`BEGIN IMMEDIATE`)
from its own process while a send is queued, past the session's expiry, then lets go.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .harness import Studio
from .rpc_client import assert_policy_denied, eth_transfer, fresh_address, send

pytestmark = pytest.mark.e2e

LIFETIME_S = 6


def _expires_at_ms(studio: Studio, key_hash: str) -> int:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        [(expires_at,)] = conn.execute("SELECT expires_at FROM sessions WHERE key_hash = ?",
                                       (key_hash.lower(),)).fetchall()
    return int(expires_at)


def _reservations(studio: Studio, key_hash: str) -> int:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        [(count,)] = conn.execute(
            "SELECT COUNT(*) FROM reservations r JOIN sessions s ON s.id = r.session_id"
            " WHERE s.key_hash = ?", (key_hash.lower(),)).fetchall()
    return int(count)


def test_send_queued_behind_the_ledger_lock_past_expiry_is_refused(studio: Studio) -> None:
    session = studio.create_session(expires_in=str(LIFETIME_S))
    expires_at_ms = _expires_at_ms(studio, session["key_hash"])
    holder = sqlite3.connect(studio.home / "studio.db", isolation_level=None, timeout=30)
    pool = ThreadPoolExecutor(max_workers=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        queued = pool.submit(send, studio, session,
                             eth_transfer(session, fresh_address(), 10**12))
        # Still valid when it arrives: it passes every check made before the lock.
        arrived_in_time = time.time() * 1000 < expires_at_ms - 1000
        while time.time() * 1000 < expires_at_ms + 500:
            time.sleep(0.05)
        waited_for_the_lock = not queued.done()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    answer = queued.result(timeout=30)
    pool.shutdown()
    assert arrived_in_time and waited_for_the_lock
    assert_policy_denied(answer, "session_expired")
    assert _reservations(studio, session["key_hash"]) == 0
