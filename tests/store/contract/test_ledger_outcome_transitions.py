"""Outcome transitions only move forward, for every backend (issue 12, item 3).

Since any surviving replica finishes a send another replica signed and left `signed` (the
settlement sweep, proxy/_recovery.py), two writers can record one send's outcome: the survivor,
and the owner if it was only slow (a paused process). Whichever comes second must not undo the
first: `record_outcome` moves a send from `reserved`/`signed` to `unknown` or `broadcast`, or
from `unknown` to `broadcast`, never anything else; `release` only gives back a send nobody saw
reach a node (`reserved`/`signed`/`unknown`). A released or settled send is final. Before this,
a late `unknown` reopened a released send and settlement then took its spend out of the window
a second time, and a late "nonce too low" released a send a survivor had seen mined.
"""

from __future__ import annotations

import asyncio

import pytest
from session_studio.store import ReservationStatus, Store, Workspace

from ..conftest import T0, insert_session
from .conftest import LedgerProbe
from .test_ledger_settle import COST, REAL_WEI, _bucket_total, _send


async def test_a_late_unknown_never_reopens_a_released_send(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    # A survivor's rebroadcast was refused (released); the paused owner then records `unknown`.
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=None)
    assert await store.release(held, now_ms=T0 + 2, return_nonce=False)
    assert not await store.record_outcome(held, status=ReservationStatus.UNKNOWN, now_ms=T0 + 3)
    assert probe.reservation_status(held.id) == "released"
    assert not await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                                  now_ms=T0 + 4)
    assert _bucket_total(probe, session.lineage_id) == 0  # given back once, not twice


async def test_a_late_release_never_gives_back_a_send_a_survivor_saw_broadcast(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    # The owner's own broadcast comes after the survivor's mined one: "nonce too low", which the
    # send path reads as "never left the sidecar". The survivor knows better.
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=None)
    assert await store.record_outcome(held, status=ReservationStatus.BROADCAST, now_ms=T0 + 2)
    assert not await store.release(held, now_ms=T0 + 3, return_nonce=True)
    assert probe.reservation_status(held.id) == "broadcast"
    assert _bucket_total(probe, session.lineage_id) == COST
    assert held.nonce is not None and held.nonce in probe.live_nonces()
    assert await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                              now_ms=T0 + 4)


@pytest.mark.parametrize("late", [ReservationStatus.UNKNOWN, ReservationStatus.BROADCAST])
async def test_a_late_outcome_never_rewrites_a_settled_send(
        store: Store, workspace: Workspace, probe: LedgerProbe,
        late: ReservationStatus) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=ReservationStatus.BROADCAST)
    assert await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                              now_ms=T0 + 5)
    assert not await store.record_outcome(held, status=late, now_ms=T0 + 6)
    assert probe.reservation_status(held.id) == "settled"
    assert await store.unbroadcast_sends() == []
    assert _bucket_total(probe, session.lineage_id) == REAL_WEI


async def test_a_late_unknown_never_demotes_a_broadcast_send(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    # The owner's broadcast timed out after a survivor's was accepted: the node has it.
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=ReservationStatus.BROADCAST)
    assert not await store.record_outcome(held, status=ReservationStatus.UNKNOWN, now_ms=T0 + 2)
    assert probe.reservation_status(held.id) == "broadcast"


async def test_an_unknown_send_can_still_be_found_broadcast_or_released(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    found = await _send(store, session, status=ReservationStatus.UNKNOWN)
    refused = await _send(store, session, status=ReservationStatus.UNKNOWN)
    assert await store.record_outcome(found, status=ReservationStatus.BROADCAST, now_ms=T0 + 2)
    assert await store.release(refused, now_ms=T0 + 2, return_nonce=False)
    assert (probe.reservation_status(found.id), probe.reservation_status(refused.id)) == (
        "broadcast", "released")


async def test_repeating_an_outcome_reports_no_change(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=None)
    assert await store.record_outcome(held, status=ReservationStatus.UNKNOWN, now_ms=T0 + 1)
    assert not await store.record_outcome(held, status=ReservationStatus.UNKNOWN, now_ms=T0 + 2)
    assert await store.release(held, now_ms=T0 + 3, return_nonce=False)
    assert not await store.release(held, now_ms=T0 + 4, return_nonce=False)


@pytest.mark.parametrize("status", [ReservationStatus.SETTLED, ReservationStatus.RELEASED,
                                    ReservationStatus.SIGNED, ReservationStatus.RESERVED])
async def test_record_outcome_records_only_broadcast_or_unknown(
        store: Store, workspace: Workspace, status: ReservationStatus) -> None:
    # Settling and releasing have their own calls, which keep the window's buckets right.
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=None)
    with pytest.raises(ValueError, match="broadcast"):
        await store.record_outcome(held, status=status, now_ms=T0 + 1)


async def test_two_finishers_at_once_leave_one_outcome_and_a_true_window(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    # Two survivors rebroadcast one dead replica's send: one hears "accepted", the other a
    # refusal. Whichever commits first wins; the window matches the row either way.
    session = await insert_session(store, workspace)
    for _ in range(10):
        held = await _send(store, session, status=None)
        moved, released = await asyncio.gather(
            store.record_outcome(held, status=ReservationStatus.BROADCAST, now_ms=T0 + 2),
            store.release(held, now_ms=T0 + 2, return_nonce=True))
        assert moved != released
        assert probe.reservation_status(held.id) == ("broadcast" if moved else "released")
    counted = sum(amount for _, _, amount in probe.rows(session.id))
    assert _bucket_total(probe, session.lineage_id) == counted


async def test_unbroadcast_sends_signed_before_lists_only_sends_older_than_the_cutoff(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    old_signed = await _send(store, session, now_ms=T0, status=None)
    old_unknown = await _send(store, session, now_ms=T0 + 1, status=ReservationStatus.UNKNOWN)
    await _send(store, session, now_ms=T0 + 2, status=ReservationStatus.BROADCAST)
    young = await _send(store, session, now_ms=T0 + 10, status=None)
    assert [u.reservation.id for u in await store.unbroadcast_sends(
        signed_before_ms=T0 + 10)] == [old_signed.id, old_unknown.id]
    assert [u.reservation.id for u in await store.unbroadcast_sends()] == [
        old_signed.id, old_unknown.id, young.id]
