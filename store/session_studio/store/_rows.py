"""What both backends read and write the same way: ids, rows to records, and the SQL text
both run.

The SQL here is written with SQLite's `?` placeholders; the PostgreSQL backend swaps them with
`pg()`. Keeping one text per query is what keeps the backends' answers identical (the contract
suite, tests/store/contract/, checks they are), and it keeps the PostgreSQL modules from
reaching into the SQLite one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from session_studio.policy import Permission

from ._admin_records import Admin, ApiToken, Passkey, Scope
from ._approval_records import Approval, ApprovalStatus
from ._errors import NonceOutOfRange
from ._records import (
    MAX_LEDGER_NONCE,
    Agent,
    AgentCeiling,
    CredentialOwner,
    FleetSession,
    Session,
    SessionType,
)


def pg(sql: str) -> str:
    """`sql` with PostgreSQL's `%s` placeholders (none of our texts holds a literal `?`)."""
    return sql.replace("?", "%s")


SESSION_COLUMNS = """
    s.id, s.workspace_id, s.type, s.label, s.agent_id, a.name AS agent_name, s.key_hash,
    s.address, s.permissions, s.chain_ids, s.tokens, s.limit_unit, s.per_tx_limit,
    s.daily_limit, s.created_at, s.expires_at, s.revoked_at, s.lineage_id, s.predecessor_id,
    s.credential_version, s.last_used_at, s.request_count, s.recipients, s.contracts,
    s.rate_limit_per_minute, s.max_fee_per_gas, a.daily_budget AS agent_daily_budget,
    s.approve_above
"""
SESSION_FROM = "FROM sessions s LEFT JOIN agents a ON a.id = s.agent_id"
# The sessions a credential reaches: an app session's credential its one session, an agent's
# every session of the agent, always within the credential's workspace.
_CREDENTIAL_REACHES = {"session": "s.id = ? AND s.workspace_id = ?",
                       "agent": "s.agent_id = ? AND s.workspace_id = ?"}
# What every request of a credential reads: its live sessions at `now` (owner id, workspace id,
# now). `revoked_at IS NULL` selects the partial index sessions_live_by_agent (migration 0017 /
# pg 0006) and `expires_at > ?` is a range of it, so an agent's history costs nothing here.
LIVE_SESSIONS_OF = {
    kind: f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE {reaches}"
          " AND s.revoked_at IS NULL AND s.expires_at > ? ORDER BY s.created_at"
    for kind, reaches in _CREDENTIAL_REACHES.items()}
# Sessions by address, live or dead (address_lower): a `from` naming a revoked or expired
# session of the credential is refused for that reason. Only the address is in the SQL, so
# SQLite's planner takes sessions_by_address (an exact key: one row in practice) and never the
# agent's index, whose range is the agent's whole history; `credential_reaches` then keeps
# the credential's own.
SESSION_BY_ADDRESS = f"SELECT {SESSION_COLUMNS} {SESSION_FROM} WHERE s.address_lower = ?"


def credential_reaches(owner: CredentialOwner, session: Session) -> bool:
    """Whether the credential reaches the session (the rule `_CREDENTIAL_REACHES` states)."""
    if session.workspace_id != owner.workspace_id:
        return False
    if owner.kind == "session":
        return session.id == owner.owner_id
    return owner.kind == "agent" and session.agent_id == owner.owner_id


SESSION_SORTS = {"created": "s.created_at", "last_used": "COALESCE(s.last_used_at, 0)",
          "expiry": "s.expires_at"}
# Agent budgets count in USD: only USD-limited lineages add up without prices. Revoked and
# rotated sessions stay in (POLICY.md: revoking does not escape the agent budget).
# One row per (agent with a budget, USD lineage of it); an agent without one gets NULL.
FLEET_AGENTS = (
    "SELECT a.name, a.daily_budget, w.name AS workspace, l.lineage_id FROM agents a"
    " JOIN workspaces w ON w.id = a.workspace_id LEFT JOIN (SELECT DISTINCT agent_id,"
    " lineage_id FROM sessions WHERE limit_unit = 'USD') l ON l.agent_id = a.id"
    " WHERE a.daily_budget IS NOT NULL ORDER BY w.name, a.name")
