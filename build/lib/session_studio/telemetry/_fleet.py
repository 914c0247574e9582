"""The fleet snapshot behind the session and agent series of /metrics.

A scrape must cost nothing per session: Prometheus may scrape every second and a fleet may
hold tens of thousands of sessions. So a background task reads the whole fleet with a handful
of queries (`Store.fleet_snapshot`) every `snapshot_interval_s`, and the collector only formats
the latest snapshot. When a refresh fails the previous snapshot stays in place (stale figures
beat a gap in every graph) and the failure is counted; its age is exported, so an alert can
tell "stale" from "quiet".
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from session_studio.basics import Periodic
from session_studio.policy import window_start_ms
from session_studio.store import FleetReader, FleetSnapshot

log = logging.getLogger("session_studio.metrics")

# Per-session denials are counted over this trailing period (the "burst" an alert looks at).
DENIAL_PERIOD_MS = 5 * 60_000


class FleetView:
    """The latest fleet snapshot, re-read in the background."""

    def __init__(self, store: FleetReader, *, interval_s: float, per_session: bool,
                 window_mode: str, clock: Callable[[], int]) -> None:
        self._store = store
        self._interval = interval_s
        self.per_session = per_session
        self._window_mode = window_mode
        self._clock = clock
        self._loop = Periodic("fleet-snapshot", interval_s, self.refresh)
        self._started = False
        self.latest: FleetSnapshot | None = None
        self.failures = 0

    async def refresh(self) -> bool:
        """Read a new snapshot; on failure keep the last one, log and count. Never raises."""
        now = self._clock()
        try:
            self.latest = await self._store.fleet_snapshot(
                now_ms=now, window_start_ms=window_start_ms(now, self._window_mode),
                denials_since_ms=now - DENIAL_PERIOD_MS, per_session=self.per_session)
        except Exception:
            # Metrics must never take anything down: a locked or broken database shows as a
            # stale snapshot and a failure count, and signing goes on as before.
            self.failures += 1
            log.warning("fleet snapshot refresh failed; keeping the previous one",
                        exc_info=True)
            return False
        return True

    async def start(self) -> None:
        """One refresh before the first scrape can come, then one every interval."""
        if not self._started:
            self._started = True
            await self.refresh()
            await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._started = False
