"""Two `serve` processes on one SQLite file share signing fairly under sustained load.

Issue 12 item 5. Both processes serialise their ledger transactions on the file's write lock;
the cap stays exact whoever wins it, but if one process re-takes the lock every time it commits
while the other sleeps in SQLite's busy handler, the sleeper signs nothing and its clients only
ever see refusals once the cap is gone (or time out). The scenario below makes both processes
compete for one capped session from many clients at once: each client posts a JSON-RPC batch
of sends (the server decides them one after another), so each process keeps a queue of ledger
transactions for the whole burst, and the clients of the two processes are interleaved.

Fairness criterion (a count ratio, never a time): over the burst each process signs at least a
quarter of what the other signs, and no request fails for any reason other than the daily cap
(in particular not with a database-busy error). Exactness: together they sign exactly what fits
the cap, with consecutive nonces, and the recipient gets exactly that much.

Costs are exact: a USDC transfer of 1 USDC with gas 100 000 at 2 gwei costs
1 + 100 000 * 2e9 * 3000 / 1e18 = 1.6 USD, so an 80 USD daily cap admits exactly 50.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from session_studio_dev import free_port
from web3 import Web3

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
USDC = 10**6
FEES = {"gas": 100_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI,
        "chainId": PRIMARY_CHAIN}
DAILY_CAP = "80"
FITTING = 50  # 50 * 1.6 = 80.0 exactly
CLIENTS_PER_PROCESS = 32
SENDS_PER_CLIENT = 4  # one JSON-RPC batch each: 256 requests in all for 50 admissions
FAIR_SHARE_RATIO = 4  # each process signs at least 1/4 of what the other signs


@dataclass(frozen=True)
class Outcome:
    process: int
    tx_hash: str | None = None
    code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Burst:
    outcomes: list[Outcome]
    nonces: list[int]
    statuses: list[int]
    balance_gained: int

    def signed_by(self, process: int) -> int:
        return sum(1 for o in self.outcomes if o.process == process and o.tx_hash is not None)

    @property
    def signed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.tx_hash is not None]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.tx_hash is None]


@contextlib.contextmanager
def _nothing_mined(studio: Studio) -> Iterator[None]:
    """No receipt before the burst ends: settlement would lower a mined send to its real gas
    and free room in the window, and the cap would no longer admit exactly FITTING."""
    chain = studio.chain_web3()
    chain.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        chain.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        chain.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def _batch(studio: Studio, session: dict[str, Any], port: int, process: int,
           tx: dict[str, Any]) -> list[Outcome]:
    params = {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}
    calls = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [params]}
             for i in range(SENDS_PER_CLIENT)]
    request = urllib.request.Request(
        studio.rpc_url(port=port), data=json.dumps(calls).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {session['credential']}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        answers = json.loads(response.read())
    return [Outcome(process=process, tx_hash=a["result"]) if "result" in a else
            Outcome(process=process, code=a["error"]["code"],
                    reason=(a["error"].get("data") or {}).get("reason"))
            for a in answers]


def _warm_up(studio: Studio, ports: list[int]) -> None:
    """One send through each process first: the burst measures turns at the ledger, not which
    process happens to open its upstream connections sooner."""
    session = studio.create_session()
    for port in ports:
        studio.web3(session, port=port).eth.send_transaction(
            {"from": session["address"], "to": session["address"], "value": 1, **FEES,
             "gas": 21_000})


@pytest.fixture(scope="module")
def burst(studio: Studio) -> Burst:
    second_port = free_port()
    studio.start_server(rpc_port=second_port)
    ports = [studio.rpc_port, second_port]
    _warm_up(studio, ports)
    session = studio.create_session(per_tx="10", daily=DAILY_CAP)
    recipient = Web3.to_checksum_address(os.urandom(20))
    data = studio.usdc_contract(studio.chain_web3()).encode_abi("transfer", [recipient, USDC])
    tx = {"from": session["address"], "data": data, "value": 0, **FEES,
          "to": Web3.to_checksum_address(studio.usdc[PRIMARY_CHAIN])}
    clients = [process for _ in range(CLIENTS_PER_PROCESS) for process in (0, 1)]
    start = threading.Barrier(len(clients))

    def client(i: int) -> list[Outcome]:
        process = clients[i]
        start.wait()
        return _batch(studio, session, ports[process], process, tx)

    with _nothing_mined(studio), ThreadPoolExecutor(max_workers=len(clients)) as pool:
        outcomes = [o for per_client in pool.map(client, range(len(clients)))
                    for o in per_client]
    chain = studio.chain_web3()
    signed = [o.tx_hash for o in outcomes if o.tx_hash is not None]
    receipts = [chain.eth.wait_for_transaction_receipt(h, timeout=60) for h in signed]
    return Burst(outcomes=outcomes,
                 nonces=[chain.eth.get_transaction(h)["nonce"] for h in signed],
                 statuses=[r["status"] for r in receipts],
                 balance_gained=studio.usdc_balance(recipient))


def test_each_sqlite_process_signs_a_fair_share_of_a_sustained_burst(burst: Burst) -> None:
    first, second = burst.signed_by(0), burst.signed_by(1)
    assert min(first, second) * FAIR_SHARE_RATIO >= max(first, second), (first, second)


def test_no_request_of_the_burst_fails_except_for_the_daily_cap(burst: Burst) -> None:
    assert {(o.code, o.reason) for o in burst.refused} == {(4001, "daily_limit_exceeded")}


def test_two_sqlite_processes_together_sign_exactly_what_fits_the_cap(burst: Burst) -> None:
    assert len(burst.signed) == FITTING


def test_two_sqlite_processes_sign_consecutive_nonces(burst: Burst) -> None:
    assert sorted(burst.nonces) == list(range(FITTING))


def test_every_send_signed_in_the_burst_lands_and_moves_its_amount(burst: Burst) -> None:
    assert (burst.statuses, burst.balance_gained) == ([1] * FITTING, FITTING * USDC)
