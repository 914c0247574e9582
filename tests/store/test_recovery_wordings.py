"""Crash recovery against other node clients' wordings (issue 10, item 7).

A real SQLite ledger holds a send that was signed and never confirmed as broadcast; recovery
rebroadcasts it to a stand-in upstream that answers the way Nethermind, Besu, Erigon, reth and
anvil do (those nodes cannot run here; anvil is also met for real in
tests/e2e/test_recovery_mined.py). "Already known" in any wording keeps the reservation;
"nonce too low" in any wording is believed only with the transaction's receipt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from session_studio.proxy import ChainRuntime, FeeCache, RpcPlaneDeps, Upstream
from session_studio.proxy._errors import UpstreamError, UpstreamUnavailable
from session_studio.proxy._recovery import rebroadcast_unconfirmed
from session_studio.store import Reservation, Session, SqliteStore, Workspace

from .conftest import _ASSETS, CHAIN_ID, ETHER, FAKE_TX_HASH, T0, insert_session, query, reserve

ALREADY_KNOWN = {"geth": "already known", "nethermind (earlier)": "AlreadyKnown",
                 "besu": "Known transaction", "erigon": "ALREADY_EXISTS: already known",
                 "reth (earlier)": "[0xab] Already imported",
                 "anvil": "transaction already imported"}
NONCE_USED = {"geth": "nonce too low: next nonce 1, tx nonce 0",
              "nethermind (earlier)": "OldNonce, Current nonce: 1, nonce of rejected tx: 0",
              "besu": "Nonce too low", "reth": "nonce too low: next nonce 1, tx nonce 0",
              "anvil": "nonce too low"}
MINED = {"status": "0x1", "gasUsed": "0x5208", "effectiveGasPrice": "0x1",
         "blockNumber": "0x5", "blockHash": "0x" + "11" * 32}


class StandIn(Upstream):
    """Refuses every broadcast with `refusal`; the latest count is 0 (read before the loop)."""

    def __init__(self, refusal: str, *, receipt: dict[str, Any] | None = None,
                 receipts_down: bool = False) -> None:
        super().__init__("http://stand-in.invalid", timeout_s=1)
        self.refusal = refusal
        self.receipt = receipt
        self.receipts_down = receipts_down
        self.asked_receipt: list[str] = []

    async def call(self, method: str, params: list[Any]) -> Any:
        if method == "eth_getTransactionCount":
            return "0x0"
        if method == "eth_sendRawTransaction":
            raise UpstreamError({"code": -32000, "message": self.refusal})
        if method == "eth_getTransactionReceipt":
            self.asked_receipt.append(params[0])
            if self.receipts_down:
                raise UpstreamUnavailable("upstream did not answer (stand-in)")
            return self.receipt
        raise AssertionError(f"unexpected upstream call {method}")


def _deps(store: SqliteStore, upstream: Upstream) -> RpcPlaneDeps:
    chain = ChainRuntime(chain_id=CHAIN_ID, assets=_ASSETS, upstream=upstream,
                         fees=FeeCache(upstream, ttl_s=0),
                         max_fee_per_gas=None)
    return RpcPlaneDeps(store=store, keystore=None, chains={CHAIN_ID: chain},  # type: ignore[arg-type]
                        prices=None, clock=lambda: T0 + 10_000,  # type: ignore[arg-type]
                        window_mode="rolling_24h", max_outstanding_signed=4,
                        max_body_bytes=1 << 20, max_batch_size=10,
                        allow_raw_transactions=False)


async def _signed_send(store: SqliteStore, workspace: Workspace) -> tuple[Session, Reservation]:
    session = await insert_session(store, workspace)
    _, reservation = await reserve(store, session, ETHER)  # 'signed', never broadcast
    assert reservation is not None
    return session, reservation


def _status(db_path: Path, reservation: Reservation) -> str:
    [(status,)] = query(db_path, "SELECT status FROM reservations WHERE id = ?",
                        (reservation.id,))
    return str(status)


def _pooled_nonces(db_path: Path) -> list[int]:
    return [n for (n,) in query(db_path, "SELECT nonce FROM released_nonces")]


@pytest.mark.parametrize("client", sorted(ALREADY_KNOWN))
async def test_recovery_keeps_a_send_every_client_says_it_already_has(
        store: SqliteStore, workspace: Workspace, db_path: Path, client: str) -> None:
    _, held = await _signed_send(store, workspace)
    await rebroadcast_unconfirmed(_deps(store, StandIn(ALREADY_KNOWN[client])))
    assert _status(db_path, held) == "broadcast"


@pytest.mark.parametrize("client", sorted(NONCE_USED))
async def test_recovery_keeps_a_send_mined_before_its_rebroadcast_whatever_the_wording(
        store: SqliteStore, workspace: Workspace, db_path: Path, client: str) -> None:
    _, held = await _signed_send(store, workspace)
    upstream = StandIn(NONCE_USED[client], receipt=MINED)
    await rebroadcast_unconfirmed(_deps(store, upstream))
    assert upstream.asked_receipt == [FAKE_TX_HASH]
    assert _status(db_path, held) == "broadcast"  # settlement settles it to its real cost
    assert _pooled_nonces(db_path) == []


@pytest.mark.parametrize("client", sorted(NONCE_USED))
async def test_recovery_leaves_a_nonce_too_low_without_receipt_to_settlement(
        store: SqliteStore, workspace: Workspace, db_path: Path, client: str) -> None:
    # Another transaction used the nonce, or the node indexes receipts late: settlement's
    # nonce-then-receipt check releases it a round later; the nonce is never pooled again.
    _, held = await _signed_send(store, workspace)
    await rebroadcast_unconfirmed(_deps(store, StandIn(NONCE_USED[client])))
    assert _status(db_path, held) == "unknown"
    assert _pooled_nonces(db_path) == []


async def test_recovery_keeps_a_nonce_too_low_whose_receipt_it_cannot_read(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    _, held = await _signed_send(store, workspace)
    await rebroadcast_unconfirmed(_deps(store, StandIn("nonce too low", receipts_down=True)))
    assert _status(db_path, held) == "unknown"


async def test_recovery_releases_a_plain_refusal_and_pools_its_nonce(
        store: SqliteStore, workspace: Workspace, db_path: Path) -> None:
    _, held = await _signed_send(store, workspace)
    await rebroadcast_unconfirmed(_deps(store, StandIn("insufficient funds for transfer")))
    assert _status(db_path, held) == "released"
    assert _pooled_nonces(db_path) == [0]
