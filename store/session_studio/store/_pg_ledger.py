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
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import psycopg
from session_studio.policy import AgentWindow, Decision, SessionState, window_start_ms

from ._admin_records import DecisionRecord
from ._audit import AuditEvent
from ._errors import NonceGap, NotFound, StoreUnavailable
from ._ledger_interface import Clock, Evaluate, Sign, T
from ._pg_audit import PgAuditChain
from ._pg_base import (
    MINUTE_MS,
    Conn,
    Lock,
    Row,
    fetch_all,
    fetch_one,
    lock,
    signer_key,
)
from ._records import (
    RELEASABLE,
    AgentCeiling,
    NonceRequest,
    Reservation,
    ReservationStatus,
    UnbroadcastSend,
    UnsettledSend,
    outcome_sources,
)
from ._rows import UNSETTLED_PAGE, check_ledger_nonce, new_id, pg, unbroadcast_query

_UNSETTLED = pg(UNSETTLED_PAGE)
# What a reservation locks, from columns that never change once the session exists.
_WHAT_TO_LOCK = (
    "SELECT s.lineage_id, s.agent_id, a.daily_budget, ss.agent_id AS self_service_agent"
    " FROM sessions s LEFT JOIN agents a ON a.id = s.agent_id"
    " LEFT JOIN self_service_lineages ss ON ss.lineage_id = s.lineage_id WHERE s.id = %s")
# Everything the decision reads, in one statement run once the locks are held (one round trip
# instead of six on every signature's path). The terms are those of the SQLite backend: the
# rate limit's decisions of the last minute, the lineage's outstanding eth_signTransaction
# results (_COUNT_OUTSTANDING_SIGNED), the lineage's window (the minute straddling its start
# counts whole: rounding that only over-counts), the agent budget's window over every lineage
# the agent ever had, and the agent's self-service window.
_STATE_IN_LOCK = (
    "SELECT s.revoked_at, s.expires_at, s.lineage_id, s.sealed_key, s.workspace_id,"
    " s.key_hash, s.agent_id, s.limit_unit, a.daily_budget, a.ceiling,"
    " ss.agent_id AS self_service_agent,"
    " (SELECT COUNT(*) FROM decisions d WHERE d.session_id = s.id"
    "  AND d.at > %(minute_ago)s) AS recent,"
    " (SELECT COUNT(*) FROM reservations r WHERE r.lineage_id = s.lineage_id"
    "  AND r.method = 'eth_signTransaction' AND r.status = 'signed'"
    "  AND r.settled_at IS NULL) AS outstanding,"
    " (SELECT COALESCE(SUM(b.amount), 0) FROM spend_buckets b"
    "  WHERE b.lineage_id = s.lineage_id AND b.minute >= %(from_minute)s) AS spent,"
    " CASE WHEN a.daily_budget IS NULL THEN 0 ELSE"
    " (SELECT COALESCE(SUM(b.amount), 0) FROM spend_buckets b WHERE b.minute >= %(from_minute)s"
    "  AND b.lineage_id IN (SELECT l.lineage_id FROM sessions l WHERE l.agent_id = s.agent_id))"
    " END AS agent_spent,"
    " (SELECT COALESCE(SUM(w.amount), 0) FROM agent_window_buckets w"
    "  WHERE w.agent_id = ss.agent_id AND w.minute >= %(from_minute)s) AS self_service_spent"
    " FROM sessions s LEFT JOIN agents a ON a.id = s.agent_id"
    " LEFT JOIN self_service_lineages ss ON ss.lineage_id = s.lineage_id"
    " WHERE s.id = %(session_id)s")


