"""ApprovalOutbox contract: events come out due and oldest first, one claimer wins an event
until its claim runs out, and a delivery, a retry or a give-up is recorded as such and never
undone by a process whose claim had already expired.

The rows are set up with SQL (an approval over a real session and reservation, then its
events), as the ledger's hold and decide transactions write them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest
from session_studio.store import ApprovalEvent, Store, Workspace

from ..conftest import ETHER, T0, insert_session, reserve
from .conftest import LedgerProbe, PostgresProbe, SqliteProbe

SECOND = 1000


def _execute(probe: LedgerProbe, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Write through the probe's backend, as the ledger's own transactions would (each
    statement returns rows: PostgreSQL's probe fetches them, so an INSERT says RETURNING)."""
    if isinstance(probe, SqliteProbe):
        with sqlite3.connect(probe._path) as conn:  # commits on leaving
            return list(conn.execute(sql, args).fetchall())
    assert isinstance(probe, PostgresProbe)
    return probe._query(sql.replace("?", "%s"), args)


class Outbox:
    """Approval events of one approval, inserted as the ledger inserts them."""

    def __init__(self, probe: LedgerProbe, approval_id: str, workspace_id: str) -> None:
        self._probe = probe
        self.approval_id = approval_id
        self.workspace_id = workspace_id

    def add(self, kind: str = "approval.pending", *, created_at_ms: int = T0,
            next_attempt_ms: int | None = None) -> int:
        body = json.dumps({"type": kind, "approval_id": self.approval_id})
        [(event_id,)] = _execute(
            self._probe, "INSERT INTO approval_events (approval_id, workspace_id, kind, body,"
            " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (self.approval_id, self.workspace_id, kind, body, created_at_ms,
             created_at_ms if next_attempt_ms is None else next_attempt_ms))
        return int(event_id)

    def row(self, event_id: int) -> dict[str, Any]:
        columns = ("attempts", "next_attempt_at", "claimed_until", "delivered_at",
                   "failed_at", "last_error")
        [values] = _execute(self._probe, f"SELECT {', '.join(columns)} FROM approval_events"
                            " WHERE id = ?", (event_id,))
        return dict(zip(columns, values, strict=True))


@pytest.fixture
async def outbox(store: Store, probe: LedgerProbe, workspace: Workspace) -> Outbox:
    session = await insert_session(store, workspace)
    _, reservation = await reserve(store, session, ETHER)
    assert reservation is not None
    _execute(probe, "INSERT INTO approvals (id, workspace_id, session_id, lineage_id,"
             " reservation_id, method, chain_id, status, cost, unit, summary, detail, payload,"
             " created_at, expires_at) VALUES (?, ?, ?, ?, ?, 'eth_sendTransaction', 31337,"
             " 'pending', '1', 'ETH', 'transfer 1 ETH', '{}', '{}', ?, ?) RETURNING id",
             ("appr-1", workspace.id, session.id, session.lineage_id, reservation.id, T0,
              T0 + 3600 * SECOND))
    return Outbox(probe, "appr-1", workspace.id)


def _ids(events: list[ApprovalEvent]) -> list[int]:
    return [e.id for e in events]


async def test_due_events_come_oldest_first_with_their_exact_body(
        store: Store, outbox: Outbox) -> None:
    first = outbox.add("approval.pending")
    second = outbox.add("approval.approved", created_at_ms=T0 + SECOND)

    events = await store.due_approval_events(now_ms=T0 + 2 * SECOND, limit=10)

    assert _ids(events) == [first, second]
    assert events[0] == ApprovalEvent(
        id=first, approval_id="appr-1", workspace_id=outbox.workspace_id,
        kind="approval.pending", created_at_ms=T0, attempts=0,
        body=json.dumps({"type": "approval.pending", "approval_id": "appr-1"}))


async def test_an_event_is_not_due_before_its_next_attempt(
        store: Store, outbox: Outbox) -> None:
    later = outbox.add(next_attempt_ms=T0 + 10 * SECOND)

    assert await store.due_approval_events(now_ms=T0 + 9 * SECOND, limit=10) == []
    assert _ids(await store.due_approval_events(now_ms=T0 + 10 * SECOND, limit=10)) == [later]


async def test_due_events_are_limited(store: Store, outbox: Outbox) -> None:
    ids = [outbox.add() for _ in range(3)]

    assert _ids(await store.due_approval_events(now_ms=T0, limit=2)) == ids[:2]


