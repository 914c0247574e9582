"""PostgreSQL: the spend ledger (`Ledger`): reserve-before-sign, release, settle, and its reads.

`reserve_and_sign` is one transaction that locks only what its decision reads (lock order in
`_pg_base`): the session's LINEAGE (its window, rate limit, outstanding signatures, revoked and
expiry state), the AGENT window when the agent has a budget or the lineage is self-created, and
the SIGNER's nonce sequence when a nonce is picked. The clock is read once all of them are
held (issue 10, item 13), then everything is read again, decided, signed and written. So two
sessions of different lineages and signers never wait for each other; two requests of one
lineage run one after the other, each seeing the other's reservation; a revoke (which takes the
LINEAGE lock) cannot return while a signature is being made.

The same rules as SQLite (`_sqlite.py`) apply term for term: buckets per minute, the agent-wide
window moved with every bucket change of a self-created lineage, the nonce pool (gaps first,
never a nonce a live reservation holds, never past MAX_LEDGER_NONCE), explicit nonces never
past the signer's next one. A UNIQUE index on the pool's live nonces per (chain, address) is a
backstop no bug can get past: a second live pool reservation of one nonce fails to commit.

A verdict of "held" (issue 14) reserves in the same transaction without signing
(`_pg_approvals`): the approval's later signature goes through the same locks and primitives
(`_pg_spend`), so a held cost counts exactly as a signed one does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
from session_studio.policy import Decision

from ._admin_records import DecisionRecord
from ._approval_records import ApprovalDraft
from ._audit import AuditEvent
from ._errors import NotFound, StoreUnavailable
from ._ledger_interface import Clock, Evaluate, Sign, T
from ._pg_approvals import PgApprovals
from ._pg_base import MINUTE_MS, Lock, Row, fetch_one, lock, signer_key
from ._pg_spend import add_to_bucket, lock_for_signing, nonce_held, pick_nonce, read_state
from ._records import (
    RELEASABLE,
    NonceRequest,
    Reservation,
    ReservationStatus,
    UnbroadcastSend,
    UnsettledSend,
    outcome_sources,
)
from ._rows import UNSETTLED_PAGE, new_id, pg, unbroadcast_query

_UNSETTLED = pg(UNSETTLED_PAGE)


class PgLedger(PgApprovals):
    async def reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T],
        gas_wei: int | None = None, hold: ApprovalDraft | None = None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        try:
            return await self._reserve_and_sign(
                session_id=session_id, method=method, clock=clock, window_mode=window_mode,
                evaluate=evaluate, nonce=nonce, sign=sign, gas_wei=gas_wei, hold=hold)
        except psycopg.IntegrityError as exc:
            # The nonce backstop (or another constraint) refused the commit: nothing signed.
            raise StoreUnavailable(f"the ledger refused the reservation: {exc}") from exc

    async def _reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T], gas_wei: int | None,
        hold: ApprovalDraft | None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        async with self._transaction() as conn:
            locked = await lock_for_signing(conn, session_id, nonce)
            lineage = locked.lineage
            now_ms = clock()
            # Before the window is read: an approval that expired gives its held cost back
            # now, not at the next sweep (`_approval_interface`). Only a lineage with an
            # approval threshold (rotation keeps it) can have any: no round trip for others.
            if locked.holds:
                await self._expire_lineage_approvals(conn, lineage, now_ms)
            row, state = await read_state(conn, session_id, now_ms=now_ms,
                                          window_mode=window_mode)
            decision = evaluate(state, now_ms)
            reservation: Reservation | None = None
            signed: T | None = None
            tx_hash: str | None = None
            approval_id: str | None = None
            if decision.allowed:
                picked, from_pool = (await pick_nonce(conn, nonce) if nonce is not None
                                     else (None, False))
                sealed = None if row["sealed_key"] is None else bytes(row["sealed_key"])
                # Off the event loop: signing is CPU work (and a test may block in it).
                signed, tx_hash, raw_tx = await asyncio.to_thread(sign, picked, sealed)
                reservation = Reservation(id=new_id(), session_id=session_id,
                                          amount=decision.cost, nonce=picked,
                                          chain_id=nonce.chain_id if nonce else 0)
                minute = now_ms // MINUTE_MS
                await conn.execute(
                    "INSERT INTO reservations (id, session_id, lineage_id, minute, amount,"
                    " status, method, chain_id, nonce, address_lower, nonce_from_pool,"
                    " tx_hash, created_at, updated_at, raw_tx, gas_reserved, gas_wei_reserved)"
                    " VALUES (%s, %s, %s, %s, %s, 'signed', %s, %s, %s,"
                    " (SELECT address_lower FROM sessions WHERE id = %s), %s, %s, %s, %s, %s,"
                    " %s, %s)",
                    (reservation.id, session_id, lineage, minute, decision.cost, method,
                     reservation.chain_id, picked, session_id, from_pool, tx_hash, now_ms,
                     now_ms, raw_tx, decision.gas_cost, gas_wei))
                await add_to_bucket(conn, lineage, minute, decision.cost)
            elif decision.held and hold is not None:
                # Held without a draft falls through as a refusal: nothing to wait on.
                reservation = await self._hold(
                    conn, session_id=session_id, lineage=lineage, workspace_id=str(
                        row["workspace_id"]), method=method, draft=hold, decision=decision,
                    gas_wei=gas_wei, now_ms=now_ms)
                approval_id = hold.id
            await conn.execute(
                "INSERT INTO decisions (session_id, at, method, allowed, reason, detail, cost,"
                " reservation_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (session_id, now_ms, method, int(decision.allowed),
                 None if decision.reason is None else decision.reason.value, decision.detail,
                 decision.cost, reservation.id if reservation else None))
            await self._append_audit(conn, AuditEvent(
                workspace_id=row["workspace_id"], actor="rpc", action="rpc.decision",
                subject=row["key_hash"],
                detail={"method": method, "allowed": decision.allowed,
                        "reason": None if decision.reason is None else decision.reason.value,
                        "detail": decision.detail, "cost": str(decision.cost),
                        "figures": dict(decision.figures),
                        "tx_hash": tx_hash if decision.allowed else None,
                        "approval_id": approval_id}), now_ms)
        return decision, reservation, signed

    async def release(self, reservation: Reservation, *, now_ms: int,
                      return_nonce: bool) -> bool:
        async with self._transaction() as conn:
            first = await fetch_one(conn, "SELECT lineage_id, address_lower FROM reservations"
                                          " WHERE id = %s", (reservation.id,))
            if first is None:
                return False
            await lock(conn, Lock.LINEAGE, first["lineage_id"])
            if return_nonce and reservation.nonce is not None:
                await lock(conn, Lock.SIGNER,
                           signer_key(reservation.chain_id, first["address_lower"]))
            row = await fetch_one(
                conn, "SELECT lineage_id, minute, amount, status, address_lower"
                " FROM reservations WHERE id = %s FOR UPDATE", (reservation.id,))
            # Read under the row lock: a concurrent outcome or settlement has committed or waits.
            if row is None or row["status"] not in RELEASABLE:
                return False
            await conn.execute("UPDATE reservations SET status = 'released', updated_at = %s"
                               " WHERE id = %s", (now_ms, reservation.id))
            await add_to_bucket(conn, row["lineage_id"], row["minute"], -int(row["amount"]))
            # Back to the pool only if no other live reservation holds it (a replacement signed
            # at the same nonce): the pool must never hand out a nonce still in use.
            if return_nonce and reservation.nonce is not None and not await nonce_held(
                    conn, reservation.chain_id, row["address_lower"], reservation.nonce):
                await conn.execute(
                    "INSERT INTO released_nonces VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (reservation.chain_id, row["address_lower"], reservation.nonce))
            return True

    async def record_outcome(
        self, reservation: Reservation, *, status: ReservationStatus, now_ms: int
    ) -> bool:
        sources = [s.value for s in outcome_sources(status)]
        # One conditional UPDATE: it waits for a concurrent release's or settlement's row lock
        # and then re-checks the status (READ COMMITTED re-evaluates the WHERE on the new
        # version), so a late outcome finds the row moved on and changes nothing.
        async with self._transaction() as conn:
            done = await conn.execute(
                "UPDATE reservations SET status = %s, updated_at = %s"
                " WHERE id = %s AND status = ANY(%s)",
                (status.value, now_ms, reservation.id, sources))
            return done.rowcount == 1

    async def unbroadcast_sends(self, *,
                                signed_before_ms: int | None = None) -> list[UnbroadcastSend]:
        rows = await self._read_all(
            pg(unbroadcast_query(signed_before=signed_before_ms is not None)),
            () if signed_before_ms is None else (signed_before_ms,))
        return [UnbroadcastSend(
            reservation=_reservation(r), address=r["address"], raw_tx=bytes(r["raw_tx"]),
            tx_hash=r["tx_hash"]) for r in rows]

    async def unsettled(self, *, limit: int = 200,
                        after: tuple[int, str] | None = None) -> list[UnsettledSend]:
        created, last_id = after if after is not None else (-1, "")
        rows = await self._read_all(_UNSETTLED, (created, last_id, limit))
        return [UnsettledSend(
            reservation=_reservation(r), address=r["address"], tx_hash=r["tx_hash"],
            status=ReservationStatus(r["status"]),
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
        async with self._transaction() as conn:
            first = await fetch_one(conn, "SELECT lineage_id FROM reservations WHERE id = %s",
                                    (reservation_id,))
            if first is None:
                raise NotFound(f"no reservation {reservation_id}")
            await lock(conn, Lock.LINEAGE, first["lineage_id"])
            row = await fetch_one(
                conn, "SELECT lineage_id, minute, amount, status, settled_at, method"
                " FROM reservations WHERE id = %s FOR UPDATE", (reservation_id,))
            assert row is not None
            # A held-back eth_signTransaction stays `signed`; a send still `signed` is crash
            # recovery's to broadcast, never settlement's to settle.
            settleable = ((ReservationStatus.SIGNED,) if row["method"] == "eth_signTransaction"
                          else (ReservationStatus.BROADCAST, ReservationStatus.UNKNOWN))
            if row["settled_at"] is not None or row["status"] not in settleable:
                return False
            held = int(row["amount"])
            if amount > held:
                raise ValueError("settlement only lowers a reservation, never raises it")
            kept = held if status is ReservationStatus.RELEASED else amount
            await conn.execute(
                "UPDATE reservations SET status = %s, amount = %s, gas_wei_used = %s,"
                " receipt_status = %s, settled_at = %s, updated_at = %s WHERE id = %s",
                (status.value, kept, gas_wei_used, receipt_status, now_ms, now_ms,
                 reservation_id))
            if amount != held:
                await add_to_bucket(conn, row["lineage_id"], row["minute"], amount - held)
            return True

    # -- reads -----------------------------------------------------------------------------
    async def spent_in_window(self, lineage_id: str, *, window_start_ms: int) -> int:
        row = await self._read_one(
            "SELECT COALESCE(SUM(amount), 0) AS total FROM spend_buckets"
            " WHERE lineage_id = %s AND minute >= %s", (lineage_id, window_start_ms // MINUTE_MS))
        return 0 if row is None else int(row["total"])

    async def reservations(self, session_id: str) -> Sequence[tuple[str, int, str | None]]:
        rows = await self._read_all(
            "SELECT status, amount, tx_hash FROM reservations WHERE session_id = %s"
            " ORDER BY created_at, id", (session_id,))
        return [(r["status"], int(r["amount"]), r["tx_hash"]) for r in rows]

    async def recent_decisions(self, session_id: str, *, limit: int) -> list[DecisionRecord]:
        rows = await self._read_all(
            "SELECT d.at, d.method, d.allowed, d.reason, d.detail, d.cost, r.tx_hash"
            " FROM decisions d LEFT JOIN reservations r ON r.id = d.reservation_id"
            " WHERE d.session_id = %s ORDER BY d.at DESC, d.id DESC LIMIT %s",
            (session_id, limit))
        return [DecisionRecord(at_ms=r["at"], method=r["method"], allowed=bool(r["allowed"]),
                               reason=r["reason"], detail=r["detail"], cost=int(r["cost"]),
                               tx_hash=r["tx_hash"]) for r in rows]

    async def spend_by_hour(self, lineage_ids: Sequence[str], *,
                            since_ms: int) -> dict[int, int]:
        if not lineage_ids:
            return {}
        rows = await self._read_all(
            "SELECT minute / 60 * 3600000 AS hour, SUM(amount) AS total FROM spend_buckets"
            " WHERE lineage_id = ANY(%s) AND minute >= %s GROUP BY 1",
            (list(lineage_ids), since_ms // MINUTE_MS))
        return {int(r["hour"]): int(r["total"]) for r in rows}


def _reservation(r: Row) -> Reservation:
    return Reservation(id=r["id"], session_id=r["session_id"], amount=int(r["amount"]),
                       nonce=r["nonce"], chain_id=r["chain_id"])


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
