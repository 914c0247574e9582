"""Settlement: a send's reservation corrected to what its receipt says it really cost.

The settlement round (`session_studio.proxy._settlement`) on a real SQLite file against a scripted
upstream, and two processes settling one file (the ledger half, `unsettled` and `settle`, for
every backend: contract/test_ledger_settle.py). Limits are in ETH, so unit atoms and wei
coincide: a send reserves VALUE + GAS * MAX_FEE atoms, its gas part is GAS_WEI, and the real
gas of a receipt is gasUsed * effectiveGasPrice atoms, to the atom.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from session_studio.proxy import ChainRuntime, FeeCache, RpcPlaneDeps, Upstream
from session_studio.proxy._errors import UpstreamUnavailable
from session_studio.proxy._settlement import (
    Receipt,
    Settlement,
    settled_amount,
    settled_gas,
)
from session_studio.store import (
    Reservation,
    ReservationStatus,
    Session,
    SqliteStore,
    UnsettledSend,
    Workspace,
)

from .conftest import (
    CHAIN_ID,
    ETHER,
    T0,
    bucket_total,
    insert_session,
    query,
)
from .contract.test_ledger_settle import (
    _ASSETS,
    COST,
    GAS_WEI,
    PRICE,
    REAL_WEI,
    USED,
    VALUE,
    _send,
    _spent,
)


# -- helpers -----------------------------------------------------------------------------------
def _unsettled_send(*, amount: int = COST, gas_reserved: int | None = GAS_WEI,
                    gas_wei_reserved: int | None = GAS_WEI) -> UnsettledSend:
    return UnsettledSend(
        reservation=Reservation(id="r", session_id="s", amount=amount, nonce=0,
                                chain_id=CHAIN_ID),
        address="0x0", tx_hash="0x0", status=ReservationStatus.BROADCAST,
        gas_reserved=gas_reserved, gas_wei_reserved=gas_wei_reserved, created_at_ms=T0)


SUCCESS = Receipt(succeeded=True, gas_wei_used=REAL_WEI)
REVERT = Receipt(succeeded=False, gas_wei_used=REAL_WEI)


def _tx_hash(db_path: Path, reservation: Reservation) -> str:
    [(tx_hash,)] = query(db_path, "SELECT tx_hash FROM reservations WHERE id = ?",
                         (reservation.id,))
    return str(tx_hash)


def _row(db_path: Path, reservation: Reservation) -> dict[str, Any]:
    columns = ("status", "amount", "gas_reserved", "gas_wei_reserved", "gas_wei_used",
               "receipt_status", "settled_at")
    [row] = query(db_path, f"SELECT {', '.join(columns)} FROM reservations WHERE id = ?",
                  (reservation.id,))
    return dict(zip(columns, row, strict=True))


# -- the arithmetic ----------------------------------------------------------------------------
def test_success_keeps_the_value_and_the_real_gas() -> None:
    assert settled_amount(_unsettled_send(), SUCCESS) == VALUE + REAL_WEI


def test_revert_keeps_only_the_real_gas() -> None:
    assert settled_amount(_unsettled_send(), REVERT) == REAL_WEI


def test_settled_gas_rounds_up() -> None:
    send = _unsettled_send(amount=10, gas_reserved=10, gas_wei_reserved=3)
    assert settled_gas(send, Receipt(succeeded=True, gas_wei_used=1)) == 4  # ceil(10 / 3)


def test_settled_gas_is_never_more_than_reserved() -> None:
    send = _unsettled_send()
    assert settled_gas(send, Receipt(succeeded=True, gas_wei_used=2 * GAS_WEI)) == GAS_WEI


def test_receipt_without_a_gas_price_keeps_the_worst_case_gas() -> None:
    assert settled_amount(_unsettled_send(), Receipt(succeeded=False, gas_wei_used=None)) == \
        GAS_WEI


def test_reservation_from_before_settlement_keeps_its_whole_amount() -> None:
    send = _unsettled_send(gas_reserved=None, gas_wei_reserved=None)
    assert settled_amount(send, REVERT) == COST


async def test_settles_from_two_processes_apply_once(store: SqliteStore, workspace: Workspace,
                                                     db_path: Path) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    other = SqliteStore(db_path)
    await other.open()
    try:
        applied = await asyncio.gather(
            store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                         now_ms=T0 + 5),
            other.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                         now_ms=T0 + 5))
    finally:
        await other.close()
    assert sorted(applied) == [False, True]
    assert bucket_total(db_path, session.lineage_id) == REAL_WEI


# -- the settlement round, against a scripted upstream -------------------------------------------
class ScriptedUpstream(Upstream):
    """Answers from dictionaries; `down` makes every call fail like a dead node."""

    def __init__(self) -> None:
        super().__init__("http://scripted.invalid", timeout_s=1)
        self.receipts: dict[str, dict[str, Any] | None] = {}
        self.mined: dict[str, int] = {}  # address -> `latest` transaction count
        self.calls: list[tuple[str, Any]] = []
        self.down = False
        self.on_count: Callable[[], None] | None = None  # runs when a count is read

    async def call(self, method: str, params: list[Any]) -> Any:
        self.calls.append((method, params[0]))
        if self.down:
            raise UpstreamUnavailable("upstream did not answer (scripted)")
        if method == "eth_getTransactionReceipt":
            return self.receipts.get(params[0])
        if method == "eth_getTransactionCount":
            assert params[1] == "latest"
            if self.on_count is not None:
                self.on_count()
            return hex(self.mined.get(params[0], 0))
        raise AssertionError(f"unexpected upstream call {method}")


def receipt(*, status: int = 1, gas_used: int = USED, price: int = PRICE) -> dict[str, Any]:
    return {"status": hex(status), "gasUsed": hex(gas_used), "effectiveGasPrice": hex(price),
            "blockNumber": "0x5", "blockHash": "0x" + "11" * 32}


def _deps(store: SqliteStore, upstream: ScriptedUpstream) -> RpcPlaneDeps:
    chain = ChainRuntime(chain_id=CHAIN_ID, assets=_ASSETS, upstream=upstream,
                         fees=FeeCache(upstream, ttl_s=0),
                         max_fee_per_gas=None)
    return RpcPlaneDeps(store=store, keystore=None, chains={CHAIN_ID: chain},  # type: ignore[arg-type]
                        prices=None, clock=lambda: T0 + 10_000,  # type: ignore[arg-type]
                        window_mode="rolling_24h", max_outstanding_signed=4,
                        max_body_bytes=1 << 20, max_batch_size=10,
                        allow_raw_transactions=False)


@pytest.fixture
def upstream() -> ScriptedUpstream:
    return ScriptedUpstream()


@pytest.fixture
def settlement(store: SqliteStore, upstream: ScriptedUpstream) -> Settlement:
    return Settlement(_deps(store, upstream))


async def test_round_settles_a_mined_send_to_value_plus_real_gas(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt()
    report = await settlement.run_once()
    assert (report.settled, report.pending) == (1, 0)
    assert await _spent(store, session) == VALUE + REAL_WEI


async def test_round_keeps_only_the_real_gas_of_a_revert(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt(status=0)
    assert (await settlement.run_once()).reverted == 1
    assert await _spent(store, session) == REAL_WEI
    assert _row(db_path, held)["receipt_status"] == 0


async def test_round_settles_an_unknown_send_once_its_receipt_exists(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=ReservationStatus.UNKNOWN)
    assert (await settlement.run_once()).pending == 1
    assert await _spent(store, session) == COST
    upstream.receipts[_tx_hash(db_path, held)] = receipt()
    assert (await settlement.run_once()).settled == 1
    assert await _spent(store, session) == VALUE + REAL_WEI


async def test_round_leaves_a_pending_send_reserved(
        store: SqliteStore, workspace: Workspace, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    await _send(store, session)
    upstream.mined[session.address] = 0  # nonce 0 not mined yet
    report = await settlement.run_once()
    assert (report.pending, report.changed) == (1, 0)
    assert await _spent(store, session) == COST


async def test_round_releases_a_send_whose_nonce_another_transaction_used(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    replaced = await _send(store, session, explicit_nonce=0)
    replacement = await _send(store, session, explicit_nonce=0, value=2 * ETHER)
    upstream.receipts[_tx_hash(db_path, replacement)] = receipt()
    upstream.mined[session.address] = 1
    report = await settlement.run_once()
    assert (report.settled, report.released) == (1, 1)
    assert _row(db_path, replaced)["status"] == "released"
    assert await _spent(store, session) == 2 * ETHER + REAL_WEI


async def test_round_reads_the_nonce_before_looking_for_the_receipt_again(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    # Mined between the first look and the nonce check: the second look finds it.
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    tx_hash = _tx_hash(db_path, held)

    def mined_now() -> None:
        upstream.mined[session.address] = 1
        upstream.receipts[tx_hash] = receipt()

    upstream.on_count = mined_now
    report = await settlement.run_once()
    assert (report.settled, report.released) == (1, 0)
    assert [m for m, _ in upstream.calls] == [
        "eth_getTransactionReceipt", "eth_getTransactionCount", "eth_getTransactionReceipt"]
    assert await _spent(store, session) == VALUE + REAL_WEI


async def test_round_skips_a_chain_whose_upstream_is_down(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt()
    upstream.down = True
    report = await settlement.run_once()
    assert (report.skipped, report.changed) == (1, 0)
    assert await _spent(store, session) == COST
    upstream.down = False
    assert (await settlement.run_once()).settled == 1


async def test_round_skips_a_malformed_receipt(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = {**receipt(), "gasUsed": "lots"}
    assert (await settlement.run_once()).skipped == 1
    assert await _spent(store, session) == COST


async def test_round_does_not_release_when_the_nonce_check_fails(
        store: SqliteStore, workspace: Workspace, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    await _send(store, session)

    def fail() -> None:
        raise UpstreamUnavailable("scripted")

    upstream.mined[session.address] = 1
    upstream.on_count = fail
    assert (await settlement.run_once()).changed == 0
    assert await _spent(store, session) == COST


async def test_round_skips_sends_of_a_chain_not_configured(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream
        ) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt()
    unconfigured = replace(_deps(store, upstream), chains={})
    assert (await Settlement(unconfigured).run_once()).skipped == 1
    assert upstream.calls == []


async def test_rounds_page_through_every_unsettled_send(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream
        ) -> None:
    session = await insert_session(store, workspace)
    sends = [await _send(store, session, value=ETHER // 10, now_ms=T0 + i) for i in range(5)]
    for held in sends:
        upstream.receipts[_tx_hash(db_path, held)] = receipt()
    settlement = Settlement(_deps(store, upstream), batch_size=2)
    settled = [(await settlement.run_once()).settled for _ in range(3)]
    assert settled == [2, 2, 1]
    assert await _spent(store, session) == 5 * (ETHER // 10 + REAL_WEI)


async def test_settlement_after_a_restart_needs_nothing_but_the_database(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream
        ) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=ReservationStatus.UNKNOWN)
    await store.close()
    reopened = SqliteStore(db_path)
    await reopened.open()
    try:
        upstream.receipts[_tx_hash(db_path, held)] = receipt()
        assert (await Settlement(_deps(reopened, upstream)).run_once()).settled == 1
        assert await _spent(reopened, session) == VALUE + REAL_WEI
    finally:
        await reopened.close()
        await store.open()  # the fixture closes it again


async def test_two_settlement_loops_on_one_database_settle_once(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream
        ) -> None:
    session = await insert_session(store, workspace)
    sends = [await _send(store, session, value=ETHER // 10) for _ in range(10)]
    for held in sends:
        upstream.receipts[_tx_hash(db_path, held)] = receipt(status=0)
    other = SqliteStore(db_path)
    await other.open()
    try:
        reports = await asyncio.gather(Settlement(_deps(store, upstream)).run_once(),
                                       Settlement(_deps(other, upstream)).run_once())
    finally:
        await other.close()
    assert sum(r.reverted for r in reports) == 10
    assert bucket_total(db_path, session.lineage_id) == 10 * REAL_WEI


async def test_background_loop_settles_and_stops_cleanly(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream
        ) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt()
    settlement = Settlement(_deps(store, upstream), interval_s=0.01)
    await settlement.start()
    try:
        for _ in range(500):
            if await _spent(store, session) == VALUE + REAL_WEI:
                break
            await asyncio.sleep(0.01)
    finally:
        await settlement.stop()
    assert await _spent(store, session) == VALUE + REAL_WEI
    await settlement.stop()  # stopping twice is harmless


# -- held-back signatures (eth_signTransaction): followed like sends -----------------------------
async def _held_back(store: SqliteStore, session: Session, **fields: Any) -> Reservation:
    return await _send(store, session, method="eth_signTransaction", status=None, **fields)


async def test_round_settles_a_held_back_signature_once_the_client_broadcast_it(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _held_back(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt()
    assert (await settlement.run_once()).settled == 1
    assert _row(db_path, held)["status"] == "settled"
    assert await _spent(store, session) == VALUE + REAL_WEI


async def test_round_keeps_only_the_real_gas_of_a_held_back_signature_that_reverted(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _held_back(store, session)
    upstream.receipts[_tx_hash(db_path, held)] = receipt(status=0)
    assert (await settlement.run_once()).reverted == 1
    assert await _spent(store, session) == REAL_WEI


async def test_round_keeps_a_held_back_signature_the_chain_has_not_seen(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    held = await _held_back(store, session)
    report = await settlement.run_once()
    assert (report.pending, report.changed) == (1, 0)
    assert _row(db_path, held)["status"] == "signed"
    assert await _spent(store, session) == COST


async def test_round_releases_a_held_back_signature_whose_nonce_another_took(
        store: SqliteStore, workspace: Workspace, db_path: Path, upstream: ScriptedUpstream,
        settlement: Settlement) -> None:
    session = await insert_session(store, workspace)
    replaced = await _held_back(store, session, explicit_nonce=0)
    replacement = await _send(store, session, explicit_nonce=0, value=2 * ETHER)
    upstream.receipts[_tx_hash(db_path, replacement)] = receipt()
    upstream.mined[session.address] = 1
    report = await settlement.run_once()
    assert (report.settled, report.released) == (1, 1)
    assert _row(db_path, replaced)["status"] == "released"
    assert await _spent(store, session) == 2 * ETHER + REAL_WEI


async def test_settle_does_not_touch_a_held_back_signature_twice(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    session = await insert_session(store, workspace)
    held = await _held_back(store, session)
    assert await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                              now_ms=T0 + 5)
    assert not await store.settle(held.id, amount=0, status=ReservationStatus.RELEASED,
                                  now_ms=T0 + 6)
    assert bucket_total(db_path, session.lineage_id) == REAL_WEI
