"""The ledger's half of settlement, for every backend: `unsettled` lists what settlement
follows, and `settle` corrects a reservation to what it really spent, once (the settlement round
that calls it, against a scripted upstream: tests/store/test_settlement.py). Limits are in ETH,
so unit atoms and wei coincide: a send reserves VALUE + GAS * MAX_FEE atoms, its gas part is
GAS_WEI, and the real gas of a receipt is gasUsed * effectiveGasPrice atoms, to the atom.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
from session_studio.policy import (
    Asset,
    ChainAssets,
    Decision,
    SessionState,
    TransactionRequest,
    decode_transaction,
    evaluate_transaction,
    window_start_ms,
)
from session_studio.store import Reservation, ReservationStatus, Session, Store, Workspace

from ..conftest import (
    _PRICES,
    CHAIN_ID,
    ETHER,
    MINUTE_MS,
    RECIPIENT,
    T0,
    insert_session,
    nonce_request,
)
from .conftest import LedgerProbe

GWEI = 10**9
VALUE = ETHER
GAS = 100_000
MAX_FEE = 10 * GWEI
GAS_WEI = GAS * MAX_FEE  # 1e15 wei = 1e15 atoms of worst-case gas
COST = VALUE + GAS_WEI
USED = 52_000  # gasUsed of the receipts below
PRICE = 3 * GWEI  # their effectiveGasPrice
REAL_WEI = USED * PRICE  # 1.56e14

_ASSETS = ChainAssets(chain_id=CHAIN_ID, native=Asset(chain_id=CHAIN_ID, symbol="ETH",
                                                      decimals=18), tokens={})


# -- helpers -----------------------------------------------------------------------------------
def _evaluate(session: Session, value: int) -> Callable[[SessionState, int], Decision]:
    tx = TransactionRequest(chain_id=CHAIN_ID, declared_chain_id=CHAIN_ID,
                            sender=session.address.lower(), to=RECIPIENT.lower(), value=value,
                            data=b"", gas=GAS, max_fee_per_gas=MAX_FEE, tx_type=2)
    decoded = decode_transaction(tx, _ASSETS)
    policy = session.policy()

    def evaluate(state: SessionState, now_ms: int) -> Decision:
        return evaluate_transaction(policy=policy, state=state, tx=tx, decoded=decoded,
                                    prices=_PRICES, now_ms=now_ms)

    return evaluate


def _sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
    return b"sig", "0x" + os.urandom(32).hex(), b"raw"


async def _send(store: Store, session: Session, *, value: int = VALUE,
                now_ms: int = T0, status: ReservationStatus | None = ReservationStatus.BROADCAST,
                method: str = "eth_sendTransaction", explicit_nonce: int | None = None,
                ) -> Reservation:
    """One send as the proxy makes it: reserve with the gas figures, then the broadcast's
    outcome (None: still `signed`)."""
    decision, reservation, _ = await store.reserve_and_sign(
        session_id=session.id, method=method, clock=lambda: now_ms,
        window_mode="rolling_24h", evaluate=_evaluate(session, value),
        nonce=nonce_request(session, explicit=explicit_nonce), sign=_sign, gas_wei=GAS_WEI)
    assert decision.allowed and reservation is not None, decision
    assert decision.gas_cost == GAS_WEI
    if status is not None:
        await store.record_outcome(reservation, status=status, now_ms=now_ms + 1)
    return reservation


async def _spent(store: Store, session: Session, now_ms: int = T0 + MINUTE_MS) -> int:
    return await store.spent_in_window(session.lineage_id,
                                       window_start_ms=window_start_ms(now_ms))


def _row(probe: LedgerProbe, reservation: Reservation) -> dict[str, Any]:
    return probe.settlement_row(reservation.id)


def _bucket_total(probe: LedgerProbe, lineage_id: str) -> int:
    return sum(probe.buckets(lineage_id).values())


# -- the ledger --------------------------------------------------------------------------------
async def test_reservation_records_the_worst_case_gas(store: Store, workspace: Workspace,
                                                      probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    row = _row(probe, await _send(store, session))
    assert (row["amount"], row["gas_reserved"], row["gas_wei_reserved"]) == (
        COST, GAS_WEI, GAS_WEI)


async def test_unsettled_lists_broadcast_and_unknown_sends_and_held_back_signatures(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    broadcast = await _send(store, session, now_ms=T0)
    unknown = await _send(store, session, now_ms=T0 + 1, status=ReservationStatus.UNKNOWN)
    # A send signed but never broadcast is recovery's business; a signed-only transaction
    # (the client holds it and may broadcast it any time) is followed like a send.
    await _send(store, session, now_ms=T0 + 2, status=None)
    held_back = await _send(store, session, now_ms=T0 + 3, method="eth_signTransaction",
                            status=None)
    # Released before any node took it (a broadcast send is never released: it is settled).
    released = await _send(store, session, now_ms=T0 + 4, status=None)
    assert await store.release(released, now_ms=T0 + 2, return_nonce=False)
    listed = await store.unsettled()
    assert [(u.reservation.id, u.status) for u in listed] == [
        (broadcast.id, ReservationStatus.BROADCAST), (unknown.id, ReservationStatus.UNKNOWN),
        (held_back.id, ReservationStatus.SIGNED)]
    assert all(u.address == session.address and u.gas_reserved == GAS_WEI
               and u.gas_wei_reserved == GAS_WEI for u in listed)


async def test_unsettled_pages_with_its_cursor(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    sends = [await _send(store, session, now_ms=T0 + i) for i in range(5)]
    first = await store.unsettled(limit=2)
    second = await store.unsettled(limit=2, after=first[-1].cursor)
    third = await store.unsettled(limit=2, after=second[-1].cursor)
    assert [u.reservation.id for u in first + second + third] == [s.id for s in sends]


async def test_settle_lowers_the_bucket_by_exactly_the_delta(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    await _send(store, session, value=2 * ETHER)
    held = await _send(store, session)
    assert await store.settle(held.id, amount=VALUE + REAL_WEI,
                              status=ReservationStatus.SETTLED, now_ms=T0 + 5,
                              gas_wei_used=REAL_WEI, receipt_status=1)
    assert _bucket_total(probe, session.lineage_id) == 2 * ETHER + GAS_WEI + VALUE + REAL_WEI
    assert await _spent(store, session) == 2 * ETHER + GAS_WEI + VALUE + REAL_WEI


async def test_settle_records_the_real_gas(store: Store, workspace: Workspace,
                                           probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    await store.settle(held.id, amount=VALUE + REAL_WEI, status=ReservationStatus.SETTLED,
                       now_ms=T0 + 5, gas_wei_used=REAL_WEI, receipt_status=1)
    row = _row(probe, held)
    assert (row["status"], row["amount"], row["gas_wei_used"], row["receipt_status"],
            row["settled_at"]) == ("settled", VALUE + REAL_WEI, REAL_WEI, 1, T0 + 5)


async def test_settling_twice_is_a_no_op(store: Store, workspace: Workspace,
                                         probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    assert await store.settle(held.id, amount=VALUE + REAL_WEI,
                              status=ReservationStatus.SETTLED, now_ms=T0 + 5)
    assert not await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                                  now_ms=T0 + 6)
    assert _bucket_total(probe, session.lineage_id) == VALUE + REAL_WEI
    assert _row(probe, held)["amount"] == VALUE + REAL_WEI


async def test_settled_reservation_leaves_the_unsettled_list(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    await store.settle(held.id, amount=COST, status=ReservationStatus.SETTLED, now_ms=T0 + 5)
    assert await store.unsettled() == []


async def test_status_rewritten_after_settling_does_not_settle_again(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    # Recovery in another process may still mark a row it read as `unknown` broadcast.
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=ReservationStatus.UNKNOWN)
    await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED, now_ms=T0 + 5)
    await store.record_outcome(held, status=ReservationStatus.BROADCAST, now_ms=T0 + 6)
    assert await store.unsettled() == []
    assert not await store.settle(held.id, amount=0, status=ReservationStatus.RELEASED,
                                  now_ms=T0 + 7)
    assert _bucket_total(probe, session.lineage_id) == REAL_WEI


async def test_revert_keeps_only_its_real_gas_in_the_window(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                       now_ms=T0 + 5, gas_wei_used=REAL_WEI, receipt_status=0)
    assert await _spent(store, session) == REAL_WEI


async def test_settle_corrects_the_reservations_own_minute(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, now_ms=T0)
    await _send(store, session, now_ms=T0 + 3 * MINUTE_MS)
    await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                       now_ms=T0 + 5 * MINUTE_MS)
    assert probe.buckets(session.lineage_id) == {T0 // MINUTE_MS: REAL_WEI,
                                                 T0 // MINUTE_MS + 3: COST}


async def test_release_on_nonce_passed_gives_the_whole_spend_back(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    assert await store.settle(held.id, amount=0, status=ReservationStatus.RELEASED,
                              now_ms=T0 + 5)
    assert await _spent(store, session) == 0
    row = _row(probe, held)
    assert (row["status"], row["amount"], row["settled_at"]) == ("released", COST, T0 + 5)


async def test_release_on_nonce_passed_does_not_hand_the_nonce_out_again(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    await store.settle(held.id, amount=0, status=ReservationStatus.RELEASED, now_ms=T0 + 5)
    assert held.nonce is not None
    assert (await _send(store, session)).nonce == held.nonce + 1


async def test_settle_after_a_release_is_a_no_op(store: Store, workspace: Workspace,
                                                 probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=ReservationStatus.UNKNOWN)
    await store.release(held, now_ms=T0 + 2, return_nonce=False)
    assert not await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED,
                                  now_ms=T0 + 5)
    assert _bucket_total(probe, session.lineage_id) == 0


async def test_release_after_settling_changes_nothing(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    # Its receipt proves it landed: a late release (a slow owner's "nonce too low" after a
    # survivor's rebroadcast was mined) must not give its spend back. Until issue 12 this gave
    # back the settled amount (the bucket stayed equal to the row, but the row said released).
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    await store.settle(held.id, amount=REAL_WEI, status=ReservationStatus.SETTLED, now_ms=T0 + 5)
    assert not await store.release(held, now_ms=T0 + 6, return_nonce=False)
    assert _row(probe, held)["status"] == "settled"
    assert _bucket_total(probe, session.lineage_id) == REAL_WEI


async def test_settle_never_raises_a_reservation(store: Store, workspace: Workspace,
                                                 probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    with pytest.raises(ValueError, match="only lowers"):
        await store.settle(held.id, amount=COST + 1, status=ReservationStatus.SETTLED,
                           now_ms=T0 + 5)
    assert _bucket_total(probe, session.lineage_id) == COST
    assert _row(probe, held)["status"] == "broadcast"


async def test_release_must_settle_to_zero(store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    with pytest.raises(ValueError, match="0 for a release"):
        await store.settle(held.id, amount=1, status=ReservationStatus.RELEASED, now_ms=T0 + 5)


async def test_settle_does_not_touch_a_signed_reservation(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session, status=None)
    assert not await store.settle(held.id, amount=0, status=ReservationStatus.SETTLED,
                                  now_ms=T0 + 5)
    assert _bucket_total(probe, session.lineage_id) == COST


async def test_concurrent_settles_apply_once(store: Store, workspace: Workspace,
                                             probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    held = await _send(store, session)
    applied = await asyncio.gather(*(
        store.settle(held.id, amount=VALUE + REAL_WEI, status=ReservationStatus.SETTLED,
                     now_ms=T0 + 5) for _ in range(20)))
    assert sorted(applied) == [False] * 19 + [True]
    assert _bucket_total(probe, session.lineage_id) == VALUE + REAL_WEI
