"""The backend contract: every store backend must pass every test in this folder.

Each test runs once per entry of `BACKENDS` (SQLite, and PostgreSQL on the session's throwaway
cluster, tests/pg_cluster.py: each test gets a fresh database copied from a migrated template)
through the `backend` fixture; a test sees the store only through the protocols in
`session_studio.store._interface` and observes the ledger through its public reads or a
`LedgerProbe`, the one place where a backend's own tables are read. A new backend adds its
name to `BACKENDS`, a branch to
`open_backend` and a probe; SQLite-only checks (WAL shredding, the file, migrations, several
processes on one file) stay in tests/store/ beside this folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import pg_cluster
import psycopg
import pytest
from session_studio.store import PostgresStore, SqliteStore, Store

from ..conftest import query

# PostgreSQL needs the session's server: its cases are `e2e` (they start real processes).
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.e2e))
_SETTLEMENT_COLUMNS = ("status", "amount", "gas_reserved", "gas_wei_reserved", "gas_wei_used",
                       "receipt_status", "settled_at")
_LEDGER_TABLES = ("reservations", "spend_buckets", "nonces", "released_nonces", "decisions")


class LedgerProbe(Protocol):
    """Reads a backend's ledger tables directly, for invariants the protocol does not expose."""

    def rows(self, session_id: str) -> list[tuple[int, int, int]]:
        """(created_at, minute, amount) of every non-released reservation of the session."""
        ...

    def buckets(self, lineage_id: str) -> dict[int, int]:
        """The lineage's spend per minute (minute -> unit atoms) as the backend keeps it."""
        ...

    def next_nonce(self, address: str) -> int | None:
        """The signer's nonce counter (the next fresh nonce), None before its first pick."""
        ...

    def live_nonces(self) -> set[int]:
        """Nonces held by a reservation that is not released, over every signer."""
        ...

    def reservation_status(self, reservation_id: str) -> str:
        ...

    def settlement_row(self, reservation_id: str) -> dict[str, Any]:
        """status, amount, gas_reserved, gas_wei_reserved, gas_wei_used (ints or None),
        receipt_status and settled_at of one reservation."""
        ...

    def outstanding_signed(self, lineage_id: str) -> int:
        """The lineage's eth_signTransaction reservations still `signed`."""
        ...

    def agent_rows(self, agent_id: str, *,
                   self_service: bool) -> list[tuple[int, int, int, str]]:
        """(created_at, minute, amount, lineage) of the agent's reservations that still count,
        only those of its self-created lineages if `self_service`."""
        ...

    def agent_buckets(self, agent_id: str) -> dict[int, int]:
        """The agent's self-service window per minute (minute -> unit atoms)."""
        ...

    def ledger_snapshot(self) -> object:
        """Every ledger row (reservations, spend, nonces, decisions), comparable with `==`:
        equal snapshots mean the ledger did not change in between."""
        ...

    def approval_events(self, approval_id: str) -> list[tuple[str, str]]:
        """(kind, body) of the approval's outbox rows, in the order they were written."""
        ...


