"""PostgreSQL: workspaces, agents, sessions and their credentials (`SessionRepository`).

Same semantics as the SQLite backend (`_sqlite.py`), with the locks of `_pg_base` in place of
SQLite's database-wide write lock: an agent's row is locked (`FOR NO KEY UPDATE`) by whatever
creates, rotates, reissues or disables for it, so live-session caps, reissue versions and
`disable_agent` are decided under it; a revoke takes the session's LINEAGE lock, the one every
signature of the lineage holds, so it returns only once no signature is in flight and none can
begin; in the same transaction it rejects the session's pending approvals (`_pg_approvals`), so
none of them can be approved once it returned.

Crypto-shredding note: a revoked key's column is set to NULL at once; PostgreSQL keeps the old
row version until VACUUM reclaims it (autovacuum does, in the background).
"""

from __future__ import annotations

import json
from dataclasses import replace

import psycopg

from ._audit import AuditEvent
from ._errors import AgentDisabled, Conflict, NotFound
from ._pg_approvals import PgApprovals
from ._pg_base import Conn, Lock, fetch_all, fetch_one, lock
from ._records import (
    Agent,
    AgentCeiling,
    CredentialOwner,
    Session,
    SessionFilter,
    SessionStatus,
    Workspace,
)
from ._rows import (
    SESSION_COLUMNS,
    SESSION_FROM,
    SESSION_SORTS,
    agent_from_row,
    new_id,
    session_from_row,
)


