"""`Store.fleet_snapshot`: the whole fleet in a few queries, as the metrics collector sees it."""

from __future__ import annotations

from session_studio.store import (
    FleetSession,
    FleetSnapshot,
    SessionStatus,
    SessionType,
    SessionUsage,
    SqliteStore,
    Workspace,
)

from .conftest import DAY_MS, MINUTE_MS, T0, UNIT, add, add_agent, deny, make_session, spend

NOW = T0 + 10 * MINUTE_MS


async def snapshot(store: SqliteStore, *, now_ms: int = NOW, per_session: bool = True,
                   denials_since_ms: int = NOW - 5 * MINUTE_MS) -> FleetSnapshot:
    return await store.fleet_snapshot(now_ms=now_ms, window_start_ms=now_ms - DAY_MS,
                                      denials_since_ms=denials_since_ms,
                                      per_session=per_session)


def only(snap: FleetSnapshot, key_hash: str) -> FleetSession:
    [row] = [s for s in snap.sessions if s.key_hash == key_hash]
    return row


async def test_sessions_are_counted_by_type_and_status(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await add_agent(store, workspace, "bot", daily_budget=None)
    await add(store, make_session(workspace))
    await add(store, make_session(workspace))
    revoked = await add(store, make_session(workspace))
    await store.revoke_session(revoked.id, now_ms=T0)
    await add(store, make_session(workspace, lifetime_ms=MINUTE_MS))  # expired by NOW
    await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent))

    counts = (await snapshot(store)).session_counts

    assert counts == {(SessionType.APP, SessionStatus.ACTIVE): 2,
                      (SessionType.APP, SessionStatus.REVOKED): 1,
                      (SessionType.APP, SessionStatus.EXPIRED): 1,
                      (SessionType.AGENT, SessionStatus.ACTIVE): 1}


async def test_active_session_row_carries_its_window_spend_and_limit(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace, daily=200 * UNIT, label="daily payouts"))
    await spend(store, session, 30 * UNIT)
    await spend(store, session, 20 * UNIT, now_ms=T0 + MINUTE_MS)

    row = only(await snapshot(store), session.key_hash)

    assert (row.spent_in_window, row.daily_limit) == (50 * UNIT, 200 * UNIT)
    assert (row.type, row.label, row.limit_unit, row.workspace, row.agent_name) == (
        SessionType.APP, "daily payouts", "USD", "fleet", None)


async def test_spend_older_than_the_window_is_not_counted(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace, lifetime_ms=3 * DAY_MS))
    await spend(store, session, 7 * UNIT)
    later = T0 + DAY_MS + 5 * MINUTE_MS

    row = only(await snapshot(store, now_ms=later, denials_since_ms=later), session.key_hash)

    assert row.spent_in_window == 0


async def test_rotation_successor_shows_the_spend_of_its_lineage(
        store: SqliteStore, workspace: Workspace) -> None:
    old = await add(store, make_session(workspace))
    await spend(store, old, 40 * UNIT)
    successor = make_session(workspace, lineage_id=old.lineage_id, predecessor_id=old.id)
    await store.rotate_session(old, successor, sealed_key=b"k" * 96,
                               credential_hash=b"c" * 32, now_ms=T0 + MINUTE_MS)

    snap = await snapshot(store)

    assert [s.key_hash for s in snap.sessions] == [successor.key_hash]
    assert snap.sessions[0].spent_in_window == 40 * UNIT


async def test_revoked_and_expired_sessions_have_no_per_session_row(
        store: SqliteStore, workspace: Workspace) -> None:
    revoked = await add(store, make_session(workspace))
    await store.revoke_session(revoked.id, now_ms=T0)
    await add(store, make_session(workspace, lifetime_ms=MINUTE_MS))

    assert (await snapshot(store)).sessions == ()


async def test_recent_denials_count_only_denials_since_the_given_time(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    await deny(store, session, now_ms=NOW - 8 * MINUTE_MS)  # before the period
    for _ in range(3):
        await deny(store, session, now_ms=NOW - MINUTE_MS)
    await spend(store, session, UNIT, now_ms=NOW - MINUTE_MS)  # allowed: not a denial

    row = only(await snapshot(store), session.key_hash)

    assert row.recent_denials == 3


async def test_agent_budget_spend_sums_its_usd_lineages_revoked_ones_included(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await add_agent(store, workspace, "payments-bot", daily_budget=500 * UNIT)
    first = await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent))
    second = await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent))
    await spend(store, first, 60 * UNIT)
    await spend(store, second, 15 * UNIT)
    await store.revoke_session(first.id, now_ms=T0 + MINUTE_MS)

    [row] = (await snapshot(store)).agents

    assert (row.name, row.workspace, row.daily_budget, row.spent_in_window) == (
        "payments-bot", "fleet", 500 * UNIT, 75 * UNIT)


async def test_agent_budget_leaves_out_sessions_limited_in_another_unit(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await add_agent(store, workspace, "eth-bot", daily_budget=500 * UNIT)
    in_eth = await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent,
                                           unit="ETH"))
    await spend(store, in_eth, UNIT)

    [row] = (await snapshot(store)).agents

    assert row.spent_in_window == 0


async def test_agents_without_a_budget_are_not_listed(
        store: SqliteStore, workspace: Workspace) -> None:
    await add_agent(store, workspace, "unbounded", daily_budget=None)
    await add_agent(store, workspace, "bounded", daily_budget=UNIT)

    assert [a.name for a in (await snapshot(store)).agents] == ["bounded"]


async def test_without_per_session_rows_counts_and_agents_remain(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await add_agent(store, workspace, "bot", daily_budget=10 * UNIT)
    session = await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent))
    await spend(store, session, 2 * UNIT)

    snap = await snapshot(store, per_session=False)

    assert snap.sessions == ()
    assert snap.session_counts == {(SessionType.AGENT, SessionStatus.ACTIVE): 1}
    assert [a.spent_in_window for a in snap.agents] == [2 * UNIT]


async def test_session_row_carries_the_written_usage(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    await store.record_usage([SessionUsage(session_id=session.id, requests=4,
                                           last_used_at_ms=T0 + 1234)])

    row = only(await snapshot(store), session.key_hash)

    assert (row.request_count, row.last_used_at_ms) == (4, T0 + 1234)