class SqliteProbe:
    def __init__(self, path: Path) -> None:
        self._path = path

    def rows(self, session_id: str) -> list[tuple[int, int, int]]:
        return [(created, minute, int(amount)) for created, minute, amount in query(
            self._path, "SELECT created_at, minute, amount FROM reservations "
                        "WHERE session_id = ? AND status != 'released'", (session_id,))]

    def buckets(self, lineage_id: str) -> dict[int, int]:
        return {minute: int(amount) for minute, amount in query(
            self._path, "SELECT minute, amount FROM spend_buckets WHERE lineage_id = ?",
            (lineage_id,))}

    def next_nonce(self, address: str) -> int | None:
        rows = query(self._path, "SELECT next_nonce FROM nonces WHERE address = ?",
                     (address.lower(),))
        assert len(rows) <= 1, rows
        return None if not rows else int(rows[0][0])

    def live_nonces(self) -> set[int]:
        return {n for (n,) in query(
            self._path, "SELECT nonce FROM reservations WHERE status != 'released'")}

    def reservation_status(self, reservation_id: str) -> str:
        [(status,)] = query(self._path, "SELECT status FROM reservations WHERE id = ?",
                            (reservation_id,))
        return str(status)

    def settlement_row(self, reservation_id: str) -> dict[str, Any]:
        [row] = query(self._path, f"SELECT {', '.join(_SETTLEMENT_COLUMNS)} FROM reservations"
                      " WHERE id = ?", (reservation_id,))
        values = dict(zip(_SETTLEMENT_COLUMNS, row, strict=True))
        # Amounts are TEXT integers in SQLite (beyond its 64 bits); the contract speaks ints.
        for amount in ("amount", "gas_reserved", "gas_wei_reserved", "gas_wei_used"):
            if values[amount] is not None:
                values[amount] = int(values[amount])
        return values

    def outstanding_signed(self, lineage_id: str) -> int:
        [(count,)] = query(self._path, "SELECT COUNT(*) FROM reservations WHERE lineage_id = ?"
                           " AND method = 'eth_signTransaction' AND status = 'signed'",
                           (lineage_id,))
        return int(count)

    def agent_rows(self, agent_id: str, *,
                   self_service: bool) -> list[tuple[int, int, int, str]]:
        join = ("JOIN self_service_lineages ss ON ss.lineage_id = r.lineage_id"
                if self_service else "")
        return [(t, m, int(a), lin) for t, m, a, lin in query(
            self._path, "SELECT r.created_at, r.minute, r.amount, r.lineage_id"
                        f" FROM reservations r JOIN sessions s ON s.id = r.session_id {join}"
                        " WHERE s.agent_id = ? AND r.status != 'released'", (agent_id,))]

    def agent_buckets(self, agent_id: str) -> dict[int, int]:
        return {m: int(a) for m, a in query(
            self._path, "SELECT minute, amount FROM agent_window_buckets WHERE agent_id = ?",
            (agent_id,))}

    def ledger_snapshot(self) -> object:
        return {table: sorted(query(self._path, f"SELECT * FROM {table}"), key=repr)
                for table in _LEDGER_TABLES}

    def approval_events(self, approval_id: str) -> list[tuple[str, str]]:
        return [(str(k), str(b)) for k, b in query(
            self._path, "SELECT kind, body FROM approval_events WHERE approval_id = ?"
                        " ORDER BY id", (approval_id,))]


