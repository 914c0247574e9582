"""The SQLite ledger's row work, shared by reservations and approvals.

Plain functions over a connection already inside `BEGIN IMMEDIATE` (the database write lock):
the spend buckets of a lineage and of an agent's self-service window, and the nonce picker.
`_sqlite.py` (reserve, release, settle) and `_sqlite_approvals.py` (hold, approve, reject,
expire) both move money through these, so a bucket is only ever changed one way.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from session_studio.policy import AgentWindow

from ._errors import NonceGap
from ._records import AgentCeiling, NonceRequest
from ._rows import check_ledger_nonce

MINUTE_MS = 60_000


def window_sum(db: sqlite3.Connection, lineage: str, window_start_ms: int) -> int:
    # The minute that straddles the window's start counts whole: rounding that can only
    # over-count keeps the cap exact in the direction that matters.
    rows = db.execute("SELECT amount FROM spend_buckets WHERE lineage_id = ? AND minute >= ?",
                      (lineage, window_start_ms // MINUTE_MS))
    return sum(int(r[0]) for r in rows)


def agent_window_sum(db: sqlite3.Connection, agent_id: str, window_start_ms: int) -> int:
    """Every lineage the agent ever had counts: revoking or rotating never resets its budget."""
    lineages = db.execute("SELECT DISTINCT lineage_id FROM sessions WHERE agent_id = ?",
                          (agent_id,)).fetchall()
    return sum(window_sum(db, r[0], window_start_ms) for r in lineages)


def add_to_bucket(db: sqlite3.Connection, lineage: str, minute: int, delta: int) -> None:
    row = db.execute("SELECT amount FROM spend_buckets WHERE lineage_id = ? AND minute = ?",
                     (lineage, minute)).fetchone()
    total = (int(row[0]) if row else 0) + delta
    db.execute("INSERT OR REPLACE INTO spend_buckets VALUES (?, ?, ?)",
               (lineage, minute, str(total)))
    add_to_agent_window(db, lineage, minute, delta)


def add_to_agent_window(db: sqlite3.Connection, lineage: str, minute: int, delta: int) -> None:
    """Every change to a self-created lineage's bucket (reserve, release, settle) moves its
    agent's shared window by the same amount in the same transaction, so the two never drift."""
    owner = db.execute("SELECT agent_id FROM self_service_lineages WHERE lineage_id = ?",
                       (lineage,)).fetchone()
    if owner is None:
        return
    row = db.execute("SELECT amount FROM agent_window_buckets WHERE agent_id = ? AND minute = ?",
                     (owner[0], minute)).fetchone()
    total = (int(row[0]) if row else 0) + delta
    db.execute("INSERT OR REPLACE INTO agent_window_buckets VALUES (?, ?, ?)",
               (owner[0], minute, str(total)))


def self_service_window(db: sqlite3.Connection, row: Any,
                         window_start_ms: int) -> AgentWindow | None:
    """The agent-wide window of a self-created session (None for any other session)."""
    agent_id = row["self_service_agent"]
    if agent_id is None:
        return None
    spent = sum(int(r[0]) for r in db.execute(
        "SELECT amount FROM agent_window_buckets WHERE agent_id = ? AND minute >= ?",
        (agent_id, window_start_ms // MINUTE_MS)))
    if row["ceiling"] is None:
        # A self-created session always has a ceiling behind it; without one, fail closed: a
        # limit of zero lets it sign only what costs nothing.
        return AgentWindow(unit=row["limit_unit"], limit=0, spent=spent)
    ceiling = AgentCeiling.from_json(json.loads(row["ceiling"]))
    return AgentWindow(unit=ceiling.limit_unit, limit=ceiling.daily, spent=spent)


def pick_nonce(db: sqlite3.Connection, req: NonceRequest) -> int:
    check_ledger_nonce(req.explicit if req.explicit is not None else req.upstream_pending)
    address = req.address.lower()
    key = (req.chain_id, address)
    row = db.execute("SELECT next_nonce FROM nonces WHERE chain_id = ? AND address = ?",
                     key).fetchone()
    stored = row[0] if row else 0
    # Nonces below what the chain already counts can never be used again.
    db.execute("DELETE FROM released_nonces WHERE chain_id = ? AND address = ? AND nonce < ?",
               (*key, req.upstream_pending))
    expected = max(stored, req.upstream_pending)
    if req.explicit is not None:
        if req.explicit > expected:
            raise NonceGap(req.explicit, expected)
        picked = req.explicit
    else:
        gap = db.execute("SELECT MIN(nonce) FROM released_nonces WHERE chain_id = ?"
                         " AND address = ?", key).fetchone()[0]
        picked = gap if gap is not None and gap < stored else first_unheld(db, req, expected)
    check_ledger_nonce(picked)
    db.execute("DELETE FROM released_nonces WHERE chain_id = ? AND address = ? AND nonce = ?",
               (*key, picked))
    db.execute("INSERT OR REPLACE INTO nonces VALUES (?, ?, ?)",
               (*key, max(stored, picked + 1)))
    return picked


def nonce_held(db: sqlite3.Connection, chain_id: int, address_lower: str, nonce: int) -> bool:
    return db.execute(
        "SELECT 1 FROM reservations r JOIN sessions s ON s.id = r.session_id"
        " AND s.address_lower = ? WHERE r.chain_id = ? AND r.nonce = ?"
        " AND r.status != 'released' LIMIT 1", (address_lower, chain_id, nonce)
    ).fetchone() is not None


def first_unheld(db: sqlite3.Connection, req: NonceRequest, start: int) -> int:
    """The first nonce from `start` that no live reservation of this signer holds (a client's
    own far-ahead nonce); ordinarily `start` itself, found with one index range scan."""
    held = db.execute(
        "SELECT DISTINCT r.nonce FROM reservations r"
        " JOIN sessions s ON s.id = r.session_id AND s.address_lower = ?"
        " WHERE r.chain_id = ? AND r.nonce >= ? AND r.status != 'released' ORDER BY r.nonce",
        (req.address.lower(), req.chain_id, start))
    candidate = start
    for (nonce,) in held:
        if nonce != candidate:
            break
        candidate += 1
    return candidate
