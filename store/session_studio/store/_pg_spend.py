"""PostgreSQL: the money primitives every signing transaction shares (ledger and approvals).

A request signed at once (`_pg_ledger.reserve_and_sign`) and a held one signed when a person
approves it (`_pg_approvals.approve_and_sign`) must take the same locks in the same order, read
the same state and move the same buckets, or the two paths could disagree on a window or hand
out one nonce twice. So the lock sequence, the in-lock state read, the minute buckets and the
nonce picker live here once, and both paths call them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from session_studio.policy import AgentWindow, SessionState, window_start_ms

from ._errors import NonceGap, NotFound
from ._pg_base import MINUTE_MS, Conn, Lock, Row, fetch_all, fetch_one, lock, signer_key
from ._records import AgentCeiling, NonceRequest
from ._rows import check_ledger_nonce

# What a reservation locks, from columns that never change once the session exists.
_WHAT_TO_LOCK = (
    "SELECT s.lineage_id, s.agent_id, a.daily_budget, ss.agent_id AS self_service_agent,"
    " s.approve_above IS NOT NULL AS holds"
    " FROM sessions s LEFT JOIN agents a ON a.id = s.agent_id"
    " LEFT JOIN self_service_lineages ss ON ss.lineage_id = s.lineage_id WHERE s.id = %s")
# Everything the decision reads, in one statement run once the locks are held (one round trip
# instead of six on every signature's path). The terms are those of the SQLite backend: the
# rate limit's decisions of the last minute, the lineage's outstanding eth_signTransaction
# results (_COUNT_OUTSTANDING_SIGNED), the lineage's window (the minute straddling its start
# counts whole: rounding that only over-counts), the agent budget's window over every lineage
# the agent ever had, the agent's self-service window, and the lineage's requests waiting
# for approval (only for a session that can hold one).
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
    "  WHERE w.agent_id = ss.agent_id AND w.minute >= %(from_minute)s) AS self_service_spent,"
    " CASE WHEN s.approve_above IS NULL THEN 0 ELSE"
    " (SELECT COUNT(*) FROM approvals p WHERE p.lineage_id = s.lineage_id"
    "  AND p.status = 'pending') END AS pending"
    " FROM sessions s LEFT JOIN agents a ON a.id = s.agent_id"
    " LEFT JOIN self_service_lineages ss ON ss.lineage_id = s.lineage_id"
    " WHERE s.id = %(session_id)s")


@dataclass(frozen=True, slots=True)
class Locked:
    lineage: str
    holds: bool  # the session has an approval threshold: its lineage may have approvals


async def lock_for_signing(conn: Conn, session_id: str,
                           nonce: NonceRequest | None) -> Locked:
    """Take what a signature of this session locks, in `_pg_base`'s order: its LINEAGE, the
    AGENT window when the agent has a budget or the lineage is self-created, and the SIGNER's
    nonces when a nonce will be picked. Returns the lineage, and whether it can hold requests.
    What to lock is known from the session's immutable columns; everything decided on is read
    again once they are held."""
    before = await fetch_one(conn, _WHAT_TO_LOCK, (session_id,))
    if before is None:
        raise NotFound(f"no session {session_id}")
    await lock(conn, Lock.LINEAGE, before["lineage_id"])
    if before["agent_id"] is not None and (
            before["daily_budget"] is not None or before["self_service_agent"] is not None):
        await lock(conn, Lock.AGENT, before["agent_id"])
    if nonce is not None:
        await lock(conn, Lock.SIGNER, signer_key(nonce.chain_id, nonce.address))
    return Locked(lineage=str(before["lineage_id"]), holds=bool(before["holds"]))


async def read_state(conn: Conn, session_id: str, *, now_ms: int,
                     window_mode: str) -> tuple[Row, SessionState]:
    """The session's state at `now_ms`, read under `lock_for_signing`'s locks, and its row
    (sealed key, workspace, key hash) for what the caller writes next."""
    row = await fetch_one(conn, _STATE_IN_LOCK, {
        "session_id": session_id, "minute_ago": now_ms - MINUTE_MS,
        "from_minute": window_start_ms(now_ms, window_mode) // MINUTE_MS})
    assert row is not None  # sessions are never deleted
    return row, SessionState(
        revoked=row["revoked_at"] is not None, expires_at_ms=row["expires_at"],
        spent_in_window=int(row["spent"]), requests_last_minute=int(row["recent"]),
        agent_spent_in_window=int(row["agent_spent"]),
        outstanding_signed=int(row["outstanding"]), self_service=_self_service_window(row),
        pending_approvals=int(row["pending"]))


async def add_to_bucket(conn: Conn, lineage: str, minute: int, delta: int) -> None:
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


async def pick_nonce(conn: Conn, req: NonceRequest) -> tuple[int, bool]:
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


async def nonce_held(conn: Conn, chain_id: int, address_lower: str, nonce: int) -> bool:
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
