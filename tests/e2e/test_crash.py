"""Crash (POLICY.md attack catalogue 9): `kill -9` a `serve` during a burst of sends, start
another on the same database, and check the ledger against the chain.

Two crashes, each run once per module by a fixture:

- *kill during load*: a burst of USDC sends, straight to anvil, killed after a few were
  answered. Wherever the kill lands, everything that reached the chain must be in the ledger,
  and after the restart the daily cap must still be exact.
- *kill with broadcasts in flight*: the same, but the server reaches anvil through a relay that
  forwards nonces 0..4 and holds every later `eth_sendRawTransaction` unanswered, so the kill
  deterministically leaves transactions that were signed (and reserved) but never broadcast:
  the hardest case for the ledger and for the nonce sequence.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from session_studio_dev import free_port
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import ETH_PRICE_USD, PRIMARY_CHAIN, Studio
from .relay import serve_through, swallowing_relay

pytestmark = pytest.mark.e2e

GWEI = 10**9
ATOMS = 10**18  # limit-unit atoms per USD
USDC = 10**6
FEES = {"maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI, "chainId": PRIMARY_CHAIN}
USDC_SEND_COST = 16 * ATOMS // 10  # 1 USDC + 100 000 gas * 2 gwei * 3000 USD/ETH
DAILY_CAP = 80  # 50 sends of 1.6 USD


@dataclass(frozen=True)
class Outcome:
    tx_hash: str | None = None
    code: int | None = None
    reason: str | None = None
    lost: bool = False  # the connection died with the server
    # A refusal's figures (USD atoms): what the window held then, and what the send would cost.
    spent: int | None = field(default=None, compare=False)
    cost: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Reservation:
    status: str
    amount: int
    nonce: int | None
    tx_hash: str | None


@dataclass(frozen=True)
class ChainTx:
    tx_hash: str
    nonce: int
    worst_case_cost: int  # USD atoms, priced as the policy prices it
    real_cost: int  # USD atoms: the amount moved and the gas its receipt says it paid


# -- clients and inspection --------------------------------------------------------------------
def _send(w3: Web3, tx: dict[str, Any]) -> Outcome:
    try:
        return Outcome(tx_hash=w3.eth.send_transaction(tx).to_0x_hex())  # type: ignore[arg-type]
    except Web3RPCError as exc:
        error = (exc.rpc_response or {}).get("error", {})
        data = error.get("data") or {}
        return Outcome(code=error.get("code"), reason=data.get("reason"),
                       spent=_atoms(data.get("spent_in_window")), cost=_atoms(data.get("cost")))
    except Exception:  # connection reset / refused: the server was killed under us
        return Outcome(lost=True)


def _atoms(amount: str | None) -> int | None:
    return None if amount is None else int(Decimal(amount) * ATOMS)


def _usdc_transfer(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    data = studio.usdc_contract(studio.chain_web3()).encode_abi(
        "transfer", [Web3.to_checksum_address(os.urandom(20)), USDC])
    return {"from": session["address"], "to": Web3.to_checksum_address(studio.usdc[PRIMARY_CHAIN]),
            "data": data, "value": 0, "gas": 100_000, **FEES}


def _eth_transfer(session: dict[str, Any]) -> dict[str, Any]:
    return {"from": session["address"], "to": Web3.to_checksum_address(os.urandom(20)),
            "value": GWEI, "gas": 21_000, **FEES}


def _burst_then_kill(studio: Studio, session: dict[str, Any], txs: list[dict[str, Any]],
                     port: int, server: subprocess.Popen[bytes],
                     kill_when: Callable[[], bool]) -> list[Outcome]:
    """Fire every tx at once from its own thread; SIGKILL the server once `kill_when()`."""
    clients = [studio.web3(session, port=port) for _ in txs]
    start = threading.Barrier(len(txs) + 1)
    outcomes: list[Outcome | None] = [None] * len(txs)

    def one(i: int) -> None:
        start.wait()
        outcomes[i] = _send(clients[i], txs[i])

    with ThreadPoolExecutor(max_workers=len(txs)) as pool:
        futures = [pool.submit(one, i) for i in range(len(txs))]
        start.wait()
        deadline = time.monotonic() + 30
        while not kill_when() and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        for f in futures:
            f.result(timeout=60)
    return [o for o in outcomes if o is not None]


def _ledger(studio: Studio, key_hash: str) -> list[Reservation]:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT r.status, r.amount, r.nonce, r.tx_hash FROM reservations r "
            "JOIN sessions s ON s.id = r.session_id WHERE s.key_hash = ?",
            (key_hash.lower(),)).fetchall()
    return [Reservation(status=s, amount=int(a), nonce=n, tx_hash=h) for s, a, n, h in rows]


def _on_chain_from(studio: Studio, address: str) -> list[ChainTx]:
    """Every mined transaction sent by `address`, found by scanning all of anvil's blocks."""
    chain = studio.chain_web3()
    found = []
    for number in range(chain.eth.block_number + 1):
        block = chain.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if tx["from"].lower() != address.lower():
                continue
            data = bytes(tx["input"])
            moved = int.from_bytes(data[36:68], "big") * (ATOMS // USDC) if data else (
                tx["value"] * ETH_PRICE_USD)
            receipt = chain.eth.get_transaction_receipt(tx["hash"])
            found.append(ChainTx(tx_hash=tx["hash"].to_0x_hex(), nonce=tx["nonce"],
                                 worst_case_cost=moved + tx["gas"] * tx["maxFeePerGas"]
                                 * ETH_PRICE_USD,
                                 real_cost=moved + receipt["gasUsed"]
                                 * receipt["effectiveGasPrice"] * ETH_PRICE_USD))
    return found


