"""A feed-priced ETH through the real `serve`: signed while the feed is fresh, refused when stale.

The sidecar runs as users run it (console script, TOML on disk) against one anvil chain whose
ETH price comes from a MockAggregator, with `[prices] cache_s = 1` so a feed change is seen
within a second. Costs: 0.01 ETH is 30 USD at 3000 USD/ETH; gas 21000 at 2 gwei adds 0.126 USD.
A second configured chain prices ETH statically at 3000 USD: the price a stale feed must never
fall back to (issue 10, item 5).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.harness import PRIMARY_CHAIN, SECOND_CHAIN, Studio, stop_studio
from eth_account import Account
from session_studio_dev import (
    AnvilNode,
    deploy_demo_usdc,
    deploy_mock_aggregator,
    free_port,
    set_aggregator_answer,
)
from web3.exceptions import Web3RPCError

pytestmark = pytest.mark.e2e

MAX_AGE_S = 3600
CACHE_S = 1
PAST_CACHE_S = CACHE_S + 0.3
ETH_3000 = 3000 * 10**8
CENTI_ETH = 10**16
GWEI = 10**9
ETH_TRANSFER_FEES = {"gas": 21_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}


def write_feed_config(home: Path, node: AnvilNode, other: AnvilNode, *, usdc: str, feed: str,
                      rpc_port: int, admin_port: int, metrics_port: int) -> Path:
    config = home / "session-studio.toml"
    config.write_text(f"""
[server]
rpc_listen = "127.0.0.1:{rpc_port}"
admin_listen = "127.0.0.1:{admin_port}"
metrics_listen = "127.0.0.1:{metrics_port}"
[database]
path = "studio.db"
[keystore]
master_key_file = "master.key"
[prices]
cache_s = {CACHE_S}
[chains.{PRIMARY_CHAIN}]
name = "anvil"
rpc_url = "{node.rpc_url}"
native_symbol = "ETH"
native_price = {{ feed = "{feed}", max_age_s = {MAX_AGE_S} }}
[[tokens]]
chain_id = {PRIMARY_CHAIN}
symbol = "USDC"
address = "{usdc}"
decimals = 6
price = {{ usd = "1.00" }}
[chains.{SECOND_CHAIN}]
name = "other"
rpc_url = "{other.rpc_url}"
native_symbol = "ETH"
native_price = {{ usd = "3000.00" }}
""")
    return config


@pytest.fixture(scope="module")
def feed_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Studio, str]]:
    """A running sidecar whose ETH price is the MockAggregator at the returned address."""
    home = tmp_path_factory.mktemp("feed-studio")
    node = AnvilNode(port=0, chain_id=PRIMARY_CHAIN, log_path=home / "anvil.log")
    node.start()
    other = AnvilNode(port=0, chain_id=SECOND_CHAIN, log_path=home / "anvil-other.log")
    other.start()
    studio: Studio | None = None
    try:
        w3 = node.web3()
        usdc = deploy_demo_usdc(w3)
        feed = deploy_mock_aggregator(w3, decimals=8, answer=ETH_3000)
        ports = {"rpc_port": free_port(), "admin_port": free_port(),
                 "metrics_port": free_port()}
        config = write_feed_config(home, node, other, usdc=usdc, feed=feed, **ports)
        studio = Studio(home=home, config=config, chains={PRIMARY_CHAIN: node},
                        usdc={PRIMARY_CHAIN: usdc}, **ports)
        init = studio.cli_raw("init")
        assert init.returncode == 0, init.stderr
        studio.start_server()
        yield studio, feed
    finally:
        if studio is not None:
            stop_studio(studio)
        node.stop()
        other.stop()


def set_feed(studio: Studio, feed: str, answer: int, *, age_s: int = 0) -> None:
    """Open a new round on the feed, then wait until the sidecar's cached reading has expired."""
    set_aggregator_answer(studio.chain_web3(), feed, answer, int(time.time()) - age_s)
    time.sleep(PAST_CACHE_S)


