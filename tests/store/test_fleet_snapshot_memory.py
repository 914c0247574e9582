"""Reading the fleet costs no more memory than the snapshot it makes (issue 13, "Scale").

`serve` keeps the latest fleet snapshot for /metrics and reads the next one beside it, so its
peak is two snapshots plus whatever the read holds on the way. Reading every active session's
row at once held the rows of the whole fleet next to the records made from them: at 60,000
active sessions about 25 MB more, and an RSS over the 200 MB target in bench/scale.py. The
rows are now read a page at a time, on a connection of their own (a statement open between
pages must not hold a request read's connection in an old read transaction).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tracemalloc
from contextlib import closing
from pathlib import Path

from session_studio.store import SqliteStore, Workspace

from .conftest import T0, insert_session

FLEET = 20_000


def _fill(db_path: Path, workspace: Workspace) -> None:
    rows = [(os.urandom(16).hex(), workspace.id, "app", f"fleet-{i}", os.urandom(32).hex(),
             "0x" + os.urandom(20).hex(), '["transfer"]', json.dumps([31337]), '["ETH"]',
             "ETH", str(10**18), str(10**19), T0 - i, T0 + 86_400_000)
            for i in range(FLEET)]
    with closing(sqlite3.connect(db_path)) as db, db:
        db.executemany(
            "INSERT INTO sessions (id, workspace_id, type, label, key_hash, address,"
            " address_lower, permissions, chain_ids, tokens, limit_unit, per_tx_limit,"
            " daily_limit, created_at, expires_at, lineage_id, sealed_key)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, lower(?6), ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
            " ?1, NULL)", rows)


async def test_reading_a_fleet_snapshot_holds_little_beyond_the_snapshot(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    await insert_session(store, workspace)
    _fill(db_path, workspace)
    tracemalloc.start()
    try:
        snapshot = await store.fleet_snapshot(now_ms=T0, window_start_ms=T0 - 86_400_000,
                                              denials_since_ms=T0 - 300_000,
                                              per_session=True)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(snapshot.sessions) == FLEET + 1
    assert peak < held * 1.2, f"peak {peak / 2**20:.1f} MB to hold {held / 2**20:.1f} MB"


async def test_fleet_records_share_the_names_that_repeat_across_the_fleet(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    await insert_session(store, workspace)
    _fill(db_path, workspace)
    snapshot = await store.fleet_snapshot(now_ms=T0, window_start_ms=T0 - 86_400_000,
                                          denials_since_ms=T0 - 300_000, per_session=True)
    assert len({id(s.workspace) for s in snapshot.sessions}) == 1
    assert len({id(s.limit_unit) for s in snapshot.sessions}) == 1
