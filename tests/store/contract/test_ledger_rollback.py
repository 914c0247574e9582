"""A failure inside the reserving transaction leaves the database exactly as it was.

If the engine or the signer raises, nothing may be reserved, no bucket may move, no nonce may be
consumed and no decision may be recorded: the request simply never happened.
"""

from __future__ import annotations

from typing import Any

import pytest
from session_studio.policy import Decision, SessionState
from session_studio.store import Session, Store, Workspace

from ..conftest import ETHER, insert_session, reserve
from .conftest import LedgerProbe


class Boom(RuntimeError):
    pass


def _raising_sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
    raise Boom("the keystore failed")


def _raising_evaluate(state: SessionState, now_ms: int) -> Decision:
    raise Boom("the engine failed")


async def _fail(store: Store, session: Session, which: str) -> None:
    failing: dict[str, Any] = ({"sign": _raising_sign} if which == "sign"
                               else {"evaluate": _raising_evaluate})
    with pytest.raises(Boom):
        await reserve(store, session, ETHER, **failing)


@pytest.mark.parametrize("which", ["evaluate", "sign"])
async def test_failure_inside_the_reserving_transaction_changes_nothing(
        store: Store, workspace: Workspace, probe: LedgerProbe, which: str) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, 2 * ETHER)
    before = probe.ledger_snapshot()
    await _fail(store, session, which)
    assert probe.ledger_snapshot() == before


@pytest.mark.parametrize("which", ["evaluate", "sign"])
async def test_failure_inside_the_reserving_transaction_consumes_no_nonce(
        store: Store, workspace: Workspace, which: str) -> None:
    session = await insert_session(store, workspace)
    await _fail(store, session, which)
    _, reservation = await reserve(store, session, ETHER)
    assert reservation is not None and reservation.nonce == 0


@pytest.mark.parametrize("which", ["evaluate", "sign"])
async def test_failure_inside_the_reserving_transaction_reserves_no_spend(
        store: Store, workspace: Workspace, which: str) -> None:
    session = await insert_session(store, workspace, per_tx=10 * ETHER, daily=10 * ETHER)
    await _fail(store, session, which)
    decision, _ = await reserve(store, session, 10 * ETHER)
    assert decision.allowed


async def test_store_keeps_serving_after_a_failed_reservation(store: Store,
                                                              workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await _fail(store, session, "sign")
    decision, reservation = await reserve(store, session, ETHER)
    assert decision.allowed and reservation is not None