def _spent_in_window(studio: Studio, key_hash: str) -> int:
    return int(Decimal(studio.cli("sessions", "show", key_hash)["spent_in_window"]) * ATOMS)


# -- crash 1: kill -9 during load --------------------------------------------------------------
@dataclass
class KillDuringLoad:
    session: dict[str, Any]
    burst: list[Outcome]
    on_chain: list[ChainTx]
    ledger: list[Reservation]
    spent_after_restart: int
    after_restart: list[Outcome]
    held_after_sends: int


@pytest.fixture(scope="module")
def kill_during_load(studio: Studio) -> KillDuringLoad:
    session = studio.create_session(per_tx="10", daily=str(DAILY_CAP))
    port = free_port()
    doomed = studio.start_server(rpc_port=port)
    # Were the burst to finish, it would take 60 * 1.6 = 96 USD: over the cap.
    txs = [_usdc_transfer(studio, session) for _ in range(60)]
    chain = studio.chain_web3()

    def under_way() -> bool:  # a few mined, more signed: the ledger is ahead of the chain
        return (chain.eth.get_transaction_count(session["address"]) >= 3
                and len(_ledger(studio, session["key_hash"])) >= 10)

    burst = _burst_then_kill(studio, session, txs, port, doomed, kill_when=under_way)
    assert any(o.lost for o in burst), "the kill came after the burst: nothing was cut short"
    time.sleep(0.5)  # let anvil mine whatever reached it before the kill
    on_chain = _on_chain_from(studio, session["address"])
    ledger = _ledger(studio, session["key_hash"])

    restarted = free_port()
    studio.start_server(rpc_port=restarted)
    spent = _spent_in_window(studio, session["key_hash"])
    w3 = studio.web3(session, port=restarted)
    after: list[Outcome] = []
    while len(after) < DAILY_CAP and (not after or after[-1].tx_hash is not None):
        after.append(_send(w3, _usdc_transfer(studio, session)))
    held_after = sum(r.amount for r in _ledger(studio, session["key_hash"])
                     if r.status != "released")
    return KillDuringLoad(session=session, burst=burst, on_chain=on_chain, ledger=ledger,
                          spent_after_restart=spent, after_restart=after,
                          held_after_sends=held_after)


def test_every_transaction_on_chain_after_kill_9_is_in_the_ledger(
        kill_during_load: KillDuringLoad) -> None:
    held = {r.tx_hash for r in kill_during_load.ledger if r.status != "released"}
    assert kill_during_load.on_chain, "nothing reached the chain before the kill"
    assert [tx.tx_hash for tx in kill_during_load.on_chain if tx.tx_hash not in held] == []


def test_every_hash_a_client_received_before_kill_9_is_in_the_ledger(
        kill_during_load: KillDuringLoad) -> None:
    held = {r.tx_hash for r in kill_during_load.ledger if r.status != "released"}
    answered = [o.tx_hash for o in kill_during_load.burst if o.tx_hash is not None]
    assert [h for h in answered if h not in held] == []


def test_spent_in_window_after_kill_9_covers_the_on_chain_spend(
        kill_during_load: KillDuringLoad) -> None:
    # Settlement lowers mined sends to their real cost: never below it.
    on_chain_spend = sum(tx.real_cost for tx in kill_during_load.on_chain)
    assert kill_during_load.spent_after_restart >= on_chain_spend