FLEET_SPEND_OF_BUDGETS = (
    "SELECT lineage_id, amount FROM spend_buckets WHERE minute >= ? AND lineage_id IN ("
    " SELECT s.lineage_id FROM sessions s JOIN agents a ON a.id = s.agent_id"
    " WHERE a.daily_budget IS NOT NULL AND s.limit_unit = 'USD')")
FLEET_SPEND_WITH_ACTIVE = (
    "SELECT lineage_id, amount FROM spend_buckets WHERE minute >= ? AND lineage_id IN ("
    " SELECT s.lineage_id FROM sessions s JOIN agents a ON a.id = s.agent_id"
    " WHERE a.daily_budget IS NOT NULL AND s.limit_unit = 'USD'"
    " UNION SELECT lineage_id FROM sessions WHERE revoked_at IS NULL AND expires_at > ?)")
# One page of what settlement follows: sends the upstream took (or may have taken), and
# held-back signatures. Repeats, term for term, the partial index reservations_to_settle_any
# (migration 0010), so the page is one range of it.
UNSETTLED_PAGE = (
    "SELECT r.id, r.session_id, r.amount, r.nonce, r.chain_id, r.tx_hash, r.status,"
    " r.gas_reserved, r.gas_wei_reserved, r.created_at, s.address"
    " FROM reservations r JOIN sessions s ON s.id = r.session_id"
    " WHERE r.settled_at IS NULL AND ("
    "(r.method = 'eth_sendTransaction' AND r.status IN ('broadcast', 'unknown'))"
    " OR (r.method = 'eth_signTransaction' AND r.status = 'signed'))"
    " AND (r.created_at, r.id) > (?, ?) AND r.tx_hash IS NOT NULL"
    " ORDER BY r.created_at, r.id LIMIT ?")
def unbroadcast_query(*, signed_before: bool) -> str:
    """`Ledger.unbroadcast_sends` (SQLite placeholders; the PostgreSQL backend swaps them), with
    a `created_at < ?` bound when `signed_before`: a row is created when it is signed."""
    return _UNBROADCAST_SIGNED_BEFORE if signed_before else _UNBROADCAST


_UNBROADCAST_WHERE = (
    "SELECT r.id, r.session_id, r.amount, r.nonce, r.chain_id, r.raw_tx, r.tx_hash, s.address"
    " FROM reservations r JOIN sessions s ON s.id = r.session_id"
    " WHERE r.status IN ('signed', 'unknown') AND r.method = 'eth_sendTransaction'"
    " AND r.raw_tx IS NOT NULL AND r.tx_hash IS NOT NULL")
_UNBROADCAST_ORDER = " ORDER BY r.chain_id, s.address, r.nonce"
_UNBROADCAST = _UNBROADCAST_WHERE + _UNBROADCAST_ORDER
_UNBROADCAST_SIGNED_BEFORE = _UNBROADCAST_WHERE + " AND r.created_at < ?" + _UNBROADCAST_ORDER


def new_id() -> str:
    return uuid.uuid4().hex


def check_ledger_nonce(nonce: int) -> None:
    """Refuse a nonce the columns cannot hold with its successor: raised inside the reserving
    transaction, it rolls back whatever was written and nothing is signed."""
    if nonce > MAX_LEDGER_NONCE:
        raise NonceOutOfRange(f"nonce {nonce} exceeds the ledger's {MAX_LEDGER_NONCE}")


def optional_int(text: str | None) -> int | None:
    return None if text is None else int(text)


