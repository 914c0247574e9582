"""Approvals, as every backend must keep them (`_approval_interface.py`): a held request
reserves its cost and signs nothing; its cost counts until it is approved (signed at a nonce
picked then, in the minute it is signed), rejected, expired or its session revoked (released);
each approval leaves `pending` once, with one outbox event per transition."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from session_studio.policy import Decision, ReasonCode, SessionState, window_start_ms
from session_studio.store import (
    ApprovalStatus,
    Conflict,
    NotFound,
    Session,
    Store,
    Workspace,
)

from ..conftest import (
    DAY_MS,
    ETHER,
    FAKE_TX_HASH,
    MINUTE_MS,
    T0,
    fake_sign,
    new_session,
    nonce_request,
    reserve,
    transfer_evaluate,
)
from ._approval_steps import TTL_MS, approval_session, approve, hold
from .conftest import LedgerProbe

HELD = 8 * ETHER  # over the 5 ETH threshold, under the 10 ETH daily limit
SMALL = 4 * ETHER  # signed at once: under the threshold, but HELD + SMALL overshoots the day
LATER = T0 + 5 * MINUTE_MS


class SignerDown(Exception):
    pass


async def _held(store: Store, workspace: Workspace, **fields: Any) -> tuple[Session, str]:
    session = await approval_session(store, workspace, **fields)
    decision, _, draft = await hold(store, session, HELD)
    assert decision.held
    return session, draft.id


# -- holding -------------------------------------------------------------------------------
async def test_held_request_reserves_its_cost_and_signs_nothing(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await approval_session(store, workspace)
    signed: list[int | None] = []

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signed.append(nonce)
        return b"sig", FAKE_TX_HASH, b"raw"

    decision, reservation, _ = await hold(store, session, HELD, sign=sign)
    assert reservation is not None
    assert (decision.held, decision.reason, signed) == (True, ReasonCode.APPROVAL_REQUIRED, [])
    assert (reservation.amount, reservation.nonce) == (HELD, None)
    assert probe.reservation_status(reservation.id) == "reserved"
    assert await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(T0)) == HELD


async def test_held_request_is_recorded_pending_until_its_ttl(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (approval.status, approval.cost, approval.session_id, approval.key_hash,
            approval.created_at_ms, approval.expires_at_ms, approval.decided_at_ms) == (
        ApprovalStatus.PENDING, HELD, session.id, session.key_hash, T0, T0 + TTL_MS, None)


async def test_held_request_uses_no_nonce(store: Store, workspace: Workspace,
                                          probe: LedgerProbe) -> None:
    session, _ = await _held(store, workspace)
    assert probe.next_nonce(session.address) is None


async def test_held_verdict_without_a_draft_reserves_nothing(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await approval_session(store, workspace)
    decision, reservation = await reserve(store, session, HELD)
    assert (decision.allowed, reservation, probe.rows(session.id)) == (False, None, [])


async def test_held_cost_counts_in_the_window(store: Store, workspace: Workspace) -> None:
    session, _ = await _held(store, workspace)
    decision, reservation = await reserve(store, session, SMALL, now_ms=LATER)
    assert (decision.reason, reservation) == (ReasonCode.DAILY_LIMIT_EXCEEDED, None)


# -- rejecting and expiring ----------------------------------------------------------------
async def test_rejecting_releases_the_held_cost(store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    rejected = await store.reject_approval(approval_id, workspace_id=workspace.id,
                                           decided_by="bob", reason="not today", now_ms=LATER)
    assert (rejected.status, rejected.decided_by, rejected.reason, rejected.decided_at_ms) == (
        ApprovalStatus.REJECTED, "bob", "not today", LATER)
    assert await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(LATER)) == 0


async def test_rejecting_releases_the_reservation(store: Store, workspace: Workspace,
                                                  probe: LedgerProbe) -> None:
    session, approval_id = await _held(store, workspace)
    await store.reject_approval(approval_id, workspace_id=workspace.id, decided_by="bob",
                                reason="no", now_ms=LATER)
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (probe.reservation_status(approval.reservation_id), probe.rows(session.id)) == (
        "released", [])


async def test_expiry_releases_the_held_cost(store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    assert await store.expire_approvals(now_ms=T0 + TTL_MS) == 1
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (approval.status, approval.decided_by, approval.reason) == (
        ApprovalStatus.EXPIRED, "expiry", "expired")
    assert await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(T0 + TTL_MS)) == 0


async def test_expiry_leaves_an_approval_inside_its_ttl_pending(
        store: Store, workspace: Workspace) -> None:
    _, approval_id = await _held(store, workspace)
    assert await store.expire_approvals(now_ms=T0 + TTL_MS - 1) == 0
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert approval.status is ApprovalStatus.PENDING


async def test_reserve_expires_the_lineages_overdue_approvals_before_reading_the_window(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    decision, _ = await reserve(store, session, SMALL, now_ms=T0 + TTL_MS)
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (decision.allowed, approval.status) == (True, ApprovalStatus.EXPIRED)


# -- approving -----------------------------------------------------------------------------
async def test_approving_signs_at_a_nonce_picked_then(store: Store, workspace: Workspace,
                                                      probe: LedgerProbe) -> None:
    session, approval_id = await _held(store, workspace)
    _, sent = await reserve(store, session, ETHER, now_ms=T0 + MINUTE_MS)
    _, decision, reservation, _ = await approve(store, session, approval_id, now_ms=LATER)
    assert sent is not None and reservation is not None
    assert (decision.allowed, sent.nonce, reservation.nonce) == (True, 0, 1)


async def test_approving_moves_the_reservation_to_signed_in_the_current_minute(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session, approval_id = await _held(store, workspace)
    _, _, reservation, _ = await approve(store, session, approval_id, now_ms=LATER)
    assert reservation is not None
    nonzero = {m: a for m, a in probe.buckets(session.lineage_id).items() if a}
    assert (probe.reservation_status(reservation.id), nonzero) == (
        "signed", {LATER // MINUTE_MS: HELD})


async def test_approving_records_who_approved_and_the_result(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    approval, _, _, signed = await approve(store, session, approval_id, now_ms=LATER)
    assert (approval.status, approval.decided_by, approval.decided_at_ms, approval.result,
            signed) == (ApprovalStatus.APPROVED, "alice", LATER, FAKE_TX_HASH, b"sig")


async def test_approved_send_counts_as_signed_when_it_was_approved(
        store: Store, workspace: Workspace) -> None:
    """The settlement sweep takes sends signed before its bound as abandoned by their process:
    an approved send must not look as old as its hold while its approver still broadcasts it."""
    session, approval_id = await _held(store, workspace)
    await approve(store, session, approval_id, now_ms=LATER)
    assert await store.unbroadcast_sends(signed_before_ms=LATER) == []
    assert len(await store.unbroadcast_sends(signed_before_ms=LATER + 1)) == 1


async def test_approval_past_its_ttl_is_expired_not_signed(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    approval, decision, reservation, signed = await approve(store, session, approval_id,
                                                            now_ms=T0 + TTL_MS)
    assert (approval.status, decision.allowed, reservation, signed) == (
        ApprovalStatus.EXPIRED, False, None, None)


async def test_approving_after_the_session_expired_finishes_it_expired(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace, lifetime_ms=2 * MINUTE_MS)
    approval, decision, _, signed = await approve(store, session, approval_id, now_ms=LATER)
    assert (approval.status, approval.reason, decision.reason, signed) == (
        ApprovalStatus.EXPIRED, "session_expired", ReasonCode.SESSION_EXPIRED, None)
    assert await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(LATER)) == 0


async def test_approval_reserved_yesterday_must_fit_todays_utc_day(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    midnight = T0 - T0 % DAY_MS + DAY_MS
    session = await approval_session(store, workspace)
    _, _, draft = await hold(store, session, HELD, now_ms=midnight - 30_000,
                             window_mode="utc_day")
    today, _, _ = await store.reserve_and_sign(
        session_id=session.id, method="eth_sendTransaction", clock=lambda: midnight + 1_000,
        window_mode="utc_day", evaluate=transfer_evaluate(session, SMALL), nonce=None,
        sign=lambda n, k: (b"sig", FAKE_TX_HASH, b"raw"))
    approval, decision, _, signed = await approve(store, session, draft.id,
                                                  now_ms=midnight + 60_000,
                                                  window_mode="utc_day")
    assert (today.allowed, decision.reason, approval.status, approval.reason, signed) == (
        True, ReasonCode.DAILY_LIMIT_EXCEEDED, ApprovalStatus.REJECTED,
        "daily_limit_exceeded", None)
    assert probe.reservation_status(approval.reservation_id) == "released"


async def test_approving_twice_concurrently_signs_once(store: Store,
                                                       workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    signed: list[int | None] = []

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signed.append(nonce)
        return b"sig", FAKE_TX_HASH, b"raw"

    outcomes = await asyncio.gather(
        approve(store, session, approval_id, now_ms=LATER, sign=sign),
        approve(store, session, approval_id, now_ms=LATER, sign=sign),
        return_exceptions=True)
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(signed), len(conflicts)) == (1, 1), outcomes


async def test_sign_that_raises_leaves_the_approval_pending(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session, approval_id = await _held(store, workspace)
    before = probe.ledger_snapshot()

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        raise SignerDown

    with pytest.raises(SignerDown):
        await approve(store, session, approval_id, now_ms=LATER, sign=sign)
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (approval.status, probe.ledger_snapshot() == before) == (
        ApprovalStatus.PENDING, True)


# -- revoking ------------------------------------------------------------------------------
async def test_revoking_rejects_the_sessions_pending_approvals(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    await store.revoke_session(session.id, now_ms=LATER)
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (approval.status, approval.decided_by, approval.reason) == (
        ApprovalStatus.REJECTED, "revoke", "session_revoked")
    assert await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(LATER)) == 0


async def test_rotating_rejects_the_predecessors_pending_approvals(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    successor = new_session(workspace, lineage_id=session.lineage_id,
                            predecessor_id=session.id, created_at_ms=LATER)
    await store.rotate_session(session, successor, sealed_key=b"k" * 96,
                               credential_hash=b"c" * 32, now_ms=LATER)
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert (approval.status, approval.reason) == (ApprovalStatus.REJECTED, "session_revoked")


async def test_approving_a_revoked_sessions_approval_is_conflict_and_signs_nothing(
        store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    await store.revoke_session(session.id, now_ms=LATER)
    with pytest.raises(Conflict):
        await approve(store, session, approval_id, now_ms=LATER + 1)


# -- decided once, in its workspace --------------------------------------------------------
async def test_approving_a_decided_approval_is_conflict(store: Store,
                                                        workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    await store.reject_approval(approval_id, workspace_id=workspace.id, decided_by="bob",
                                reason="no", now_ms=LATER)
    with pytest.raises(Conflict):
        await approve(store, session, approval_id, now_ms=LATER + 1)


async def test_rejecting_a_decided_approval_is_conflict(store: Store,
                                                        workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    await approve(store, session, approval_id, now_ms=LATER)
    with pytest.raises(Conflict):
        await store.reject_approval(approval_id, workspace_id=workspace.id,
                                    decided_by="carol", reason="no", now_ms=LATER + 1)


async def test_another_workspace_gets_no_approval(store: Store, workspace: Workspace) -> None:
    _, approval_id = await _held(store, workspace)
    other = await store.create_workspace("elsewhere", now_ms=T0)
    with pytest.raises(NotFound):
        await store.get_approval(approval_id, workspace_id=other.id)


async def test_another_workspace_cannot_approve(store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    other = await store.create_workspace("elsewhere", now_ms=T0)
    with pytest.raises(NotFound):
        await approve(store, session, approval_id, now_ms=LATER, workspace_id=other.id)
    assert (await store.get_approval(approval_id, workspace_id=None)).status is (
        ApprovalStatus.PENDING)


async def test_another_workspace_cannot_reject(store: Store, workspace: Workspace) -> None:
    _, approval_id = await _held(store, workspace)
    other = await store.create_workspace("elsewhere", now_ms=T0)
    with pytest.raises(NotFound):
        await store.reject_approval(approval_id, workspace_id=other.id, decided_by="eve",
                                    reason="no", now_ms=LATER)
    assert (await store.get_approval(approval_id, workspace_id=None)).status is (
        ApprovalStatus.PENDING)


# -- the outbox ----------------------------------------------------------------------------
@pytest.mark.parametrize("end", ["approved", "rejected", "expired"])
async def test_each_transition_writes_one_outbox_event(store: Store, workspace: Workspace,
                                                       probe: LedgerProbe, end: str) -> None:
    session, approval_id = await _held(store, workspace)
    if end == "approved":
        await approve(store, session, approval_id, now_ms=LATER)
    elif end == "rejected":
        await store.reject_approval(approval_id, workspace_id=workspace.id, decided_by="bob",
                                    reason="no", now_ms=LATER)
    else:
        await store.expire_approvals(now_ms=T0 + TTL_MS)
    events = [(kind, json.loads(body)) for kind, body in probe.approval_events(approval_id)]
    assert [(kind, body["event_id"], body["approval"]["status"]) for kind, body in events] == [
        ("approval.pending", f"{approval_id}:pending", "pending"),
        (f"approval.{end}", f"{approval_id}:{end}", end)]


async def test_a_refused_decision_writes_no_outbox_event(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    _, approval_id = await _held(store, workspace)
    await store.reject_approval(approval_id, workspace_id=workspace.id, decided_by="bob",
                                reason="no", now_ms=LATER)
    with pytest.raises(Conflict):
        await store.reject_approval(approval_id, workspace_id=workspace.id, decided_by="bob",
                                    reason="no", now_ms=LATER + 1)
    assert len(probe.approval_events(approval_id)) == 2


# -- reads ---------------------------------------------------------------------------------
async def test_list_approvals_is_newest_first_in_pages(store: Store,
                                                       workspace: Workspace) -> None:
    session = await approval_session(store, workspace, daily=100 * ETHER)
    ids = [(await hold(store, session, 6 * ETHER, now_ms=T0 + i * MINUTE_MS))[2].id
           for i in range(3)]
    first = await store.list_approvals(workspace.id, limit=2)
    rest = await store.list_approvals(
        workspace.id, limit=2, before=(first[-1].created_at_ms, first[-1].id))
    assert [a.id for a in first + rest] == ids[::-1]


async def test_list_approvals_filters_by_status_and_session(
        store: Store, workspace: Workspace) -> None:
    session, rejected_id = await _held(store, workspace)
    _, pending_id = await _held(store, workspace)
    await store.reject_approval(rejected_id, workspace_id=workspace.id, decided_by="bob",
                                reason="no", now_ms=LATER)
    pending = await store.list_approvals(workspace.id, status=ApprovalStatus.PENDING)
    of_session = await store.list_approvals(workspace.id, session_ids=[session.id])
    assert ([a.id for a in pending], [a.id for a in of_session]) == (
        [pending_id], [rejected_id])


async def test_list_approvals_can_skip_what_still_waits(store: Store,
                                                        workspace: Workspace) -> None:
    """The inbox's history: every decided approval, however many still wait before it."""
    _, rejected_id = await _held(store, workspace)
    await store.reject_approval(rejected_id, workspace_id=workspace.id, decided_by="bob",
                                reason="no", now_ms=LATER)
    for _ in range(3):
        await _held(store, workspace)
    decided = await store.list_approvals(workspace.id, decided=True, limit=2)
    assert [a.id for a in decided] == [rejected_id]


