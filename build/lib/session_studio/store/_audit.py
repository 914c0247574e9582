"""The hash-chained audit trail: appending (inside the caller's transaction) and verifying.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in a
canonical JSON encoding, so any edit of a stored row, any deletion (a gap in `seq` or a broken
link) and any reordering is detected by `verify_chain`. Truncating the newest entries cannot be
detected from the table alone: `audit verify` prints the head hash so an operator can anchor it
elsewhere (a ticket, a log shipper) and compare later.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = b"\x00" * 32


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """What happened, before it is chained: who did what to which subject."""

    workspace_id: str | None
    actor: str
    action: str
    subject: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    seq: int
    at_ms: int
    workspace_id: str | None
    actor: str
    action: str
    subject: str
    detail: str  # canonical JSON, exactly as hashed
    prev_hash: bytes
    entry_hash: bytes

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at_ms": self.at_ms, "workspace_id": self.workspace_id,
                "actor": self.actor, "action": self.action, "subject": self.subject,
                "detail": json.loads(self.detail), "prev_hash": self.prev_hash.hex(),
                "entry_hash": self.entry_hash.hex()}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditVerdict:
    ok: bool
    entries: int
    head_hash: bytes
    first_broken_seq: int | None = None
    problem: str | None = None


def canonical(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str)


def entry_hash(prev_hash: bytes, seq: int, at_ms: int, workspace_id: str | None, actor: str,
               action: str, subject: str, detail: str) -> bytes:
    body = json.dumps([seq, at_ms, workspace_id, actor, action, subject, detail],
                      separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(prev_hash + body.encode()).digest()


def append(db: sqlite3.Connection, event: AuditEvent, *, now_ms: int) -> None:
    """Append inside the caller's write transaction (which holds the write lock, so the head
    read here is the head the entry is chained to)."""
    head = db.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                      ).fetchone()
    seq, prev = (1, GENESIS) if head is None else (head[0] + 1, bytes(head[1]))
    detail = canonical(event.detail)
    digest = entry_hash(prev, seq, now_ms, event.workspace_id, event.actor, event.action,
                        event.subject, detail)
    db.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (seq, now_ms, event.workspace_id, event.actor, event.action, event.subject,
                detail, prev, digest))


def verify_chain(entries: Iterable[AuditEntry]) -> AuditVerdict:
    """Walk the entries in `seq` order and report the first one that does not hold."""
    prev, expected_seq, count = GENESIS, 1, 0
    for e in entries:
        problem = None
        if e.seq != expected_seq:
            problem = f"entry {expected_seq} is missing (next is {e.seq})"
        elif e.prev_hash != prev:
            problem = "its prev_hash does not match the previous entry"
        elif e.entry_hash != entry_hash(prev, e.seq, e.at_ms, e.workspace_id, e.actor,
                                        e.action, e.subject, e.detail):
            problem = "its content does not match its hash (edited)"
        if problem is not None:
            return AuditVerdict(ok=False, entries=count, head_hash=prev,
                                first_broken_seq=min(e.seq, expected_seq), problem=problem)
        prev, expected_seq, count = e.entry_hash, e.seq + 1, count + 1
    return AuditVerdict(ok=True, entries=count, head_hash=prev)


def entry_from_row(row: Any) -> AuditEntry:
    return AuditEntry(seq=row["seq"], at_ms=row["at"], workspace_id=row["workspace_id"],
                      actor=row["actor"], action=row["action"], subject=row["subject"],
                      detail=row["detail"], prev_hash=bytes(row["prev_hash"]),
                      entry_hash=bytes(row["entry_hash"]))
