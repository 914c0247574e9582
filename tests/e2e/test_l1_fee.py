"""The OP-stack L1 data fee through `serve` (issue 10, item 9): quoted, reserved, limited, settled.

The primary anvil chain is configured with `l1_fee = "op-stack"`, and a MockGasPriceOracle sits
at the GasPriceOracle predeploy (`anvil_setCode`) quoting `(len(data) + 68) * fee_per_byte`.
Costs at 3000 USD/ETH: 0.01 ETH is 30 USD; gas 21000 at 2 gwei is 4.2e13 wei = 0.126 USD, so a
per-tx limit of 31 USD fits the transfer and its gas with 0.874 USD to spare. The sidecar
reserves 3/2 of the quote for the transaction's worst-case signed bytes (~126 bytes for a type-2
transfer): at 2e12 wei per byte that is ~5.8e14 wei (1.75 USD), over the spare room.

anvil's receipts carry no `l1Fee`, so on this chain settlement cannot learn the real L1 fee and
keeps the worst case (the arithmetic with a real OP receipt is tested in
tests/store/test_l1_fee_settlement.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from session_studio_dev import (
    break_gas_price_oracle,
    install_gas_price_oracle,
    set_l1_fee_per_byte,
)
from web3.exceptions import Web3RPCError

from .harness import PRIMARY_CHAIN, Studio, start_studio, stop_studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
CENTI_ETH = 10**16
FEES = {"gas": 21_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
GAS_WEI = 21_000 * 2 * GWEI
CHEAP_PER_BYTE = 10**9  # ~0.0009 USD of L1 fee for a transfer
DEAR_PER_BYTE = 2 * 10**12  # ~1.75 USD reserved for a transfer
SETTLE_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def op_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """A sidecar whose primary chain is an OP-stack chain with an oracle at the predeploy."""
    studio = start_studio(tmp_path_factory.mktemp("op-studio"))
    try:
        install_gas_price_oracle(studio.chain_web3(), fee_per_byte_wei=CHEAP_PER_BYTE)
        text = studio.config.read_text()
        marker = f'name = "anvil-{PRIMARY_CHAIN}"\n'
        studio.config.write_text(text.replace(marker, marker + 'l1_fee = "op-stack"\n'))
        studio.start_server()
        yield studio
    finally:
        stop_studio(studio)


@pytest.fixture
def oracle_fee(op_studio: Studio) -> Iterator[None]:
    """Each test starts from the cheap, working oracle and leaves it so."""
    yield
    w3 = op_studio.chain_web3()
    set_l1_fee_per_byte(w3, CHEAP_PER_BYTE)
    break_gas_price_oracle(w3, False)


def send_centi_eth(studio: Studio, session: dict[str, Any]) -> str:
    """0.01 ETH to a fresh address through the sidecar; the tx hash once mined."""
    w3 = studio.web3(session)
    tx_hash = w3.eth.send_transaction({"from": session["address"],
                                       "to": Account.create().address, "value": CENTI_ETH,
                                       **FEES})
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    return tx_hash.to_0x_hex()


def refusal(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC error for a 0.01 ETH transfer that must be refused; nothing was signed."""
    nonce_before = studio.chain_web3().eth.get_transaction_count(session["address"])
    with pytest.raises(Web3RPCError) as refused:
        send_centi_eth(studio, session)
    assert studio.chain_web3().eth.get_transaction_count(session["address"]) == nonce_before
    assert reservations(studio, session) == []
    error: dict[str, Any] = refused.value.rpc_response["error"]
    return error


def reservations(studio: Studio, session: dict[str, Any]) -> list[dict[str, Any]]:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT r.status, r.tx_hash, r.gas_wei_reserved, r.gas_wei_used FROM reservations r"
            " JOIN sessions s ON s.id = r.session_id WHERE lower(s.address) = ?"
            " AND r.status NOT IN ('released')", (session["address"].lower(),)).fetchall()
    return [dict(row) for row in rows]


def test_send_whose_gas_fits_but_whose_l1_fee_does_not_is_refused(
        op_studio: Studio, oracle_fee: None) -> None:
    session = op_studio.create_session(type_="app", per_tx="31", daily="200")
    set_l1_fee_per_byte(op_studio.chain_web3(), DEAR_PER_BYTE)

    error = refusal(op_studio, session)

    assert error["code"] == 4001
    assert error["data"]["reason"] == "per_tx_limit_exceeded"


def test_fitting_send_reserves_gas_plus_the_quoted_l1_fee_with_its_margin(
        op_studio: Studio, oracle_fee: None) -> None:
    session = op_studio.create_session(type_="app", per_tx="31", daily="200")

    tx_hash = send_centi_eth(op_studio, session)

    [row] = reservations(op_studio, session)
    assert row["tx_hash"] == tx_hash
    l1_reserved = int(row["gas_wei_reserved"]) - GAS_WEI
    # The oracle quoted (n + 68) * fee for the n bytes it was given; 3/2 of that is reserved,
    # and those bytes were at least the transaction's real signed length.
    quoted = l1_reserved * 2 // 3
    assert l1_reserved == -(-quoted * 3 // 2)
    assert quoted % CHEAP_PER_BYTE == 0
    signed = bytes(op_studio.chain_web3().eth.get_raw_transaction(tx_hash))
    assert quoted // CHEAP_PER_BYTE - 68 >= len(signed)


def test_the_daily_limit_counts_the_l1_fee(op_studio: Studio, oracle_fee: None) -> None:
    # Two transfers with gas fit a 60.5 USD day (2 * 30.126); their L1 fees do not.
    session = op_studio.create_session(type_="app", per_tx="40", daily="61.5")
    send_centi_eth(op_studio, session)
    set_l1_fee_per_byte(op_studio.chain_web3(), DEAR_PER_BYTE)

    assert refusal_keeping(op_studio, session)["data"]["reason"] == "daily_limit_exceeded"


def refusal_keeping(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    """`refusal` for a session that already holds reservations: none is added."""
    before = reservations(studio, session)
    with pytest.raises(Web3RPCError) as refused:
        send_centi_eth(studio, session)
    assert reservations(studio, session) == before
    error: dict[str, Any] = refused.value.rpc_response["error"]
    return error


def test_an_oracle_that_fails_signs_nothing(op_studio: Studio, oracle_fee: None) -> None:
    session = op_studio.create_session(type_="app", per_tx="31", daily="200")
    break_gas_price_oracle(op_studio.chain_web3(), True)

    error = refusal(op_studio, session)

    assert error["code"] == -32603
    assert "L1 data fee" in error["message"]


def test_a_receipt_without_l1_fee_settles_keeping_the_worst_case(
        op_studio: Studio, oracle_fee: None) -> None:
    # anvil does not report l1Fee: on an OP-stack chain the real cost is then unknown, and the
    # reservation keeps its worst case rather than dropping the L1 fee it may have paid.
    session = op_studio.create_session(type_="app", per_tx="31", daily="200")
    send_centi_eth(op_studio, session)

    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while (row := reservations(op_studio, session)[0])["status"] != "settled":
        assert time.monotonic() < deadline, row
        time.sleep(0.25)
    assert row["gas_wei_used"] is None
