"""PostgreSQL: the hash-chained audit trail (`AuditLog`), kept off the signing path.

Why a pending table and a sealer: the chain has one order, so appending to it needs one
database-wide lock (AUDIT) around "read the head, insert the next entry". Taken inside every
reserving transaction and held to its commit, that lock made every signature of every session,
on every replica, wait for the others' commits (bench/results/replicas.md), which issue 12
forbids ("two sessions never wait for each other"). So on PostgreSQL:

- A transaction records its event in `audit_pending` (a BIGSERIAL id, the event's fields, its
  time): an INSERT, no lock, no head read. The event commits or rolls back with its change,
  exactly as before; only its place in the chain is decided later.
- The sealer moves committed pending rows into `audit_log` in id order, batch by batch, each
  batch one transaction that takes the AUDIT lock, reads the head, inserts the chained entries
  (`_audit.entry_hash`, the chain format `verify_chain` checks is unchanged) and deletes the
  rows it sealed. Two sealers (two replicas, or a reader and the periodic task) take turns on
  the lock, and each reads the pending rows only once it holds it (READ COMMITTED: a fresh
  snapshot per statement), so no row is sealed twice. A sealer that dies mid-batch rolls its
  transaction back: its rows stay pending and the next sealer chains them.
- Chain order is seal order, not id order: a transaction that took a lower id but commits
  after a higher one was sealed is chained after it (its row was invisible to that sealer).
  Nothing is lost or duplicated; `seq` stays dense; `at` may step back, as it already could.
- The sealer runs (a) right after a commit that recorded an event (the event is set after the
  commit, never inside the signing transaction, and the client's answer does not wait for it;
  kicks coalesce while a pass runs), (b) every `audit_seal_interval_s` on every replica, so
  what a crashed replica committed but never sealed is chained by the survivors, and (c) at the
  start of every audit read, so a reader sees every event committed before its read began.

SQLite keeps chaining inline (`_audit.append`): its write lock is database-wide anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from . import _audit as audit
from ._audit import AuditEntry, AuditEvent, AuditVerdict
from ._errors import StoreUnavailable
from ._pg_base import Conn, Lock, PgBase, fetch_all, fetch_one
from ._rows import audit_page_query, pg

log = logging.getLogger("session_studio.store.audit")
SEAL_INTERVAL_S = 1.0
SEAL_BATCH = 500  # entries per sealing transaction: bounds how long one holds the AUDIT lock
_VERIFY_PAGE = 5000


class PgAuditChain(PgBase):
    """The audit trail of the PostgreSQL store: pending events, the sealer, and the reads."""

    def __init__(self, url: str, *, audit_seal_interval_s: float = SEAL_INTERVAL_S,
                 min_size: int = 1, max_size: int = 10, timeout_s: float = 10.0,
                 ping_timeout_s: float = 2.0) -> None:
        super().__init__(url, min_size=min_size, max_size=max_size, timeout_s=timeout_s,
                         ping_timeout_s=ping_timeout_s)
        self._seal_interval_s = audit_seal_interval_s
        self._seal_due = asyncio.Event()
        self._sealer: asyncio.Task[None] | None = None
        self._closing = False
        # Connections whose open transaction recorded an event: the sealer is due after commit.
        self._recording: set[int] = set()

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        await super().open()
        self._seal_due = asyncio.Event()  # bound to the loop the store runs on
        self._closing = False
        self._sealer = asyncio.create_task(self._seal_continually(), name="audit-sealer")
        self._seal_due.set()  # whatever a crashed predecessor left pending, chain it now

    async def close(self) -> None:
        # Nothing is lost by stopping mid-pass: an unfinished batch rolls back and stays
        # pending for the next sealer (another replica's, or this database's next start).
        if self._sealer is not None:
            # The flag, not only the cancel: a cancel that is swallowed on its way (a query's
            # own error handling, a timeout firing at the same moment) must not keep it alive.
            self._closing = True
            self._sealer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sealer
            self._sealer = None
        await super().close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        recorded = False
        async with super()._transaction() as conn:
            try:
                yield conn
            finally:
                recorded = id(conn) in self._recording
                self._recording.discard(id(conn))
        if recorded:  # committed: only now can a sealer see the event
            self._seal_due.set()

    # -- recording and sealing -------------------------------------------------------------
    async def _append_audit(self, conn: Conn, event: AuditEvent | None, now_ms: int) -> None:
        """Record `event` in the caller's transaction, unchained: it commits with the change
        and takes no lock, so two transactions recording events never wait for each other."""
        if event is None:
            return
        await conn.execute(
            "INSERT INTO audit_pending (at, workspace_id, actor, action, subject, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (now_ms, event.workspace_id, event.actor, event.action, event.subject,
             audit.canonical(event.detail)))
        self._recording.add(id(conn))

    async def _seal_pending(self) -> int:
        """Chain every event committed before this call into `audit_log`; how many it sealed.

        The unlocked look first keeps idle replicas' periodic passes off the AUDIT lock; it
        cannot miss a committed row, since a row is deleted only by the commit that chains it.
        It also bounds the pass (ids up to the newest committed one): a reader under sustained
        load seals what preceded it, not an endless stream of later events."""
        due = await self._read_one("SELECT MAX(id) AS last FROM audit_pending", ())
        if due is None or due["last"] is None:
            return 0
        sealed = 0
        while True:
            async with self._transaction() as conn:
                count = await _seal_batch(conn, SEAL_BATCH, up_to_id=int(due["last"]))
            sealed += count
            if count < SEAL_BATCH:
                return sealed

    async def _seal_continually(self) -> None:
        """Seal when kicked after a commit, and every interval whatever happened (b)."""
        while not self._closing:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that lands
            # as the event fires, and the loop would outlive `close`.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._seal_interval_s):
                    await self._seal_due.wait()
            self._seal_due.clear()
            if self._closing:
                return
            try:
                await self._seal_pending()
            except (StoreUnavailable, psycopg.Error) as exc:
                if self._closing:
                    return
                # The database is gone or refused the batch (rolled back: the rows stay
                # pending). Readers seal for themselves; the next tick retries.
                log.warning("audit sealing failed, retrying in %.1f s: %s",
                            self._seal_interval_s, exc)

    # -- the AuditLog protocol -------------------------------------------------------------
    async def append_audit(self, event: AuditEvent, *, now_ms: int) -> None:
        async with self._transaction() as conn:
            await self._append_audit(conn, event, now_ms)

    async def audit_entries(self, *, workspace_id: str | None, subject: str | None = None,
                            after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        await self._seal_pending()  # (c): every event committed before the read is chained
        return await self._sealed_entries(workspace_id=workspace_id, subject=subject,
                                          after_seq=after_seq, limit=limit)

    async def verify_audit(self) -> AuditVerdict:
        """Check the whole chain, page by page (it can be long)."""
        await self._seal_pending()
        entries: list[AuditEntry] = []
        after = 0
        while page := await self._sealed_entries(workspace_id=None, after_seq=after,
                                                 limit=_VERIFY_PAGE):
            entries.extend(page)
            after = page[-1].seq
        return audit.verify_chain(entries)

    async def _sealed_entries(self, *, workspace_id: str | None, subject: str | None = None,
                              after_seq: int, limit: int) -> list[AuditEntry]:
        sql, args = audit_page_query(workspace_id=workspace_id, subject=subject,
                                     after_seq=after_seq, limit=limit)
        return [audit.entry_from_row(r) for r in await self._read_all(pg(sql), args)]


async def _seal_batch(conn: Conn, limit: int, *, up_to_id: int) -> int:
    """Inside a transaction: chain up to `limit` pending events with ids up to `up_to_id`,
    oldest id first, to the head.

    The pending rows and the head are read only once the AUDIT lock is held, so they are those
    the previous sealer's commit left: each row is chained once, to the true head."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (int(Lock.AUDIT),))
    pending = await fetch_all(conn, "SELECT * FROM audit_pending WHERE id <= %s"
                                    " ORDER BY id LIMIT %s", (up_to_id, limit))
    if not pending:
        return 0
    head = await fetch_one(conn, "SELECT seq, entry_hash FROM audit_log"
                                 " ORDER BY seq DESC LIMIT 1")
    seq, prev = (0, audit.GENESIS) if head is None else (head["seq"], bytes(head["entry_hash"]))
    entries = []
    for row in pending:
        seq += 1
        digest = audit.entry_hash(prev, seq, row["at"], row["workspace_id"], row["actor"],
                                  row["action"], row["subject"], row["detail"])
        entries.append((seq, row["at"], row["workspace_id"], row["actor"], row["action"],
                        row["subject"], row["detail"], prev, digest))
        prev = digest
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO audit_log VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", entries)
    await conn.execute("DELETE FROM audit_pending WHERE id = ANY(%s)",
                       ([row["id"] for row in pending],))
    return len(pending)