def test_ledger_after_kill_9_holds_no_more_than_the_cap(
        kill_during_load: KillDuringLoad) -> None:
    held = sum(r.amount for r in kill_during_load.ledger if r.status != "released")
    # The restart adds nothing; settlement (still running) may only lower what is held.
    assert kill_during_load.spent_after_restart <= held <= DAILY_CAP * ATOMS


def test_sends_after_restart_fill_to_the_cap(kill_during_load: KillDuringLoad) -> None:
    # Settlement frees the gap between worst-case and real gas as receipts arrive, so at least
    # the room seen at the restart is admitted, and the ledger never holds more than the cap.
    room = DAILY_CAP * ATOMS - kill_during_load.spent_after_restart
    admitted = [o for o in kill_during_load.after_restart if o.tx_hash is not None]
    assert len(admitted) >= room // USDC_SEND_COST
    assert kill_during_load.held_after_sends <= DAILY_CAP * ATOMS


def test_send_after_restart_is_refused_only_when_it_would_cross_the_cap(
        kill_during_load: KillDuringLoad) -> None:
    refused = kill_during_load.after_restart[-1]
    assert refused.spent is not None and refused.cost == USDC_SEND_COST
    assert refused.spent <= DAILY_CAP * ATOMS < refused.spent + refused.cost


def test_send_after_restart_that_crosses_the_cap_is_refused(
        kill_during_load: KillDuringLoad) -> None:
    assert kill_during_load.after_restart[-1] == Outcome(code=4001,
                                                         reason="daily_limit_exceeded")


# -- crash 2: kill -9 with signed transactions not yet broadcast ---------------------------------
FORWARDED_NONCES = 5  # nonces below this reach anvil; every later broadcast is held


@dataclass
class KillInFlight:
    session: dict[str, Any]
    forwarded: list[str]
    held: list[str]
    ledger: list[Reservation]
    on_chain: list[ChainTx]


@pytest.fixture(scope="module")
def kill_in_flight(studio: Studio) -> KillInFlight:
    session = studio.create_session(per_tx="10", daily="200")
    with swallowing_relay(studio.chains[PRIMARY_CHAIN].rpc_url,
                          forward_below=FORWARDED_NONCES) as relay:
        doomed, port = serve_through(studio, relay.url)

        def broadcasts_stuck() -> bool:
            with relay.lock:
                return len(relay.forwarded) >= FORWARDED_NONCES and len(relay.swallowed) >= 3

        _burst_then_kill(studio, session, [_eth_transfer(session) for _ in range(15)], port,
                         doomed, kill_when=broadcasts_stuck)
        with relay.lock:
            forwarded = list(relay.forwarded)
            held = [Web3.keccak(hexstr=raw).to_0x_hex() for raw in relay.swallowed]
    chain = studio.chain_web3()
    for tx_hash in forwarded:
        chain.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    return KillInFlight(session=session, forwarded=forwarded, held=held,
                        ledger=_ledger(studio, session["key_hash"]),
                        on_chain=_on_chain_from(studio, session["address"]))


def test_broadcast_before_kill_9_reached_the_chain(kill_in_flight: KillInFlight) -> None:
    assert sorted(tx.tx_hash for tx in kill_in_flight.on_chain) == sorted(
        kill_in_flight.forwarded)


def test_signed_but_never_broadcast_transactions_are_in_the_ledger_after_kill_9(
        kill_in_flight: KillInFlight) -> None:
    held = {r.tx_hash for r in kill_in_flight.ledger if r.status != "released"}
    assert kill_in_flight.held, "no broadcast was in flight at the kill"
    assert [h for h in kill_in_flight.held if h not in held] == []


def test_ledger_after_kill_9_has_one_reservation_per_nonce(kill_in_flight: KillInFlight) -> None:
    nonces = [r.nonce for r in kill_in_flight.ledger]
    assert sorted(nonces) == list(range(len(nonces)))


def test_sends_after_restart_land_although_signed_transactions_were_never_broadcast(
        studio: Studio, kill_in_flight: KillInFlight) -> None:
    port = free_port()
    studio.start_server(rpc_port=port)
    w3 = studio.web3(kill_in_flight.session, port=port)
    sent = [_send(w3, _eth_transfer(kill_in_flight.session)) for _ in range(2)]
    assert all(o.tx_hash for o in sent), sent
    chain = studio.chain_web3()
    receipts = [chain.eth.wait_for_transaction_receipt(o.tx_hash, timeout=3, poll_latency=0.1)
                for o in sent]
    assert [r["status"] for r in receipts] == [1, 1]
