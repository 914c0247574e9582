"""SQLite side of approvals (issue 14), as a mixin of `SqliteStore`.

Every write runs inside `BEGIN IMMEDIATE` on the store's writer thread, like the ledger's:
holding, approving, rejecting and expiring a request move the same spend buckets
(`_sqlite_ledger.py`) under the same database write lock as `reserve_and_sign`, so an approval
can never overshoot a window another request is reserving in. The contract is in
`_approval_interface.py`.

A status moves out of `pending` only through `_finish`, one conditional UPDATE: whoever comes
second (two admins, an admin and the expiry sweep, a revoke) finds the row decided.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from session_studio.policy import Decision, ReasonCode, SessionState, window_start_ms

from . import _audit as audit
from ._approval_records import (
    APPROVAL_EVENT_KINDS,
    Approval,
    ApprovalDraft,
    ApprovalStatus,
    approval_event_body,
)
from ._audit import AuditEvent
from ._errors import Conflict, NotFound
from ._ledger_interface import Clock, Sign
from ._records import NonceRequest, Reservation
from ._rows import (
    APPROVAL_SELECT,
    PENDING_APPROVAL_STATS,
    approval_from_row,
    approval_list_query,
    new_id,
)
from ._sqlite_ledger import (
    COUNT_OUTSTANDING_SIGNED,
    MINUTE_MS,
    add_to_bucket,
    agent_window_sum,
    pick_nonce,
    self_service_window,
    window_sum,
)

R = TypeVar("R")
T = TypeVar("T")

# Who finished an approval nobody decided.
EXPIRY = "expiry"
REVOKE = "revoke"


class SqliteApprovals:
    if TYPE_CHECKING:
        async def _transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...
        async def _read_one(self, sql: str, args: Sequence[Any]) -> Any: ...
        async def _read_all(self, sql: str, args: Sequence[Any]) -> list[Any]: ...

    async def approve_and_sign(
        self, approval_id: str, *, workspace_id: str | None, decided_by: str, clock: Clock,
        window_mode: str, evaluate: Callable[[SessionState, int, int], Decision],
        nonce: NonceRequest | None, sign: Sign[T], result_of: Callable[[T], str],
        gas_wei: int | None = None,
    ) -> tuple[Approval, Decision, Reservation | None, T | None]:
        def approve(db: sqlite3.Connection
                    ) -> tuple[Approval, Decision, Reservation | None, T | None]:
            approval = _pending(db, approval_id, workspace_id)
            now_ms = clock()  # judged once the write lock is held
            if now_ms >= approval.expires_at_ms:
                expired = _finish(db, approval, ApprovalStatus.EXPIRED, by=EXPIRY,
                                  reason="expired", now_ms=now_ms)
                return expired, Decision(allowed=False, reason=None,
                                         detail="the approval expired before it was approved"
                                         ), None, None
            held = db.execute("SELECT lineage_id, minute, amount FROM reservations WHERE id = ?",
                              (approval.reservation_id,)).fetchone()
            lineage = held["lineage_id"]
            # Out of the window it was reserved in, so the request is judged as asked now.
            add_to_bucket(db, lineage, held["minute"], -int(held["amount"]))
            state, row = _state(db, approval.session_id, now_ms, window_mode)
            decision = evaluate(state, now_ms, approval.cost)
            if not decision.allowed:
                status = (ApprovalStatus.EXPIRED
                          if decision.reason is ReasonCode.SESSION_EXPIRED
                          else ApprovalStatus.REJECTED)
                refused = _finish(db, approval, status, by=decided_by,
                                  reason=None if decision.reason is None
                                  else decision.reason.value,
                                  now_ms=now_ms, bucket_released=True)
                return refused, decision, None, None
            picked = pick_nonce(db, nonce) if nonce is not None else None
            signed, tx_hash, raw_tx = sign(picked, row["sealed_key"])
            minute = now_ms // MINUTE_MS
            db.execute(
                # created_at moves to the signing too: the settlement sweep reads a send's age
                # from it ("signed before"), and must not take an approved send as abandoned
                # while its approver is still broadcasting it.
                "UPDATE reservations SET status = 'signed', minute = ?, nonce = ?, tx_hash = ?,"
                " raw_tx = ?, gas_wei_reserved = COALESCE(?, gas_wei_reserved),"
                " created_at = ?, updated_at = ? WHERE id = ? AND status = 'reserved'",
                (minute, picked, tx_hash, raw_tx, None if gas_wei is None else str(gas_wei),
                 now_ms, now_ms, approval.reservation_id))
            add_to_bucket(db, lineage, minute, approval.cost)
            db.execute(
                "INSERT INTO decisions (session_id, at, method, allowed, reason, detail, cost,"
                " reservation_id) VALUES (?, ?, ?, 1, NULL, ?, ?, ?)",
                (approval.session_id, now_ms, approval.method,
                 f"approved by {decided_by}", str(approval.cost), approval.reservation_id))
            approved = _finish(db, approval, ApprovalStatus.APPROVED, by=decided_by,
                               reason=None, now_ms=now_ms, result=result_of(signed))
            reservation = Reservation(id=approval.reservation_id,
                                      session_id=approval.session_id, amount=approval.cost,
                                      nonce=picked, chain_id=approval.chain_id)
            return approved, decision, reservation, signed

        return await self._transaction(approve)

    async def reject_approval(self, approval_id: str, *, workspace_id: str | None,
                              decided_by: str, reason: str, now_ms: int) -> Approval:
        def reject(db: sqlite3.Connection) -> Approval:
            approval = _pending(db, approval_id, workspace_id)
            return _finish(db, approval, ApprovalStatus.REJECTED, by=decided_by,
                           reason=reason, now_ms=now_ms)

        return await self._transaction(reject)

    async def expire_approvals(self, *, now_ms: int) -> int:
        return await self._transaction(lambda db: expire_overdue(db, lineage=None,
                                                                 now_ms=now_ms))

    async def record_approval_error(self, approval_id: str, error: Mapping[str, Any]) -> None:
        await self._transaction(lambda db: db.execute(
            "UPDATE approvals SET error = ? WHERE id = ?", (json.dumps(dict(error)),
                                                             approval_id)))

    async def get_approval(self, approval_id: str, *, workspace_id: str | None) -> Approval:
        row = await self._read_one(f"{APPROVAL_SELECT} WHERE ap.id = ?", (approval_id,))
        if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
            raise NotFound(f"no approval {approval_id}")
        return approval_from_row(row)

    async def list_approvals(self, workspace_id: str, *, status: ApprovalStatus | None = None,
                             session_ids: Sequence[str] | None = None, limit: int = 100,
                             before: tuple[int, str] | None = None,
                             decided: bool = False) -> list[Approval]:
        sql, args = approval_list_query(workspace_id,
                                        status=None if status is None else status.value,
                                        session_ids=session_ids, limit=limit, before=before,
                                        decided=decided)
        return [approval_from_row(r) for r in await self._read_all(sql, args)]

    async def pending_approval_stats(self) -> list[tuple[str, int, int | None]]:
        rows = await self._read_all(PENDING_APPROVAL_STATS, ())
        return [(r["workspace_id"], int(r["pending"]), r["oldest"]) for r in rows]


# -- inside the ledger's transactions (called from _sqlite.py) ------------------------------
def hold(db: sqlite3.Connection, *, draft: ApprovalDraft, session_id: str, lineage: str,
         workspace_id: str, method: str, decision: Decision, gas_wei: int | None,
         now_ms: int) -> Reservation:
    """A held request: its cost reserved in this minute, the approval pending, announced."""
    reservation = Reservation(id=new_id(), session_id=session_id, amount=decision.cost,
                              nonce=None, chain_id=draft.chain_id)
    minute = now_ms // MINUTE_MS
    db.execute(
        "INSERT INTO reservations (id, session_id, lineage_id, minute, amount, status, method,"
        " chain_id, nonce, tx_hash, created_at, updated_at, raw_tx, gas_reserved,"
        " gas_wei_reserved) VALUES (?, ?, ?, ?, ?, 'reserved', ?, ?, NULL, NULL, ?, ?, NULL,"
        " ?, ?)",
        (reservation.id, session_id, lineage, minute, str(decision.cost), method,
         draft.chain_id, now_ms, now_ms, str(decision.gas_cost),
         None if gas_wei is None else str(gas_wei)))
    add_to_bucket(db, lineage, minute, decision.cost)
    db.execute(
        "INSERT INTO approvals (id, workspace_id, session_id, lineage_id, reservation_id,"
        " method, chain_id, status, cost, unit, summary, detail, payload, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
        (draft.id, workspace_id, session_id, lineage, reservation.id, method, draft.chain_id,
         str(decision.cost), draft.unit, draft.summary, json.dumps(dict(draft.detail)),
         json.dumps(dict(draft.payload)), now_ms, now_ms + draft.ttl_ms))
    _announce(db, _read(db, draft.id), now_ms)
    return reservation


def pending_approvals(db: sqlite3.Connection, lineage: str) -> int:
    """How many requests of the lineage wait for a person (the policy bounds it)."""
    return int(db.execute("SELECT COUNT(*) FROM approvals WHERE lineage_id = ?"
                          " AND status = 'pending'", (lineage,)).fetchone()[0])


def expire_overdue(db: sqlite3.Connection, *, lineage: str | None, now_ms: int) -> int:
    """Pending approvals past their expiry (of one lineage, or all) -> expired, released."""
    sql = f"{APPROVAL_SELECT} WHERE ap.status = 'pending' AND ap.expires_at <= ?"
    args: tuple[object, ...] = (now_ms,)
    if lineage is not None:
        sql += " AND ap.lineage_id = ?"
        args = (now_ms, lineage)
    overdue = [approval_from_row(r) for r in db.execute(sql, args).fetchall()]
    for approval in overdue:
        _finish(db, approval, ApprovalStatus.EXPIRED, by=EXPIRY, reason="expired",
                now_ms=now_ms)
    return len(overdue)


def reject_pending_of_session(db: sqlite3.Connection, session_id: str, now_ms: int) -> None:
    """A revoked session's key is gone: what waited for it can never be signed."""
    rows = db.execute(f"{APPROVAL_SELECT} WHERE ap.session_id = ? AND ap.status = 'pending'",
                      (session_id,)).fetchall()
    for row in rows:
        _finish(db, approval_from_row(row), ApprovalStatus.REJECTED, by=REVOKE,
                reason=ReasonCode.SESSION_REVOKED.value, now_ms=now_ms)


