"""Concurrency against the real thing (POLICY.md attack catalogue 6): parallel requests that each
fit but together exceed the daily cap, a JSON-RPC batch doing the same, and two `serve`
processes on one database.

Every client is web3.py (one `Web3` per thread, as independent agents would have) or a raw
HTTP batch; the chain is anvil, the ledger is inspected in the SQLite file itself. Each scenario
runs once per module (a fixture) and the tests below it each check one consequence.

Costs are exact: a USDC transfer of 1 USDC with gas 100 000 at 2 gwei costs
1 + 100 000 * 2e9 * 3000 / 1e18 = 1.6 USD, so a 40 USD daily cap admits exactly 25.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from session_studio_dev import free_port
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
ATOMS = 10**18  # limit-unit atoms per USD
USDC = 10**6  # base units per USDC
FEES = {"gas": 100_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI,
        "chainId": PRIMARY_CHAIN}
USDC_SEND_COST = 16 * ATOMS // 10  # 1 USDC + 0.6 USD of worst-case gas
DAILY_CAP = "40"
FITTING = 25  # 25 * 1.6 = 40.0 exactly; the 26th would make 41.6


@dataclass(frozen=True)
class Outcome:
    tx_hash: str | None = None
    code: int | None = None
    reason: str | None = None


@dataclass
class Run:
    """One scenario's results: what each client got back, and what the chain and ledger say."""

    session: dict[str, Any]
    recipient: str
    outcomes: list[Outcome]
    receipts: list[Any] = field(default_factory=list)
    nonces: list[int] = field(default_factory=list)
    balance_gained: int = 0
    most_held_seen: int = 0

    @property
    def accepted(self) -> list[str]:
        return [o.tx_hash for o in self.outcomes if o.tx_hash is not None]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.tx_hash is None]


def _fresh_address() -> str:
    return Web3.to_checksum_address(os.urandom(20))


def _usdc_transfer(studio: Studio, session: dict[str, Any], recipient: str,
                   amount: int) -> dict[str, Any]:
    data = studio.usdc_contract(studio.chain_web3()).encode_abi("transfer", [recipient, amount])
    return {"from": session["address"], "to": Web3.to_checksum_address(studio.usdc[PRIMARY_CHAIN]),
            "data": data, "value": 0, **FEES}


def _send(w3: Web3, tx: dict[str, Any]) -> Outcome:
    try:
        return Outcome(tx_hash=w3.eth.send_transaction(tx).to_0x_hex())  # type: ignore[arg-type]
    except Web3RPCError as exc:
        error = (exc.rpc_response or {}).get("error", {})
        return Outcome(code=error.get("code"), reason=(error.get("data") or {}).get("reason"))


def _burst(studio: Studio, session: dict[str, Any], txs: list[dict[str, Any]],
           ports: list[int | None]) -> list[Outcome]:
    """Every tx from its own thread and its own Web3, released at the same instant."""
    clients = [studio.web3(session, port=ports[i % len(ports)]) for i in range(len(txs))]
    start = threading.Barrier(len(txs))

    def one(i: int) -> Outcome:
        start.wait()
        return _send(clients[i], txs[i])

    with ThreadPoolExecutor(max_workers=len(txs)) as pool:
        return list(pool.map(one, range(len(txs))))


def _db(studio: Studio) -> str:
    return f"file:{studio.home / 'studio.db'}?mode=ro"


def _held(studio: Studio, key_hash: str) -> int:
    """Sum of the session's reservations that still count, read from the SQLite file."""
    with contextlib.closing(sqlite3.connect(_db(studio), uri=True, timeout=10)) as conn:
        rows = conn.execute(
            "SELECT r.amount FROM reservations r JOIN sessions s ON s.id = r.session_id "
            "WHERE s.key_hash = ? AND r.status != 'released'", (key_hash.lower(),)).fetchall()
    return sum(int(a) for (a,) in rows)


