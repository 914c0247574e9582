"""Approval series: pending approvals and the oldest one's wait per workspace (from a
background read, aged at scrape time), decisions by outcome, webhook attempts by result."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from session_studio.store import Workspace

from session_studio.telemetry import ApprovalBacklog, ApprovalCollector, PrometheusObserver

from .conftest import MINUTE_MS, T0

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class FakeApprovals:
    """`pending_approval_stats` as the store answers it (workspace id, count, oldest)."""

    def __init__(self, stats: list[tuple[str, int, int | None]]) -> None:
        self.stats = stats
        self.broken = False

    async def pending_approval_stats(self) -> list[tuple[str, int, int | None]]:
        if self.broken:
            raise OSError("database is locked")
        return self.stats

    async def list_workspaces(self) -> list[Workspace]:
        return [Workspace(id="w-ops", name="ops", created_at_ms=T0),
                Workspace(id="w-shop", name="shop", created_at_ms=T0)]


def series(registry: CollectorRegistry) -> Series:
    found: Series = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def scrape(backlog: ApprovalBacklog, now_ms: int) -> Series:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ApprovalCollector(backlog, clock=lambda: now_ms))
    return series(registry)


async def test_pending_approvals_and_the_oldest_wait_are_shown_per_workspace() -> None:
    backlog = ApprovalBacklog(FakeApprovals([("w-ops", 3, T0)]), interval_s=3600)
    assert await backlog.refresh()

    found = scrape(backlog, T0 + 20 * MINUTE_MS)

    assert found["session_studio_approvals_pending", (("workspace", "ops"),)] == 3
    assert found["session_studio_approval_oldest_pending_age_seconds",
                 (("workspace", "ops"),)] == 1200


async def test_a_workspace_with_nothing_pending_shows_zeros() -> None:
    backlog = ApprovalBacklog(FakeApprovals([("w-ops", 3, T0)]), interval_s=3600)
    await backlog.refresh()

    found = scrape(backlog, T0)

    assert found["session_studio_approvals_pending", (("workspace", "shop"),)] == 0
    assert found["session_studio_approval_oldest_pending_age_seconds",
                 (("workspace", "shop"),)] == 0


async def test_the_oldest_wait_grows_between_refreshes() -> None:
    backlog = ApprovalBacklog(FakeApprovals([("w-ops", 1, T0)]), interval_s=3600)
    await backlog.refresh()

    earlier, later = scrape(backlog, T0 + MINUTE_MS), scrape(backlog, T0 + 2 * MINUTE_MS)

    key = ("session_studio_approval_oldest_pending_age_seconds", (("workspace", "ops"),))
    assert (earlier[key], later[key]) == (60, 120)


async def test_a_failed_refresh_keeps_the_previous_figures() -> None:
    store = FakeApprovals([("w-ops", 2, T0)])
    backlog = ApprovalBacklog(store, interval_s=3600)
    await backlog.refresh()
    store.broken = True

    assert not await backlog.refresh()
    assert scrape(backlog, T0)["session_studio_approvals_pending", (("workspace", "ops"),)] == 2


def test_before_the_first_read_no_figure_is_shown() -> None:
    backlog = ApprovalBacklog(FakeApprovals([]), interval_s=3600)

    assert not [name for name, _ in scrape(backlog, T0) if "approval" in name]


def test_decisions_are_counted_by_outcome_from_zero() -> None:
    registry = CollectorRegistry(auto_describe=True)
    observer = PrometheusObserver(registry, version="test")
    observer.approval_decided("approved")
    observer.approval_decided("expired")
    observer.approval_decided("expired")
    observer.approval_decided("nonsense")  # a caller's bug: not a new series

    found = series(registry)

    decided = {dict(labels)["outcome"]: value for (name, labels), value in found.items()
               if name == "session_studio_approval_decisions_total"}
    assert decided == {"approved": 1, "rejected": 0, "expired": 2}


def test_webhook_attempts_are_counted_by_result_from_zero() -> None:
    registry = CollectorRegistry(auto_describe=True)
    observer = PrometheusObserver(registry, version="test")
    observer.webhook_delivery("retried")
    observer.webhook_delivery("delivered")

    found = series(registry)

    results = {dict(labels)["result"]: value for (name, labels), value in found.items()
               if name == "session_studio_approval_webhook_deliveries_total"}
    assert results == {"delivered": 1, "retried": 1, "failed": 0}
