"""Per-session usage (`last_used_at`, `request_count`) without a database write per request.

The RPC plane tells the recorder about every call it serves for a session
(`RpcObserver.session_used`); the recorder only adds to a dict in memory, on the event loop,
so the request path never waits for SQLite's write lock. A background task writes what has
gathered in one transaction every `flush_interval_s` (1 s by default), and `stop()` writes the
remainder once the RPC listener is closed, so a graceful shutdown loses nothing. A kill -9
loses at most one period, which is the accuracy CONTRACT.md asks of these figures.

Counts are added in the database (`request_count = request_count + n`), never overwritten, so
several `serve` processes on one database, and restarts, add up. A failed write keeps the
counts in memory and tries again with the next period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from session_studio.basics import Periodic
from session_studio.store import SessionUsage, UsageWriter

log = logging.getLogger("session_studio.usage")


@dataclass(slots=True)
class _Pending:
    requests: int
    last_used_at_ms: int


class UsageRecorder:
    """Counts calls per session in memory and writes them in batches."""

    def __init__(self, store: UsageWriter, *, flush_interval_s: float) -> None:
        self._store = store
        self._interval = flush_interval_s
        self._pending: dict[str, _Pending] = {}
        self._loop = Periodic("usage-flush", self._interval, self.flush)

    def session_used(self, session_id: str, now_ms: int) -> None:
        entry = self._pending.get(session_id)
        if entry is None:
            self._pending[session_id] = _Pending(requests=1, last_used_at_ms=now_ms)
        else:
            entry.requests += 1
            entry.last_used_at_ms = max(entry.last_used_at_ms, now_ms)

    @property
    def pending_requests(self) -> int:
        """Calls counted but not written yet."""
        return sum(entry.requests for entry in self._pending.values())

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        """Stop the periodic task and write what is left (call after the RPC plane stopped)."""
        await self._loop.stop()
        if not await self.flush():
            log.error("usage of %d requests could not be written at shutdown",
                      self.pending_requests)

    async def flush(self) -> bool:
        """Write the gathered usage in one transaction; False (counts kept) if that failed."""
        if not self._pending:
            return True
        # Swapped on the event loop before the first await: calls counted while the write is
        # in flight land in the new dict and go with the next flush.
        batch, self._pending = self._pending, {}
        try:
            await self._store.record_usage([
                SessionUsage(session_id=session_id, requests=entry.requests,
                             last_used_at_ms=entry.last_used_at_ms)
                for session_id, entry in batch.items()])
        except Exception:
            # Whatever failed (a locked or full disk, a driver error), usage is bookkeeping:
            # keep the counts, never let the failure reach the task or the request path.
            log.warning("usage flush failed; %d sessions kept for the next attempt",
                        len(batch), exc_info=True)
            for session_id, entry in batch.items():
                self._merge_back(session_id, entry)
            return False
        return True

    def _merge_back(self, session_id: str, entry: _Pending) -> None:
        current = self._pending.get(session_id)
        if current is None:
            self._pending[session_id] = entry
        else:
            current.requests += entry.requests
            current.last_used_at_ms = max(current.last_used_at_ms, entry.last_used_at_ms)