@contextlib.contextmanager
def _watch_ledger(studio: Studio, key_hash: str) -> Iterator[Callable[[], int]]:
    """Poll the ledger while the block runs; yields a getter for the most ever held."""
    seen = [0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen[0] = max(seen[0], _held(studio, key_hash))
            time.sleep(0.005)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield lambda: seen[0]
    finally:
        stop.set()
        watcher.join()
        seen[0] = max(seen[0], _held(studio, key_hash))


def _land(studio: Studio, run: Run) -> Run:
    chain = studio.chain_web3()
    run.receipts = [chain.eth.wait_for_transaction_receipt(h, timeout=30) for h in run.accepted]
    run.nonces = [chain.eth.get_transaction(h)["nonce"] for h in run.accepted]
    run.balance_gained = studio.usdc_balance(run.recipient)  # a fresh address: it had 0
    return run


@contextlib.contextmanager
def _nothing_mined(studio: Studio) -> Iterator[None]:
    """anvil mines nothing while the block runs, then everything at once. Settlement lowers a
    mined send to its real gas, which frees room in the window: a burst against the cap admits
    exactly FITTING only if no receipt appears before every request was decided."""
    chain = studio.chain_web3()
    chain.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        chain.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        chain.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def _capped_usdc_burst(studio: Studio, *, count: int, ports: list[int | None]) -> Run:
    session = studio.create_session(per_tx="10", daily=DAILY_CAP)
    recipient = _fresh_address()
    txs = [_usdc_transfer(studio, session, recipient, USDC) for _ in range(count)]
    with _nothing_mined(studio), _watch_ledger(studio, session["key_hash"]) as most_held:
        outcomes = _burst(studio, session, txs, ports)
    run = Run(session=session, recipient=recipient, outcomes=outcomes)
    run.most_held_seen = most_held()
    return _land(studio, run)


# -- 50 parallel sends against one daily cap -------------------------------------------------
@pytest.fixture(scope="module")
def parallel(studio: Studio) -> Run:
    return _capped_usdc_burst(studio, count=50, ports=[None])


def test_parallel_sends_admit_exactly_what_fits_the_daily_cap(parallel: Run) -> None:
    assert len(parallel.accepted) == FITTING


def test_parallel_sends_over_the_cap_are_refused_as_daily_limit_exceeded(parallel: Run) -> None:
    assert parallel.refused == [Outcome(code=4001, reason="daily_limit_exceeded")] * (50 - FITTING)


def test_parallel_admitted_sends_all_land(parallel: Run) -> None:
    assert [r["status"] for r in parallel.receipts] == [1] * FITTING


def test_parallel_admitted_sends_have_distinct_consecutive_nonces(parallel: Run) -> None:
    assert sorted(parallel.nonces) == list(range(FITTING))


def test_parallel_admitted_sends_move_exactly_their_amount(parallel: Run) -> None:
    assert parallel.balance_gained == FITTING * USDC


def test_ledger_never_holds_more_than_the_cap_during_parallel_sends(parallel: Run) -> None:
    assert parallel.most_held_seen == FITTING * USDC_SEND_COST <= int(DAILY_CAP) * ATOMS


# -- 100 parallel sends within generous limits -------------------------------------------------
@pytest.fixture(scope="module")
def hundred(studio: Studio) -> Run:
    session = studio.create_session(per_tx="50", daily="1000")
    recipient = _fresh_address()
    txs = [{"from": session["address"], "to": recipient, "value": GWEI, **FEES, "gas": 21_000}
           for _ in range(100)]
    run = Run(session=session, recipient=recipient, outcomes=_burst(studio, session, txs, [None]))
    return _land(studio, run)


def test_hundred_parallel_sends_are_all_admitted(hundred: Run) -> None:
    assert (len(hundred.accepted), hundred.refused) == (100, [])


def test_hundred_parallel_sends_land_with_nonces_0_to_99(hundred: Run) -> None:
    assert sorted(hundred.nonces) == list(range(100))


def test_hundred_parallel_sends_all_succeed_on_chain(hundred: Run) -> None:
    assert [r["status"] for r in hundred.receipts] == [1] * 100


# -- one JSON-RPC batch over the cap -----------------------------------------------------------
BATCH = 30


@pytest.fixture(scope="module")
def batch(studio: Studio) -> Run:
    session = studio.create_session(per_tx="10", daily=DAILY_CAP)
    recipient = _fresh_address()
    calls = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
              "params": [_jsonable(_usdc_transfer(studio, session, recipient, USDC))]}
             for i in range(BATCH)]
    request = urllib.request.Request(
        studio.rpc_url(), data=json.dumps(calls).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {session['credential']}"})
    with _nothing_mined(studio), urllib.request.urlopen(request, timeout=120) as response:
        answers = sorted(json.loads(response.read()), key=lambda a: a["id"])
    assert [a["id"] for a in answers] == list(range(BATCH))
    outcomes = [Outcome(tx_hash=a["result"]) if "result" in a else
                Outcome(code=a["error"]["code"], reason=a["error"]["data"]["reason"])
                for a in answers]
    return _land(studio, Run(session=session, recipient=recipient, outcomes=outcomes))


def _jsonable(tx: dict[str, Any]) -> dict[str, Any]:
    return {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}


def test_batch_admits_exactly_what_fits_the_daily_cap(batch: Run) -> None:
    assert len(batch.accepted) == FITTING


def test_batch_admits_the_requests_that_fit_in_batch_order(batch: Run) -> None:
    expected = [True] * FITTING + [False] * (BATCH - FITTING)
    assert [o.tx_hash is not None for o in batch.outcomes] == expected


def test_batch_refuses_the_rest_as_daily_limit_exceeded(batch: Run) -> None:
    assert batch.refused == [Outcome(code=4001, reason="daily_limit_exceeded")] * (BATCH - FITTING)


def test_batch_admitted_sends_all_land(batch: Run) -> None:
    assert [r["status"] for r in batch.receipts] == [1] * FITTING


def test_batch_admitted_sends_get_nonces_in_batch_order(batch: Run) -> None:
    assert batch.nonces == list(range(FITTING))


def test_batch_admitted_sends_move_exactly_their_amount(batch: Run) -> None:
    assert batch.balance_gained == FITTING * USDC


# -- two serve processes, one database ---------------------------------------------------------
@pytest.fixture(scope="module")
def second_server_port(studio: Studio) -> int:
    port = free_port()
    studio.start_server(rpc_port=port)
    return port


@pytest.fixture(scope="module")
def two_servers(studio: Studio, second_server_port: int) -> Run:
    # Half the clients talk to each server. How the 25 admissions split between them is up to
    # SQLite's write lock (it is not fair: one process can take them all while the other waits
    # in its busy handler); either way the other's refusals come from reading the first's
    # reservations, which is the cross-process check.
    return _capped_usdc_burst(studio, count=50, ports=[None, second_server_port])


def test_two_servers_together_admit_exactly_what_fits_the_daily_cap(two_servers: Run) -> None:
    assert len(two_servers.accepted) == FITTING


def test_two_servers_refuse_the_rest_as_daily_limit_exceeded(two_servers: Run) -> None:
    assert two_servers.refused == [Outcome(code=4001, reason="daily_limit_exceeded")] * (
        50 - FITTING)


def test_two_servers_never_hand_out_the_same_nonce(two_servers: Run) -> None:
    assert sorted(two_servers.nonces) == list(range(FITTING))


def test_two_servers_admitted_sends_all_land(two_servers: Run) -> None:
    assert [r["status"] for r in two_servers.receipts] == [1] * FITTING


def test_two_servers_admitted_sends_move_exactly_their_amount(two_servers: Run) -> None:
    assert two_servers.balance_gained == FITTING * USDC


def test_ledger_never_holds_more_than_the_cap_across_two_servers(two_servers: Run) -> None:
    assert two_servers.most_held_seen == FITTING * USDC_SEND_COST <= int(DAILY_CAP) * ATOMS
