"""UsageWriter and FleetReader contract: usage adds up and only moves last-used forward; the
fleet snapshot counts sessions by status and sums the window's spend per session."""

from __future__ import annotations

from session_studio.store import SessionStatus, SessionType, SessionUsage, Store, Workspace

from ..conftest import DAY_MS, ETHER, MINUTE_MS, T0, insert_session, reserve


async def test_usage_batches_add_requests_and_never_move_last_used_back(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await store.record_usage([SessionUsage(session_id=session.id, requests=3,
                                           last_used_at_ms=T0 + 50)])
    await store.record_usage([SessionUsage(session_id=session.id, requests=2,
                                           last_used_at_ms=T0 + 10)])
    read = await store.get_session_by_id(session.id)
    assert (read.request_count, read.last_used_at_ms) == (5, T0 + 50)


async def test_the_fleet_snapshot_counts_sessions_by_type_and_status(
        store: Store, workspace: Workspace) -> None:
    await insert_session(store, workspace)
    revoked = await insert_session(store, workspace)
    await store.revoke_session(revoked.id, now_ms=T0)
    await insert_session(store, workspace, lifetime_ms=MINUTE_MS)
    snapshot = await store.fleet_snapshot(now_ms=T0 + 2 * MINUTE_MS, window_start_ms=T0 - DAY_MS,
                                          denials_since_ms=T0, per_session=False)
    assert {k: v for k, v in snapshot.session_counts.items() if v} == {
        (SessionType.APP, SessionStatus.ACTIVE): 1,
        (SessionType.APP, SessionStatus.REVOKED): 1,
        (SessionType.APP, SessionStatus.EXPIRED): 1}


async def test_the_fleet_snapshot_sums_each_active_sessions_spend_and_denials(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace, per_tx=10 * ETHER, daily=100 * ETHER)
    await reserve(store, session, 3 * ETHER)
    await reserve(store, session, 4 * ETHER)
    await reserve(store, session, 11 * ETHER)  # over the per-tx limit: a denial
    snapshot = await store.fleet_snapshot(now_ms=T0, window_start_ms=T0 - DAY_MS,
                                          denials_since_ms=T0 - MINUTE_MS, per_session=True)
    [row] = snapshot.sessions
    assert (row.key_hash, row.spent_in_window, row.recent_denials) == (
        session.key_hash, 7 * ETHER, 1)


async def test_spend_by_hour_groups_the_lineages_spend_by_the_hours_start(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, 1 * ETHER, now_ms=T0)
    await reserve(store, session, 2 * ETHER, now_ms=T0 + 60 * MINUTE_MS)
    hour = T0 // (60 * MINUTE_MS) * 60 * MINUTE_MS
    assert await store.spend_by_hour([session.lineage_id], since_ms=T0 - DAY_MS) == {
        hour: 1 * ETHER, hour + 60 * MINUTE_MS: 2 * ETHER}


async def test_recent_decisions_come_newest_first_with_their_tx_hash(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, 1 * ETHER, now_ms=T0)
    await reserve(store, session, 11 * ETHER, now_ms=T0 + 1)
    decisions = await store.recent_decisions(session.id, limit=10)
    assert [(d.at_ms, d.allowed, d.tx_hash is not None) for d in decisions] == [
        (T0 + 1, False, False), (T0, True, True)]
