"""Health badges: approaching expiry (under 10% of lifetime or 1 h), near the daily limit."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.policy import HealthBadge, health_badges

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
T0 = 1_760_000_000_000
EXPIRY = HealthBadge.APPROACHING_EXPIRY
NEAR_LIMIT = HealthBadge.NEAR_DAILY_LIMIT


def badges(*, lifetime_ms: int = 30 * DAY_MS, left_ms: int = 15 * DAY_MS, spent: int = 0,
           daily: int = 100, active: bool = True) -> tuple[HealthBadge, ...]:
    expires = T0 + lifetime_ms
    return health_badges(created_at_ms=T0, expires_at_ms=expires, now_ms=expires - left_ms,
                         spent_in_window=spent, daily_limit=daily, active=active)


def test_healthy_session_has_no_badges() -> None:
    assert badges() == ()


def test_less_than_an_hour_left_is_approaching_expiry() -> None:
    assert badges(lifetime_ms=2 * HOUR_MS, left_ms=HOUR_MS - 1) == (EXPIRY,)


def test_exactly_an_hour_left_of_a_two_hour_session_is_not_approaching_expiry() -> None:
    assert badges(lifetime_ms=2 * HOUR_MS, left_ms=HOUR_MS) == ()


def test_less_than_a_tenth_of_the_lifetime_left_is_approaching_expiry() -> None:
    assert badges(lifetime_ms=100 * DAY_MS, left_ms=10 * DAY_MS - 1) == (EXPIRY,)


def test_exactly_a_tenth_of_the_lifetime_left_is_not_approaching_expiry() -> None:
    assert badges(lifetime_ms=100 * DAY_MS, left_ms=10 * DAY_MS) == ()


def test_eighty_percent_of_the_daily_limit_spent_is_near_the_limit() -> None:
    assert badges(spent=80, daily=100) == (NEAR_LIMIT,)


def test_just_under_eighty_percent_spent_is_not_near_the_limit() -> None:
    assert badges(spent=7_999, daily=10_000) == ()


def test_both_badges_can_show_together() -> None:
    assert badges(left_ms=1, spent=100) == (EXPIRY, NEAR_LIMIT)


def test_inactive_session_has_no_badges() -> None:
    assert badges(left_ms=1, spent=100, active=False) == ()


@settings(max_examples=300, deadline=None)
@given(
    lifetime=st.integers(min_value=1, max_value=400 * DAY_MS),
    left_fraction=st.fractions(min_value=0, max_value=1),
    daily=st.integers(min_value=1, max_value=10**30),
    spent_fraction=st.fractions(min_value=0, max_value=2),
)
def test_badges_follow_the_thresholds(lifetime: int, left_fraction: Fraction, daily: int,
                                      spent_fraction: Fraction) -> None:
    left = int(lifetime * left_fraction)
    spent = int(daily * spent_fraction)
    expected = []
    if left < HOUR_MS or 10 * left < lifetime:
        expected.append(EXPIRY)
    if 100 * spent >= 80 * daily:
        expected.append(NEAR_LIMIT)
    got = badges(lifetime_ms=lifetime, left_ms=left, spent=spent, daily=daily)
    assert got == tuple(expected)