class PgSessions(PgApprovals):
    # -- workspaces and agents -------------------------------------------------------------
    async def create_workspace(self, name: str, *, now_ms: int, workspace_id: str | None = None,
                               audit: AuditEvent | None = None) -> Workspace:
        ws = Workspace(id=workspace_id or new_id(), name=name, created_at_ms=now_ms)
        try:
            async with self._transaction() as conn:
                await conn.execute("INSERT INTO workspaces VALUES (%s, %s, %s)",
                                   (ws.id, ws.name, ws.created_at_ms))
                await self._append_audit(conn, audit, now_ms)
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(f"workspace {name!r} already exists") from exc
        return ws

    async def list_workspaces(self) -> list[Workspace]:
        rows = await self._read_all("SELECT * FROM workspaces ORDER BY created_at, name", ())
        return [Workspace(id=r["id"], name=r["name"], created_at_ms=r["created_at"])
                for r in rows]

    async def get_workspace(self, name: str) -> Workspace:
        row = await self._read_one("SELECT * FROM workspaces WHERE name = %s", (name,))
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
        try:
            async with self._transaction() as conn:
                await conn.execute(
                    "INSERT INTO agents (id, workspace_id, name, daily_budget,"
                    " credential_version, created_at, ceiling, rotate_every_s)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (agent.id, workspace_id, name, daily_budget, 1, now_ms,
                     None if ceiling is None else json.dumps(ceiling.to_json()),
                     rotate_every_s))
                await _insert_credential(conn, credential_hash, workspace_id, "agent",
                                         agent.id, 1, now_ms)
                await self._append_audit(conn, audit, now_ms)
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(f"agent {name!r} already exists") from exc
        return agent

    async def get_agent(self, workspace_id: str, name: str) -> Agent:
        row = await self._read_one(
            "SELECT * FROM agents WHERE workspace_id = %s AND name = %s", (workspace_id, name))
        if row is None:
            raise NotFound(f"no agent named {name!r}")
        return agent_from_row(row)

    async def list_agents(self, workspace_id: str) -> list[Agent]:
        rows = await self._read_all(
            "SELECT * FROM agents WHERE workspace_id = %s ORDER BY name", (workspace_id,))
        return [agent_from_row(r) for r in rows]

    async def reissue_agent_credential(
        self, agent: Agent, *, credential_hash: bytes, now_ms: int,
        audit: AuditEvent | None = None,
    ) -> Agent:
        version = agent.credential_version + 1
        async with self._transaction() as conn:
            await _lock_enabled_agent(conn, agent.id)
            moved = await conn.execute(
                "UPDATE agents SET credential_version = %s WHERE id = %s"
                " AND credential_version = %s", (version, agent.id, agent.credential_version))
            if moved.rowcount != 1:
                raise Conflict(f"agent {agent.name!r} was reissued meanwhile; try again")
            await _revoke_agent_credentials(conn, agent.id, now_ms)
            await _insert_credential(conn, credential_hash, agent.workspace_id, "agent",
                                     agent.id, version, now_ms)
            await self._append_audit(conn, audit, now_ms)
        return replace(agent, credential_version=version)

    async def disable_agent(self, agent: Agent, *, now_ms: int,
                            audit: AuditEvent) -> list[Session]:
        async with self._transaction() as conn:
            disabled = await conn.execute(
                "UPDATE agents SET disabled_at = %s WHERE id = %s AND disabled_at IS NULL",
                (now_ms, agent.id))
            if disabled.rowcount != 1:
                raise AgentDisabled(f"agent {agent.name!r} is already disabled")
            await _revoke_agent_credentials(conn, agent.id, now_ms)
            # Read after the agent's row is locked: no session of it can be created meanwhile.
            live = [session_from_row(r) for r in await fetch_all(
                conn, f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE s.agent_id = %s"
                " AND s.revoked_at IS NULL ORDER BY s.created_at, s.id", (agent.id,))]
            await lock(conn, Lock.LINEAGE, *(s.lineage_id for s in live))
            # Rows in id order (as `record_usage` updates them); the audit events after them
            # (recorded unchained: they take no lock, `_pg_audit`).
            for session in sorted(live, key=lambda s: s.id):
                await _revoke(conn, session.id, now_ms)
            await self._reject_pending_of(conn, [s.id for s in live], now_ms)
            for session in live:
                await self._append_audit(conn, replace(
                    audit, action="session.revoke", subject=session.key_hash,
                    detail={"by": audit.action, "agent": agent.name}), now_ms)
            await self._append_audit(conn, replace(audit, detail={
                **audit.detail, "revoked": [s.key_hash for s in live]}), now_ms)
        return live

    # -- sessions --------------------------------------------------------------------------
    async def insert_session(
        self, session: Session, *, sealed_key: bytes, credential_hash: bytes | None,
        audit: AuditEvent | None = None, max_live_for_agent: int | None = None,
        self_service: bool = False,
    ) -> None:
        if self_service and session.agent_id is None:
            raise ValueError("only an agent creates sessions for itself")
        async with self._transaction() as conn:
            if session.agent_id is not None:
                # The agent's row lock orders this against `disable_agent` and against other
                # creates for the agent, so the live count below cannot be overtaken.
                await _lock_enabled_agent(conn, session.agent_id)
            if max_live_for_agent is not None:
                row = await fetch_one(
                    conn, "SELECT COUNT(*) AS n FROM sessions WHERE agent_id = %s"
                    " AND revoked_at IS NULL AND expires_at > %s",
                    (session.agent_id, session.created_at_ms))
                live = 0 if row is None else int(row["n"])
                if live >= max_live_for_agent:
                    raise Conflict(f"the agent already has {live} live session(s), its "
                                   f"ceiling allows {max_live_for_agent}")
            await _insert_session(conn, session, sealed_key, credential_hash)
            if self_service:
                await conn.execute("INSERT INTO self_service_lineages VALUES (%s, %s)",
                                   (session.lineage_id, session.agent_id))
            await self._append_audit(conn, audit, session.created_at_ms)

    async def get_session(self, workspace_id: str, key_hash: str) -> Session:
        row = await self._read_one(
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} "
            "WHERE s.workspace_id = %s AND s.key_hash = %s", (workspace_id, key_hash.lower()))
        if row is None:
            raise NotFound(f"no session {key_hash}")
        return session_from_row(row)

    async def get_session_by_id(self, session_id: str) -> Session:
        row = await self._read_one(
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE s.id = %s", (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id}")
        return session_from_row(row)

    async def list_sessions(
        self, workspace_id: str, query: SessionFilter, *, now_ms: int
    ) -> list[Session]:
        where: list[str] = ["s.workspace_id = %s"]
        args: list[object] = [workspace_id]
        if query.type is not None:
            where.append("s.type = %s")
            args.append(query.type.value)
        if query.status is SessionStatus.REVOKED:
            where.append("s.revoked_at IS NOT NULL")
        elif query.status is SessionStatus.EXPIRED:
            where.append("s.revoked_at IS NULL AND s.expires_at <= %s")
            args.append(now_ms)
        elif query.status is SessionStatus.ACTIVE:
            where.append("s.revoked_at IS NULL AND s.expires_at > %s")
            args.append(now_ms)
        if query.chain_id is not None:
            where.append("EXISTS (SELECT 1 FROM json_array_elements_text(s.chain_ids::json) c"
                         " WHERE c.value::numeric = %s)")
            args.append(query.chain_id)
        if query.agent_name is not None:
            where.append("a.name = %s")
            args.append(query.agent_name)
        if query.label_contains:
            where.append("strpos(lower(s.label), lower(%s)) > 0")
            args.append(query.label_contains)
        descending = query.sort.startswith("-")
        column = SESSION_SORTS.get(query.sort.lstrip("-"))
        if column is None:
            raise ValueError(f"unknown sort {query.sort!r}")
        direction, compare = ("DESC", "<") if descending else ("ASC", ">")
        if query.after is not None:
            # The bound term alone makes the index range start at the cursor (an OR of two
            # terms would walk the index from the workspace's first session up to it).
            where.append(f"{column} {compare}= %s AND ({column} {compare} %s"
                         f" OR s.id {compare} %s)")
            args.extend((query.after[0], query.after[0], query.after[1]))
        order = f"{column} {direction}, s.id {direction}"
        rows = await self._read_all(
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT %s", (*args, query.limit))
        return [session_from_row(r) for r in rows]

    async def sealed_key(self, session_id: str) -> bytes | None:
        row = await self._read_one("SELECT sealed_key FROM sessions WHERE id = %s",
                                   (session_id,))
        return None if row is None or row["sealed_key"] is None else bytes(row["sealed_key"])

    async def revoke_session(self, session_id: str, *, now_ms: int,
                             audit: AuditEvent | None = None) -> None:
        async with self._transaction() as conn:
            lineage = await _lineage_of(conn, session_id)
            if lineage is None:
                raise Conflict("session is already revoked or does not exist")
            await lock(conn, Lock.LINEAGE, lineage)
            await _revoke(conn, session_id, now_ms)
            await self._reject_pending_of(conn, [session_id], now_ms)
            await self._append_audit(conn, audit, now_ms)

    async def rotate_session(
        self, old: Session, successor: Session, *, sealed_key: bytes,
        credential_hash: bytes | None, now_ms: int, audit: AuditEvent | None = None,
    ) -> None:
        async with self._transaction() as conn:
            if successor.agent_id is not None:
                await _lock_enabled_agent(conn, successor.agent_id)
            lineage = await _lineage_of(conn, old.id)
            if lineage is None:
                raise Conflict("session is already revoked or does not exist")
            await lock(conn, Lock.LINEAGE, lineage)
            await _revoke(conn, old.id, now_ms)
            await self._reject_pending_of(conn, [old.id], now_ms)
            await _insert_session(conn, successor, sealed_key, credential_hash)
            await self._append_audit(conn, audit, now_ms)

    # -- credentials -----------------------------------------------------------------------
    async def resolve_credential(self, token_hash: bytes) -> CredentialOwner | None:
        row = await self._read_one(
            "SELECT workspace_id, owner_kind, owner_id FROM credentials "
            "WHERE token_hash = %s AND revoked_at IS NULL", (token_hash,))
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
            f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE {column} = %s"
            " AND s.workspace_id = %s ORDER BY s.created_at", (owner.owner_id, owner.workspace_id))
        return [session_from_row(r) for r in rows]