def agent_from_row(row: Any) -> Agent:
    return Agent(id=row["id"], workspace_id=row["workspace_id"], name=row["name"],
                 daily_budget=None if row["daily_budget"] is None else int(row["daily_budget"]),
                 credential_version=row["credential_version"], created_at_ms=row["created_at"],
                 ceiling=None if row["ceiling"] is None
                 else AgentCeiling.from_json(json.loads(row["ceiling"])),
                 rotate_every_s=row["rotate_every_s"], disabled_at_ms=row["disabled_at"])


def session_from_row(row: Any) -> Session:
    return Session(
        id=row["id"], workspace_id=row["workspace_id"], type=SessionType(row["type"]),
        label=row["label"], agent_id=row["agent_id"], agent_name=row["agent_name"],
        key_hash=row["key_hash"], address=row["address"],
        permissions=tuple(Permission(p) for p in json.loads(row["permissions"])),
        chain_ids=tuple(int(c) for c in json.loads(row["chain_ids"])),
        tokens=tuple(json.loads(row["tokens"])), limit_unit=row["limit_unit"],
        per_tx_limit=int(row["per_tx_limit"]), daily_limit=int(row["daily_limit"]),
        created_at_ms=row["created_at"], expires_at_ms=row["expires_at"],
        revoked_at_ms=row["revoked_at"], lineage_id=row["lineage_id"],
        predecessor_id=row["predecessor_id"], credential_version=row["credential_version"],
        last_used_at_ms=row["last_used_at"], request_count=row["request_count"],
        recipients=None if row["recipients"] is None else tuple(json.loads(row["recipients"])),
        contracts={a: None if sel is None else tuple(sel)
                   for a, sel in json.loads(row["contracts"]).items()},
        rate_limit_per_minute=row["rate_limit_per_minute"],
        max_fee_per_gas=None if row["max_fee_per_gas"] is None else int(row["max_fee_per_gas"]),
        agent_daily_budget=optional_int(row["agent_daily_budget"]),
        approve_above=optional_int(row["approve_above"]))


def admin_from_row(row: Any) -> Admin:
    return Admin(id=row["id"], workspace_id=row["workspace_id"], name=row["name"],
                 user_handle=row["user_handle"], created_at_ms=row["created_at"])


def passkey_from_row(row: Any) -> Passkey:
    return Passkey(credential_id=row["credential_id"], admin_id=row["admin_id"],
                   public_key=row["public_key"], sign_count=row["sign_count"],
                   backed_up=bool(row["backed_up"]), created_at_ms=row["created_at"],
                   last_used_at_ms=row["last_used_at"])


def api_token_from_row(row: Any) -> ApiToken:
    return ApiToken(id=row["id"], workspace_id=row["workspace_id"], name=row["name"],
                    scopes=tuple(Scope(s) for s in json.loads(row["scopes"])),
                    created_by=row["created_by"], created_at_ms=row["created_at"],
                    expires_at_ms=row["expires_at"], revoked_at_ms=row["revoked_at"],
                    last_used_at_ms=row["last_used_at"])


# Per-session rows of a fleet snapshot: read in pages of this many, so the rows of the whole
# fleet never sit in memory beside the records made from them.
FLEET_PAGE = 2_000


class FleetSessionBuilder:
    """Makes the per-session records of one fleet snapshot.

    The snapshot is held for as long as the next one takes to read, so with tens of thousands
    of active sessions its size is most of what `serve` holds beyond its code (bench/scale.py:
    about 70 MB of RSS at 60,000 active sessions before this). Values that repeat across the
    fleet (workspace and agent names, units) are kept once per snapshot, not once per row."""

    def __init__(self, spent: Mapping[str, int]) -> None:
        self._spent = spent
        self._shared: dict[str, str] = {}
        self.sessions: list[FleetSession] = []

    def add(self, rows: Iterable[Any]) -> None:
        once = self._shared.setdefault
        self.sessions.extend(
            FleetSession(
                key_hash=r["key_hash"], workspace=once(r["workspace"], r["workspace"]),
                type=SessionType(r["type"]), label=r["label"],
                agent_name=None if r["agent_name"] is None
                else once(r["agent_name"], r["agent_name"]),
                limit_unit=once(r["limit_unit"], r["limit_unit"]),
                daily_limit=int(r["daily_limit"]),
                spent_in_window=self._spent.get(r["lineage_id"], 0),
                recent_denials=int(r["denials"]), request_count=int(r["request_count"]),
                last_used_at_ms=r["last_used_at"], created_at_ms=r["created_at"],
                expires_at_ms=r["expires_at"])
            for r in rows)


