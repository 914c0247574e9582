"""PostgreSQL-only checks (locks, the nonce backstop, migrations under concurrent start):
each test gets a fresh, migrated database on the session's throwaway cluster
(tests/pg_cluster.py). What every backend must do is in tests/store/contract/ instead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pg_cluster
import pytest
from session_studio.store import PostgresStore


@pytest.fixture
def pg_url(pg_cluster: pg_cluster.PgCluster) -> Iterator[str]:
    name, url = pg_cluster.new_database()
    yield url
    pg_cluster.recycle_database(name)


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:  # overrides tests/store's SQLite
    opened = PostgresStore(pg_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
