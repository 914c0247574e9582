"""Crash recovery meets a transaction the chain mined on its own (issue 10, item 7).

Two sends are signed and reserved (nonces 0 and 1) while `serve` reaches anvil through a relay
that swallows every broadcast; then `serve` is killed with -9. The node did get nonce 1 after
all (the answer was lost: the test hands anvil the raw transaction the ledger stored), and holds
it queued behind the gap at nonce 0. On restart, recovery reads the signer's count (0),
broadcasts nonce 0, which lets anvil mine 0 *and* 1, and then broadcasts nonce 1: "nonce too
low". That refusal does not prove the transaction never reached the chain; here it is mined.
Recovery must look for its receipt before releasing anything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from session_studio_dev import free_port
from web3 import Web3

from .harness import ETH_PRICE_USD, PRIMARY_CHAIN, Studio
from .relay import serve_through, swallowing_relay

pytestmark = pytest.mark.e2e

GWEI = 10**9
ATOMS = 10**18  # USD atoms per USD
VALUE_WEI = 10**15  # 3 USD
FEES = {"gas": 21_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI,
        "chainId": PRIMARY_CHAIN}
SETTLE_TIMEOUT_S = 20


@dataclass(frozen=True)
class Row:
    nonce: int
    status: str
    amount: int
    tx_hash: str
    raw_tx: bytes


def _ledger(studio: Studio, key_hash: str) -> dict[int, Row]:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT r.nonce, r.status, r.amount, r.tx_hash, r.raw_tx FROM reservations r"
            " JOIN sessions s ON s.id = r.session_id WHERE s.key_hash = ?",
            (key_hash.lower(),)).fetchall()
    return {n: Row(nonce=n, status=s, amount=int(a), tx_hash=h, raw_tx=raw)
            for n, s, a, h, raw in rows}


def _eth_transfer(session: dict[str, Any]) -> dict[str, Any]:
    return {"from": session["address"], "to": Web3.to_checksum_address(os.urandom(20)),
            "value": VALUE_WEI, **FEES}


def _send_quietly(w3: Web3, tx: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # the server is killed under the client
        w3.eth.send_transaction(tx)  # type: ignore[arg-type]


def _real_cost(chain: Web3, tx_hash: str) -> int:
    receipt = chain.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    return (VALUE_WEI + receipt["gasUsed"] * receipt["effectiveGasPrice"]) * ETH_PRICE_USD


@dataclass
class MinedDuringRecovery:
    session: dict[str, Any]
    before: dict[int, Row]  # the ledger after the kill
    after: dict[int, Row]  # the ledger once recovery has run
    port: int  # the restarted server


@pytest.fixture(scope="module")
def mined_during_recovery(studio: Studio) -> MinedDuringRecovery:
    session = studio.create_session(per_tx="10", daily="200")
    with swallowing_relay(studio.chains[PRIMARY_CHAIN].rpc_url) as relay:
        doomed, port = serve_through(studio, relay.url)
        clients = [studio.web3(session, port=port) for _ in range(2)]
        sends = [threading.Thread(target=_send_quietly, args=(w3, _eth_transfer(session)),
                                  daemon=True) for w3 in clients]
        for thread in sends:
            thread.start()
        deadline = time.monotonic() + 30
        while len(relay.swallowed) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(relay.swallowed) == 2, "the two sends did not reach the broadcast"
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    before = _ledger(studio, session["key_hash"])
    assert sorted(before) == [0, 1] and {r.status for r in before.values()} == {"signed"}
    chain = studio.chain_web3()
    chain.eth.send_raw_transaction(before[1].raw_tx)  # the node had it after all: queued
    assert chain.eth.get_transaction_count(session["address"]) == 0
    restarted = free_port()
    studio.start_server(rpc_port=restarted)  # recovery runs before it answers /healthz
    for row in before.values():
        chain.eth.wait_for_transaction_receipt(row.tx_hash, timeout=10)  # type: ignore[arg-type]
    return MinedDuringRecovery(session=session, before=before,
                               after=_ledger(studio, session["key_hash"]), port=restarted)


def test_recovery_does_not_release_a_transaction_mined_before_its_rebroadcast(
        mined_during_recovery: MinedDuringRecovery) -> None:
    assert mined_during_recovery.after[1].status in ("broadcast", "settled")


def test_recovery_broadcasts_the_transaction_before_the_gap(
        mined_during_recovery: MinedDuringRecovery) -> None:
    assert mined_during_recovery.after[0].status in ("broadcast", "settled")


def test_ledger_settles_transactions_mined_around_recovery_to_their_real_cost(
        studio: Studio, mined_during_recovery: MinedDuringRecovery) -> None:
    chain = studio.chain_web3()
    expected = {n: _real_cost(chain, row.tx_hash)
                for n, row in mined_during_recovery.before.items()}
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        ledger = _ledger(studio, mined_during_recovery.session["key_hash"])
        settled = {n: row.amount for n, row in ledger.items() if row.status == "settled"}
        if settled == expected or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert settled == expected
    spent = studio.cli("sessions", "show", mined_during_recovery.session["key_hash"])
    assert Decimal(spent["spent_in_window"]) * ATOMS == sum(expected.values())


def test_nonce_of_a_transaction_mined_during_recovery_is_not_handed_out_again(
        studio: Studio, mined_during_recovery: MinedDuringRecovery) -> None:
    w3 = studio.web3(mined_during_recovery.session, port=mined_during_recovery.port)
    tx_hash = w3.eth.send_transaction(_eth_transfer(mined_during_recovery.session))  # type: ignore[arg-type]
    receipt = studio.chain_web3().eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    assert studio.chain_web3().eth.get_transaction(tx_hash)["nonce"] == 2