def send_centi_eth(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    """0.01 ETH to a fresh address; the receipt."""
    w3 = studio.web3(session)
    tx_hash = w3.eth.send_transaction({"from": session["address"],
                                       "to": Account.create().address, "value": CENTI_ETH,
                                       **ETH_TRANSFER_FEES})
    receipt: dict[str, Any] = dict(w3.eth.wait_for_transaction_receipt(tx_hash))
    return receipt


def refusal(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC error for a 0.01 ETH transfer that must be refused; nothing was signed."""
    nonce_before = studio.chain_web3().eth.get_transaction_count(session["address"])
    with pytest.raises(Web3RPCError) as refused:
        send_centi_eth(studio, session)
    assert studio.chain_web3().eth.get_transaction_count(session["address"]) == nonce_before
    error: dict[str, Any] = refused.value.rpc_response["error"]
    return error


def test_eth_transfer_is_signed_while_the_feed_is_fresh_and_refused_once_stale(
        feed_studio: tuple[Studio, str]) -> None:
    studio, feed = feed_studio
    set_feed(studio, feed, ETH_3000)
    session = studio.create_session(type_="app", per_tx="50", daily="200")

    assert send_centi_eth(studio, session)["status"] == 1

    set_feed(studio, feed, ETH_3000, age_s=2 * MAX_AGE_S)
    error = refusal(studio, session)

    assert error["code"] == 4001
    assert error["message"].startswith("User denied")
    assert error["data"]["reason"] == "unpriceable_asset"


def test_transfers_resume_when_the_feed_is_fresh_again(feed_studio: tuple[Studio, str]) -> None:
    studio, feed = feed_studio
    session = studio.create_session(type_="app", per_tx="50", daily="200")
    set_feed(studio, feed, ETH_3000, age_s=2 * MAX_AGE_S)
    assert refusal(studio, session)["data"]["reason"] == "unpriceable_asset"

    set_feed(studio, feed, ETH_3000)

    assert send_centi_eth(studio, session)["status"] == 1


def test_the_feed_price_is_what_limits_are_checked_against(
        feed_studio: tuple[Studio, str]) -> None:
    # At 6000 USD/ETH the same 0.01 ETH is worth 60 USD: over a 50 USD per-tx limit.
    studio, feed = feed_studio
    session = studio.create_session(type_="app", per_tx="50", daily="200")
    set_feed(studio, feed, 6000 * 10**8)

    error = refusal(studio, session)

    assert error["data"]["reason"] == "per_tx_limit_exceeded"


def send_ten_usdc(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    """10 USDC to a fresh address; the receipt."""
    w3 = studio.web3(session)
    tx_hash = studio.usdc_contract(w3).functions.transfer(
        Account.create().address, 10 * 10**6).transact(
            {"from": session["address"], "gas": 60_000, "maxFeePerGas": 2 * GWEI,
             "maxPriorityFeePerGas": GWEI})
    receipt: dict[str, Any] = dict(w3.eth.wait_for_transaction_receipt(tx_hash))
    return receipt


def test_stale_limit_unit_feed_is_not_replaced_by_another_chains_static_price(
        feed_studio: tuple[Studio, str]) -> None:
    # Limits in ETH: 10 USDC is worth 10 / (ETH's USD price) ETH, so valuing it needs *this*
    # chain's ETH price. The other chain's static 3000 USD for the same symbol is no substitute.
    studio, feed = feed_studio
    session = studio.create_session(type_="app", unit="ETH", per_tx="0.05", daily="0.2")
    set_feed(studio, feed, ETH_3000)
    assert send_ten_usdc(studio, session)["status"] == 1

    set_feed(studio, feed, ETH_3000, age_s=2 * MAX_AGE_S)
    nonce_before = studio.chain_web3().eth.get_transaction_count(session["address"])
    with pytest.raises(Web3RPCError) as refused:
        send_ten_usdc(studio, session)

    assert studio.chain_web3().eth.get_transaction_count(session["address"]) == nonce_before
    error = refused.value.rpc_response["error"]
    assert error["code"] == 4001
    assert error["data"]["reason"] == "unpriceable_asset"