class PostgresProbe:
    """The same reads as `SqliteProbe`, on a PostgreSQL database, over one autocommit
    connection of its own (each read sees what was committed before it), closed with the
    store."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._conn is None:
            self._conn = psycopg.connect(self._url, autocommit=True)
        return list(self._conn.execute(sql, args).fetchall())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def rows(self, session_id: str) -> list[tuple[int, int, int]]:
        return [(created, minute, int(amount)) for created, minute, amount in self._query(
            "SELECT created_at, minute, amount FROM reservations"
            " WHERE session_id = %s AND status <> 'released'", (session_id,))]

    def buckets(self, lineage_id: str) -> dict[int, int]:
        return {minute: int(amount) for minute, amount in self._query(
            "SELECT minute, amount FROM spend_buckets WHERE lineage_id = %s", (lineage_id,))}

    def next_nonce(self, address: str) -> int | None:
        rows = self._query("SELECT next_nonce FROM nonces WHERE address = %s",
                           (address.lower(),))
        assert len(rows) <= 1, rows
        return None if not rows else int(rows[0][0])

    def live_nonces(self) -> set[int]:
        return {n for (n,) in self._query(
            "SELECT nonce FROM reservations WHERE status <> 'released'")}

    def reservation_status(self, reservation_id: str) -> str:
        [(status,)] = self._query("SELECT status FROM reservations WHERE id = %s",
                                  (reservation_id,))
        return str(status)

    def settlement_row(self, reservation_id: str) -> dict[str, Any]:
        [row] = self._query(f"SELECT {', '.join(_SETTLEMENT_COLUMNS)} FROM reservations"
                            " WHERE id = %s", (reservation_id,))
        values = dict(zip(_SETTLEMENT_COLUMNS, row, strict=True))
        for amount in ("amount", "gas_reserved", "gas_wei_reserved", "gas_wei_used"):
            if values[amount] is not None:
                values[amount] = int(values[amount])  # NUMERIC(78,0) reads as Decimal
        return values

    def outstanding_signed(self, lineage_id: str) -> int:
        [(count,)] = self._query(
            "SELECT COUNT(*) FROM reservations WHERE lineage_id = %s"
            " AND method = 'eth_signTransaction' AND status = 'signed'", (lineage_id,))
        return int(count)

    def agent_rows(self, agent_id: str, *,
                   self_service: bool) -> list[tuple[int, int, int, str]]:
        join = ("JOIN self_service_lineages ss ON ss.lineage_id = r.lineage_id"
                if self_service else "")
        return [(t, m, int(a), lin) for t, m, a, lin in self._query(
            "SELECT r.created_at, r.minute, r.amount, r.lineage_id"
            f" FROM reservations r JOIN sessions s ON s.id = r.session_id {join}"
            " WHERE s.agent_id = %s AND r.status <> 'released'", (agent_id,))]

    def agent_buckets(self, agent_id: str) -> dict[int, int]:
        return {m: int(a) for m, a in self._query(
            "SELECT minute, amount FROM agent_window_buckets WHERE agent_id = %s",
            (agent_id,))}

    def ledger_snapshot(self) -> object:
        return {table: sorted(self._query(f"SELECT * FROM {table}"), key=repr)
                for table in _LEDGER_TABLES}

    def approval_events(self, approval_id: str) -> list[tuple[str, str]]:
        return [(str(k), str(b)) for k, b in self._query(
            "SELECT kind, body FROM approval_events WHERE approval_id = %s ORDER BY id",
            (approval_id,))]


class ThrowawayPostgresStore(PostgresStore):
    """A PostgreSQL store on its own fresh database, emptied for reuse when it is closed."""

    def __init__(self, cluster: pg_cluster.PgCluster) -> None:
        self._database, url = cluster.new_database()
        self._cluster = cluster
        self.probe = PostgresProbe(url)
        super().__init__(url)

    async def close(self) -> None:
        await super().close()
        self.probe.close()
        self._cluster.recycle_database(self._database)


def open_backend(backend: str, directory: Path) -> tuple[Store, LedgerProbe]:
    """A fresh, unopened store of `backend` keeping its data under `directory` (SQLite) or in
    a fresh database of the session's cluster (PostgreSQL), and its probe."""
    if backend == "sqlite":
        path = directory / "studio.db"
        return SqliteStore(path), SqliteProbe(path)
    if backend == "postgresql":
        store = ThrowawayPostgresStore(pg_cluster.running())
        return store, store.probe
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(autouse=True)
def _server_for_postgresql(request: pytest.FixtureRequest) -> None:
    """A test run on PostgreSQL (through `backend` or its own parametrize) gets the cluster."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == "postgresql":
        request.getfixturevalue("pg_cluster")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def opened(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Store, LedgerProbe]]:
    store, probe = open_backend(backend, tmp_path)
    await store.open()
    try:
        yield store, probe
    finally:
        await store.close()


@pytest.fixture
def store(opened: tuple[Store, LedgerProbe]) -> Store:  # overrides tests/store's SQLite one
    return opened[0]


@pytest.fixture
def probe(opened: tuple[Store, LedgerProbe]) -> LedgerProbe:
    return opened[1]
