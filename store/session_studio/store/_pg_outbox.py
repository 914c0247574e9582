"""PostgreSQL side of the approval outbox (`ApprovalOutbox`), as a mixin of `PostgresStore`.

Replicas share the outbox, and each may run a notifier. A claim is one conditional UPDATE:
under READ COMMITTED a second UPDATE of the same row waits for the first to commit, then
re-checks its WHERE against the row as committed and finds it claimed, so exactly one replica
wins. No advisory lock is taken (the lock order of `_pg_base` is untouched): the row lock the
UPDATE takes is the whole of it. A claim expires, so a replica dying mid-POST only delays
the event until the claim runs out (at least once).
"""

from __future__ import annotations

from ._approval_records import ApprovalEvent
from ._outbox_rows import (
    OUTBOX_CLAIM,
    OUTBOX_DELIVERED,
    OUTBOX_DUE,
    OUTBOX_FAILED,
    OUTBOX_RETRY,
    approval_event_from_row,
)
from ._pg_base import PgBase
from ._rows import pg


class PgOutbox(PgBase):
    async def due_approval_events(self, *, now_ms: int, limit: int) -> list[ApprovalEvent]:
        rows = await self._read_all(pg(OUTBOX_DUE), (now_ms, now_ms, limit))
        return [approval_event_from_row(row) for row in rows]

    async def claim_approval_event(self, event_id: int, *, now_ms: int,
                                   until_ms: int) -> bool:
        async with self._connection() as conn:
            cur = await conn.execute(pg(OUTBOX_CLAIM), (until_ms, event_id, now_ms, now_ms))
            return cur.rowcount == 1

    async def approval_event_delivered(self, event_id: int, *, now_ms: int) -> None:
        async with self._connection() as conn:
            await conn.execute(pg(OUTBOX_DELIVERED), (now_ms, event_id))

    async def approval_event_retry(self, event_id: int, *, attempts: int, next_attempt_ms: int,
                                   error: str) -> None:
        async with self._connection() as conn:
            await conn.execute(pg(OUTBOX_RETRY), (attempts, next_attempt_ms, error, event_id))

    async def approval_event_failed(self, event_id: int, *, now_ms: int, error: str) -> None:
        async with self._connection() as conn:
            await conn.execute(pg(OUTBOX_FAILED), (now_ms, error, event_id))
