"""The fleet collector: what a scrape shows from the latest snapshot, and what it never does."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from session_studio.store import SessionType, SqliteStore, Workspace

from session_studio.telemetry import FleetCollector, FleetView

from .conftest import MINUTE_MS, T0, UNIT, add, add_agent, deny, make_session, spend

NOW = T0 + MINUTE_MS
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def view(store: SqliteStore, *, per_session: bool = True) -> FleetView:
    return FleetView(store, interval_s=3600, per_session=per_session,
                     window_mode="rolling_24h", clock=lambda: NOW)


def scrape(fleet: FleetView) -> tuple[str, Series]:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(FleetCollector(fleet))
    text = generate_latest(registry).decode()
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return text, series


def session_labels(key_hash: str, *, label: str = "payouts", agent: str = "",
                   type_: str = "app", unit: str = "USD") -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"session": key_hash[:10], "type": type_, "agent": agent,
                         "label": label, "workspace": "fleet", "unit": unit}.items()))


async def test_active_session_shows_spend_limit_and_utilization(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace, daily=200 * UNIT))
    await spend(store, session, 50 * UNIT)
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    labels = session_labels(session.key_hash)
    assert series["session_studio_session_spent_in_window", labels] == 50.0
    assert series["session_studio_session_daily_limit", labels] == 200.0
    assert series["session_studio_session_utilization_ratio", labels] == 0.25


async def test_session_label_is_the_key_hash_prefix_never_the_whole_hash_or_address(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    fleet = view(store)
    await fleet.refresh()

    text, _ = scrape(fleet)

    assert f'session="{session.key_hash[:10]}"' in text
    assert session.key_hash not in text
    assert session.address.lower() not in text.lower()


async def test_agent_session_is_labelled_with_its_agent(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await add_agent(store, workspace, "payments-bot", daily_budget=None)
    session = await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent))
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    labels = session_labels(session.key_hash, agent="payments-bot", type_="agent")
    assert series["session_studio_session_daily_limit", labels] == 100.0


async def test_every_type_and_status_combination_is_exported_zeros_included(
        store: SqliteStore, workspace: Workspace) -> None:
    await add(store, make_session(workspace))
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    counts = {dict(labels)["type"] + "/" + dict(labels)["status"]: value
              for (name, labels), value in series.items() if name == "session_studio_sessions"}
    assert counts == {"app/active": 1, "app/revoked": 0, "app/expired": 0,
                      "agent/active": 0, "agent/revoked": 0, "agent/expired": 0}


async def test_agent_budget_utilization_is_exported_in_usd(
        store: SqliteStore, workspace: Workspace) -> None:
    agent = await add_agent(store, workspace, "payments-bot", daily_budget=400 * UNIT)
    session = await add(store, make_session(workspace, type_=SessionType.AGENT, agent_id=agent))
    await spend(store, session, 100 * UNIT)
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    labels = (("agent", "payments-bot"), ("unit", "USD"), ("workspace", "fleet"))
    assert series["session_studio_agent_spent_in_window", labels] == 100.0
    assert series["session_studio_agent_daily_budget", labels] == 400.0
    assert series["session_studio_agent_budget_utilization_ratio", labels] == 0.25


async def test_recent_denials_of_a_session_are_exported(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    for _ in range(4):
        await deny(store, session, now_ms=NOW - 1000)
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    labels = session_labels(session.key_hash)
    assert series["session_studio_session_recent_policy_denials", labels] == 4


async def test_per_session_switch_off_leaves_no_session_series(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    fleet = view(store, per_session=False)
    await fleet.refresh()

    text, series = scrape(fleet)

    assert "session_studio_session_" not in text
    assert session.key_hash[:10] not in text
    assert series["session_studio_sessions", (("status", "active"), ("type", "app"))] == 1


async def test_sessions_sharing_every_label_are_exported_once(
        store: SqliteStore, workspace: Workspace) -> None:
    # Same 10-character prefix and labels: only possible by chance, but a scrape must stay
    # valid (no duplicate series); the busier session is the one shown.
    calm = make_session(workspace)
    busy = replace(make_session(workspace), key_hash=calm.key_hash[:10] + "f" * 56)
    await add(store, calm)
    await add(store, busy)
    await spend(store, busy, 90 * UNIT)
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    utilization = [v for (name, _), v in series.items()
                   if name == "session_studio_session_utilization_ratio"]
    assert utilization == [0.9]


async def test_a_failed_refresh_keeps_the_last_snapshot_and_counts_the_failure(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    fleet = view(store)
    await fleet.refresh()
    await store.close()  # the database goes away

    assert not await fleet.refresh()

    _, series = scrape(fleet)
    assert series["session_studio_fleet_snapshot_failures_total", ()] == 1
    assert series["session_studio_fleet_snapshot_timestamp_seconds", ()] == NOW / 1000
    assert series["session_studio_session_daily_limit", session_labels(session.key_hash)] == 100
    await store.open()  # for the fixture's close


async def test_before_any_snapshot_only_the_failure_count_is_exported(
        store: SqliteStore) -> None:
    fleet = view(store)

    _, series = scrape(fleet)

    assert {name for name, _ in series} == {"session_studio_fleet_snapshot_failures_total"}


async def test_session_near_its_daily_limit_carries_the_same_health_badge_as_the_api(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace, daily=100 * UNIT))
    await spend(store, session, 90 * UNIT)
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    badge = tuple(sorted((*session_labels(session.key_hash), ("badge", "near_daily_limit"))))
    assert series["session_studio_session_health", badge] == 1.0


async def test_session_with_room_left_carries_no_health_badge(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace, daily=100 * UNIT))
    await spend(store, session, 10 * UNIT)
    fleet = view(store)
    await fleet.refresh()

    _, series = scrape(fleet)

    assert not [key for key in series if key[0] == "session_studio_session_health"]
