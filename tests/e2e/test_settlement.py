"""Settlement through `serve`: a send reserves its worst-case gas, and once its receipt is mined
the window counts what it really cost (POLICY.md: "Gas is spend ... settled down to the real
cost when the receipt arrives").

Every send fixes its gas and fees (gas 100 000, max fee 2 gwei), so its worst-case gas is
100 000 * 2 gwei = 2e14 wei = 0.6 USD at 3000 USD/ETH; the receipt's real gas
(gasUsed * effectiveGasPrice) is always less. Some tests switch anvil's automine off, so a
transaction stays pending (unsettled) for as long as the test needs.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from session_studio_dev import fund_native
from web3 import Web3
from web3.exceptions import TransactionNotFound

from .harness import ETH_PRICE_USD, PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
ATOMS = 10**18  # USD atoms per USD
USDC = 10**6
FEES = {"gas": 100_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
WORST_GAS_WEI = 100_000 * 2 * GWEI
WORST_GAS = WORST_GAS_WEI * ETH_PRICE_USD  # USD atoms: 0.6 USD
SETTLE_TIMEOUT_S = 20  # the loop runs every 2 s; a CLI call takes about half a second


def _spent(studio: Studio, session: dict[str, Any]) -> int:
    shown = studio.cli("sessions", "show", session["key_hash"])
    return int(Decimal(shown["spent_in_window"]) * ATOMS)


def _spent_once_settled(studio: Studio, session: dict[str, Any], expected: int) -> int:
    """`spent_in_window` once it reads `expected`, or whatever it reads at the deadline."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        spent = _spent(studio, session)
        if spent == expected or time.monotonic() > deadline:
            return spent
        time.sleep(0.25)


def _real_gas(receipt: Any, worst_gas: int = WORST_GAS,
              worst_gas_wei: int = WORST_GAS_WEI) -> int:
    """The receipt's gas in USD atoms, as settlement scales the reservation: rounded up."""
    real_wei = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return -(-worst_gas * real_wei // worst_gas_wei)


def _usdc_transfer(studio: Studio, session: dict[str, Any], amount: int,
                   **fields: Any) -> dict[str, Any]:
    data = studio.usdc_contract(studio.chain_web3()).encode_abi(
        "transfer", [Account.create().address, amount])
    return {"from": session["address"], "to": Web3.to_checksum_address(studio.usdc[PRIMARY_CHAIN]),
            "data": data, "value": 0, **FEES, **fields}


def _ledger_status(studio: Studio, tx_hash: str) -> str:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        [(status,)] = conn.execute("SELECT status FROM reservations WHERE tx_hash = ?",
                                   (tx_hash,)).fetchall()
    return str(status)


def _settlement_failures(studio: Studio) -> list[str]:
    return [line for log in sorted(studio.home.glob("serve-*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if "settlement round failed" in line or "settlement skipped" in line]


@contextlib.contextmanager
def _manual_mining(studio: Studio) -> Iterator[Web3]:
    """anvil mines only on `evm_mine` until the block ends."""
    chain = studio.chain_web3()
    chain.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield chain
    finally:
        chain.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def _mine(chain: Web3) -> None:
    chain.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_usdc_transfer_settles_to_its_value_plus_the_real_gas(studio: Studio) -> None:
    session = studio.create_session()
    w3 = studio.web3(session)
    tx_hash = w3.eth.send_transaction(_usdc_transfer(studio, session, 5 * USDC))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    expected = 5 * ATOMS + _real_gas(receipt)
    assert expected < 5 * ATOMS + WORST_GAS  # so the worst case would not pass for it
    assert _spent_once_settled(studio, session, expected) == expected
    assert _ledger_status(studio, tx_hash.to_0x_hex()) == "settled"
    assert _settlement_failures(studio) == []


def test_reverted_transfer_keeps_only_its_real_gas(studio: Studio) -> None:
    # No USDC at all: the transfer reverts on chain. Explicit gas, so nothing estimates it.
    session = studio.create_session(fund=False)
    fund_native(studio.chain_web3(), session["address"], 10**18)
    w3 = studio.web3(session)
    tx_hash = w3.eth.send_transaction(_usdc_transfer(studio, session, 5 * USDC))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    expected = _real_gas(receipt)
    assert 0 < expected < WORST_GAS
    assert _spent_once_settled(studio, session, expected) == expected
    assert _settlement_failures(studio) == []


def test_pending_transaction_stays_reserved_at_its_worst_case(studio: Studio) -> None:
    session = studio.create_session()
    w3 = studio.web3(session)
    with _manual_mining(studio) as chain:
        tx_hash = w3.eth.send_transaction(_usdc_transfer(studio, session, 5 * USDC))
        time.sleep(2.5)  # at least one settlement round sees it without a receipt
        assert _spent(studio, session) == 5 * ATOMS + WORST_GAS
        _mine(chain)
    receipt = chain.eth.wait_for_transaction_receipt(tx_hash)
    expected = 5 * ATOMS + _real_gas(receipt)
    assert _spent_once_settled(studio, session, expected) == expected


def test_transaction_replaced_at_its_nonce_is_released(studio: Studio) -> None:
    # The client replaces a pending send with another at the same nonce (higher fees): only the
    # replacement is mined, so the replaced one can never land and gives its spend back.
    session = studio.create_session()
    w3 = studio.web3(session)
    with _manual_mining(studio) as chain:
        nonce = chain.eth.get_transaction_count(session["address"])
        replaced = w3.eth.send_transaction(_usdc_transfer(studio, session, 5 * USDC,
                                                          nonce=nonce))
        replacement = w3.eth.send_transaction(_usdc_transfer(
            studio, session, 7 * USDC, nonce=nonce, maxFeePerGas=4 * GWEI,
            maxPriorityFeePerGas=2 * GWEI))
        _mine(chain)
    receipt = chain.eth.wait_for_transaction_receipt(replacement)
    assert receipt["status"] == 1
    try:
        chain.eth.get_transaction_receipt(replaced)
        raise AssertionError("the replaced transaction was mined")
    except TransactionNotFound:
        pass
    expected = 7 * ATOMS + _real_gas(receipt, worst_gas=2 * WORST_GAS,
                                     worst_gas_wei=2 * WORST_GAS_WEI)
    assert _spent_once_settled(studio, session, expected) == expected
    assert _ledger_status(studio, replaced.to_0x_hex()) == "released"
    assert _ledger_status(studio, replacement.to_0x_hex()) == "settled"


def test_transaction_broadcast_before_a_restart_is_settled_after_it(studio: Studio) -> None:
    session = studio.create_session()
    w3 = studio.web3(session)
    with _manual_mining(studio) as chain:
        tx_hash = w3.eth.send_transaction(_usdc_transfer(studio, session, 5 * USDC))
        studio.stop_servers()
        _mine(chain)  # mined while no server runs: nobody settles it yet
    receipt = chain.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert _spent(studio, session) == 5 * ATOMS + WORST_GAS
    studio.start_server()
    expected = 5 * ATOMS + _real_gas(receipt)
    assert _spent_once_settled(studio, session, expected) == expected
    assert _settlement_failures(studio) == []
