"""A failure inside the reserving transaction leaves the database exactly as it was.

If the engine or the signer raises, nothing may be reserved, no bucket may move, no nonce may be
consumed and no decision may be recorded: the request simply never happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from session_studio.policy import Decision, SessionState
from session_studio.store import Session, SqliteStore, Workspace

from .conftest import ETHER, insert_session, query, reserve

_LEDGER_SNAPSHOT = tuple(f"SELECT * FROM {table}" for table in (
    "reservations", "spend_buckets", "nonces", "released_nonces", "decisions"))


class Boom(RuntimeError):
    pass


def _raising_sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
    raise Boom("the keystore failed")


def _raising_evaluate(state: SessionState, now_ms: int) -> Decision:
    raise Boom("the engine failed")


def _snapshot(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    return {sql: sorted(query(db_path, sql), key=repr) for sql in _LEDGER_SNAPSHOT}


async def _fail(store: SqliteStore, session: Session, which: str) -> None:
    failing: dict[str, Any] = ({"sign": _raising_sign} if which == "sign"
                               else {"evaluate": _raising_evaluate})
    with pytest.raises(Boom):
        await reserve(store, session, ETHER, **failing)


@pytest.mark.parametrize("which", ["evaluate", "sign"])
async def test_failure_inside_the_reserving_transaction_changes_nothing(
        store: SqliteStore, workspace: Workspace, db_path: Path, which: str) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, 2 * ETHER)
    before = _snapshot(db_path)
    await _fail(store, session, which)
    assert _snapshot(db_path) == before


@pytest.mark.parametrize("which", ["evaluate", "sign"])
async def test_failure_inside_the_reserving_transaction_consumes_no_nonce(
        store: SqliteStore, workspace: Workspace, which: str) -> None:
    session = await insert_session(store, workspace)
    await _fail(store, session, which)
    _, reservation = await reserve(store, session, ETHER)
    assert reservation is not None and reservation.nonce == 0


@pytest.mark.parametrize("which", ["evaluate", "sign"])
async def test_failure_inside_the_reserving_transaction_reserves_no_spend(
        store: SqliteStore, workspace: Workspace, which: str) -> None:
    session = await insert_session(store, workspace, per_tx=10 * ETHER, daily=10 * ETHER)
    await _fail(store, session, which)
    decision, _ = await reserve(store, session, 10 * ETHER)
    assert decision.allowed


async def test_store_keeps_serving_after_a_failed_reservation(store: SqliteStore,
                                                              workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await _fail(store, session, "sign")
    decision, reservation = await reserve(store, session, ETHER)
    assert decision.allowed and reservation is not None
