"""PostgreSQL backend, the plumbing: the pool, transactions, the lock order, migrations.

Why this shape:
- One `AsyncConnectionPool` per process; connections run in autocommit, so a read is one
  statement on its own snapshot, and a write is an explicit `transaction()` (READ COMMITTED:
  every statement sees what was committed before it began, which is what a statement run after
  taking a lock needs).
- Serialisation is per account, never per database. A transaction takes transaction-scoped
  advisory locks (`pg_advisory_xact_lock(class, hashtext(key))`), released by its commit or
  rollback, always in this order, so no two transactions can wait for each other in a cycle:

      0. the agent's row (`SELECT ... FOR SHARE` / `UPDATE agents`): session and credential
         management of an agent only (insert, rotate, reissue, disable), never a signature
      1. LINEAGE  the session's lineage (several: ascending key) - reserve, release, settle,
         revoke, rotate, disable, and an approval's approve, reject and expiry
      2. AGENT    the agent-wide window (budget, self-service ceiling) - reserve and approve
      3. SIGNER   the signer's nonce sequence (chain id, address) - reserve, approve, release
      4. the rows written (approvals, reservations, buckets, nonces), by the statements themselves;
         several sessions rows are always updated in id order (`disable_agent`, usage)

  AUDIT, the audit chain's head, is taken by nothing above: a change records its audit event
  unchained (`_pg_audit`), and only the sealer, in a transaction of its own that takes no other
  lock, holds AUDIT while it chains committed events.

  A hash collision between two keys of one class only makes two transactions share a lock
  (they serialise; nothing breaks), and since each class is taken in ascending key order the
  order stays total. Two unrelated sessions therefore never wait for each other.
- Migrations (migrations_pg/NNNN_*.sql) are applied at `open` under a session-level advisory
  lock, so replicas starting together apply each exactly once, one after the other.
- Every database failure surfaces as `StoreUnavailable` (fail closed: nothing is signed);
  an integrity error is left to the caller, which names it (`Conflict`). A connection is
  checked when taken from the pool, so after an outage the pool replaces dead connections by
  itself and the store recovers without a restart; `ping` (readiness) waits at most
  `ping_timeout_s` for a connection, so /readyz answers promptly while the database is gone.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypeAlias

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ._errors import StoreUnavailable

Conn: TypeAlias = psycopg.AsyncConnection[DictRow]
Row: TypeAlias = DictRow
MINUTE_MS = 60_000
_MIGRATIONS_LOCK = (0, 1)  # session-level advisory lock key serialising migrations


class Lock(enum.IntEnum):
    """Advisory lock classes, in the order a transaction may take them (module docstring)."""

    LINEAGE = 1
    AGENT = 2
    SIGNER = 3
    AUDIT = 4  # the sealer's only (`_pg_audit`)


def signer_key(chain_id: int, address: str) -> str:
    return f"{chain_id}:{address.lower()}"


class PgBase:
    """Pool, transactions and migrations of the PostgreSQL store; the tables come as mixins."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10,
                 timeout_s: float = 10.0, ping_timeout_s: float = 2.0) -> None:
        self._url = url
        self._min_size = min_size
        self._max_size = max_size
        self._timeout_s = timeout_s
        self._ping_timeout_s = ping_timeout_s
        self._pool: AsyncConnectionPool[Conn] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._url, min_size=self._min_size, max_size=self._max_size, open=False,
            timeout=self._timeout_s, connection_class=psycopg.AsyncConnection[DictRow],
            kwargs={"autocommit": True, "row_factory": dict_row},
            check=AsyncConnectionPool.check_connection, reconnect_timeout=self._timeout_s)
        try:
            await pool.open(wait=True, timeout=self._timeout_s)
            self._pool = pool
            await self._migrate()
        except (psycopg.Error, PoolTimeout) as exc:
            await pool.close()
            self._pool = None
            raise StoreUnavailable(f"cannot open the PostgreSQL database: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        async with self._connection(timeout_s=self._ping_timeout_s) as conn:
            await conn.execute("SELECT 1")

    async def _migrate(self) -> None:
        folder = resources.files("session_studio.store").joinpath("migrations_pg")
        files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")),
                       key=lambda f: f.name)
        async with self._connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s, %s)", _MIGRATIONS_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations"
                                   " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
                cur = await conn.execute("SELECT version FROM schema_migrations")
                applied = {row["version"] for row in await cur.fetchall()}
                for f in files:
                    version = int(f.name.split("_", 1)[0])
                    if version in applied:
                        continue
                    async with conn.transaction():
                        await conn.execute(f.read_text())  # many statements: simple protocol
                        await conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)",
                                           (version, f.name))
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", _MIGRATIONS_LOCK)

    # -- plumbing --------------------------------------------------------------------------
    @asynccontextmanager
    async def _connection(self, *, timeout_s: float | None = None) -> AsyncIterator[Conn]:
        if self._pool is None:
            raise StoreUnavailable("store is not open")
        try:
            async with self._pool.connection(timeout=timeout_s) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no database connection: {exc}") from exc
        except psycopg.IntegrityError:
            raise  # a constraint the caller names (Conflict), or a bug it must surface
        except psycopg.Error as exc:
            raise StoreUnavailable(f"database is unavailable: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        """One write transaction: committed if the block returns, rolled back if it raises.

        A failed COMMIT (or any lost connection) is StoreUnavailable: the caller must treat
        whatever it produced inside (a signature) as not authorised."""
        async with self._connection() as conn, conn.transaction():
            yield conn

    async def _read_one(self, sql: str, args: Sequence[Any]) -> Row | None:
        async with self._connection() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchone()

    async def _read_all(self, sql: str, args: Sequence[Any]) -> list[Row]:
        async with self._connection() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchall()


async def lock(conn: Conn, kind: Lock, *keys: str) -> None:
    """Take the advisory locks of `keys` (one class), in ascending key order (no cycles)."""
    for key in sorted(set(keys), key=_lock_hash):
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           (int(kind), _lock_hash(key)))


def _lock_hash(key: str) -> int:
    """A stable signed 32-bit hash of the key (the same in every process and replica)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)


async def fetch_one(conn: Conn, sql: str,
                    args: Sequence[Any] | Mapping[str, Any] = ()) -> Row | None:
    cur = await conn.execute(sql, args)
    return await cur.fetchone()


async def fetch_all(conn: Conn, sql: str, args: Sequence[Any] = ()) -> list[Row]:
    cur = await conn.execute(sql, args)
    return await cur.fetchall()
