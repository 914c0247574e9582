"""Approval series of /metrics: how many approvals wait, per workspace, and for how long.

Like the fleet series, these are read in the background (`ApprovalBacklog.refresh`, one
grouped query every `interval_s`) and only formatted at scrape time, so a scrape never
touches the database. The age of the oldest pending approval is computed at scrape time from
the oldest one's creation, so it keeps growing between refreshes as the real wait does; an
alert on it (config/prometheus/alerts.yml, SessionStudioApprovalWaitingTooLong) fires while
nobody decides. Every workspace is exported, zeros included: an alert on a missing series
never fires.

Decision and webhook counters are request-path counters: `PrometheusObserver`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from session_studio.basics import Periodic
from session_studio.store import Workspace

log = logging.getLogger("session_studio.metrics")


class PendingApprovalReader(Protocol):
    async def pending_approval_stats(self) -> list[tuple[str, int, int | None]]: ...
    async def list_workspaces(self) -> list[Workspace]: ...


@dataclass(frozen=True, slots=True)
class WorkspaceBacklog:
    workspace: str  # its name, as in every other series' `workspace` label
    pending: int
    oldest_created_at_ms: int | None


class ApprovalBacklog:
    """The latest pending-approval figures, re-read in the background."""

    def __init__(self, store: PendingApprovalReader, *, interval_s: float) -> None:
        self._store = store
        self._loop = Periodic("approval-backlog", interval_s, self.refresh, tick_first=True)
        self.latest: tuple[WorkspaceBacklog, ...] | None = None

    async def refresh(self) -> bool:
        """Read the figures again; on failure keep the last ones and log. Never raises."""
        try:
            stats = await self._store.pending_approval_stats()
            workspaces = await self._store.list_workspaces()
        except Exception:
            # Metrics never take anything down: stale figures, a log line, signing goes on.
            log.warning("pending approval figures could not be read; keeping the previous "
                        "ones", exc_info=True)
            return False
        by_id = {workspace_id: (pending, oldest) for workspace_id, pending, oldest in stats}
        self.latest = tuple(
            WorkspaceBacklog(workspace=w.name, pending=by_id.get(w.id, (0, None))[0],
                             oldest_created_at_ms=by_id.get(w.id, (0, None))[1])
            for w in sorted(workspaces, key=lambda w: w.name))
        return True

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


class ApprovalCollector(Collector):
    """Formats the latest backlog at scrape time; never touches the database."""

    def __init__(self, backlog: ApprovalBacklog, *, clock: Callable[[], int]) -> None:
        self._backlog = backlog
        self._clock = clock

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return _families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        latest = self._backlog.latest
        if latest is None:
            return  # never read yet: no figure beats a false zero
        pending, oldest = _families()
        now = self._clock()
        for entry in latest:
            pending.add_metric([entry.workspace], entry.pending)
            age_ms = 0 if entry.oldest_created_at_ms is None else max(
                0, now - entry.oldest_created_at_ms)
            oldest.add_metric([entry.workspace], age_ms / 1000)
        yield pending
        yield oldest


def _families() -> list[GaugeMetricFamily]:
    return [
        GaugeMetricFamily("session_studio_approvals_pending",
                          "Approvals waiting for a decision, by workspace",
                          labels=["workspace"]),
        GaugeMetricFamily("session_studio_approval_oldest_pending_age_seconds",
                          "How long the oldest pending approval of the workspace has waited "
                          "(0 when none waits)", labels=["workspace"]),
    ]