def _pending(db: sqlite3.Connection, approval_id: str, workspace_id: str | None) -> Approval:
    row = db.execute(f"{APPROVAL_SELECT} WHERE ap.id = ?", (approval_id,)).fetchone()
    if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
        raise NotFound(f"no approval {approval_id}")
    approval = approval_from_row(row)
    if approval.status is not ApprovalStatus.PENDING:
        raise Conflict(f"approval {approval_id} is already {approval.status.value}")
    return approval


def _read(db: sqlite3.Connection, approval_id: str) -> Approval:
    return approval_from_row(db.execute(f"{APPROVAL_SELECT} WHERE ap.id = ?",
                                        (approval_id,)).fetchone())


def _finish(db: sqlite3.Connection, approval: Approval, status: ApprovalStatus, *, by: str,
            reason: str | None, now_ms: int, result: str | None = None,
            bucket_released: bool = False) -> Approval:
    """Move a pending approval to `status`, with its audit row and outbox event. Anything but
    approved releases the held reservation (its amount leaves the bucket unless the caller
    already took it out)."""
    changed = db.execute(
        "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, reason = ?,"
        " result = ? WHERE id = ? AND status = 'pending'",
        (status.value, now_ms, by, reason, result, approval.id)).rowcount
    if changed != 1:
        raise Conflict(f"approval {approval.id} is no longer pending")
    if status is not ApprovalStatus.APPROVED:
        held = db.execute("SELECT lineage_id, minute, amount FROM reservations WHERE id = ?"
                          " AND status = 'reserved'", (approval.reservation_id,)).fetchone()
        if held is not None:
            db.execute("UPDATE reservations SET status = 'released', updated_at = ?"
                       " WHERE id = ?", (now_ms, approval.reservation_id))
            if not bucket_released:
                add_to_bucket(db, held["lineage_id"], held["minute"], -int(held["amount"]))
    finished = replace(approval, status=status, decided_at_ms=now_ms, decided_by=by,
                       reason=reason, result=result)
    audit.append(db, AuditEvent(
        workspace_id=approval.workspace_id, actor=by,
        action=APPROVAL_EVENT_KINDS[status], subject=approval.key_hash,
        detail={"approval_id": approval.id, "method": approval.method,
                "cost": str(approval.cost), "reason": reason, "result": result}),
        now_ms=now_ms)
    _announce(db, finished, now_ms)
    return finished


