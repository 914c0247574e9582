"""POLICY.md's attack catalogue, line by line, against the running sidecar.

Each refusal asserts both halves: the JSON-RPC error the client sees (4001, "User denied ...",
`data.reason`), and that nothing happened on chain (nonces, ETH and USDC balances, allowances,
permit nonces). Typed data goes through ethers v6 (typed_data_client.mjs) where the catalogue
names a client library; transactions through web3.py or raw JSON-RPC.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from session_studio_dev import (
    bind_contract,
    deploy_mock_aggregator,
    send_contract_transaction,
)
from web3 import Web3
from web3.exceptions import Web3RPCError

from .harness import PRIMARY_CHAIN, SECOND_CHAIN, Studio
from .rpc_client import (
    BOTH_CHAINS,
    GWEI,
    TOKEN_FEES,
    UINT256_MAX,
    allowance,
    assert_policy_denied,
    calldata,
    eth_transfer,
    fresh_address,
    mined,
    rpc,
    send,
    snapshot,
    spent,
    token_call,
)

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).with_name("typed_data_client.mjs")
REPO = Path(__file__).resolve().parents[2]
UINT160_MAX = 2**160 - 1
PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
FAR_DEADLINE = 2**40
SET_ANSWER = "0x" + Web3.keccak(text="setAnswer(int256,uint256)")[:4].hex()
LATEST_ROUND_DATA = "0x" + Web3.keccak(text="latestRoundData()")[:4].hex()


# -- typed data ------------------------------------------------------------------------------
def usdc_domain(studio: Studio, chain_id: int = PRIMARY_CHAIN) -> dict[str, Any]:
    return {"name": "USD Coin (demo)", "version": "1", "chainId": chain_id,
            "verifyingContract": studio.usdc[PRIMARY_CHAIN]}


DOMAIN_TYPE = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
               {"name": "chainId", "type": "uint256"},
               {"name": "verifyingContract", "type": "address"}]
PERMIT2_DOMAIN_TYPE = [{"name": "name", "type": "string"},
                       {"name": "chainId", "type": "uint256"},
                       {"name": "verifyingContract", "type": "address"}]
EIP2612_TYPES = {"Permit": [
    {"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"}]}
DAI_TYPES = {"Permit": [
    {"name": "holder", "type": "address"}, {"name": "spender", "type": "address"},
    {"name": "nonce", "type": "uint256"}, {"name": "expiry", "type": "uint256"},
    {"name": "allowed", "type": "bool"}]}
PERMIT_DETAILS = [{"name": "token", "type": "address"}, {"name": "amount", "type": "uint160"},
                  {"name": "expiration", "type": "uint48"}, {"name": "nonce", "type": "uint48"}]
PERMIT_SINGLE_TYPES = {
    "PermitSingle": [{"name": "details", "type": "PermitDetails"},
                     {"name": "spender", "type": "address"},
                     {"name": "sigDeadline", "type": "uint256"}],
    "PermitDetails": PERMIT_DETAILS}
PERMIT_BATCH_TYPES = {
    "PermitBatch": [{"name": "details", "type": "PermitDetails[]"},
                    {"name": "spender", "type": "address"},
                    {"name": "sigDeadline", "type": "uint256"}],
    "PermitDetails": PERMIT_DETAILS}


def eip2612_permit(studio: Studio, owner: str, spender: str, value: int, *,
                   chain_id: int = PRIMARY_CHAIN) -> dict[str, Any]:
    return {"domain": usdc_domain(studio, chain_id), "types": EIP2612_TYPES,
            "primaryType": "Permit",
            "value": {"owner": owner, "spender": spender, "value": str(value), "nonce": "0",
                      "deadline": str(FAR_DEADLINE)}}


def dai_permit(studio: Studio, owner: str, spender: str) -> dict[str, Any]:
    return {"domain": usdc_domain(studio), "types": DAI_TYPES, "primaryType": "Permit",
            "value": {"holder": owner, "spender": spender, "nonce": "0",
                      "expiry": str(FAR_DEADLINE), "allowed": True}}


def permit_details(studio: Studio, amount: int) -> dict[str, Any]:
    return {"token": studio.usdc[PRIMARY_CHAIN], "amount": str(amount),
            "expiration": str(FAR_DEADLINE), "nonce": "0"}


def permit2_single(studio: Studio, _owner: str, spender: str) -> dict[str, Any]:
    return {"domain": {"name": "Permit2", "chainId": PRIMARY_CHAIN, "verifyingContract": PERMIT2},
            "types": PERMIT_SINGLE_TYPES, "primaryType": "PermitSingle",
            "value": {"details": permit_details(studio, UINT160_MAX), "spender": spender,
                      "sigDeadline": str(FAR_DEADLINE)}}


def permit2_batch(studio: Studio, _owner: str, spender: str) -> dict[str, Any]:
    # One modest entry (1 USDC) and one blank cheque: the batch is as unlimited as its worst.
    return {"domain": {"name": "Permit2", "chainId": PRIMARY_CHAIN, "verifyingContract": PERMIT2},
            "types": PERMIT_BATCH_TYPES, "primaryType": "PermitBatch",
            "value": {"details": [permit_details(studio, 1_000_000),
                                  permit_details(studio, UINT160_MAX)],
                      "spender": spender, "sigDeadline": str(FAR_DEADLINE)}}


def eip2612_unlimited(studio: Studio, owner: str, spender: str) -> dict[str, Any]:
    return eip2612_permit(studio, owner, spender, UINT256_MAX)


def full_message(payload: dict[str, Any]) -> dict[str, Any]:
    """The eth_signTypedData_v4 form of an ethers (domain, types, value) triple."""
    domain_type = DOMAIN_TYPE if "version" in payload["domain"] else PERMIT2_DOMAIN_TYPE
    return {"types": {"EIP712Domain": domain_type, **payload["types"]},
            "primaryType": payload["primaryType"], "domain": payload["domain"],
            "message": payload["value"]}


def run_ethers_typed_data(studio: Studio, session: dict[str, Any],
                          *payloads: dict[str, Any]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is required for the ethers tests (make install)"
    assert (REPO / "node_modules" / "ethers").is_dir(), "ethers is not installed (npm ci)"
    url = f"{studio.rpc_url(PRIMARY_CHAIN)}/{session['credential']}"
    wire = [{"domain": p["domain"], "types": p["types"], "value": p["value"]} for p in payloads]
    proc = subprocess.run([node, str(CLIENT), url, session["address"], json.dumps(wire)],
                          capture_output=True, text=True, timeout=60, cwd=REPO, check=False)
    assert proc.returncode == 0, f"ethers client failed:\n{proc.stderr}"
    out: dict[str, Any] = json.loads(proc.stdout)
    assert out["signer"] == session["address"]
    results: list[dict[str, Any]] = out["results"]
    assert len(results) == len(payloads)
    return results


# -- 1. unlimited approvals --------------------------------------------------------------------
@pytest.mark.parametrize("build", [eip2612_unlimited, dai_permit, permit2_single, permit2_batch],
                         ids=["eip2612_max", "dai_allowed_true", "permit2_single_uint160_max",
                              "permit2_batch_one_unlimited"])
def test_catalogue_1_unlimited_permit_signed_through_ethers_is_action_rejected(
        studio: Studio, build: Any) -> None:
    session = studio.create_session(type_="app", permissions="transfer,approve",
                                    per_tx="1000000", daily="1000000")
    spender = fresh_address()
    before = snapshot(studio, session["address"], spender)
    [result] = run_ethers_typed_data(studio, session, build(studio, session["address"], spender))
    assert result["signed"] is False, result
    assert result["code"] == "ACTION_REJECTED"
    assert result["isActionRejected"] is True
    assert result["action"] == "signTypedData"
    assert result["rpcCode"] == 4001
    assert result["rpcMessage"].startswith("User denied")
    assert result["reason"] == "permission_denied"
    assert snapshot(studio, session["address"], spender) == before
    assert spent(studio, session) == 0


def test_catalogue_1_bounded_permit_signed_through_ethers_is_valid_on_chain_and_counted(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="approve", per_tx="50",
                                    daily="200")
    spender = fresh_address()
    value = 5_000_000  # 5 USDC
    payload = eip2612_permit(studio, session["address"], spender, value)
    spent_before = spent(studio, session)
    [result] = run_ethers_typed_data(studio, session, payload)
    assert result["signed"] is True, result
    signature = result["signature"]
    signable = encode_typed_data(full_message=full_message(payload))
    assert Account.recover_message(signable, signature=signature) == session["address"]
    # Anyone (here anvil's funded default account) can submit the permit.
    sig = bytes.fromhex(signature[2:])
    r, s, v = sig[:32], sig[32:64], sig[64]
    receipt = send_contract_transaction(
        studio.chain_web3(), "DemoUSDC", studio.usdc[PRIMARY_CHAIN], "permit",
        session["address"], spender, value, FAR_DEADLINE, v if v >= 27 else v + 27, r, s)
    assert receipt["status"] == 1
    assert allowance(studio, session["address"], spender) == value
    # The allowance is funds put at risk: charged at grant time, no gas (nothing was sent).
    assert spent(studio, session) - spent_before == Decimal("5")


@pytest.mark.parametrize("function", ["approve", "increaseAllowance"])
def test_catalogue_1_unlimited_erc20_allowance_via_web3_is_refused(
        studio: Studio, function: str) -> None:
    session = studio.create_session(type_="app", permissions="transfer,approve",
                                    per_tx="1000000", daily="1000000")
    spender = fresh_address()
    before = snapshot(studio, session["address"], spender)
    w3 = studio.web3(session)
    token = bind_contract(w3, "DemoUSDC", studio.usdc[PRIMARY_CHAIN])
    call = token.get_function_by_name(function)(spender, UINT256_MAX)
    with pytest.raises(Web3RPCError) as refused:
        call.transact({"from": session["address"], "gas": 100_000,
                       "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI})
    assert refused.value.rpc_response is not None
    assert_policy_denied(dict(refused.value.rpc_response), "permission_denied")
    assert snapshot(studio, session["address"], spender) == before
    assert allowance(studio, session["address"], spender) == 0


# -- 2. someone else's allowance -------------------------------------------------------------
@pytest.mark.parametrize("destination", ["session", "third_party"])
def test_catalogue_2_transfer_from_of_someone_elses_allowance_is_refused(
        studio: Studio, destination: str) -> None:
    session = studio.create_session(type_="app", per_tx="1000", daily="1000")
    victim = Account.create()
    studio.fund(victim.address, usdc=500)
    send_contract_transaction(studio.chain_web3(), "DemoUSDC", studio.usdc[PRIMARY_CHAIN],
                              "approve", session["address"], 100_000_000,
                              sender_key=victim.key)
    third_party = fresh_address()
    to = session["address"] if destination == "session" else third_party
    before = snapshot(studio, session["address"], victim.address, third_party)
    data = calldata(studio, "transferFrom", victim.address, to, 100_000_000)
    assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                         "contract_not_allowed")
    assert snapshot(studio, session["address"], victim.address, third_party) == before
    assert allowance(studio, victim.address, session["address"]) == 100_000_000


# -- 3. value hidden in calls, allowlists ----------------------------------------------------
@pytest.fixture(scope="module")
def aggregator(studio: Studio) -> str:
    return str(deploy_mock_aggregator(studio.chain_web3(), decimals=8, answer=3000 * 10**8))


def set_answer_data(studio: Studio, aggregator: str) -> str:
    contract = bind_contract(studio.chain_web3(), "MockAggregator", aggregator)
    return str(contract.encode_abi("setAnswer", (1, 1)))


def test_catalogue_3_value_hidden_in_a_call_to_a_non_allowlisted_contract_is_refused(
        studio: Studio, aggregator: str) -> None:
    # contract_call is granted, but for another contract: this one is not on the list.
    session = studio.create_session(type_="app", permissions="transfer,contract_call",
                                    contracts="0x00000000000000000000000000000000000a11ce")
    before = snapshot(studio, session["address"], aggregator)
    tx = {"from": session["address"], "to": aggregator, "value": hex(10**15),
          "data": set_answer_data(studio, aggregator), **TOKEN_FEES}
    assert_policy_denied(send(studio, session, tx), "contract_not_allowed")
    assert snapshot(studio, session["address"], aggregator) == before


def test_catalogue_3_value_plus_calldata_to_an_eoa_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer,contract_call")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    tx = {**eth_transfer(session, to, 10**15), "data": "0xa9059cbb", "gas": hex(100_000)}
    assert_policy_denied(send(studio, session, tx), "contract_not_allowed")
    assert snapshot(studio, session["address"], to) == before


def test_catalogue_3_value_riding_along_an_erc20_transfer_counts_against_the_daily_cap(
        studio: Studio) -> None:
    # After 20 USDC spent, 1 USDC + 0.6 USD of worst-case gas still fits the 50 USD daily cap;
    # 0.01 ETH (30 USD) riding along the same transfer does not, though the whole request
    # (31.6 USD) stays under the 50 USD per-tx cap.
    session = studio.create_session(type_="app", per_tx="50", daily="50")
    to = fresh_address()
    first = token_call(studio, session, calldata(studio, "transfer", to, 20_000_000))
    assert mined(studio, send(studio, session, first))["status"] == 1
    spent_before = spent(studio, session)
    before = snapshot(studio, session["address"], to)
    tx = token_call(studio, session, calldata(studio, "transfer", to, 1_000_000),
                    value=hex(10**16))
    error = assert_policy_denied(send(studio, session, tx), "daily_limit_exceeded")
    assert error["data"]["cost"] == "31.6"
    assert snapshot(studio, session["address"], to) == before
    # Settling the first transfer's gas may only lower the figure; the refusal added nothing.
    assert spent(studio, session) <= spent_before
    # The same transfer without the rider is signed and lands.
    plain = token_call(studio, session, calldata(studio, "transfer", to, 1_000_000))
    assert mined(studio, send(studio, session, plain))["status"] == 1
    assert studio.usdc_balance(to) == 21_000_000


def test_catalogue_3_allowlisted_selector_of_an_allowlisted_contract_is_signed(
        studio: Studio, aggregator: str) -> None:
    session = studio.create_session(type_="app", permissions="contract_call",
                                    contracts=f"{aggregator}:{SET_ANSWER}")
    nonce = studio.chain_web3().eth.get_transaction_count(session["address"])
    tx = {"from": session["address"], "to": aggregator,
          "data": set_answer_data(studio, aggregator), **TOKEN_FEES}
    receipt = mined(studio, send(studio, session, tx))
    # Signed and mined; the aggregator itself refuses a caller that is not its owner.
    assert receipt["from"] == session["address"]
    assert receipt["to"] == Web3.to_checksum_address(aggregator)
    assert receipt["status"] == 0
    assert studio.chain_web3().eth.get_transaction_count(session["address"]) == nonce + 1


def test_catalogue_3_other_selector_of_an_allowlisted_contract_is_refused(
        studio: Studio, aggregator: str) -> None:
    session = studio.create_session(type_="app", permissions="contract_call",
                                    contracts=f"{aggregator}:{SET_ANSWER}")
    before = snapshot(studio, session["address"], aggregator)
    tx = {"from": session["address"], "to": aggregator, "data": LATEST_ROUND_DATA,
          **TOKEN_FEES}
    assert_policy_denied(send(studio, session, tx), "contract_not_allowed")
    assert snapshot(studio, session["address"], aggregator) == before


def test_catalogue_3_transfer_to_a_listed_recipient_lands(studio: Studio) -> None:
    listed, other = fresh_address(), fresh_address()
    session = studio.create_session(type_="app", recipients=f"{listed},{other}")
    data = calldata(studio, "transfer", listed, 2_000_000)
    assert mined(studio, send(studio, session, token_call(studio, session, data)))["status"] == 1
    assert studio.usdc_balance(listed) == 2_000_000


def test_catalogue_3_transfer_to_an_unlisted_recipient_is_refused(studio: Studio) -> None:
    listed, unlisted = fresh_address(), fresh_address()
    session = studio.create_session(type_="app", recipients=listed)
    before = snapshot(studio, session["address"], listed, unlisted)
    data = calldata(studio, "transfer", unlisted, 2_000_000)
    assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                         "recipient_not_allowed")
    assert_policy_denied(send(studio, session, eth_transfer(session, unlisted)),
                         "recipient_not_allowed")
    assert snapshot(studio, session["address"], listed, unlisted) == before


# -- 4. chain swapping -------------------------------------------------------------------------
def test_catalogue_4_permit_whose_domain_chain_differs_from_the_url_chain_is_refused(
        studio: Studio) -> None:
    # Both chains are in scope: the refusal is the mismatch, not the scope.
    session = studio.create_session(type_="app", chains=BOTH_CHAINS, permissions="approve")
    spender = fresh_address()
    before = snapshot(studio, session["address"], spender)
    typed = full_message(eip2612_permit(studio, session["address"], spender, 1_000_000,
                                        chain_id=SECOND_CHAIN))
    answer = rpc(studio, session["credential"], "eth_signTypedData_v4",
                 [session["address"], json.dumps(typed)], chain_id=PRIMARY_CHAIN)
    assert_policy_denied(answer, "chain_not_in_scope")
    assert snapshot(studio, session["address"], spender) == before
    assert spent(studio, session) == 0


# -- 6. rate and gas-price guards --------------------------------------------------------------
def test_catalogue_6_fourth_signing_request_within_a_minute_is_rate_limited(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", rate_limit=3)
    to = fresh_address()
    for _ in range(3):
        assert mined(studio, send(studio, session, eth_transfer(session, to, 1)))["status"] == 1
    before = snapshot(studio, session["address"], to)
    assert_policy_denied(send(studio, session, eth_transfer(session, to, 1)), "rate_limited")
    assert snapshot(studio, session["address"], to) == before
    assert before[PRIMARY_CHAIN, session["address"], "nonce"] == 3


def test_catalogue_6_max_fee_per_gas_over_the_session_cap_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", max_fee_gwei="1")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    tx = {**eth_transfer(session, to), "maxFeePerGas": hex(2 * GWEI),
          "maxPriorityFeePerGas": hex(GWEI // 10)}
    assert_policy_denied(send(studio, session, tx), "gas_price_too_high")
    assert snapshot(studio, session["address"], to) == before


# -- 7. time: rotation and revocation --------------------------------------------------------
def test_catalogue_7_rotation_does_not_reset_the_daily_window(studio: Studio) -> None:
    first = studio.create_session(per_tx="50", daily="60")
    to = fresh_address()
    data = calldata(studio, "transfer", to, 40_000_000)
    assert mined(studio, send(studio, first, token_call(studio, first, data)))["status"] == 1
    successor = studio.cli("sessions", "rotate", first["key_hash"])
    assert successor["address"] != first["address"]
    assert successor["credential"] == first["credential"]  # the agent keeps its credential
    studio.fund(successor["address"])
    # 40 spent + 30 > 60: refused for the successor, which inherits the lineage's window.
    before = snapshot(studio, successor["address"], to)
    data = calldata(studio, "transfer", to, 30_000_000)
    error = assert_policy_denied(send(studio, successor, token_call(studio, successor, data)),
                                 "daily_limit_exceeded")
    assert Decimal(error["data"]["spent_in_window"]) >= 40
    assert snapshot(studio, successor["address"], to) == before
    # What still fits the lineage's window is signed: the refusal was the window, nothing else.
    data = calldata(studio, "transfer", to, 10_000_000)
    assert mined(studio, send(studio, successor, token_call(studio, successor, data)))[
        "status"] == 1
    assert studio.usdc_balance(to) == 50_000_000


def test_catalogue_7_nothing_is_signed_once_a_revoke_racing_sends_returns(
        studio: Studio) -> None:
    # Four clients keep sending while `sessions revoke` runs: requests in flight during the
    # revoke may go either way, but none started after it returned may be signed.
    session = studio.create_session(per_tx="50", daily="1000")
    to = fresh_address()
    chain = studio.chain_web3()
    sent: list[tuple[float, dict[str, Any]]] = []  # (when the request started, answer)
    lock = threading.Lock()
    stop = threading.Event()

    def keep_sending() -> None:
        for _ in range(200):
            if stop.is_set():
                return
            started = time.monotonic()
            answer = send(studio, session, eth_transfer(session, to, 1))
            with lock:
                sent.append((started, answer))
            time.sleep(0.01)  # a steady stream, not a flood of hundreds of transactions

    threads = [threading.Thread(target=keep_sending) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    studio.cli("sessions", "revoke", session["key_hash"])
    revoked_at = time.monotonic()
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    signed = [answer for _, answer in sent if "result" in answer]
    after = [answer for started, answer in sent if started > revoked_at]
    assert signed, "no send was signed before the revoke: the race did not happen"
    assert after, "no send started after the revoke returned"
    for answer in after:
        assert_policy_denied(answer, "session_revoked")
    for _, answer in sent:
        if "error" in answer:
            assert_policy_denied(answer, "session_revoked")
    # Every transaction on chain is one the sidecar answered with a hash, and no more appear.
    deadline = time.monotonic() + 15
    while chain.eth.get_transaction_count(session["address"]) < len(signed):
        assert time.monotonic() < deadline, (
            f"{len(signed)} signed, {chain.eth.get_transaction_count(session['address'])} mined, "
            f"{chain.eth.get_transaction_count(session['address'], 'pending')} pending")
        time.sleep(0.1)
    nonce = chain.eth.get_transaction_count(session["address"], "pending")
    assert nonce == len(signed)
    for answer in signed:
        assert chain.eth.get_transaction_receipt(answer["result"])["status"] == 1
    assert_policy_denied(send(studio, session, eth_transfer(session, to, 1)), "session_revoked")
    time.sleep(1)
    assert chain.eth.get_transaction_count(session["address"], "pending") == nonce
    assert_policy_denied(send(studio, session, eth_transfer(session, to, 1)), "session_revoked")
    assert chain.eth.get_balance(to) == len(signed)
