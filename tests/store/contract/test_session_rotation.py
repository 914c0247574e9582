"""Rotation does not reset the window: the successor inherits its predecessor's spend."""

from __future__ import annotations

import os

from session_studio.policy import ReasonCode, window_start_ms
from session_studio.store import Session, Store, Workspace

from ..conftest import ETHER, T0, insert_session, new_session, reserve

ROTATED_AT = T0 + 60_000


async def _rotated(store: Store, workspace: Workspace) -> tuple[Session, Session]:
    old = await insert_session(store, workspace, per_tx=6 * ETHER, daily=10 * ETHER)
    decision, _ = await reserve(store, old, 6 * ETHER)
    assert decision.allowed
    successor = new_session(workspace, per_tx=6 * ETHER, daily=10 * ETHER,
                            lineage_id=old.lineage_id, predecessor_id=old.id,
                            created_at_ms=ROTATED_AT)
    await store.rotate_session(old, successor, sealed_key=os.urandom(96),
                               credential_hash=os.urandom(32), now_ms=ROTATED_AT)
    return old, successor


async def test_rotation_keeps_the_spend_window(store: Store,
                                               workspace: Workspace) -> None:
    _, successor = await _rotated(store, workspace)
    spent = await store.spent_in_window(successor.lineage_id,
                                        window_start_ms=window_start_ms(ROTATED_AT))
    assert spent == 6 * ETHER


async def test_successor_is_refused_what_the_predecessor_already_spent(
        store: Store, workspace: Workspace) -> None:
    _, successor = await _rotated(store, workspace)
    decision, _ = await reserve(store, successor, 5 * ETHER, now_ms=ROTATED_AT + 1)
    assert decision.reason is ReasonCode.DAILY_LIMIT_EXCEEDED


async def test_successor_may_spend_the_remainder_of_the_lineage_window(
        store: Store, workspace: Workspace) -> None:
    _, successor = await _rotated(store, workspace)
    decision, _ = await reserve(store, successor, 4 * ETHER, now_ms=ROTATED_AT + 1)
    assert decision.allowed


async def test_predecessor_signs_nothing_after_rotation(store: Store,
                                                        workspace: Workspace) -> None:
    old, _ = await _rotated(store, workspace)
    decision, reservation = await reserve(store, old, ETHER, now_ms=ROTATED_AT + 1)
    assert (decision.reason, reservation) == (ReasonCode.SESSION_REVOKED, None)
