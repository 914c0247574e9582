"""What observability reads and writes: the fleet snapshot for metrics, the usage counters.

Consistency contract: neither takes part in a decision. `fleet_snapshot` reads committed data
and may be a few seconds stale (its queries need not share one snapshot); `record_usage` is
one transaction per batch and only moves `last_used_at` forward, so batches flushed out of
order or by two processes never move it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._records import FleetSnapshot, SessionUsage


class FleetReader(Protocol):
    async def fleet_snapshot(
        self, *, now_ms: int, window_start_ms: int, denials_since_ms: int, per_session: bool,
    ) -> FleetSnapshot:
        """Sessions counted by type and status, every agent with a daily budget and the spend
        of its USD-limited lineages, and (if `per_session`) every active session with its
        window spend and denials since `denials_since_ms`: a handful of queries for the whole
        fleet, whatever its size, so metrics never cost a query per session per scrape."""


class UsageWriter(Protocol):
    async def record_usage(self, batch: Sequence[SessionUsage]) -> None:
        """Add each entry's requests to its session's `request_count` and move
        `last_used_at` forward (never back), all in one transaction."""