def audit_page_query(*, workspace_id: str | None, subject: str | None, after_seq: int,
                     limit: int) -> tuple[str, tuple[object, ...]]:
    """`AuditLog.audit_entries`' read of chained entries: (sql, args), SQLite placeholders."""
    where: list[str] = ["seq > ?"]
    args: list[object] = [after_seq]
    if workspace_id is not None:
        where.append("workspace_id = ?")
        args.append(workspace_id)
    if subject is not None:
        where.append("subject = ?")
        args.append(subject)
    sql = f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"  # noqa: S608 - fixed clauses
    return sql, (*args, limit)


# -- approvals (issue 14) -------------------------------------------------------------------
APPROVAL_SELECT = """
    SELECT ap.*, s.key_hash, s.label AS session_label, a.name AS agent_name
    FROM approvals ap JOIN sessions s ON s.id = ap.session_id
    LEFT JOIN agents a ON a.id = s.agent_id
"""


def approval_from_row(row: Any) -> Approval:
    error = row["error"]
    return Approval(
        id=row["id"], workspace_id=row["workspace_id"], session_id=row["session_id"],
        key_hash=row["key_hash"], session_label=row["session_label"],
        agent_name=row["agent_name"], reservation_id=row["reservation_id"],
        method=row["method"], chain_id=int(row["chain_id"]),
        status=ApprovalStatus(row["status"]), cost=int(row["cost"]), unit=row["unit"],
        summary=row["summary"], detail=json.loads(row["detail"]),
        payload=json.loads(row["payload"]), created_at_ms=int(row["created_at"]),
        expires_at_ms=int(row["expires_at"]),
        decided_at_ms=optional_int(row["decided_at"]), decided_by=row["decided_by"],
        reason=row["reason"], result=row["result"],
        error=None if error is None else json.loads(error))


def approval_list_query(workspace_id: str, *, status: str | None,
                        session_ids: Sequence[str] | None, limit: int,
                        before: tuple[int, str] | None,
                        decided: bool = False) -> tuple[str, tuple[object, ...]]:
    """`ApprovalReader.list_approvals`: newest first, keyset on (created_at, id); SQLite
    placeholders."""
    where = ["ap.workspace_id = ?"]
    args: list[object] = [workspace_id]
    if status is not None:
        where.append("ap.status = ?")
        args.append(status)
    if decided:
        where.append("ap.status <> 'pending'")
    if session_ids is not None:
        if not session_ids:
            where.append("0 = 1")
        else:
            where.append(f"ap.session_id IN ({', '.join('?' for _ in session_ids)})")
            args.extend(session_ids)
    if before is not None:
        where.append("(ap.created_at < ? OR (ap.created_at = ? AND ap.id < ?))")
        args.extend((before[0], before[0], before[1]))
    sql = (f"{APPROVAL_SELECT} WHERE {' AND '.join(where)}"
           " ORDER BY ap.created_at DESC, ap.id DESC LIMIT ?")
    return sql, (*args, limit)


PENDING_APPROVAL_STATS = (
    "SELECT workspace_id, COUNT(*) AS pending, MIN(created_at) AS oldest FROM approvals"
    " WHERE status = 'pending' GROUP BY workspace_id")
