"""PostgreSQL: approvals (`ApprovalLedger`, `ApprovalReader`): hold, decide, expire, read.

The consistency contract is `_approval_interface`'s; here is how the locks of `_pg_base` give it:

- Holding happens inside `reserve_and_sign` (`_hold`), under the locks it already holds.
- `approve_and_sign` takes exactly `reserve_and_sign`'s locks in its order (`lock_for_signing`:
  LINEAGE, AGENT when the agent has a window, SIGNER when a nonce is picked), then the approval
  row (`FOR UPDATE`). So an approval is judged against a window no request of its lineage or
  agent is changing meanwhile, and signs at a nonce no other signature of that signer can take.
- `reject_approval`, `expire_approvals` and a revoke take the LINEAGE lock (a revoke holds it
  already), then the approval rows. Each transition re-reads the approval under its row lock and
  moves it only from `pending`: of two decisions racing, the second finds it decided.
- A transition that releases several held costs (a revoke of many sessions, a lineage's expiry)
  finishes them in ascending minute order, as every other writer moves an agent's shared window
  buckets (a reservation writes its minute after any expiry it does, an approval the old minute
  before the new): so writers of one agent's buckets that hold no AGENT lock (these) never wait
  for each other in a cycle.

Every transition writes its outbox row (`approval_events`) and its audit event in the
transaction that makes it, so a notification is sent for exactly what committed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from session_studio.policy import Decision, ReasonCode

from ._approval_interface import ApprovalEvaluate
from ._approval_records import (
    APPROVAL_EVENT_KINDS,
    Approval,
    ApprovalDraft,
    ApprovalStatus,
    approval_event_body,
)
from ._audit import AuditEvent
from ._errors import Conflict, NotFound, StoreUnavailable
from ._ledger_interface import Clock, Sign, T
from ._pg_audit import PgAuditChain
from ._pg_base import MINUTE_MS, Conn, Lock, Row, fetch_all, fetch_one, lock
from ._pg_spend import add_to_bucket, lock_for_signing, pick_nonce, read_state
from ._records import NonceRequest, Reservation
from ._rows import (
    APPROVAL_SELECT,
    PENDING_APPROVAL_STATS,
    approval_from_row,
    approval_list_query,
    new_id,
    pg,
)

_APPROVAL_BY_ID = pg(APPROVAL_SELECT) + " WHERE ap.id = %s"
# Pending approvals to finish, locked, in the order their held costs leave the buckets.
_PENDING_TO_FINISH = (
    "SELECT ap.id FROM approvals ap JOIN reservations r ON r.id = ap.reservation_id"
    " WHERE ap.status = 'pending' AND {where} ORDER BY r.minute, ap.id FOR UPDATE OF ap")
_EXPIRED_BEFORE_APPROVAL = "the approval expired before it was approved"


class PgApprovals(PgAuditChain):
    # -- the decisions -----------------------------------------------------------------------
    async def approve_and_sign(
        self, approval_id: str, *, workspace_id: str | None, decided_by: str, clock: Clock,
        window_mode: str, evaluate: ApprovalEvaluate, nonce: NonceRequest | None,
        sign: Sign[T], result_of: Callable[[T], str], gas_wei: int | None = None,
    ) -> tuple[Approval, Decision, Reservation | None, T | None]:
        first = await self._read_one("SELECT session_id, workspace_id FROM approvals"
                                     " WHERE id = %s", (approval_id,))
        _check_found(first, approval_id, workspace_id)
        assert first is not None
        try:
            return await self._approve_and_sign(
                approval_id, session_id=str(first["session_id"]), decided_by=decided_by,
                clock=clock, window_mode=window_mode, evaluate=evaluate, nonce=nonce,
                sign=sign, result_of=result_of, gas_wei=gas_wei)
        except psycopg.IntegrityError as exc:
            # The nonce backstop refused the commit: nothing signed, the approval still pending.
            raise StoreUnavailable(f"the ledger refused the approval: {exc}") from exc

    async def _approve_and_sign(
        self, approval_id: str, *, session_id: str, decided_by: str, clock: Clock,
        window_mode: str, evaluate: ApprovalEvaluate, nonce: NonceRequest | None,
        sign: Sign[T], result_of: Callable[[T], str], gas_wei: int | None,
    ) -> tuple[Approval, Decision, Reservation | None, T | None]:
        async with self._transaction() as conn:
            lineage = (await lock_for_signing(conn, session_id, nonce)).lineage
            held = await _pending_for_update(conn, approval_id)
            now_ms = clock()
            if now_ms >= held["expires_at"]:
                approval = await self._finish(conn, approval_id, ApprovalStatus.EXPIRED,
                                              decided_by="expiry", reason="expired",
                                              now_ms=now_ms)
                return approval, Decision(allowed=False, reason=None,
                                          detail=_EXPIRED_BEFORE_APPROVAL), None, None
            res = await fetch_one(conn, "SELECT minute, amount, chain_id FROM reservations"
                                        " WHERE id = %s FOR UPDATE", (held["reservation_id"],))
            assert res is not None
            amount = int(res["amount"])
            # Judged as if asked now: the held amount leaves the window it was reserved in
            # (and comes back in the current minute only if it is signed).
            await add_to_bucket(conn, lineage, int(res["minute"]), -amount)
            row, state = await read_state(conn, session_id, now_ms=now_ms,
                                          window_mode=window_mode)
            # The rate limit was passed when the request was held; approving is not a request.
            decision = evaluate(replace(state, requests_last_minute=0), now_ms, amount)
            if not decision.allowed:
                await conn.execute("UPDATE reservations SET status = 'released', updated_at = %s"
                                   " WHERE id = %s", (now_ms, held["reservation_id"]))
                status = (ApprovalStatus.EXPIRED
                          if decision.reason is ReasonCode.SESSION_EXPIRED
                          else ApprovalStatus.REJECTED)
                approval = await self._decide(
                    conn, approval_id, status, decided_by=decided_by,
                    reason=None if decision.reason is None else decision.reason.value,
                    now_ms=now_ms)
                return approval, decision, None, None
            picked, from_pool = (await pick_nonce(conn, nonce) if nonce is not None
                                 else (None, False))
            sealed = None if row["sealed_key"] is None else bytes(row["sealed_key"])
            # Off the event loop, as in reserve_and_sign; if it raises, all of this rolls back.
            signed, tx_hash, raw_tx = await asyncio.to_thread(sign, picked, sealed)
            minute = now_ms // MINUTE_MS
            # `created_at` becomes the signing time: the settlement sweep takes a send signed
            # before its bound for one its own process gave up on (`unbroadcast_sends`).
            await conn.execute(
                "UPDATE reservations SET status = 'signed', minute = %s, nonce = %s,"
                " nonce_from_pool = %s, tx_hash = %s, raw_tx = %s,"
                " gas_wei_reserved = COALESCE(%s, gas_wei_reserved), created_at = %s,"
                " updated_at = %s WHERE id = %s",
                (minute, picked, from_pool, tx_hash, raw_tx, gas_wei, now_ms, now_ms,
                 held["reservation_id"]))
            await add_to_bucket(conn, lineage, minute, amount)
            await conn.execute(
                "INSERT INTO decisions (session_id, at, method, allowed, reason, detail, cost,"
                " reservation_id) VALUES (%s, %s, %s, 1, NULL, %s, %s, %s)",
                (session_id, now_ms, held["method"], f"approved by {decided_by}", amount,
                 held["reservation_id"]))
            approval = await self._decide(conn, approval_id, ApprovalStatus.APPROVED,
                                          decided_by=decided_by, reason=None, now_ms=now_ms,
                                          result=result_of(signed))
            reservation = Reservation(id=held["reservation_id"], session_id=session_id,
                                      amount=amount, nonce=picked, chain_id=int(res["chain_id"]))
        return approval, decision, reservation, signed

    async def reject_approval(self, approval_id: str, *, workspace_id: str | None,
                              decided_by: str, reason: str, now_ms: int) -> Approval:
        first = await self._read_one("SELECT lineage_id, workspace_id FROM approvals"
                                     " WHERE id = %s", (approval_id,))
        _check_found(first, approval_id, workspace_id)
        assert first is not None
        async with self._transaction() as conn:
            await lock(conn, Lock.LINEAGE, first["lineage_id"])
            await _pending_for_update(conn, approval_id)
            return await self._finish(conn, approval_id, ApprovalStatus.REJECTED,
                                      decided_by=decided_by, reason=reason, now_ms=now_ms)

    async def expire_approvals(self, *, now_ms: int) -> int:
        # One transaction per lineage, each under that lineage's lock only: a sweep never
        # holds up signatures beyond the lineage it is expiring.
        due = await self._read_all(
            "SELECT DISTINCT lineage_id FROM approvals WHERE status = 'pending'"
            " AND expires_at <= %s ORDER BY lineage_id", (now_ms,))
        expired = 0
        for r in due:
            async with self._transaction() as conn:
                await lock(conn, Lock.LINEAGE, r["lineage_id"])
                expired += await self._expire_lineage_approvals(conn, r["lineage_id"], now_ms)
        return expired

    async def record_approval_error(self, approval_id: str, error: Mapping[str, Any]) -> None:
        async with self._transaction() as conn:
            await conn.execute("UPDATE approvals SET error = %s WHERE id = %s",
                               (json.dumps(dict(error), sort_keys=True), approval_id))

    # -- reads -------------------------------------------------------------------------------
    async def get_approval(self, approval_id: str, *, workspace_id: str | None) -> Approval:
        row = await self._read_one(_APPROVAL_BY_ID, (approval_id,))
        _check_found(row, approval_id, workspace_id)
        assert row is not None
        return approval_from_row(row)

    async def list_approvals(self, workspace_id: str, *, status: ApprovalStatus | None = None,
                             session_ids: Sequence[str] | None = None, limit: int = 100,
                             before: tuple[int, str] | None = None,
                             decided: bool = False) -> list[Approval]:
        sql, args = approval_list_query(
            workspace_id, status=None if status is None else status.value,
            session_ids=session_ids, limit=limit, before=before, decided=decided)
        return [approval_from_row(r) for r in await self._read_all(pg(sql), args)]

    async def pending_approval_stats(self) -> list[tuple[str, int, int | None]]:
        rows = await self._read_all(PENDING_APPROVAL_STATS, ())
        return [(r["workspace_id"], int(r["pending"]),
                 None if r["oldest"] is None else int(r["oldest"])) for r in rows]

    # -- inside other transactions (reserve, revoke) -----------------------------------------
    async def _hold(self, conn: Conn, *, session_id: str, lineage: str, workspace_id: str,
                    method: str, draft: ApprovalDraft, decision: Decision,
                    gas_wei: int | None, now_ms: int) -> Reservation:
        """Reserve a held request's cost without signing and record its pending approval,
        under `reserve_and_sign`'s locks: it counts in every window as signed spend does."""
        reservation = Reservation(id=new_id(), session_id=session_id, amount=decision.cost,
                                  nonce=None, chain_id=draft.chain_id)
        minute = now_ms // MINUTE_MS
        await conn.execute(
            "INSERT INTO reservations (id, session_id, lineage_id, minute, amount, status,"
            " method, chain_id, nonce, address_lower, created_at, updated_at, gas_reserved,"
            " gas_wei_reserved) VALUES (%s, %s, %s, %s, %s, 'reserved', %s, %s, NULL,"
            " (SELECT address_lower FROM sessions WHERE id = %s), %s, %s, %s, %s)",
            (reservation.id, session_id, lineage, minute, decision.cost, method,
             draft.chain_id, session_id, now_ms, now_ms, decision.gas_cost, gas_wei))
        await add_to_bucket(conn, lineage, minute, decision.cost)
        await conn.execute(
            "INSERT INTO approvals (id, workspace_id, session_id, lineage_id, reservation_id,"
            " method, chain_id, status, cost, unit, summary, detail, payload, created_at,"
            " expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s, %s, %s,"
            " %s, %s)",
            (draft.id, workspace_id, session_id, lineage, reservation.id, method,
             draft.chain_id, decision.cost, draft.unit, draft.summary,
             json.dumps(dict(draft.detail), sort_keys=True),
             json.dumps(dict(draft.payload), sort_keys=True), now_ms, now_ms + draft.ttl_ms))
        await self._announce(conn, draft.id, now_ms)
        return reservation

    async def _expire_lineage_approvals(self, conn: Conn, lineage: str, now_ms: int) -> int:
        """Expire the lineage's pending approvals past `expires_at` (LINEAGE lock held)."""
        due = await fetch_all(conn, _PENDING_TO_FINISH.format(
            where="ap.lineage_id = %s AND ap.expires_at <= %s"), (lineage, now_ms))
        for r in due:
            await self._finish(conn, r["id"], ApprovalStatus.EXPIRED, decided_by="expiry",
                               reason="expired", now_ms=now_ms)
        return len(due)

    async def _reject_pending_of(self, conn: Conn, session_ids: Sequence[str],
                                 now_ms: int) -> None:
        """A revoke's share (the sessions' LINEAGE locks held): their pending approvals are
        rejected in the revoking transaction, so none can be approved after it returned."""
        due = await fetch_all(conn, _PENDING_TO_FINISH.format(where="ap.session_id = ANY(%s)"),
                              (list(session_ids),))
        for r in due:
            await self._finish(conn, r["id"], ApprovalStatus.REJECTED, decided_by="revoke",
                               reason="session_revoked", now_ms=now_ms)

    async def _finish(self, conn: Conn, approval_id: str, status: ApprovalStatus, *,
                      decided_by: str, reason: str, now_ms: int) -> Approval:
        """A pending approval (row locked by the caller) ends unsigned: its held cost leaves
        the bucket it was reserved in and its reservation is released."""
        res = await fetch_one(
            conn, "SELECT r.id, r.lineage_id, r.minute, r.amount, r.status FROM reservations r"
            " JOIN approvals ap ON ap.reservation_id = r.id WHERE ap.id = %s FOR UPDATE OF r",
            (approval_id,))
        assert res is not None
        if res["status"] == "reserved":  # a held reservation; only approval calls move it
            await conn.execute("UPDATE reservations SET status = 'released', updated_at = %s"
                               " WHERE id = %s", (now_ms, res["id"]))
            await add_to_bucket(conn, res["lineage_id"], int(res["minute"]),
                                -int(res["amount"]))
        return await self._decide(conn, approval_id, status, decided_by=decided_by,
                                  reason=reason, now_ms=now_ms)

    async def _decide(self, conn: Conn, approval_id: str, status: ApprovalStatus, *,
                      decided_by: str, reason: str | None, now_ms: int,
                      result: str | None = None) -> Approval:
        """Record the approval's decision, its audit event and its outbox event."""
        await conn.execute(
            "UPDATE approvals SET status = %s, decided_at = %s, decided_by = %s, reason = %s,"
            " result = %s WHERE id = %s",
            (status.value, now_ms, decided_by, reason, result, approval_id))
        approval = await self._announce(conn, approval_id, now_ms)
        await self._append_audit(conn, AuditEvent(
            workspace_id=approval.workspace_id, actor=decided_by,
            action=APPROVAL_EVENT_KINDS[status], subject=approval.key_hash,
            detail={"approval_id": approval_id, "method": approval.method,
                    "cost": str(approval.cost), "reason": reason, "result": result}), now_ms)
        return approval

    async def _announce(self, conn: Conn, approval_id: str, now_ms: int) -> Approval:
        """The approval as it now is, and its event in the outbox (delivered after commit by
        whichever `serve` claims it)."""
        row = await fetch_one(conn, _APPROVAL_BY_ID, (approval_id,))
        assert row is not None
        approval = approval_from_row(row)
        await conn.execute(
            "INSERT INTO approval_events (approval_id, workspace_id, kind, body, created_at,"
            " next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (approval.id, approval.workspace_id, APPROVAL_EVENT_KINDS[approval.status],
             approval_event_body(approval, event_id=f"{approval.id}:{approval.status.value}"),
             now_ms, now_ms))
        return approval


def _check_found(row: Row | None, approval_id: str, workspace_id: str | None) -> None:
    """Another workspace's approval is as absent as one that never existed."""
    if row is None or (workspace_id is not None and row["workspace_id"] != workspace_id):
        raise NotFound(f"no approval {approval_id}")


async def _pending_for_update(conn: Conn, approval_id: str) -> Row:
    row = await fetch_one(conn, "SELECT reservation_id, method, status, expires_at"
                                " FROM approvals WHERE id = %s FOR UPDATE", (approval_id,))
    assert row is not None  # approvals are never deleted; found before the locks
    if row["status"] != ApprovalStatus.PENDING.value:
        raise Conflict(f"approval {approval_id} is already {row['status']}")
    return row