async def _lineage_of(conn: Conn, session_id: str) -> str | None:
    row = await fetch_one(conn, "SELECT lineage_id FROM sessions WHERE id = %s", (session_id,))
    return None if row is None else str(row["lineage_id"])


async def _lock_enabled_agent(conn: Conn, agent_id: str) -> None:
    """Lock the agent's row (lock order 0) and refuse a disabled agent."""
    row = await fetch_one(conn, "SELECT name, disabled_at FROM agents WHERE id = %s"
                                " FOR NO KEY UPDATE", (agent_id,))
    if row is None:
        raise NotFound(f"no agent {agent_id}")
    if row["disabled_at"] is not None:
        raise AgentDisabled(f"agent {row['name']!r} is disabled: it gets no new session or "
                            "credential; register a new agent instead")


async def _insert_session(conn: Conn, s: Session, sealed_key: bytes,
                          credential_hash: bytes | None) -> None:
    await conn.execute(
        "INSERT INTO sessions (id, workspace_id, type, label, agent_id, key_hash, address,"
        " address_lower, sealed_key, permissions, chain_ids, tokens, limit_unit,"
        " per_tx_limit, daily_limit, created_at, expires_at, revoked_at, lineage_id,"
        " predecessor_id, credential_version, recipients, contracts, rate_limit_per_minute,"
        " max_fee_per_gas, approve_above) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (s.id, s.workspace_id, s.type.value, s.label, s.agent_id, s.key_hash, s.address,
         s.address.lower(), sealed_key, json.dumps([p.value for p in s.permissions]),
         json.dumps(list(s.chain_ids)), json.dumps(list(s.tokens)), s.limit_unit,
         s.per_tx_limit, s.daily_limit, s.created_at_ms, s.expires_at_ms,
         s.revoked_at_ms, s.lineage_id, s.predecessor_id, s.credential_version,
         None if s.recipients is None else json.dumps(list(s.recipients)),
         json.dumps({a: None if sel is None else list(sel) for a, sel in s.contracts.items()}),
         s.rate_limit_per_minute, s.max_fee_per_gas, s.approve_above))
    if credential_hash is not None:
        await _insert_credential(conn, credential_hash, s.workspace_id, "session", s.id,
                                 s.credential_version, s.created_at_ms)


async def _insert_credential(conn: Conn, token_hash: bytes, workspace_id: str, kind: str,
                             owner_id: str, version: int, now_ms: int) -> None:
    await conn.execute("INSERT INTO credentials VALUES (%s, %s, %s, %s, %s, %s, NULL)",
                       (token_hash, workspace_id, kind, owner_id, version, now_ms))


async def _revoke_agent_credentials(conn: Conn, agent_id: str, now_ms: int) -> None:
    await conn.execute("UPDATE credentials SET revoked_at = %s WHERE owner_kind = 'agent'"
                       " AND owner_id = %s AND revoked_at IS NULL", (now_ms, agent_id))


async def _revoke(conn: Conn, session_id: str, now_ms: int) -> None:
    """Revoke under the session's LINEAGE lock (taken by the caller)."""
    cur = await conn.execute("UPDATE sessions SET revoked_at = %s, sealed_key = NULL"
                             " WHERE id = %s AND revoked_at IS NULL", (now_ms, session_id))
    if cur.rowcount != 1:
        raise Conflict("session is already revoked or does not exist")
    await conn.execute("UPDATE credentials SET revoked_at = %s WHERE owner_kind = 'session'"
                       " AND owner_id = %s AND revoked_at IS NULL", (now_ms, session_id))
