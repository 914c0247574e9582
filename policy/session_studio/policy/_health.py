"""Health badges (POLICY.md), computed in one place for the API, the page, the CLI and metrics."""

from __future__ import annotations

from enum import StrEnum

HOUR_MS = 3_600_000


class HealthBadge(StrEnum):
    APPROACHING_EXPIRY = "approaching_expiry"
    NEAR_DAILY_LIMIT = "near_daily_limit"


def health_badges(*, created_at_ms: int, expires_at_ms: int, now_ms: int, spent_in_window: int,
                  daily_limit: int, active: bool) -> tuple[HealthBadge, ...]:
    """Badges of an active session; a revoked or expired one has none to warn about."""
    if not active:
        return ()
    badges: list[HealthBadge] = []
    left = expires_at_ms - now_ms
    lifetime = max(expires_at_ms - created_at_ms, 1)
    if left < HOUR_MS or left * 10 < lifetime:
        badges.append(HealthBadge.APPROACHING_EXPIRY)
    if daily_limit > 0 and spent_in_window * 10 >= daily_limit * 8:
        badges.append(HealthBadge.NEAR_DAILY_LIMIT)
    return tuple(badges)