async def test_pending_approval_stats_count_pending_per_workspace(
        store: Store, workspace: Workspace) -> None:
    _, decided = await _held(store, workspace)
    await store.reject_approval(decided, workspace_id=workspace.id, decided_by="bob",
                                reason="no", now_ms=LATER)
    session = await approval_session(store, workspace, daily=100 * ETHER)
    await hold(store, session, HELD, now_ms=T0 + MINUTE_MS)
    await hold(store, session, HELD, now_ms=T0 + 2 * MINUTE_MS)
    assert await store.pending_approval_stats() == [(workspace.id, 2, T0 + MINUTE_MS)]


async def test_recorded_error_is_read_back(store: Store, workspace: Workspace) -> None:
    session, approval_id = await _held(store, workspace)
    await approve(store, session, approval_id, now_ms=LATER)
    await store.record_approval_error(approval_id, {"code": -32000, "message": "underpriced"})
    approval = await store.get_approval(approval_id, workspace_id=workspace.id)
    assert approval.error == {"code": -32000, "message": "underpriced"}



async def test_the_state_counts_the_lineages_pending_approvals(
        store: Store, workspace: Workspace) -> None:
    """The policy bounds how many requests of a lineage may wait (`max_pending_approvals`):
    the store hands it the count, read under the lock."""
    session = await approval_session(store, workspace, daily=100 * ETHER)
    for _ in range(2):
        decision, _, _ = await hold(store, session, 6 * ETHER)
        assert decision.held
    seen: list[int] = []
    tx_evaluate = transfer_evaluate(session, 6 * ETHER)

    def evaluate(state: SessionState, now_ms: int) -> Decision:
        seen.append(state.pending_approvals)
        return tx_evaluate(state, now_ms)

    await store.reserve_and_sign(
        session_id=session.id, method="eth_sendTransaction", clock=lambda: T0,
        window_mode="rolling_24h", evaluate=evaluate, nonce=nonce_request(session),
        sign=fake_sign)
    assert seen == [2]
