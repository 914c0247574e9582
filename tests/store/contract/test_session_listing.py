"""SessionRepository contract: listing filters, sorts and pages the same on every backend, and
a session reads back exactly as it was written (big amounts, JSON columns, bytes)."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest
from session_studio.store import (
    Session,
    SessionFilter,
    SessionStatus,
    SessionUsage,
    Store,
    Workspace,
)

from ..conftest import CHAIN_ID, DAY_MS, T0, new_session

HUGE = 2**255 + 12345  # beyond 64 bits: money columns hold any uint256 exactly


async def _insert(store: Store, workspace: Workspace, **changes: Any) -> Session:
    session = replace(new_session(workspace), **changes)
    await store.insert_session(session, sealed_key=os.urandom(96), credential_hash=None)
    return session


async def test_a_session_reads_back_exactly_as_written(store: Store,
                                                       workspace: Workspace) -> None:
    written = await _insert(store, workspace, per_tx_limit=HUGE, daily_limit=HUGE,
                            max_fee_per_gas=HUGE, recipients=("0x" + "ab" * 20,),
                            contracts={"0x" + "cd" * 20: ("0xa9059cbb",), "0x" + "ef" * 20: None},
                            rate_limit_per_minute=7, chain_ids=(CHAIN_ID, 8453))
    assert await store.get_session_by_id(written.id) == written


async def test_the_chain_filter_lists_only_sessions_scoped_to_that_chain(
        store: Store, workspace: Workspace) -> None:
    base = await _insert(store, workspace, chain_ids=(8453,))
    both = await _insert(store, workspace, chain_ids=(CHAIN_ID, 8453), created_at_ms=T0 + 1)
    await _insert(store, workspace, chain_ids=(CHAIN_ID,), created_at_ms=T0 + 2)
    listed = await store.list_sessions(workspace.id, SessionFilter(chain_id=8453), now_ms=T0)
    assert [s.id for s in listed] == [both.id, base.id]


async def test_the_label_filter_matches_case_insensitively_inside_the_label(
        store: Store, workspace: Workspace) -> None:
    await _insert(store, workspace, label="payroll bot")
    wanted = await _insert(store, workspace, label="Trading Desk", created_at_ms=T0 + 1)
    listed = await store.list_sessions(workspace.id, SessionFilter(label_contains="ding d"),
                                       now_ms=T0)
    assert [s.id for s in listed] == [wanted.id]


async def test_the_status_filter_tells_active_expired_and_revoked_apart(
        store: Store, workspace: Workspace) -> None:
    active = await _insert(store, workspace)
    expired = await _insert(store, workspace, expires_at_ms=T0 + 10, created_at_ms=T0 + 1)
    revoked = await _insert(store, workspace, created_at_ms=T0 + 2)
    await store.revoke_session(revoked.id, now_ms=T0 + 3)
    now = T0 + DAY_MS
    found = {status: [s.id for s in await store.list_sessions(
        workspace.id, SessionFilter(status=status), now_ms=now)] for status in SessionStatus}
    assert found == {SessionStatus.ACTIVE: [active.id], SessionStatus.EXPIRED: [expired.id],
                     SessionStatus.REVOKED: [revoked.id]}


async def test_pages_follow_the_sort_without_repeats_or_gaps(store: Store,
                                                             workspace: Workspace) -> None:
    made = [await _insert(store, workspace, created_at_ms=T0 + i % 3, expires_at_ms=T0 + DAY_MS)
            for i in range(7)]
    expected = [s.id for s in sorted(made, key=lambda s: (s.created_at_ms, s.id))]
    seen: list[str] = []
    query = SessionFilter(sort="created", limit=3)
    while page := await store.list_sessions(workspace.id, query, now_ms=T0):
        seen += [s.id for s in page]
        query = replace(query, after=(query.sort_value(page[-1]), page[-1].id))
    assert seen == expected


async def test_descending_pages_are_the_ascending_order_reversed(store: Store,
                                                                 workspace: Workspace) -> None:
    for i in range(5):
        await _insert(store, workspace, created_at_ms=T0 + i % 2)
    ascending = await store.list_sessions(workspace.id, SessionFilter(sort="created"),
                                          now_ms=T0)
    descending = await store.list_sessions(workspace.id, SessionFilter(sort="-created"),
                                           now_ms=T0)
    assert [s.id for s in descending] == [s.id for s in reversed(ascending)]


@pytest.mark.parametrize("sort", [f"{d}{key}" for key in ("created", "last_used", "expiry")
                                  for d in ("", "-")])
async def test_keyset_pages_of_every_sort_concatenate_to_the_whole_listing(
        store: Store, workspace: Workspace, sort: str) -> None:
    # Ties on every sort value (and never-used sessions, whose last use sorts as 0), under a
    # filter: the cursor's bound must neither repeat a tied row nor skip one.
    made = [await _insert(store, workspace, created_at_ms=T0 + i % 3,
                          expires_at_ms=T0 + DAY_MS + i % 2) for i in range(11)]
    await store.record_usage([SessionUsage(session_id=s.id, requests=1,
                                           last_used_at_ms=T0 + 10 + i % 2)
                              for i, s in enumerate(made) if i % 3])
    await store.revoke_session(made[4].id, now_ms=T0 + 5)
    whole = SessionFilter(sort=sort, status=SessionStatus.ACTIVE, limit=100)
    expected = [s.id for s in await store.list_sessions(workspace.id, whole, now_ms=T0 + 5)]
    assert len(expected) == 10
    seen: list[str] = []
    query = replace(whole, limit=3)
    while page := await store.list_sessions(workspace.id, query, now_ms=T0 + 5):
        seen += [s.id for s in page]
        query = replace(query, after=(query.sort_value(page[-1]), page[-1].id))
    assert seen == expected
