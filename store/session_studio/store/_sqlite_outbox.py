"""SQLite side of the approval outbox (`ApprovalOutbox`), as a mixin of `SqliteStore`.

The rows are written by the transactions that hold or decide an approval; this mixin only
hands them to the notifier and records what became of each delivery. Every `serve` on the
file may run a notifier, so a delivery is claimed first: the claim is one conditional UPDATE
under SQLite's write lock (BEGIN IMMEDIATE), and of two processes claiming one event only the
first finds it unclaimed. A claim carries an expiry, so an event whose claimer died (kill -9
mid-POST) is picked up again once the claim has run out: delivery is at least once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._approval_records import ApprovalEvent
from ._outbox_rows import (
    OUTBOX_CLAIM,
    OUTBOX_DELIVERED,
    OUTBOX_DUE,
    OUTBOX_FAILED,
    OUTBOX_RETRY,
    approval_event_from_row,
)

R = TypeVar("R")


class OutboxTables:
    if TYPE_CHECKING:
        async def _transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R: ...
        async def _read_all(self, sql: str, args: Sequence[Any]) -> list[Any]: ...

    async def due_approval_events(self, *, now_ms: int, limit: int) -> list[ApprovalEvent]:
        rows = await self._read_all(OUTBOX_DUE, (now_ms, now_ms, limit))
        return [approval_event_from_row(row) for row in rows]

    async def claim_approval_event(self, event_id: int, *, now_ms: int,
                                   until_ms: int) -> bool:
        def claim(db: sqlite3.Connection) -> bool:
            return db.execute(OUTBOX_CLAIM, (until_ms, event_id, now_ms, now_ms)).rowcount == 1

        return await self._transaction(claim)

    async def approval_event_delivered(self, event_id: int, *, now_ms: int) -> None:
        await self._transaction(lambda db: db.execute(OUTBOX_DELIVERED, (now_ms, event_id)))

    async def approval_event_retry(self, event_id: int, *, attempts: int, next_attempt_ms: int,
                                   error: str) -> None:
        await self._transaction(lambda db: db.execute(
            OUTBOX_RETRY, (attempts, next_attempt_ms, error, event_id)))

    async def approval_event_failed(self, event_id: int, *, now_ms: int, error: str) -> None:
        await self._transaction(lambda db: db.execute(OUTBOX_FAILED, (now_ms, error, event_id)))
