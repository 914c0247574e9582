"""The approval outbox's SQL, one text for both backends (SQLite's `?`; `_rows.pg` swaps them).

Each statement that ends a claim is conditional, so a process whose claim ran out while its
POST was in flight cannot undo what the process that took the event over recorded: a
delivery is never turned back into a retry, a given-up event never retried.
"""

from __future__ import annotations

from typing import Any

from ._approval_records import ApprovalEvent

# Undelivered, not given up, due, and not under a live claim; oldest first.
OUTBOX_DUE = (
    "SELECT id, approval_id, workspace_id, kind, body, created_at, attempts"
    " FROM approval_events WHERE delivered_at IS NULL AND failed_at IS NULL"
    " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
    " ORDER BY id LIMIT ?")
# The claim: only the first of several processes finds the row in this state (the UPDATE
# re-reads the row under its write lock, on both backends). `next_attempt_at <= now` too: an
# event another process just rescheduled is not due, even if it was in our due list.
OUTBOX_CLAIM = (
    "UPDATE approval_events SET claimed_until = ?"
    " WHERE id = ? AND delivered_at IS NULL AND failed_at IS NULL"
    " AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)")
# `delivered_at IS NULL`: a redelivery after an expired claim keeps the first delivery's time.
OUTBOX_DELIVERED = (
    "UPDATE approval_events SET delivered_at = ?, attempts = attempts + 1,"
    " claimed_until = NULL, last_error = NULL WHERE id = ? AND delivered_at IS NULL")
OUTBOX_RETRY = (
    "UPDATE approval_events SET attempts = ?, next_attempt_at = ?, last_error = ?,"
    " claimed_until = NULL WHERE id = ? AND delivered_at IS NULL AND failed_at IS NULL")
OUTBOX_FAILED = (
    "UPDATE approval_events SET failed_at = ?, attempts = attempts + 1, last_error = ?,"
    " claimed_until = NULL WHERE id = ? AND delivered_at IS NULL AND failed_at IS NULL")


def approval_event_from_row(row: Any) -> ApprovalEvent:
    return ApprovalEvent(id=int(row["id"]), approval_id=row["approval_id"],
                         workspace_id=row["workspace_id"], kind=row["kind"], body=row["body"],
                         created_at_ms=int(row["created_at"]), attempts=int(row["attempts"]))
