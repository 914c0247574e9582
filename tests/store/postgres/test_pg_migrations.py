"""Migrations on PostgreSQL: applied at start under an advisory lock, each exactly once, even
when several replicas start on one fresh database at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pg_cluster as cluster_module
import psycopg
import pytest
from session_studio.store import PostgresStore

from ..conftest import T0

pytestmark = pytest.mark.e2e
REPLICAS = 4
_FOLDER = Path(__file__).parents[3] / "store" / "session_studio" / "store" / "migrations_pg"


def _migration_files() -> list[str]:
    return sorted(p.name for p in _FOLDER.glob("*.sql"))


@pytest.fixture
def empty_url(pg_cluster: cluster_module.PgCluster) -> Iterator[str]:
    name, url = pg_cluster.empty_database()
    yield url
    pg_cluster.drop_database(name)


def _applied(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [(int(v), str(n)) for v, n in conn.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version").fetchall()]


async def _open_and_close(url: str) -> None:
    store = PostgresStore(url)
    await store.open()
    await store.close()


async def test_opening_a_fresh_database_applies_every_migration_once(empty_url: str) -> None:
    await _open_and_close(empty_url)
    assert _applied(empty_url) == [(int(n.split("_")[0]), n) for n in _migration_files()]


async def test_replicas_starting_together_on_a_fresh_database_all_open(empty_url: str) -> None:
    await asyncio.gather(*(_open_and_close(empty_url) for _ in range(REPLICAS)))


async def test_replicas_starting_together_apply_each_migration_once(empty_url: str) -> None:
    await asyncio.gather(*(_open_and_close(empty_url) for _ in range(REPLICAS)))
    assert _applied(empty_url) == [(int(n.split("_")[0]), n) for n in _migration_files()]


async def test_reopening_keeps_the_rows(empty_url: str) -> None:
    store = PostgresStore(empty_url)
    await store.open()
    await store.create_workspace("kept", now_ms=T0)
    await store.close()
    again = PostgresStore(empty_url)
    await again.open()
    try:
        assert [w.name for w in await again.list_workspaces()] == ["kept"]
    finally:
        await again.close()


async def test_an_unreachable_database_is_store_unavailable(
        pg_cluster: cluster_module.PgCluster) -> None:
    from session_studio.store import StoreUnavailable

    store = PostgresStore(pg_cluster.url("no_such_database"), timeout_s=2)
    with pytest.raises(StoreUnavailable):
        await store.open()
