"""How every door writes an instant: ISO 8601, UTC, whole seconds, a `Z` (CONTRACT.md:
"times are ISO 8601 UTC strings"). One function, so the API, the CLI, the RPC plane and the
webhook never disagree on a format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso(ms: int) -> str: ...
@overload
def iso(ms: None) -> None: ...
@overload
def iso(ms: int | None) -> str | None: ...
def iso(ms: int | None) -> str | None:
    """Unix milliseconds as "2026-12-03T07:07:51Z"; None stays None (never happened)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
