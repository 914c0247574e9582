"""Usage without a write per request: `Store.record_usage` and the in-memory `UsageRecorder`."""

from __future__ import annotations

import asyncio

from session_studio.store import SessionUsage, SqliteStore, Workspace

from session_studio.telemetry import UsageRecorder

from .conftest import T0, add, make_session


async def test_record_usage_adds_to_the_request_count(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))

    await store.record_usage([SessionUsage(session_id=session.id, requests=3,
                                           last_used_at_ms=T0)])
    await store.record_usage([SessionUsage(session_id=session.id, requests=2,
                                           last_used_at_ms=T0 + 1)])

    assert (await store.get_session_by_id(session.id)).request_count == 5


async def test_record_usage_never_moves_last_used_back(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))

    await store.record_usage([SessionUsage(session_id=session.id, requests=1,
                                           last_used_at_ms=T0 + 500)])
    # Another process's older batch arriving late.
    await store.record_usage([SessionUsage(session_id=session.id, requests=1,
                                           last_used_at_ms=T0 + 100)])

    assert (await store.get_session_by_id(session.id)).last_used_at_ms == T0 + 500


async def test_recorder_writes_nothing_until_it_flushes(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    recorder = UsageRecorder(store, flush_interval_s=3600)

    for offset in range(5):
        recorder.session_used(session.id, T0 + offset)

    assert (await store.get_session_by_id(session.id)).request_count == 0
    assert recorder.pending_requests == 5


async def test_recorder_flush_writes_counts_and_latest_use_per_session(
        store: SqliteStore, workspace: Workspace) -> None:
    busy = await add(store, make_session(workspace))
    quiet = await add(store, make_session(workspace))
    recorder = UsageRecorder(store, flush_interval_s=3600)
    for offset in (30, 10, 20):
        recorder.session_used(busy.id, T0 + offset)
    recorder.session_used(quiet.id, T0)

    assert await recorder.flush()

    stored = await store.get_session_by_id(busy.id)
    assert (stored.request_count, stored.last_used_at_ms) == (3, T0 + 30)
    assert (await store.get_session_by_id(quiet.id)).request_count == 1
    assert recorder.pending_requests == 0


async def test_recorder_stop_writes_what_is_left(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    recorder = UsageRecorder(store, flush_interval_s=3600)
    await recorder.start()
    recorder.session_used(session.id, T0)
    recorder.session_used(session.id, T0)

    await recorder.stop()

    assert (await store.get_session_by_id(session.id)).request_count == 2


async def test_failed_flush_keeps_the_counts_for_the_next_one(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    recorder = UsageRecorder(store, flush_interval_s=3600)
    recorder.session_used(session.id, T0)
    await store.close()  # the database goes away under the recorder

    assert not await recorder.flush()

    await store.open()
    recorder.session_used(session.id, T0 + 1)
    assert await recorder.flush()
    stored = await store.get_session_by_id(session.id)
    assert (stored.request_count, stored.last_used_at_ms) == (2, T0 + 1)


async def test_periodic_flush_writes_without_being_asked(
        store: SqliteStore, workspace: Workspace) -> None:
    session = await add(store, make_session(workspace))
    recorder = UsageRecorder(store, flush_interval_s=0.05)
    await recorder.start()
    try:
        recorder.session_used(session.id, T0)
        for _ in range(200):
            if (await store.get_session_by_id(session.id)).request_count == 1:
                break
            await asyncio.sleep(0.01)
        assert (await store.get_session_by_id(session.id)).request_count == 1
    finally:
        await recorder.stop()
