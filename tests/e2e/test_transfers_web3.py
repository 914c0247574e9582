"""The core promise through web3.py: transfers within limits land, everything else is refused.

Costs are made exact by fixing gas and fees: a plain ETH transfer with gas 21000 at a max fee of
2 gwei reserves 21000 * 2 gwei = 0.000042 ETH of gas, i.e. 0.126 USD at 3000 USD/ETH.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import PRIMARY_CHAIN, SECOND_CHAIN, Studio

pytestmark = pytest.mark.e2e

RECIPIENT = Web3.to_checksum_address("0x000000000000000000000000000000000000beef")
GWEI = 10**9
# gas 21000 * maxFeePerGas 2 gwei = 4.2e13 wei = 0.126 USD of worst-case gas.
ETH_TRANSFER_FEES = {"gas": 21_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
# gas 100000 * 2 gwei = 2e14 wei = 0.6 USD (= 0.6 USDC at 1 USD) of worst-case gas.
TOKEN_TRANSFER_FEES = {"gas": 100_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
CENTI_ETH = 10**16  # 0.01 ETH = 30 USD


def fresh_address() -> str:
    """A recipient nobody else pays, so its balance moves by exactly what a test sends."""
    return str(Account.create().address)


def eth_transfer(session: dict[str, Any], to: str, value: int) -> dict[str, Any]:
    return {"from": session["address"], "to": to, "value": value, **ETH_TRANSFER_FEES}


def rpc_error(refused: pytest.ExceptionInfo[Web3RPCError]) -> dict[str, Any]:
    error: dict[str, Any] = refused.value.rpc_response["error"]
    return error


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


def test_eth_transfer_within_limits_lands_and_moves_balances(studio: Studio) -> None:
    session = studio.create_session(type_="app", per_tx="50")
    w3, chain = studio.web3(session), studio.chain_web3()
    to = fresh_address()
    sender_before = chain.eth.get_balance(session["address"])
    tx_hash = w3.eth.send_transaction(eth_transfer(session, to, CENTI_ETH))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["from"] == session["address"]
    assert chain.eth.get_balance(to) == CENTI_ETH
    paid_gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.eth.get_balance(session["address"]) == sender_before - CENTI_ETH - paid_gas


def test_send_without_from_uses_the_credentials_only_session(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    w3 = studio.web3(session)
    to = fresh_address()
    tx = {"to": to, "value": 12_345, **ETH_TRANSFER_FEES}
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    assert receipt["status"] == 1
    assert receipt["from"] == session["address"]
    assert studio.chain_web3().eth.get_balance(to) == 12_345


def test_send_without_from_ignores_the_agents_expired_sessions(studio: Studio) -> None:
    expired = studio.create_session(expires_in="1", fund=False)
    active = studio.create_session(agent=expired["agent"])
    w3 = studio.web3(active)
    deadline = time.monotonic() + 10
    while w3.eth.accounts != [active["address"]]:  # the server's clock says it expired
        assert time.monotonic() < deadline, "session did not expire within 10 s"
        time.sleep(0.1)
    to = fresh_address()
    tx_hash = w3.eth.send_transaction({"to": to, "value": 4_321, **ETH_TRANSFER_FEES})
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["from"] == active["address"]


def test_send_crossing_the_daily_cap_is_refused_with_daily_limit_exceeded(
        studio: Studio) -> None:
    # Each send costs 30 USD + 0.126 USD of gas: three fit in 100, the fourth crosses it.
    session = studio.create_session(type_="app", per_tx="50", daily="100")
    w3, chain = studio.web3(session), studio.chain_web3()
    to = fresh_address()
    for _ in range(3):
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_transaction(eth_transfer(session, to, CENTI_ETH)))
    assert chain.eth.get_transaction_count(session["address"]) == 3
    with pytest.raises(Web3RPCError) as refused:
        w3.eth.send_transaction(eth_transfer(session, to, CENTI_ETH))
    error = rpc_error(refused)
    assert error["code"] == 4001
    assert error["message"].startswith("User denied")
    data = error["data"]
    assert data["reason"] == "daily_limit_exceeded"
    assert data["unit"] == "USD"
    assert data["cost"] == "30.126"
    assert data["per_tx_limit"] == "50"
    assert data["daily_limit"] == "100"
    # Worst-case gas is reserved; settling it down to the real cost may only lower the figure.
    spent = Decimal(data["spent_in_window"])
    assert Decimal("90") < spent <= Decimal("90.378")
    assert spent + Decimal(data["cost"]) > Decimal(data["daily_limit"])
    assert chain.eth.get_transaction_count(session["address"]) == 3
    assert chain.eth.get_balance(to) == 3 * CENTI_ETH


def test_usdc_limit_unit_values_token_transfers_in_usdc(studio: Studio) -> None:
    # 9 USDC + 0.6 USDC of gas fits a 10 USDC per-tx limit; 9.5 + 0.6 does not.
    session = studio.create_session(type_="app", unit="USDC", per_tx="10", daily="100")
    w3 = studio.web3(session)
    to = fresh_address()
    usdc = studio.usdc_contract(w3).functions
    tx = usdc.transfer(to, 9_000_000).transact({"from": session["address"],
                                                **TOKEN_TRANSFER_FEES})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    with pytest.raises(Web3RPCError) as refused:
        usdc.transfer(to, 9_500_000).transact({"from": session["address"],
                                               **TOKEN_TRANSFER_FEES})
    data = rpc_error(refused)["data"]
    assert data["reason"] == "per_tx_limit_exceeded"
    assert data["unit"] == "USDC"
    assert data["cost"] == "10.1"
    assert data["per_tx_limit"] == "10"
    assert studio.usdc_balance(to) == 9_000_000


def test_usdc_limit_unit_converts_eth_through_usd_prices(studio: Studio) -> None:
    # 0.003 ETH = 9 USDC (+0.126 gas) fits 10 USDC; 0.0033 ETH = 9.9 USDC (+0.126) does not.
    session = studio.create_session(type_="app", unit="USDC", per_tx="10", daily="100")
    w3 = studio.web3(session)
    to = fresh_address()
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction(eth_transfer(session, to, 3 * 10**15)))
    with pytest.raises(Web3RPCError) as refused:
        w3.eth.send_transaction(eth_transfer(session, to, 33 * 10**14))
    data = rpc_error(refused)["data"]
    assert data["reason"] == "per_tx_limit_exceeded"
    assert data["unit"] == "USDC"
    assert data["cost"] == "10.026"
    assert studio.chain_web3().eth.get_balance(to) == 3 * 10**15


def test_eth_accounts_returns_the_session_address(studio: Studio) -> None:
    session = studio.create_session(fund=False)
    assert studio.web3(session).eth.accounts == [session["address"]]


def test_eth_accounts_is_empty_on_a_chain_outside_the_session_scope(studio: Studio) -> None:
    session = studio.create_session(type_="app", chains=str(PRIMARY_CHAIN), fund=False)
    assert studio.web3(session, SECOND_CHAIN).eth.accounts == []


def test_chain_id_and_net_version_answer_the_url_chain(studio: Studio) -> None:
    session = studio.create_session(type_="app", chains=f"{PRIMARY_CHAIN},{SECOND_CHAIN}",
                                    fund=False)
    for chain_id in (PRIMARY_CHAIN, SECOND_CHAIN):
        w3 = studio.web3(session, chain_id)
        assert w3.eth.chain_id == chain_id
        assert w3.net.version == str(chain_id)


def test_reads_pass_through_to_the_chain(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    w3, chain = studio.web3(session), studio.chain_web3()
    assert w3.eth.get_balance(session["address"]) == chain.eth.get_balance(session["address"])
    assert w3.eth.block_number == chain.eth.block_number
    assert w3.eth.get_transaction_count(RECIPIENT) == chain.eth.get_transaction_count(RECIPIENT)
    assert w3.eth.get_block("latest")["hash"] == chain.eth.get_block("latest")["hash"]


def test_sign_transaction_returns_raw_tx_signed_by_the_session_for_the_url_chain(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", chains=f"{PRIMARY_CHAIN},{SECOND_CHAIN}")
    w3, chain = studio.web3(session, SECOND_CHAIN), studio.chain_web3(SECOND_CHAIN)
    to = fresh_address()
    # web3.py's w3.eth.sign_transaction expects geth's {raw, tx} object; the sidecar answers
    # the raw hex string (execution-apis, anvil, ethers, viem), so ask at the provider level.
    answer = w3.provider.make_request("eth_signTransaction",
                                      [eth_transfer(session, to, 10**15)])
    raw = answer["result"]
    assert isinstance(raw, str) and raw.startswith("0x02")
    assert Account.recover_transaction(raw) == session["address"]
    fields = rlp.decode(bytes.fromhex(raw[4:]))  # EIP-1559 payload after the type byte
    assert int.from_bytes(fields[0], "big") == SECOND_CHAIN
    assert chain.eth.get_transaction_count(session["address"]) == 0  # signed, not broadcast
    # Anyone holding it can broadcast it, and it lands on the URL's chain.
    tx_hash = chain.eth.send_raw_transaction(raw)
    assert chain.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    assert chain.eth.get_balance(to) == 10**15


def test_sign_transaction_reserves_spend_against_the_daily_cap(studio: Studio) -> None:
    # The signed 30.126 USD is reserved although never broadcast; another one crosses 60.
    session = studio.create_session(type_="app", per_tx="50", daily="60")
    w3, chain = studio.web3(session), studio.chain_web3()
    to = fresh_address()
    signed = w3.provider.make_request("eth_signTransaction",
                                      [eth_transfer(session, to, CENTI_ETH)])
    assert "result" in signed
    with pytest.raises(Web3RPCError) as refused:
        w3.eth.send_transaction(eth_transfer(session, to, CENTI_ETH))
    error = rpc_error(refused)
    assert error["code"] == 4001
    assert error["data"]["reason"] == "daily_limit_exceeded"
    assert Decimal(error["data"]["spent_in_window"]) == Decimal("30.126")
    assert chain.eth.get_transaction_count(session["address"]) == 0
    assert chain.eth.get_balance(to) == 0


def test_personal_sign_with_sign_message_permission_recovers_to_the_session(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="sign_message", fund=False)
    w3 = studio.web3(session)
    message = b"Sign in to example.org"
    answer = w3.provider.make_request("personal_sign",
                                      ["0x" + message.hex(), session["address"].lower()])
    signer = Account.recover_message(encode_defunct(message), signature=answer["result"])
    assert signer == session["address"]


def test_send_after_a_refused_stale_explicit_nonce_still_lands(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    w3, chain = studio.web3(session), studio.chain_web3()
    to = fresh_address()
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(eth_transfer(session, to, 1)))
    stale = w3.provider.make_request("eth_sendTransaction",
                                     [{**eth_transfer(session, to, 1), "nonce": 0}])
    assert "error" in stale  # the node refuses nonce 0: it is already used
    tx_hash = w3.eth.send_transaction(eth_transfer(session, to, 1))
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["status"] == 1
    assert chain.eth.get_transaction_count(session["address"]) == 2


def test_filled_priority_fee_is_the_one_signed(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    w3, chain = studio.web3(session), studio.chain_web3()
    suggested = chain.eth.max_priority_fee
    assert suggested > 0
    answer = w3.provider.make_request("eth_sendTransaction", [
        {"from": session["address"], "to": fresh_address(), "value": hex(1)}])
    signed = chain.eth.get_transaction(answer["result"])
    assert signed["maxPriorityFeePerGas"] == suggested