class PgLedger(PgAuditChain):
    async def reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T],
        gas_wei: int | None = None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        try:
            return await self._reserve_and_sign(
                session_id=session_id, method=method, clock=clock, window_mode=window_mode,
                evaluate=evaluate, nonce=nonce, sign=sign, gas_wei=gas_wei)
        except psycopg.IntegrityError as exc:
            # The nonce backstop (or another constraint) refused the commit: nothing signed.
            raise StoreUnavailable(f"the ledger refused the reservation: {exc}") from exc

    async def _reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T], gas_wei: int | None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        async with self._transaction() as conn:
            # What to lock is known from the session's immutable columns (lineage, agent);
            # everything the decision uses is read again once the locks are held.
            before = await fetch_one(conn, _WHAT_TO_LOCK, (session_id,))
            if before is None:
                raise NotFound(f"no session {session_id}")
            await lock(conn, Lock.LINEAGE, before["lineage_id"])
            if before["agent_id"] is not None and (
                    before["daily_budget"] is not None
                    or before["self_service_agent"] is not None):
                await lock(conn, Lock.AGENT, before["agent_id"])
            if nonce is not None:
                await lock(conn, Lock.SIGNER, signer_key(nonce.chain_id, nonce.address))
            now_ms = clock()
            window_start = window_start_ms(now_ms, window_mode)
            row = await fetch_one(conn, _STATE_IN_LOCK, {
                "session_id": session_id, "minute_ago": now_ms - MINUTE_MS,
                "from_minute": window_start // MINUTE_MS})
            assert row is not None  # sessions are never deleted
            lineage = row["lineage_id"]
            state = SessionState(
                revoked=row["revoked_at"] is not None, expires_at_ms=row["expires_at"],
                spent_in_window=int(row["spent"]), requests_last_minute=int(row["recent"]),
                agent_spent_in_window=int(row["agent_spent"]),
                outstanding_signed=int(row["outstanding"]),
                self_service=_self_service_window(row))
            decision = evaluate(state, now_ms)
            reservation: Reservation | None = None
            signed: T | None = None
            tx_hash: str | None = None
            if decision.allowed:
                picked, from_pool = (await _pick_nonce(conn, nonce) if nonce is not None
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
                await _add_to_bucket(conn, lineage, minute, decision.cost)
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
                        "tx_hash": tx_hash if decision.allowed else None}), now_ms)
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
            await _add_to_bucket(conn, row["lineage_id"], row["minute"], -int(row["amount"]))
            # Back to the pool only if no other live reservation holds it (a replacement signed
            # at the same nonce): the pool must never hand out a nonce still in use.
            if return_nonce and reservation.nonce is not None and not await _nonce_held(
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
                await _add_to_bucket(conn, row["lineage_id"], row["minute"], amount - held)
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


async def _add_to_bucket(conn: Conn, lineage: str, minute: int, delta: int) -> None:
    await conn.execute(
        "INSERT INTO spend_buckets VALUES (%s, %s, %s) ON CONFLICT (lineage_id, minute)"
        " DO UPDATE SET amount = spend_buckets.amount + EXCLUDED.amount",
        (lineage, minute, delta))
    # Every change to a self-created lineage's bucket moves its agent's shared window by the
    # same amount in the same transaction, so the two never drift.
    await conn.execute(
        "INSERT INTO agent_window_buckets SELECT agent_id, %s, %s FROM self_service_lineages"
        " WHERE lineage_id = %s ON CONFLICT (agent_id, minute)"
        " DO UPDATE SET amount = agent_window_buckets.amount + EXCLUDED.amount",
        (minute, delta, lineage))


def _self_service_window(row: Row) -> AgentWindow | None:
    """The agent-wide window of a self-created session (None for any other session)."""
    if row["self_service_agent"] is None:
        return None
    spent = int(row["self_service_spent"])
    if row["ceiling"] is None:
        # Fail closed: a limit of zero lets it sign only what costs nothing.
        return AgentWindow(unit=row["limit_unit"], limit=0, spent=spent)
    ceiling = AgentCeiling.from_json(json.loads(row["ceiling"]))
    return AgentWindow(unit=ceiling.limit_unit, limit=ceiling.daily, spent=spent)


async def _pick_nonce(conn: Conn, req: NonceRequest) -> tuple[int, bool]:
    """The nonce to sign with, under the SIGNER lock, and whether the pool picked it."""
    check_ledger_nonce(req.explicit if req.explicit is not None else req.upstream_pending)
    address = req.address.lower()
    key = (req.chain_id, address)
    row = await fetch_one(conn, "SELECT next_nonce FROM nonces WHERE chain_id = %s"
                                " AND address = %s", key)
    stored = 0 if row is None else int(row["next_nonce"])
    # Nonces below what the chain already counts can never be used again.
    await conn.execute("DELETE FROM released_nonces WHERE chain_id = %s AND address = %s"
                       " AND nonce < %s", (*key, req.upstream_pending))
    expected = max(stored, req.upstream_pending)
    if req.explicit is not None:
        if req.explicit > expected:
            raise NonceGap(req.explicit, expected)
        picked, from_pool = req.explicit, False
    else:
        gap_row = await fetch_one(conn, "SELECT MIN(nonce) AS gap FROM released_nonces"
                                        " WHERE chain_id = %s AND address = %s", key)
        gap = None if gap_row is None else gap_row["gap"]
        picked = int(gap) if gap is not None and gap < stored else await _first_unheld(
            conn, req, expected)
        from_pool = True
    check_ledger_nonce(picked)
    await conn.execute("DELETE FROM released_nonces WHERE chain_id = %s AND address = %s"
                       " AND nonce = %s", (*key, picked))
    await conn.execute(
        "INSERT INTO nonces VALUES (%s, %s, %s) ON CONFLICT (chain_id, address)"
        " DO UPDATE SET next_nonce = EXCLUDED.next_nonce", (*key, max(stored, picked + 1)))
    return picked, from_pool


async def _nonce_held(conn: Conn, chain_id: int, address_lower: str, nonce: int) -> bool:
    return await fetch_one(
        conn, "SELECT 1 AS held FROM reservations WHERE chain_id = %s AND address_lower = %s"
        " AND nonce = %s AND status <> 'released' LIMIT 1",
        (chain_id, address_lower, nonce)) is not None


async def _first_unheld(conn: Conn, req: NonceRequest, start: int) -> int:
    """The first nonce from `start` that no live reservation of this signer holds (a client's
    own far-ahead nonce); ordinarily `start` itself, found with one index range scan."""
    held = await fetch_all(
        conn, "SELECT DISTINCT nonce FROM reservations WHERE chain_id = %s"
        " AND address_lower = %s AND nonce >= %s AND status <> 'released' ORDER BY nonce",
        (req.chain_id, req.address.lower(), start))
    candidate = start
    for r in held:
        if int(r["nonce"]) != candidate:
            break
        candidate += 1
    return candidate


def _reservation(r: Row) -> Reservation:
    return Reservation(id=r["id"], session_id=r["session_id"], amount=int(r["amount"]),
                       nonce=r["nonce"], chain_id=r["chain_id"])


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
