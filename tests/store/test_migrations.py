"""Opening the store applies each migration exactly once; re-opening an existing file is a no-op."""

from __future__ import annotations

import asyncio
from pathlib import Path

from session_studio.store import SqliteStore

from .conftest import T0, query


def _migration_files() -> list[str]:
    folder = Path(__file__).parents[2] / "store" / "session_studio" / "store" / "migrations"
    return sorted(p.name for p in folder.glob("*.sql"))


async def test_opening_a_new_database_applies_every_migration_once(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    applied = query(db_path, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert [name for _, name in applied] == _migration_files()
    assert [version for version, _ in applied] == [int(n.split("_")[0])
                                                   for n in _migration_files()]


async def test_opening_a_new_database_creates_the_ledger_tables(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    tables = {name for (name,) in query(db_path,
                                        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "credentials", "reservations", "spend_buckets", "nonces",
            "released_nonces", "decisions"} <= tables


async def test_reopening_an_existing_database_applies_no_migration_again(db_path: Path) -> None:
    first = SqliteStore(db_path)
    await first.open()
    await first.close()
    schema_before = query(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    for _ in range(2):
        again = SqliteStore(db_path)
        await again.open()
        await again.close()
    assert query(db_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == \
        schema_before
    assert query(db_path, "SELECT COUNT(*) FROM schema_migrations") == [
        (len(_migration_files()),)]


async def test_reopening_an_existing_database_keeps_its_rows(db_path: Path) -> None:
    first = SqliteStore(db_path)
    await first.open()
    await first.create_workspace("kept", now_ms=T0)
    await first.close()
    again = SqliteStore(db_path)
    await again.open()
    await again.close()
    assert query(db_path, "SELECT name FROM workspaces") == [("kept",)]


async def test_two_stores_opening_the_same_new_file_together_both_succeed(
        db_path: Path) -> None:
    stores = [SqliteStore(db_path), SqliteStore(db_path)]
    await asyncio.gather(*(s.open() for s in stores))
    for s in stores:
        await s.close()
    assert query(db_path, "SELECT COUNT(*) FROM schema_migrations") == [
        (len(_migration_files()),)]
