"""SQLite backend: one file in WAL mode, one writer thread per process, a reader beside it.

Why this shape:
- Every write is a plain synchronous function run by `_transaction()` on the store's single
  writer thread (datasette's "one writer fed by a queue"), inside `BEGIN IMMEDIATE`, i.e. with
  SQLite's database-wide write lock taken *before* the first read. Two processes (two `serve`s,
  or `serve` and the CLI) therefore never interleave a read-check-write of the ledger: the second
  waits (busy_timeout) and then sees the first's reservation. That is what makes every cap exact
  across processes. One thread hop per transaction, not one per statement, keeps the write lock
  short (the ledger transaction is on every send's path).
- SQLite's lock is not fair between processes (a waiter sleeps in the busy handler while the
  holder re-takes the lock), so each transaction first takes its turn in `_sqlite_turn`: flock
  files beside the database that wake a waiting process the moment the lock is free and let
  turns alternate under contention. A turn that does not come within the busy timeout ends in
  StoreUnavailable with nothing done (the deadline is checked once the turn is obtained).
- Reads that need no consistency with a later write (credential lookup, listings) use an
  aiosqlite connection, so a burst of sends does not queue reads behind the writer.
- `secure_delete` zeroes freed pages, so a destroyed sealed key does not linger in the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from session_studio.policy import Decision, SessionState, window_start_ms

from . import _audit as audit
from ._approval_records import ApprovalDraft
from ._audit import AuditEvent
from ._errors import AgentDisabled, Conflict, NotFound, StoreUnavailable
from ._ledger_interface import Clock, Evaluate, Sign, T
from ._records import (
    RELEASABLE,
    Agent,
    AgentCeiling,
    CredentialOwner,
    FleetAgent,
    FleetSession,
    FleetSnapshot,
    NonceRequest,
    Reservation,
    ReservationStatus,
    Session,
    SessionFilter,
    SessionStatus,
    SessionType,
    SessionUsage,
    UnbroadcastSend,
    UnsettledSend,
    Workspace,
    outcome_sources,
)
from ._rows import (
    FLEET_AGENTS,
    FLEET_PAGE,
    FLEET_SPEND_OF_BUDGETS,
    FLEET_SPEND_WITH_ACTIVE,
    LIVE_SESSIONS_OF,
    SESSION_BY_ADDRESS,
    SESSION_COLUMNS,
    SESSION_FROM,
    SESSION_SORTS,
    UNSETTLED_PAGE,
    FleetSessionBuilder,
    agent_from_row,
    credential_reaches,
    new_id,
    optional_int,
    session_from_row,
    unbroadcast_query,
)
from ._sqlite_admin import AdminTables
from ._sqlite_approvals import (
    SqliteApprovals,
    expire_overdue,
    pending_approvals,
    reject_pending_of_session,
)
from ._sqlite_approvals import (
    hold as hold_request,
)
from ._sqlite_ledger import (
    COUNT_OUTSTANDING_SIGNED,
    MINUTE_MS,
    add_to_bucket,
    agent_window_sum,
    nonce_held,
    pick_nonce,
    self_service_window,
    window_sum,
)
from ._sqlite_outbox import OutboxTables
from ._sqlite_turn import Claim, WriteTurn

R = TypeVar("R")
_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON", "PRAGMA synchronous=NORMAL")


def _discard_outcome(future: asyncio.Future[Any]) -> None:
    """An abandoned transaction's outcome has no reader: retrieve it so asyncio does not log
    "exception was never retrieved" for the StoreUnavailable it ends with."""
    if not future.cancelled():
        future.exception()


class SqliteStore(AdminTables, SqliteApprovals, OutboxTables):
    """`Store` on one SQLite file."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 30_000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._reader: aiosqlite.Connection | None = None
        # The fleet snapshot's own reader, opened on first use (only `serve` takes snapshots).
        self._fleet_reader: aiosqlite.Connection | None = None
        self._turn = WriteTurn(path)
        # A revoke's sealed key may still sit in the WAL until a TRUNCATE checkpoint succeeds;
        # only the writer thread reads or writes this flag.
        self._shred_pending = False

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._turn.open()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-writer")
        try:
            await self._in_writer(self._open_writer)
            await self._transaction(self._migrate)
            self._reader = await self._connect_reader()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open database {self._path}: {exc}") from exc

    async def _connect_reader(self) -> aiosqlite.Connection:
        reader = await aiosqlite.connect(self._path, isolation_level=None)
        reader.row_factory = aiosqlite.Row
        await reader.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        return reader

    def _open_writer(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        self._enable_wal(conn)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        self._writer = conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, retrying: the switch can fail with "database is locked" without
        consulting the busy handler when another process opens the same new file at once."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    async def close(self) -> None:
        if self._fleet_reader is not None:
            await self._fleet_reader.close()
            self._fleet_reader = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._executor is not None:
            if self._writer is not None:
                await self._in_writer(self._writer.close)
                self._writer = None
            self._executor.shutdown(wait=True)
            self._executor = None
        self._turn.close()

    async def ping(self) -> None:
        try:
            await self._read_one("SELECT 1", ())
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        files = sorted(
            (f for f in resources.files("session_studio.store").joinpath("migrations").iterdir()
             if f.name.endswith(".sql")),
            key=lambda f: f.name,
        )
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for f in files:
            version = int(f.name.split("_", 1)[0])
            if version in applied:
                continue
            for statement in _split_sql(f.read_text()):
                db.execute(statement)
            completion = _MIGRATION_COMPLETIONS.get(version)
            if completion is not None:
                completion(db)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, f.name))

    # -- plumbing --------------------------------------------------------------------------
    async def _in_writer(self, fn: Callable[[], R]) -> R:
        if self._executor is None:
            raise StoreUnavailable("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        """Run `fn` on the writer thread inside one write transaction holding the write lock.

        Waits at most the busy timeout for the write turn: past it (or if the caller is
        cancelled) the claim is abandoned and `fn` never runs; once `fn` has started, its
        outcome is awaited whatever the time, so a result is never reported as a failure."""
        claim = Claim(deadline=time.monotonic() + self._busy_timeout_ms / 1000)
        future = asyncio.ensure_future(
            self._in_writer(functools.partial(self._run_transaction, fn, claim)))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=claim.remaining())
        except TimeoutError:
            if not claim.abandon():
                return await future
            future.add_done_callback(_discard_outcome)
            raise StoreUnavailable(
                "database is busy: no write turn within the busy timeout") from None
        except asyncio.CancelledError:
            if claim.abandon():
                future.add_done_callback(_discard_outcome)
            raise

    def _run_transaction(self, fn: Callable[[sqlite3.Connection], R], claim: Claim) -> R:
        db = self._writer
        if db is None:
            raise StoreUnavailable("store is not open")
        if claim.abandoned:  # gave up while queued behind the writer: do not even wait
            raise StoreUnavailable("database is busy: no write turn within the busy timeout")
        with self._turn.held(claim):
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"database is unavailable: {exc}") from exc
            try:
                result = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise StoreUnavailable(f"commit failed: {exc}") from exc
        if self._shred_pending:
            self._try_shred(db)
        return result

    def _try_shred(self, db: sqlite3.Connection) -> None:
        """Crypto-shredding, WAL side: rewrite the WAL away so a revoked key's old page goes.

        `secure_delete` zeroes the page in the main file, but the WAL still holds the frame
        written before the revoke until a TRUNCATE checkpoint succeeds, which any open read
        snapshot prevents. So it is tried with a short busy timeout (never stalling the
        writer) and again after every later write until it succeeds.
        """
        db.execute("PRAGMA busy_timeout=50")
        try:
            busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self._shred_pending = busy != 0
        except sqlite3.Error:
            self._shred_pending = True
        finally:
            db.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")

    async def _read_one(self, sql: str, args: Sequence[Any]) -> aiosqlite.Row | None:
        if self._reader is None:
            raise StoreUnavailable("store is not open")
        async with self._reader.execute(sql, args) as cur:
            row: aiosqlite.Row | None = await cur.fetchone()
            return row

    async def _read_all(self, sql: str, args: Sequence[Any]) -> list[aiosqlite.Row]:
        if self._reader is None:
            raise StoreUnavailable("store is not open")
        async with self._reader.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def _read_fleet_pages(self, sql: str, args: Sequence[Any],
                                size: int) -> AsyncIterator[list[aiosqlite.Row]]:
        """The rows of `sql`, `size` at a time, on the fleet snapshot's own connection: a
        statement left open between pages keeps its connection in one read transaction, and
        a request read on that connection would see the database as it was when the
        statement began."""
        if self._reader is None:
            raise StoreUnavailable("store is not open")
        if self._fleet_reader is None:
            self._fleet_reader = await self._connect_reader()
        async with self._fleet_reader.execute(sql, args) as cur:
            while page := list(await cur.fetchmany(size)):
                yield page

    # -- workspaces and agents -------------------------------------------------------------
    async def create_workspace(self, name: str, *, now_ms: int, workspace_id: str | None = None,
                               audit: AuditEvent | None = None) -> Workspace:
        """`audit` (naming `workspace_id`, which the caller then chooses) is written in the same
        transaction as the workspace."""
        ws = Workspace(id=workspace_id or new_id(), name=name, created_at_ms=now_ms)

        def create(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO workspaces VALUES (?, ?, ?)",
                       (ws.id, ws.name, ws.created_at_ms))
            _audit(db, audit, now_ms)

        try:
            await self._transaction(create)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"workspace {name!r} already exists") from exc
        return ws

    async def list_workspaces(self) -> list[Workspace]:
        rows = await self._read_all("SELECT * FROM workspaces ORDER BY created_at, name", ())
        return [Workspace(id=r["id"], name=r["name"], created_at_ms=r["created_at"])
                for r in rows]

    async def get_workspace(self, name: str) -> Workspace:
        row = await self._read_one("SELECT * FROM workspaces WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no workspace named {name!r}")
        return Workspace(id=row["id"], name=row["name"], created_at_ms=row["created_at"])

    async def create_agent(
        self, workspace_id: str, name: str, *, daily_budget: int | None, now_ms: int,
        credential_hash: bytes, agent_id: str, audit: AuditEvent | None = None,
        ceiling: AgentCeiling | None = None, rotate_every_s: int | None = None,
    ) -> Agent:
        agent = Agent(id=agent_id, workspace_id=workspace_id, name=name,
                      daily_budget=daily_budget, credential_version=1, created_at_ms=now_ms,
                      ceiling=ceiling, rotate_every_s=rotate_every_s)

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO agents (id, workspace_id, name, daily_budget, credential_version,"
                " created_at, ceiling, rotate_every_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (agent.id, workspace_id, name,
                 None if daily_budget is None else str(daily_budget), 1, now_ms,
                 None if ceiling is None else json.dumps(ceiling.to_json()), rotate_every_s))
            _insert_credential(db, credential_hash, workspace_id, "agent", agent.id, 1, now_ms)
            _audit(db, audit, now_ms)

        try:
            await self._transaction(insert)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"agent {name!r} already exists") from exc
        return agent

    async def get_agent(self, workspace_id: str, name: str) -> Agent:
        row = await self._read_one("SELECT * FROM agents WHERE workspace_id = ? AND name = ?",
                                   (workspace_id, name))
        if row is None:
            raise NotFound(f"no agent named {name!r}")
        return agent_from_row(row)

    async def list_agents(self, workspace_id: str) -> list[Agent]:
        rows = await self._read_all(
            "SELECT * FROM agents WHERE workspace_id = ? ORDER BY name", (workspace_id,))
        return [agent_from_row(r) for r in rows]

    async def reissue_agent_credential(
        self, agent: Agent, *, credential_hash: bytes, now_ms: int,
        audit: AuditEvent | None = None,
    ) -> Agent:
        version = agent.credential_version + 1

        def reissue(db: sqlite3.Connection) -> None:
            _check_agent_enabled(db, agent.id)
            moved = db.execute(
                "UPDATE agents SET credential_version = ? WHERE id = ? AND credential_version = ?",
                (version, agent.id, agent.credential_version)).rowcount
            if moved != 1:
                raise Conflict(f"agent {agent.name!r} was reissued meanwhile; try again")
            _revoke_agent_credentials(db, agent.id, now_ms)
            _insert_credential(db, credential_hash, agent.workspace_id, "agent", agent.id,
                               version, now_ms)
            _audit(db, audit, now_ms)

        await self._transaction(reissue)
        return replace(agent, credential_version=version)

    async def disable_agent(self, agent: Agent, *, now_ms: int,
                            audit: AuditEvent) -> list[Session]:
        def disable(db: sqlite3.Connection) -> list[Session]:
            if db.execute("UPDATE agents SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL",
                          (now_ms, agent.id)).rowcount != 1:
                raise AgentDisabled(f"agent {agent.name!r} is already disabled")
            _revoke_agent_credentials(db, agent.id, now_ms)
            live = [session_from_row(r) for r in db.execute(
                f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE s.agent_id = ?"
                " AND s.revoked_at IS NULL ORDER BY s.created_at, s.id", (agent.id,))]
            for session in live:
                _revoke(db, session.id, now_ms)
                _audit(db, replace(audit, action="session.revoke", subject=session.key_hash,
                                   detail={"by": audit.action, "agent": agent.name}), now_ms)
            _audit(db, replace(audit, detail={
                **audit.detail, "revoked": [s.key_hash for s in live]}), now_ms)
            return live

        revoked = await self._transaction(disable)
        await self._checkpoint()
        return revoked

    # -- sessions --------------------------------------------------------------------------
    async def insert_session(
        self, session: Session, *, sealed_key: bytes, credential_hash: bytes | None,
        audit: AuditEvent | None = None, max_live_for_agent: int | None = None,
        self_service: bool = False,
    ) -> None:
        def insert(db: sqlite3.Connection) -> None:
            if max_live_for_agent is not None:
                live = db.execute(
                    "SELECT COUNT(*) FROM sessions WHERE agent_id = ? AND revoked_at IS NULL"
                    " AND expires_at > ?", (session.agent_id, session.created_at_ms)
                ).fetchone()[0]
                if live >= max_live_for_agent:
                    raise Conflict(f"the agent already has {live} live session(s), its "
                                   f"ceiling allows {max_live_for_agent}")
            _insert_session(db, session, sealed_key, credential_hash)
            if self_service:
                if session.agent_id is None:
                    raise ValueError("only an agent creates sessions for itself")
                db.execute("INSERT INTO self_service_lineages VALUES (?, ?)",
                           (session.lineage_id, session.agent_id))
            _audit(db, audit, session.created_at_ms)

        await self._transaction(insert)

    async def get_session(self, workspace_id: str, key_hash: str) -> Session:
        row = await self._read_one(
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} "
            "WHERE s.workspace_id = ? AND s.key_hash = ?", (workspace_id, key_hash.lower()))
        if row is None:
            raise NotFound(f"no session {key_hash}")
        return session_from_row(row)

    async def get_session_by_id(self, session_id: str) -> Session:
        row = await self._read_one(f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE s.id = ?",
                                   (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id}")
        return session_from_row(row)

    async def list_sessions(
        self, workspace_id: str, query: SessionFilter, *, now_ms: int
    ) -> list[Session]:
        where: list[str] = ["s.workspace_id = ?"]
        args: list[object] = [workspace_id]
        if query.type is not None:
            where.append("s.type = ?")
            args.append(query.type.value)
        # `+s.expires_at`: a status is a filter, not a range to read. Without statistics the
        # planner would read sessions_by_workspace_expiry from `now` and sort what it found
        # (most of a fleet is active), instead of reading the sort's own index in order.
        if query.status is SessionStatus.REVOKED:
            where.append("s.revoked_at IS NOT NULL")
        elif query.status is SessionStatus.EXPIRED:
            where.append("s.revoked_at IS NULL AND +s.expires_at <= ?")
            args.append(now_ms)
        elif query.status is SessionStatus.ACTIVE:
            where.append("s.revoked_at IS NULL AND +s.expires_at > ?")
            args.append(now_ms)
        if query.chain_id is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(s.chain_ids) WHERE value = ?)")
            args.append(query.chain_id)
        if query.agent_name is not None:
            where.append("a.name = ?")
            args.append(query.agent_name)
        if query.label_contains:
            where.append("instr(lower(s.label), lower(?)) > 0")
            args.append(query.label_contains)
        descending = query.sort.startswith("-")
        column = SESSION_SORTS.get(query.sort.lstrip("-"))
        if column is None:
            raise ValueError(f"unknown sort {query.sort!r}")
        direction, compare = ("DESC", "<") if descending else ("ASC", ">")
        if query.after is not None:
            # The bound term alone makes the index range start at the cursor (an OR of two
            # terms would walk the index from the workspace's first session up to it).
            where.append(f"{column} {compare}= ? AND ({column} {compare} ?"
                         f" OR s.id {compare} ?)")
            args.extend((query.after[0], query.after[0], query.after[1]))
        order = f"{column} {direction}, s.id {direction}"
        rows = await self._read_all(
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT ?", (*args, query.limit))
        return [session_from_row(r) for r in rows]

    async def sealed_key(self, session_id: str) -> bytes | None:
        row = await self._read_one("SELECT sealed_key FROM sessions WHERE id = ?", (session_id,))
        return None if row is None else row["sealed_key"]

    async def revoke_session(self, session_id: str, *, now_ms: int,
                             audit: AuditEvent | None = None) -> None:
        def revoke(db: sqlite3.Connection) -> None:
            _revoke(db, session_id, now_ms)
            _audit(db, audit, now_ms)

        await self._transaction(revoke)
        await self._checkpoint()


    async def _checkpoint(self) -> None:
        """Crypto-shredding: push the zeroed page out of the WAL into the main file."""
        writer = self._writer
        if writer is not None:
            def checkpoint() -> None:
                self._shred_pending = True
                self._try_shred(writer)

            await self._in_writer(checkpoint)

    async def rotate_session(
        self, old: Session, successor: Session, *, sealed_key: bytes,
        credential_hash: bytes | None, now_ms: int, audit: AuditEvent | None = None,
    ) -> None:
        def rotate(db: sqlite3.Connection) -> None:
            _revoke(db, old.id, now_ms)
            _insert_session(db, successor, sealed_key, credential_hash)
            _audit(db, audit, now_ms)

        await self._transaction(rotate)
        await self._checkpoint()

    # -- credentials -----------------------------------------------------------------------
    async def resolve_credential(self, token_hash: bytes) -> CredentialOwner | None:
        row = await self._read_one(
            "SELECT workspace_id, owner_kind, owner_id FROM credentials "
            "WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,))
        if row is None:
            return None
        return CredentialOwner(workspace_id=row["workspace_id"], kind=row["owner_kind"],
                               owner_id=row["owner_id"])

    async def cache_epoch(self) -> int:
        row = await self._read_one("SELECT value FROM cache_epoch WHERE id = 1", ())
        return 0 if row is None else int(row["value"])  # no row: nothing has changed yet

    async def sessions_of(self, owner: CredentialOwner) -> list[Session]:
        column = "s.id" if owner.kind == "session" else "s.agent_id"
        rows = await self._read_all(
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE {column} = ? AND s.workspace_id = ?"
            " ORDER BY s.created_at", (owner.owner_id, owner.workspace_id))
        return [session_from_row(r) for r in rows]

    async def live_sessions_of(self, owner: CredentialOwner, *, now_ms: int) -> list[Session]:
        rows = await self._read_all(LIVE_SESSIONS_OF[owner.kind],
                                    (owner.owner_id, owner.workspace_id, now_ms))
        return [session_from_row(r) for r in rows]

    async def session_by_address(self, owner: CredentialOwner, address: str) -> Session | None:
        rows = await self._read_all(SESSION_BY_ADDRESS, (address.lower(),))
        return next((session for session in map(session_from_row, rows)
                     if credential_reaches(owner, session)), None)

    # -- the ledger ------------------------------------------------------------------------
    async def reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T],
        gas_wei: int | None = None, hold: ApprovalDraft | None = None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        def reserve(db: sqlite3.Connection) -> tuple[Decision, Reservation | None, T | None]:
            # Read with the write lock held (BEGIN IMMEDIATE returned): a request that queued
            # behind a slow writer is judged when it is decided, not when it arrived, so it
            # cannot sign after expires_at or outside its rate-limit minute.
            now_ms = clock()
            window_start = window_start_ms(now_ms, window_mode)
            row = db.execute(
                "SELECT s.revoked_at, s.expires_at, s.lineage_id, s.sealed_key, s.workspace_id,"
                " s.key_hash, s.agent_id, s.limit_unit, a.daily_budget, a.ceiling,"
                " s.approve_above,"
                " ss.agent_id AS self_service_agent FROM sessions s"
                " LEFT JOIN agents a ON a.id = s.agent_id"
                " LEFT JOIN self_service_lineages ss ON ss.lineage_id = s.lineage_id"
                " WHERE s.id = ?", (session_id,)).fetchone()
            if row is None:
                raise NotFound(f"no session {session_id}")
            lineage = row["lineage_id"]
            # What an expired approval held is free again before this request is judged. Only
            # a lineage with an approval threshold (rotation keeps it) can have any.
            if row["approve_above"] is not None:
                expire_overdue(db, lineage=lineage, now_ms=now_ms)
            recent = db.execute(
                "SELECT COUNT(*) FROM decisions WHERE session_id = ? AND at > ?",
                (session_id, now_ms - MINUTE_MS)).fetchone()[0]
            # Counted under the same lock that inserts the next one: exact across processes.
            outstanding = db.execute(COUNT_OUTSTANDING_SIGNED, (lineage,)).fetchone()[0]
            state = SessionState(revoked=row["revoked_at"] is not None,
                                 expires_at_ms=row["expires_at"],
                                 spent_in_window=window_sum(db, lineage, window_start),
                                 requests_last_minute=recent,
                                 agent_spent_in_window=agent_window_sum(
                                     db, row["agent_id"], window_start)
                                 if row["daily_budget"] is not None else 0,
                                 outstanding_signed=outstanding,
                                 self_service=self_service_window(db, row, window_start),
                                 pending_approvals=pending_approvals(db, lineage)
                                 if row["approve_above"] is not None else 0)
            decision = evaluate(state, now_ms)
            reservation: Reservation | None = None
            signed: T | None = None
            tx_hash: str | None = None
            if decision.allowed:
                picked = pick_nonce(db, nonce) if nonce is not None else None
                signed, tx_hash, raw_tx = sign(picked, row["sealed_key"])
                reservation = Reservation(id=new_id(), session_id=session_id,
                                          amount=decision.cost, nonce=picked,
                                          chain_id=nonce.chain_id if nonce else 0)
                minute = now_ms // MINUTE_MS
                db.execute(
                    "INSERT INTO reservations (id, session_id, lineage_id, minute, amount, status,"
                    " method, chain_id, nonce, tx_hash, created_at, updated_at, raw_tx,"
                    " gas_reserved, gas_wei_reserved)"
                    " VALUES (?, ?, ?, ?, ?, 'signed', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (reservation.id, session_id, lineage, minute, str(decision.cost), method,
                     reservation.chain_id, picked, tx_hash, now_ms, now_ms, raw_tx,
                     str(decision.gas_cost), None if gas_wei is None else str(gas_wei)))
                add_to_bucket(db, lineage, minute, decision.cost)
            elif decision.held and hold is not None:
                reservation = hold_request(
                    db, draft=hold, session_id=session_id, lineage=lineage,
                    workspace_id=row["workspace_id"], method=method, decision=decision,
                    gas_wei=gas_wei, now_ms=now_ms)
            db.execute(
                "INSERT INTO decisions (session_id, at, method, allowed, reason, detail, cost,"
                " reservation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, now_ms, method, int(decision.allowed),
                 None if decision.reason is None else decision.reason.value, decision.detail,
                 str(decision.cost), reservation.id if reservation else None))
            audit.append(db, AuditEvent(
                workspace_id=row["workspace_id"], actor="rpc", action="rpc.decision",
                subject=row["key_hash"],
                detail={"method": method, "allowed": decision.allowed,
                        "reason": None if decision.reason is None else decision.reason.value,
                        "detail": decision.detail, "cost": str(decision.cost),
                        "figures": dict(decision.figures),
                        "tx_hash": tx_hash if decision.allowed else None,
                        "approval_id": hold.id if decision.held and hold is not None
                        else None}), now_ms=now_ms)
            return decision, reservation, signed

        return await self._transaction(reserve)

    async def release(self, reservation: Reservation, *, now_ms: int,
                      return_nonce: bool) -> bool:
        def release(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT r.lineage_id, r.minute, r.amount, r.status, s.address_lower "
                "FROM reservations r JOIN sessions s ON s.id = r.session_id WHERE r.id = ?",
                (reservation.id,)).fetchone()
            if row is None or row["status"] not in RELEASABLE:
                return False
            db.execute("UPDATE reservations SET status = 'released', updated_at = ? WHERE id = ?",
                       (now_ms, reservation.id))
            add_to_bucket(db, row["lineage_id"], row["minute"], -int(row["amount"]))
            # Back to the pool only if no other live reservation holds it (a replacement signed
            # at the same nonce): the pool must never hand out a nonce still in use.
            if return_nonce and reservation.nonce is not None and not nonce_held(
                    db, reservation.chain_id, row["address_lower"], reservation.nonce):
                db.execute("INSERT OR IGNORE INTO released_nonces VALUES (?, ?, ?)",
                           (reservation.chain_id, row["address_lower"], reservation.nonce))
            return True

        return await self._transaction(release)

    async def record_outcome(
        self, reservation: Reservation, *, status: ReservationStatus, now_ms: int
    ) -> bool:
        sources = outcome_sources(status)
        # One conditional write: whoever records second finds the row moved on and changes
        # nothing (`OUTCOME_FROM`).
        return await self._transaction(lambda db: db.execute(
            "UPDATE reservations SET status = ?, updated_at = ? WHERE id = ?"
            " AND status IN (SELECT value FROM json_each(?))",
            (status.value, now_ms, reservation.id,
             json.dumps([s.value for s in sources]))).rowcount == 1)

    async def unbroadcast_sends(self, *,
                                signed_before_ms: int | None = None) -> list[UnbroadcastSend]:
        rows = await self._read_all(
            unbroadcast_query(signed_before=signed_before_ms is not None),
            () if signed_before_ms is None else (signed_before_ms,))
        return [UnbroadcastSend(
            reservation=Reservation(id=r["id"], session_id=r["session_id"],
                                    amount=int(r["amount"]), nonce=r["nonce"],
                                    chain_id=r["chain_id"]),
            address=r["address"], raw_tx=r["raw_tx"], tx_hash=r["tx_hash"]) for r in rows]

    async def unsettled(self, *, limit: int = 200,
                        after: tuple[int, str] | None = None) -> list[UnsettledSend]:
        created, last_id = after if after is not None else (-1, "")
        rows = await self._read_all(UNSETTLED_PAGE, (created, last_id, limit))
        return [UnsettledSend(
            reservation=Reservation(id=r["id"], session_id=r["session_id"],
                                    amount=int(r["amount"]), nonce=r["nonce"],
                                    chain_id=r["chain_id"]),
            address=r["address"], tx_hash=r["tx_hash"], status=ReservationStatus(r["status"]),
            gas_reserved=optional_int(r["gas_reserved"]),
            gas_wei_reserved=optional_int(r["gas_wei_reserved"]),
            created_at_ms=r["created_at"]) for r in rows]

    async def settle(
        self, reservation_id: str, *, amount: int, status: ReservationStatus, now_ms: int,
        gas_wei_used: int | None = None, receipt_status: int | None = None,
    ) -> bool:
        if status not in (ReservationStatus.SETTLED, ReservationStatus.RELEASED):
            raise ValueError(f"settle ends in 'settled' or 'released', not {status.value!r}")
        if amount < 0 or (status is ReservationStatus.RELEASED and amount != 0):
            raise ValueError("a settled amount is >= 0, and 0 for a release")

        def settle(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT lineage_id, minute, amount, status, settled_at, method FROM reservations"
                " WHERE id = ?", (reservation_id,)).fetchone()
            if row is None:
                raise NotFound(f"no reservation {reservation_id}")
            # A held-back eth_signTransaction stays `signed`; a send still `signed` is crash
            # recovery's to broadcast, never settlement's to settle.
            settleable = ((ReservationStatus.SIGNED,) if row["method"] == "eth_signTransaction"
                          else (ReservationStatus.BROADCAST, ReservationStatus.UNKNOWN))
            if row["settled_at"] is not None or row["status"] not in settleable:
                return False
            held = int(row["amount"])
            if amount > held:
                raise ValueError("settlement only lowers a reservation, never raises it")
            # A release keeps the reserved amount on the row for the record, as `release` does.
            kept = held if status is ReservationStatus.RELEASED else amount
            db.execute(
                "UPDATE reservations SET status = ?, amount = ?, gas_wei_used = ?,"
                " receipt_status = ?, settled_at = ?, updated_at = ? WHERE id = ?",
                (status.value, str(kept), None if gas_wei_used is None else str(gas_wei_used),
                 receipt_status, now_ms, now_ms, reservation_id))
            if amount != held:
                add_to_bucket(db, row["lineage_id"], row["minute"], amount - held)
            return True

        return await self._transaction(settle)

    async def spent_in_window(self, lineage_id: str, *, window_start_ms: int) -> int:
        rows = await self._read_all(
            "SELECT amount FROM spend_buckets WHERE lineage_id = ? AND minute >= ?",
            (lineage_id, window_start_ms // MINUTE_MS))
        return sum(int(r["amount"]) for r in rows)

    async def reservations(self, session_id: str) -> Sequence[tuple[str, int, str | None]]:
        rows = await self._read_all(
            "SELECT status, amount, tx_hash FROM reservations WHERE session_id = ? "
            "ORDER BY created_at, id", (session_id,))
        return [(r["status"], int(r["amount"]), r["tx_hash"]) for r in rows]

    # -- observability ---------------------------------------------------------------------
    async def fleet_snapshot(
        self, *, now_ms: int, window_start_ms: int, denials_since_ms: int, per_session: bool,
    ) -> FleetSnapshot:
        # Plain reads on the reader connection, no transaction: a metrics snapshot may mix
        # states a few milliseconds apart, and must never hold the writer's lock or a WAL
        # snapshot that would stall crypto-shredding's checkpoint.
        counts: dict[tuple[SessionType, SessionStatus], int] = {}
        for r in await self._read_all(
                "SELECT type, CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
                " WHEN expires_at <= ? THEN 'expired' ELSE 'active' END AS status,"
                " COUNT(*) AS n FROM sessions GROUP BY 1, 2", (now_ms,)):
            counts[SessionType(r["type"]), SessionStatus(r["status"])] = r["n"]
        # The IN list drives the (lineage_id, minute) primary key: one range per lineage.
        spent: dict[str, int] = {}
        for r in await self._read_all(
                FLEET_SPEND_WITH_ACTIVE if per_session else FLEET_SPEND_OF_BUDGETS,
                (window_start_ms // MINUTE_MS, now_ms) if per_session
                else (window_start_ms // MINUTE_MS,)):
            spent[r["lineage_id"]] = spent.get(r["lineage_id"], 0) + int(r["amount"])
        budgets: dict[tuple[str, str], int] = {}
        agent_spend: dict[tuple[str, str], int] = {}
        for r in await self._read_all(FLEET_AGENTS, ()):
            key = (r["workspace"], r["name"])
            budgets[key] = int(r["daily_budget"])
            agent_spend[key] = agent_spend.get(key, 0) + spent.get(r["lineage_id"], 0)
        agents = tuple(FleetAgent(workspace=workspace, name=name, daily_budget=budget,
                                  spent_in_window=agent_spend[workspace, name])
                       for (workspace, name), budget in budgets.items())
        sessions: tuple[FleetSession, ...] = ()
        if per_session:
            # Denials are counted through decisions_by_session (session_id, at): one short
            # range per active session, never a scan of the whole decision history.
            builder = FleetSessionBuilder(spent)
            async for page in self._read_fleet_pages(
                    "SELECT s.key_hash, w.name AS workspace, s.type, s.label,"
                    " a.name AS agent_name, s.limit_unit, s.daily_limit, s.lineage_id,"
                    " s.request_count, s.last_used_at, s.created_at, s.expires_at,"
                    " (SELECT COUNT(*) FROM decisions d"
                    " WHERE d.session_id = s.id AND d.at >= ? AND d.allowed = 0) AS denials"
                    " FROM sessions s JOIN workspaces w ON w.id = s.workspace_id"
                    " LEFT JOIN agents a ON a.id = s.agent_id"
                    " WHERE s.revoked_at IS NULL AND s.expires_at > ?"
                    " ORDER BY s.created_at, s.id", (denials_since_ms, now_ms), FLEET_PAGE):
                builder.add(page)
            sessions = tuple(builder.sessions)
        return FleetSnapshot(taken_at_ms=now_ms, session_counts=counts, sessions=sessions,
                             agents=agents)

    async def record_usage(self, batch: Sequence[SessionUsage]) -> None:
        if not batch:
            return
        rows = [(u.requests, u.last_used_at_ms, u.session_id) for u in batch]
        await self._transaction(lambda db: db.executemany(
            "UPDATE sessions SET request_count = request_count + ?,"
            " last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?", rows))


def _audit(db: sqlite3.Connection, event: AuditEvent | None, now_ms: int) -> None:
    if event is not None:
        audit.append(db, event, now_ms=now_ms)


def _insert_session(db: sqlite3.Connection, s: Session, sealed_key: bytes,
                    credential_hash: bytes | None) -> None:
    if s.agent_id is not None:
        # Checked under the write lock: a create or rotation racing `agents disable` either
        # lands before it (and is revoked by it) or is refused here.
        _check_agent_enabled(db, s.agent_id)
    db.execute(
        "INSERT INTO sessions (id, workspace_id, type, label, agent_id, key_hash, address,"
        " address_lower, sealed_key, permissions, chain_ids, tokens, limit_unit,"
        " per_tx_limit, daily_limit, created_at, expires_at, revoked_at, lineage_id,"
        " predecessor_id, credential_version, recipients, contracts, rate_limit_per_minute,"
        " max_fee_per_gas, approve_above) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (s.id, s.workspace_id, s.type.value, s.label, s.agent_id, s.key_hash, s.address,
         s.address.lower(), sealed_key, json.dumps([p.value for p in s.permissions]),
         json.dumps(list(s.chain_ids)), json.dumps(list(s.tokens)), s.limit_unit,
         str(s.per_tx_limit), str(s.daily_limit), s.created_at_ms, s.expires_at_ms,
         s.revoked_at_ms, s.lineage_id, s.predecessor_id, s.credential_version,
         None if s.recipients is None else json.dumps(list(s.recipients)),
         json.dumps({a: None if sel is None else list(sel) for a, sel in s.contracts.items()}),
         s.rate_limit_per_minute,
         None if s.max_fee_per_gas is None else str(s.max_fee_per_gas),
         None if s.approve_above is None else str(s.approve_above)))
    if credential_hash is not None:
        _insert_credential(db, credential_hash, s.workspace_id, "session", s.id,
                           s.credential_version, s.created_at_ms)


def _insert_credential(db: sqlite3.Connection, token_hash: bytes, workspace_id: str, kind: str,
                       owner_id: str, version: int, now_ms: int) -> None:
    db.execute("INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, NULL)",
               (token_hash, workspace_id, kind, owner_id, version, now_ms))


def _check_agent_enabled(db: sqlite3.Connection, agent_id: str) -> None:
    row = db.execute("SELECT name, disabled_at FROM agents WHERE id = ?", (agent_id,)).fetchone()
    if row is None:
        raise NotFound(f"no agent {agent_id}")
    if row["disabled_at"] is not None:
        raise AgentDisabled(f"agent {row['name']!r} is disabled: it gets no new session or "
                            "credential; register a new agent instead")


def _revoke_agent_credentials(db: sqlite3.Connection, agent_id: str, now_ms: int) -> None:
    db.execute("UPDATE credentials SET revoked_at = ? WHERE owner_kind = 'agent'"
               " AND owner_id = ? AND revoked_at IS NULL", (now_ms, agent_id))


def _revoke(db: sqlite3.Connection, session_id: str, now_ms: int) -> None:
    cur = db.execute("UPDATE sessions SET revoked_at = ?, sealed_key = NULL "
                     "WHERE id = ? AND revoked_at IS NULL", (now_ms, session_id))
    if cur.rowcount != 1:
        raise Conflict("session is already revoked or does not exist")
    reject_pending_of_session(db, session_id, now_ms)
    db.execute("UPDATE credentials SET revoked_at = ? WHERE owner_kind = 'session'"
               " AND owner_id = ? AND revoked_at IS NULL", (now_ms, session_id))


def _backfill_agent_windows(db: sqlite3.Connection) -> None:
    """Completes migration 0009: the agent windows of sessions self-created before it.

    Bucket amounts exceed SQLite's 64-bit integers, so they are added up here, exactly."""
    totals: dict[tuple[str, int], int] = {}
    for agent_id, minute, amount in db.execute(
            "SELECT ss.agent_id, b.minute, b.amount FROM spend_buckets b"
            " JOIN self_service_lineages ss ON ss.lineage_id = b.lineage_id"):
        totals[agent_id, minute] = totals.get((agent_id, minute), 0) + int(amount)
    db.executemany("INSERT INTO agent_window_buckets VALUES (?, ?, ?)",
                   [(agent_id, minute, str(total))
                    for (agent_id, minute), total in totals.items()])


# Python steps that finish a migration inside its transaction, by migration number.
_MIGRATION_COMPLETIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    9: _backfill_agent_windows,
}


def _split_sql(text: str) -> list[str]:
    """Split a migration file into statements.

    Our migrations hold no string literal containing "--" or ";", so comments can be cut at
    "--". A ";" ends a statement only where SQLite's own `complete_statement` says so, which
    keeps a trigger's `BEGIN ...; END` body in one piece.
    """
    lines = [ln.split("--", 1)[0] for ln in text.splitlines()]
    statements: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip().rstrip(";"))
    return statements
