"""Operator-driven rotation on a schedule: agents registered with `rotate_every` get their
active sessions rotated by the server itself once they are that old.

Agents hold their agent token, not a session token, so they keep working across rotations
(`eth_accounts` and `studio_getSessionStatuses` show the successor). Several replicas may run
this at once: a session rotated by another one fails with Conflict here and is skipped, since
rotation revokes the predecessor inside the same transaction that checks it is still active.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from session_studio.basics import Periodic
from session_studio.store import Conflict, SessionFilter, SessionStatus, StoreError

from ._sessions import SessionService

log = logging.getLogger("session_studio.rotation")
ACTOR = "scheduler:rotate_every"


class RotationSchedule:
    def __init__(self, *, service: SessionService, clock: Callable[[], int],
                 interval_s: float = 30.0) -> None:
        self._service = service
        self._clock = clock
        self._interval = interval_s
        self._loop = Periodic("rotation-schedule", interval_s, self._round, tick_first=True)

    async def run_once(self) -> int:
        """Rotate every session that is due; returns how many were rotated."""
        rotated = 0
        now = self._clock()
        for ws in await self._service.list_workspaces():
            for agent in await self._service.list_agents(ws):
                if agent.rotate_every_s is None:
                    continue
                due_before = now - agent.rotate_every_s * 1000
                active = await self._service.list_sessions(ws, SessionFilter(
                    agent_name=agent.name, status=SessionStatus.ACTIVE, limit=100_000))
                for session in active:
                    if session.created_at_ms > due_before:
                        continue
                    with contextlib.suppress(Conflict):
                        await self._service.rotate(ws, session.key_hash, actor=ACTOR)
                        rotated += 1
        return rotated

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _round(self) -> None:
        try:
            count = await self.run_once()
            if count:
                log.info("rotated sessions on schedule", extra={"count": count})
        except StoreError:
            log.warning("scheduled rotation failed; retrying next round", exc_info=True)
