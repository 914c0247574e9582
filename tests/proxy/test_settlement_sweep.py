"""Settlement finishes a send its replica signed and never broadcast (issue 12, item 3).

A replica that dies between the reserving commit and the broadcast leaves a `signed` send whose
nonce is a gap. Every settlement round, on every replica, rebroadcasts such sends once they are
older than the grace (3 upstream timeouts), through crash recovery's code and rule table. The
ledger is a real SQLite store; the node is `FakeUpstream`. The e2e version, with replicas,
PostgreSQL and anvil, is in tests/e2e/test_replicas.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from session_studio.proxy import ChainRuntime, FeeCache, RpcPlaneDeps, unbroadcast_grace_ms
from session_studio.proxy._outcome import SEND, NodeAnswer, settle_broadcast
from session_studio.proxy._recovery import rebroadcast_unconfirmed
from session_studio.proxy._settlement import RoundReport, Settlement
from session_studio.store import Reservation, Session, SqliteStore, Workspace
from store.conftest import (
    _ASSETS,
    CHAIN_ID,
    ETHER,
    FAKE_TX_HASH,
    T0,
    bucket_total,
    insert_session,
    query,
    reserve,
)

from .fakes import SILENT, Answer, FakeUpstream, NodeError

GRACE_MS = unbroadcast_grace_ms(10.0)
MINED = {"status": "0x1", "gasUsed": "0x5208", "effectiveGasPrice": "0x0",
         "blockNumber": "0x5", "blockHash": "0x" + "11" * 32}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "studio.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def workspace(store: SqliteStore) -> Workspace:
    return await store.create_workspace("sweep-tests", now_ms=T0)


def _node(*, count: str = "0x0", send: Answer = FAKE_TX_HASH,
          receipt: Answer = None) -> FakeUpstream:
    return FakeUpstream({"eth_getTransactionCount": count, "eth_sendRawTransaction": send,
                         "eth_getTransactionReceipt": receipt})


def _deps(store: SqliteStore, upstream: FakeUpstream, *, now_ms: int) -> RpcPlaneDeps:
    chain = ChainRuntime(chain_id=CHAIN_ID, assets=_ASSETS, upstream=upstream,
                         fees=FeeCache(upstream, ttl_s=0),
                         max_fee_per_gas=None)
    return RpcPlaneDeps(store=store, keystore=None, chains={CHAIN_ID: chain},  # type: ignore[arg-type]
                        prices=None, clock=lambda: now_ms,  # type: ignore[arg-type]
                        window_mode="rolling_24h", max_outstanding_signed=4,
                        max_body_bytes=1 << 20, max_batch_size=10,
                        allow_raw_transactions=False, unbroadcast_grace_ms=GRACE_MS)


def _settlement(deps: RpcPlaneDeps) -> Settlement:
    """Wired as `create_rpc_app` wires it."""
    async def finish(signed_before_ms: int) -> int:
        return await rebroadcast_unconfirmed(deps, signed_before_ms=signed_before_ms)
    return Settlement(deps, finish_unbroadcast=finish)


async def _round(store: SqliteStore, upstream: FakeUpstream, *, now_ms: int) -> RoundReport:
    return await _settlement(_deps(store, upstream, now_ms=now_ms)).run_once()


async def _left_signed(store: SqliteStore, workspace: Workspace) -> tuple[Session, Reservation]:
    """A send its replica signed at T0 and died before broadcasting."""
    session = await insert_session(store, workspace)
    _, reservation = await reserve(store, session, ETHER, now_ms=T0)
    assert reservation is not None
    return session, reservation


def _status(db_path: Path, reservation: Reservation) -> str:
    [(status,)] = query(db_path, "SELECT status FROM reservations WHERE id = ?",
                        (reservation.id,))
    return str(status)


def _pooled(db_path: Path) -> list[int]:
    return [n for (n,) in query(db_path, "SELECT nonce FROM released_nonces")]


def _broadcasts(upstream: FakeUpstream) -> list[list[Any]]:
    return [params for method, params in upstream.calls if method == "eth_sendRawTransaction"]


def test_the_grace_is_three_upstream_timeouts() -> None:
    assert unbroadcast_grace_ms(10.0) == 30_000
    assert unbroadcast_grace_ms(0.5) == 1_500


async def test_a_round_rebroadcasts_a_send_left_signed_past_the_grace(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    _, held = await _left_signed(store, workspace)
    node = _node()
    report = await _round(store, node, now_ms=T0 + GRACE_MS + 1)
    assert _broadcasts(node) == [["0x" + b"raw".hex()]]  # the stored bytes, not a new signature
    assert report.rebroadcast == 1
    assert _status(db_path, held) == "broadcast"


async def test_a_round_leaves_a_send_younger_than_the_grace_to_its_own_replica(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    _, held = await _left_signed(store, workspace)
    node = _node()
    report = await _round(store, node, now_ms=T0 + GRACE_MS)
    assert node.calls == []
    assert report.rebroadcast == 0
    assert _status(db_path, held) == "signed"


async def test_a_round_releases_a_send_the_node_refuses_and_pools_its_nonce(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    session, held = await _left_signed(store, workspace)
    await _round(store, _node(send=NodeError("insufficient funds for transfer")),
                 now_ms=T0 + GRACE_MS + 1)
    assert _status(db_path, held) == "released"
    assert _pooled(db_path) == [0]
    assert bucket_total(db_path, session.lineage_id) == 0


async def test_a_round_settles_a_send_mined_before_anyone_saw_its_broadcast(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    # The dead replica's broadcast reached the node after all; only its answer was lost.
    _, held = await _left_signed(store, workspace)
    node = _node(count="0x1", receipt=MINED)
    report = await _round(store, node, now_ms=T0 + GRACE_MS + 1)
    assert _broadcasts(node) == []
    assert (report.settled, _status(db_path, held)) == (1, "settled")


async def test_a_round_leaves_a_send_the_node_does_not_answer_for_the_next_round(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    _, held = await _left_signed(store, workspace)
    await _round(store, _node(send=SILENT), now_ms=T0 + GRACE_MS + 1)
    assert _status(db_path, held) == "signed"
    node = _node()
    await _round(store, node, now_ms=T0 + GRACE_MS + 2_000)
    assert (len(_broadcasts(node)), _status(db_path, held)) == (1, "broadcast")


async def test_a_slow_owners_late_nonce_too_low_does_not_undo_the_survivors_finish(
        store: SqliteStore, workspace: Workspace, db_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    # The owner was paused past the grace; a survivor rebroadcast its send, which was mined
    # and settled. The owner wakes, broadcasts, hears "nonce too low" and, on the send path's
    # rule, releases: the ledger keeps the survivor's outcome and the spend stays counted.
    session, held = await _left_signed(store, workspace)
    await _round(store, _node(receipt=MINED), now_ms=T0 + GRACE_MS + 1)
    assert _status(db_path, held) == "settled"
    counted = bucket_total(db_path, session.lineage_id)
    assert counted == ETHER
    await settle_broadcast(store, _node(), held, answer=NodeAnswer.NONCE_USED, attempt=SEND,
                           tx_hash=FAKE_TX_HASH, now_ms=T0 + GRACE_MS + 5)
    assert _status(db_path, held) == "settled"
    assert bucket_total(db_path, session.lineage_id) == counted
    assert _pooled(db_path) == []
    assert "another replica recorded this send's outcome first" in caplog.text


async def test_a_slow_owners_late_timeout_does_not_reopen_a_send_a_survivor_released(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    session, held = await _left_signed(store, workspace)
    await _round(store, _node(send=NodeError("insufficient funds for transfer")),
                 now_ms=T0 + GRACE_MS + 1)
    await settle_broadcast(store, _node(), held, answer=NodeAnswer.NO_ANSWER, attempt=SEND,
                           tx_hash=FAKE_TX_HASH, now_ms=T0 + GRACE_MS + 5)
    assert _status(db_path, held) == "released"
    # Nothing for a later round to settle a second time out of the window.
    await _round(store, _node(count="0x1", receipt=MINED), now_ms=T0 + GRACE_MS + 2_000)
    assert bucket_total(db_path, session.lineage_id) == 0


async def test_two_survivors_sweeping_at_once_finish_the_send_once(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    session, held = await _left_signed(store, workspace)
    other = SqliteStore(db_path)  # the second replica's own connection to the ledger
    await other.open()
    try:
        nodes = (_node(), _node(send=NodeError("already known")))
        await asyncio.gather(_round(store, nodes[0], now_ms=T0 + GRACE_MS + 1),
                             _round(other, nodes[1], now_ms=T0 + GRACE_MS + 1))
    finally:
        await other.close()
    assert _status(db_path, held) == "broadcast"
    assert bucket_total(db_path, session.lineage_id) == ETHER
    await _round(store, _node(receipt=MINED), now_ms=T0 + GRACE_MS + 2_000)
    assert _status(db_path, held) == "settled"
