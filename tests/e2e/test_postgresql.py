"""`serve` on a PostgreSQL database: it signs and settles as on SQLite, /readyz reports the
database, and when the database goes away the sidecar fails closed (nothing signed, /readyz
503) while reads still pass (credentials come from memory, proxy/_credential_cache.py), and
recovers by itself when it returns, without a restart.

The module runs its own PostgreSQL cluster (tests/pg_cluster.py), which it stops and starts.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pg_cluster as cluster_module
import pytest
from web3 import Web3

from .harness import PRIMARY_CHAIN, Studio, running_studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
FEES = {"gas": 21_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
RECIPIENT = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
RECOVERY_S = 30
CACHE_POLL_S = 0.5  # proxy/_credential_cache.py POLL_INTERVAL_S


@pytest.fixture(scope="module")
def cluster() -> Iterator[cluster_module.PgCluster]:
    try:
        started = cluster_module.PgCluster().start()
    except cluster_module.ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def studio(cluster: cluster_module.PgCluster,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    _, url = cluster.empty_database()
    with running_studio(tmp_path_factory.mktemp("pg-studio"), database_url=url) as running:
        yield running


def readyz(studio: Studio) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{studio.rpc_port}/readyz",
                                    timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def send(studio: Studio, session: dict[str, Any], value: int = 10**12) -> Any:
    w3 = studio.web3(session)
    return w3.eth.send_transaction({"from": session["address"], "to": RECIPIENT,
                                    "value": value, **FEES})


@dataclass(frozen=True)
class Outage:
    """What a sidecar did while its database was stopped, and once it was back."""

    send_error: Exception | None
    block_during: int | None  # eth_blockNumber through the sidecar (a read) during the outage
    nonce_before: int
    nonce_during: int
    readyz_during: tuple[int, dict[str, Any]]
    alive_after: bool
    readyz_after: tuple[int, dict[str, Any]]
    receipt_after: Any


@pytest.fixture(scope="module")
def outage(studio: Studio, cluster: cluster_module.PgCluster) -> Outage:
    session = studio.create_session()
    chain = studio.chain_web3(PRIMARY_CHAIN)
    nonce_before = chain.eth.get_transaction_count(session["address"])
    # The sidecar knows the credential: read once its cache has seen the session's creation
    # (the poll drops everything when the epoch moved, so wait out two poll intervals first).
    time.sleep(2 * CACHE_POLL_S)
    assert studio.web3(session).eth.block_number >= 0
    cluster.pause()
    try:
        send_error: Exception | None = None
        try:
            send(studio, session)
        except Exception as exc:  # whatever web3 raises is the refusal
            send_error = exc
        block_during: int | None = None
        with contextlib.suppress(Exception):  # a refused read leaves None
            block_during = studio.web3(session).eth.block_number
        nonce_during = chain.eth.get_transaction_count(session["address"], "pending")
        readyz_during = readyz(studio)
    finally:
        cluster.resume()
    deadline = time.monotonic() + RECOVERY_S
    while (after := readyz(studio))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    tx = send(studio, session)
    return Outage(send_error=send_error, block_during=block_during,
                  nonce_before=nonce_before, nonce_during=nonce_during,
                  readyz_during=readyz_during,
                  alive_after=all(p.poll() is None for p in studio.servers),
                  readyz_after=after,
                  receipt_after=studio.web3(session).eth.wait_for_transaction_receipt(tx))


def test_a_transfer_through_serve_on_postgresql_lands(studio: Studio) -> None:
    session = studio.create_session()
    receipt = studio.web3(session).eth.wait_for_transaction_receipt(send(studio, session))
    assert receipt["status"] == 1


def test_readyz_reports_the_database(studio: Studio) -> None:
    status, body = readyz(studio)
    assert (status, body["checks"]["database"]) == (200, "ok")


def test_a_send_while_the_database_is_down_is_refused(outage: Outage) -> None:
    assert outage.send_error is not None


def test_reads_pass_while_the_database_is_down(outage: Outage) -> None:
    assert outage.block_during is not None


def test_nothing_reaches_the_chain_while_the_database_is_down(outage: Outage) -> None:
    assert outage.nonce_during == outage.nonce_before


def test_readyz_fails_while_the_database_is_down(outage: Outage) -> None:
    status, body = outage.readyz_during
    assert status == 503 and body["checks"]["database"].startswith("error")


def test_the_sidecar_survives_the_outage(outage: Outage) -> None:
    assert outage.alive_after


def test_readyz_recovers_once_the_database_is_back(outage: Outage) -> None:
    assert outage.readyz_after[0] == 200


def test_signing_resumes_without_a_restart_once_the_database_is_back(outage: Outage) -> None:
    assert outage.receipt_after["status"] == 1