async def test_only_one_of_two_claims_wins_an_event(store: Store, outbox: Outbox) -> None:
    event = outbox.add()

    first = await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)
    second = await store.claim_approval_event(event, now_ms=T0 + SECOND,
                                              until_ms=T0 + 31 * SECOND)

    assert (first, second) == (True, False)


async def test_concurrent_claims_of_one_event_have_one_winner(
        store: Store, outbox: Outbox) -> None:
    event = outbox.add()

    wins = await asyncio.gather(*(
        store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)
        for _ in range(8)))

    assert sorted(wins) == [False] * 7 + [True]


async def test_a_claimed_event_is_not_due_until_its_claim_runs_out(
        store: Store, outbox: Outbox) -> None:
    event = outbox.add()
    assert await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)

    assert await store.due_approval_events(now_ms=T0 + 29 * SECOND, limit=10) == []
    assert _ids(await store.due_approval_events(now_ms=T0 + 30 * SECOND, limit=10)) == [event]
    assert await store.claim_approval_event(event, now_ms=T0 + 30 * SECOND,
                                            until_ms=T0 + 60 * SECOND)


async def test_a_delivered_event_is_never_due_or_claimed_again(
        store: Store, outbox: Outbox) -> None:
    event = outbox.add()
    assert await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)

    await store.approval_event_delivered(event, now_ms=T0 + SECOND)

    assert await store.due_approval_events(now_ms=T0 + 3600 * SECOND, limit=10) == []
    assert not await store.claim_approval_event(event, now_ms=T0 + 3600 * SECOND,
                                                until_ms=T0 + 3630 * SECOND)
    row = outbox.row(event)
    assert (row["delivered_at"], row["attempts"], row["claimed_until"]) == (T0 + SECOND, 1,
                                                                            None)


async def test_a_retry_releases_the_claim_and_waits_for_its_next_attempt(
        store: Store, outbox: Outbox) -> None:
    event = outbox.add()
    assert await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)

    await store.approval_event_retry(event, attempts=1, next_attempt_ms=T0 + 2 * SECOND,
                                     error="HTTP 500")

    assert await store.due_approval_events(now_ms=T0 + SECOND, limit=10) == []
    [due] = await store.due_approval_events(now_ms=T0 + 2 * SECOND, limit=10)
    assert (due.id, due.attempts) == (event, 1)
    assert outbox.row(event)["last_error"] == "HTTP 500"


async def test_a_rescheduled_event_cannot_be_claimed_early_from_a_stale_due_list(
        store: Store, outbox: Outbox) -> None:
    event = outbox.add()
    assert await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)
    await store.approval_event_retry(event, attempts=1, next_attempt_ms=T0 + 8 * SECOND,
                                     error="HTTP 503")

    assert not await store.claim_approval_event(event, now_ms=T0 + SECOND,
                                                until_ms=T0 + 31 * SECOND)


async def test_a_failed_event_is_kept_with_its_error_and_never_due_again(
        store: Store, outbox: Outbox) -> None:
    event = outbox.add()
    assert await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)

    await store.approval_event_failed(event, now_ms=T0 + SECOND, error="connection refused")

    assert await store.due_approval_events(now_ms=T0 + 3600 * SECOND, limit=10) == []
    row = outbox.row(event)
    assert (row["failed_at"], row["last_error"], row["attempts"]) == (
        T0 + SECOND, "connection refused", 1)


async def test_a_late_retry_never_undoes_a_delivery(store: Store, outbox: Outbox) -> None:
    # Process A's claim ran out mid-POST; B took the event over and delivered it; A's POST then
    # failed and it records a retry: the delivery stands.
    event = outbox.add()
    assert await store.claim_approval_event(event, now_ms=T0, until_ms=T0 + 30 * SECOND)
    assert await store.claim_approval_event(event, now_ms=T0 + 30 * SECOND,
                                            until_ms=T0 + 60 * SECOND)
    await store.approval_event_delivered(event, now_ms=T0 + 31 * SECOND)

    await store.approval_event_retry(event, attempts=1, next_attempt_ms=T0 + 32 * SECOND,
                                     error="timeout")
    await store.approval_event_failed(event, now_ms=T0 + 33 * SECOND, error="timeout")
    await store.approval_event_delivered(event, now_ms=T0 + 34 * SECOND)

    row = outbox.row(event)
    assert (row["delivered_at"], row["failed_at"], row["last_error"]) == (
        T0 + 31 * SECOND, None, None)