def _announce(db: sqlite3.Connection, approval: Approval, now_ms: int) -> None:
    """The outbox row the webhook delivers, in the transaction that made the event."""
    kind = APPROVAL_EVENT_KINDS[approval.status]
    db.execute(
        "INSERT INTO approval_events (approval_id, workspace_id, kind, body, created_at,"
        " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
        (approval.id, approval.workspace_id, kind,
         approval_event_body(approval, event_id=f"{approval.id}:{approval.status.value}"),
         now_ms, now_ms))


def _state(db: sqlite3.Connection, session_id: str, now_ms: int,
           window_mode: str) -> tuple[SessionState, Any]:
    """The session's state for an approval's re-check (no rate limit: it was counted when
    the request was held)."""
    start = window_start_ms(now_ms, window_mode)
    row = db.execute(
        "SELECT s.revoked_at, s.expires_at, s.lineage_id, s.sealed_key, s.agent_id,"
        " s.limit_unit, a.daily_budget, a.ceiling, ss.agent_id AS self_service_agent"
        " FROM sessions s LEFT JOIN agents a ON a.id = s.agent_id"
        " LEFT JOIN self_service_lineages ss ON ss.lineage_id = s.lineage_id"
        " WHERE s.id = ?", (session_id,)).fetchone()
    outstanding = db.execute(COUNT_OUTSTANDING_SIGNED, (row["lineage_id"],)).fetchone()[0]
    state = SessionState(
        revoked=row["revoked_at"] is not None, expires_at_ms=row["expires_at"],
        outstanding_signed=outstanding,
        spent_in_window=window_sum(db, row["lineage_id"], start),
        agent_spent_in_window=agent_window_sum(db, row["agent_id"], start)
        if row["daily_budget"] is not None else 0,
        self_service=self_service_window(db, row, start))
    return state, row
