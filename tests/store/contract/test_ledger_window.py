"""The rolling 24 h window, kept in per-minute buckets.

Spend older than the window stops counting; the minute that straddles the window's start
counts whole, so rounding can only over-count (a few seconds of extra caution, never a slip
over the cap).
"""

from __future__ import annotations

from session_studio.policy import ReasonCode, window_start_ms
from session_studio.store import Store, Workspace

from ..conftest import DAY_MS, ETHER, MINUTE_MS, T0, insert_session, reserve

# T0 is 30 s into its minute.
NEXT_MINUTE_AFTER_A_DAY = T0 + DAY_MS + MINUTE_MS
STRADDLING_AFTER_A_DAY = T0 + DAY_MS + 10_000  # window starts 10 s after T0, same minute


async def test_spend_older_than_24h_no_longer_counts(store: Store,
                                                     workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=8 * ETHER, daily=10 * ETHER)
    await reserve(store, session, 8 * ETHER, now_ms=T0)
    decision, _ = await reserve(store, session, 8 * ETHER, now_ms=NEXT_MINUTE_AFTER_A_DAY)
    assert decision.allowed


async def test_spent_in_window_drops_spend_older_than_24h(store: Store,
                                                          workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=8 * ETHER, daily=10 * ETHER)
    await reserve(store, session, 8 * ETHER, now_ms=T0)
    assert await store.spent_in_window(
        session.lineage_id, window_start_ms=window_start_ms(NEXT_MINUTE_AFTER_A_DAY)) == 0


async def test_spend_just_under_24h_old_still_counts(store: Store,
                                                     workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=8 * ETHER, daily=10 * ETHER)
    await reserve(store, session, 8 * ETHER, now_ms=T0)
    decision, _ = await reserve(store, session, 8 * ETHER, now_ms=T0 + DAY_MS - 1)
    assert decision.reason is ReasonCode.DAILY_LIMIT_EXCEEDED


async def test_spend_in_the_minute_straddling_the_window_start_still_counts(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=8 * ETHER, daily=10 * ETHER)
    await reserve(store, session, 8 * ETHER, now_ms=T0)
    decision, _ = await reserve(store, session, 8 * ETHER, now_ms=STRADDLING_AFTER_A_DAY)
    assert decision.reason is ReasonCode.DAILY_LIMIT_EXCEEDED
