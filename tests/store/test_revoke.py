"""Revoke on SQLite: the key and the credential gone from the rows and from the file.

The backend-agnostic half (revoked, key destroyed, credential dead, no signature after) is in
tests/store/contract/test_session_revoke.py.

"Revoked key material is destroyed, so a stolen database backup cannot sign either"
(POLICY.md): after `revoke_session` returns, the sealed key's bytes must be nowhere in the
database file or its write-ahead log, not merely NULL in the row.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from session_studio.store import Session, SqliteStore, Workspace

from .conftest import ETHER, T0, new_session, query, reserve

REVOKED_AT = T0 + 5_000


async def _session_with(store: SqliteStore, workspace: Workspace, *, sealed: bytes,
                        token_hash: bytes) -> Session:
    session = new_session(workspace)
    await store.insert_session(session, sealed_key=sealed, credential_hash=token_hash)
    return session


async def _revoked(store: SqliteStore, workspace: Workspace) -> tuple[Session, bytes, bytes]:
    sealed, token_hash = os.urandom(96), os.urandom(32)
    session = await _session_with(store, workspace, sealed=sealed, token_hash=token_hash)
    await store.revoke_session(session.id, now_ms=REVOKED_AT)
    return session, sealed, token_hash


def _database_bytes(db_path: Path) -> dict[str, bytes]:
    files = [db_path, db_path.with_name(db_path.name + "-wal")]
    return {f.name: f.read_bytes() for f in files if f.exists()}


async def test_revoke_nulls_the_sealed_key(store: SqliteStore, workspace: Workspace,
                                           db_path: Path) -> None:
    session, _, _ = await _revoked(store, workspace)
    assert query(db_path, "SELECT sealed_key FROM sessions WHERE id = ?", (session.id,)) == [
        (None,)]


async def test_revoke_revokes_the_sessions_credential(store: SqliteStore,
                                                      workspace: Workspace,
                                                      db_path: Path) -> None:
    _, _, token_hash = await _revoked(store, workspace)
    assert await store.resolve_credential(token_hash) is None
    assert query(db_path, "SELECT revoked_at FROM credentials WHERE token_hash = ?",
                 (token_hash,)) == [(REVOKED_AT,)]


async def test_revoked_sealed_key_bytes_are_gone_from_the_database_and_its_wal(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    sealed, token_hash = os.urandom(96), os.urandom(32)
    session = await _session_with(store, workspace, sealed=sealed, token_hash=token_hash)
    # Load the ledger around it so the page holding the key is a busy one.
    for _ in range(20):
        await reserve(store, session, ETHER // 100)
    assert any(sealed in blob for blob in _database_bytes(db_path).values())  # precondition
    await store.revoke_session(session.id, now_ms=REVOKED_AT)
    leaks = [name for name, blob in _database_bytes(db_path).items() if sealed in blob]
    assert leaks == []


async def test_rotated_predecessors_sealed_key_bytes_are_gone_from_the_database_and_its_wal(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    sealed = os.urandom(96)
    old = await _session_with(store, workspace, sealed=sealed, token_hash=os.urandom(32))
    successor = new_session(workspace, lineage_id=old.lineage_id, predecessor_id=old.id)
    await store.rotate_session(old, successor, sealed_key=os.urandom(96),
                               credential_hash=os.urandom(32), now_ms=REVOKED_AT)
    leaks = [name for name, blob in _database_bytes(db_path).items() if sealed in blob]
    assert leaks == []


async def test_revoked_sealed_key_bytes_are_gone_even_if_a_reader_was_active_during_revoke(
        workspace: Workspace, db_path: Path) -> None:
    # A short busy timeout only to keep the test fast; the default (30 s) ends the same way.
    store = SqliteStore(db_path, busy_timeout_ms=200)
    await store.open()
    try:
        sealed = os.urandom(96)
        session = await _session_with(store, workspace, sealed=sealed,
                                      token_hash=os.urandom(32))
        with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT COUNT(*) FROM sessions").fetchall()  # e.g. a listing
            await store.revoke_session(session.id, now_ms=REVOKED_AT)
            reader.execute("COMMIT")
        # The reader is gone and the store keeps working: still the key is on disk.
        other = await _session_with(store, workspace, sealed=os.urandom(96),
                                    token_hash=os.urandom(32))
        for _ in range(5):
            await reserve(store, other, ETHER // 100)
        leaks = [name for name, blob in _database_bytes(db_path).items() if sealed in blob]
        assert leaks == []
    finally:
        await store.close()
