"""The spend window: the last 24 hours, or the UTC calendar day."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.policy import window_start_ms

DAY_MS = 86_400_000
MIDNIGHT_MS = int(datetime(2025, 10, 9, tzinfo=UTC).timestamp() * 1000)


def test_rolling_window_starts_24_hours_before_now() -> None:
    assert window_start_ms(MIDNIGHT_MS + 12_345) == MIDNIGHT_MS + 12_345 - DAY_MS


def test_rolling_window_is_the_default_mode() -> None:
    assert window_start_ms(MIDNIGHT_MS) == window_start_ms(MIDNIGHT_MS, "rolling_24h")


def test_utc_day_window_starts_at_the_last_utc_midnight() -> None:
    assert window_start_ms(MIDNIGHT_MS + 13 * 3_600_000 + 7, "utc_day") == MIDNIGHT_MS


def test_utc_day_window_at_midnight_starts_now() -> None:
    assert window_start_ms(MIDNIGHT_MS, "utc_day") == MIDNIGHT_MS


def test_utc_day_window_one_millisecond_before_midnight_is_the_previous_day() -> None:
    assert window_start_ms(MIDNIGHT_MS - 1, "utc_day") == MIDNIGHT_MS - DAY_MS


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**42))
def test_utc_day_window_is_the_midnight_at_or_before_now(now_ms: int) -> None:
    start = window_start_ms(now_ms, "utc_day")
    assert start % DAY_MS == 0 and start <= now_ms < start + DAY_MS
