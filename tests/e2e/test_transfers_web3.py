"""The core promise through web3.py: transfers within limits land, everything else is refused."""

from __future__ import annotations

import pytest
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import Studio

RECIPIENT = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")


def test_usdc_transfer_within_limits_lands_and_moves_balances(studio: Studio) -> None:
    session = studio.create_session()
    w3 = studio.web3(session)
    before = studio.usdc_balance(RECIPIENT)
    tx = studio.usdc_contract(w3).functions.transfer(RECIPIENT, 5_000_000).transact(
        {"from": session["address"]})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert studio.usdc_balance(RECIPIENT) == before + 5_000_000


def test_usdc_transfer_over_per_tx_limit_is_refused_with_4001(studio: Studio) -> None:
    session = studio.create_session(per_tx="10")
    w3 = studio.web3(session)
    nonce_before = studio.chain_web3().eth.get_transaction_count(session["address"])
    with pytest.raises(Web3RPCError) as refused:
        studio.usdc_contract(w3).functions.transfer(RECIPIENT, 20_000_000).transact(
            {"from": session["address"]})
    error = refused.value.rpc_response["error"]
    assert error["code"] == 4001
    assert error["message"].startswith("User denied")
    assert error["data"]["reason"] == "per_tx_limit_exceeded"
    assert studio.chain_web3().eth.get_transaction_count(session["address"]) == nonce_before
