"""The attack catalogue (POLICY.md) tried against the running sidecar over plain JSON-RPC.

Every attack asserts both halves of a refusal: the JSON-RPC error a client sees (code, "User
denied" message, `data.reason`), and that nothing happened on either chain (nonces, ETH and
USDC balances, allowances). Requests are raw JSON-RPC over HTTP so that fields a client library
would strip or rewrite (authorizationList, a foreign chainId, odd calldata) reach the sidecar.
"""

from __future__ import annotations

import json
import time

import pytest
import rlp
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from session_studio_dev import fund_native, send_contract_transaction
from web3 import Web3

from .harness import PRIMARY_CHAIN, SECOND_CHAIN, Studio
from .rpc_client import (
    BOTH_CHAINS,
    ETH_FEES,
    GWEI,
    TOKEN_FEES,
    UINT256_MAX,
    allowance,
    assert_error,
    assert_policy_denied,
    calldata,
    eth_transfer,
    fresh_address,
    post,
    rpc,
    send,
    snapshot,
    token_call,
)

pytestmark = pytest.mark.e2e

# A tiny init code (returns a contract whose code answers 42): creation, whatever it deploys.
INIT_CODE = "0x600a600c600039600a6000f3602a60005260206000f3"


def test_transfer_outside_chain_scope_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", chains=str(PRIMARY_CHAIN))
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    answer = send(studio, session, eth_transfer(session, to), chain_id=SECOND_CHAIN)
    assert_policy_denied(answer, "chain_not_in_scope")
    assert snapshot(studio, session["address"], to) == before


def test_chain_id_field_differing_from_the_url_chain_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", chains=BOTH_CHAINS)
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    # Another chain of the session's own scope, and a chain the sidecar does not serve at all.
    for declared in (SECOND_CHAIN, 1):
        tx = {**eth_transfer(session, to), "chainId": hex(declared)}
        answer = send(studio, session, tx, chain_id=PRIMARY_CHAIN)
        assert_policy_denied(answer, "chain_not_in_scope")
    assert snapshot(studio, session["address"], to) == before


def test_legacy_transaction_without_chain_id_is_signed_for_the_url_chain(
        studio: Studio) -> None:
    # A pre-EIP-155 signature could be replayed on every chain; the sidecar must bind it.
    session = studio.create_session(type_="app", chains=BOTH_CHAINS)
    tx = {"from": session["address"], "to": fresh_address(), "value": "0x1", "type": "0x0",
          "gas": hex(21_000), "gasPrice": hex(2 * GWEI)}
    answer = send(studio, session, tx, chain_id=SECOND_CHAIN, method="eth_signTransaction")
    raw = bytes.fromhex(answer["result"][2:])
    v = int.from_bytes(rlp.decode(raw)[6], "big")
    assert v in (SECOND_CHAIN * 2 + 35, SECOND_CHAIN * 2 + 36)
    assert Account.recover_transaction(raw) == session["address"]


# -- assets and permissions ------------------------------------------------------------------
def test_usdc_transfer_outside_session_tokens_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", tokens="ETH")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    answer = send(studio, session,
                  token_call(studio, session, calldata(studio, "transfer", to, 1_000_000)))
    assert_policy_denied(answer, "token_not_allowed")
    assert snapshot(studio, session["address"], to) == before


def test_contract_creation_is_refused_whatever_the_permissions(studio: Studio) -> None:
    session = studio.create_session(
        type_="app", permissions="transfer,approve,swap,contract_call,sign_message")
    before = snapshot(studio, session["address"])
    tx = {"from": session["address"], "data": INIT_CODE, **TOKEN_FEES}
    assert_policy_denied(send(studio, session, tx), "permission_denied")
    assert snapshot(studio, session["address"]) == before


def test_unlimited_approval_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer,approve",
                                    per_tx="1000000", daily="1000000")
    spender = fresh_address()
    before = snapshot(studio, session["address"], spender)
    for function in ("approve", "increaseAllowance"):
        data = calldata(studio, function, spender, UINT256_MAX)
        assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                             "permission_denied")
    assert snapshot(studio, session["address"], spender) == before
    assert allowance(studio, session["address"], spender) == 0


def test_approve_without_the_approve_permission_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer")
    spender = fresh_address()
    before = snapshot(studio, session["address"], spender)
    data = calldata(studio, "approve", spender, 1_000_000)
    assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                         "permission_denied")
    assert snapshot(studio, session["address"], spender) == before
    assert allowance(studio, session["address"], spender) == 0


def test_bounded_approve_is_signed_and_valued_against_the_per_tx_cap(studio: Studio) -> None:
    # The allowance is funds put at risk: 5 USDC granted fits 50 USD, 60 USDC does not.
    session = studio.create_session(type_="app", permissions="transfer,approve", per_tx="50")
    spender = fresh_address()
    data = calldata(studio, "approve", spender, 5_000_000)
    answer = send(studio, session, token_call(studio, session, data))
    receipt = studio.chain_web3().eth.wait_for_transaction_receipt(answer["result"])
    assert receipt["status"] == 1
    before = snapshot(studio, session["address"], spender)
    data = calldata(studio, "approve", spender, 60_000_000)
    answer = send(studio, session, token_call(studio, session, data))
    assert_policy_denied(answer, "per_tx_limit_exceeded")
    assert answer["error"]["data"]["cost"] == "60.6"
    assert snapshot(studio, session["address"], spender) == before
    assert allowance(studio, session["address"], spender) == 5_000_000


def test_transfer_from_of_someone_elses_allowance_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", per_tx="1000", daily="1000")
    victim = Account.create()
    studio.fund(victim.address)
    send_contract_transaction(studio.chain_web3(), "DemoUSDC", studio.usdc[PRIMARY_CHAIN],
                              "approve", session["address"], 100_000_000,
                              sender_key=victim.key)
    third_party = fresh_address()
    before = snapshot(studio, session["address"], victim.address, third_party)
    # Pulled to the session itself, or straight to a third party: neither is the session's own.
    for to in (session["address"], third_party):
        data = calldata(studio, "transferFrom", victim.address, to, 100_000_000)
        assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                             "contract_not_allowed")
    assert snapshot(studio, session["address"], victim.address, third_party) == before
    assert allowance(studio, victim.address, session["address"]) == 100_000_000


# -- value hidden in calls -------------------------------------------------------------------
def test_value_with_calldata_to_an_eoa_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    tx = {**eth_transfer(session, to, 10**15), "data": "0xdeadbeef", "gas": hex(100_000)}
    assert_policy_denied(send(studio, session, tx), "contract_not_allowed")
    assert snapshot(studio, session["address"], to) == before


def test_native_value_riding_along_a_token_transfer_counts_as_spend(studio: Studio) -> None:
    # 1 USDC + 0.02 ETH (60 USD) + 0.6 USD of gas: the ETH alone breaks the 50 USD cap.
    session = studio.create_session(type_="app", per_tx="50")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    tx = token_call(studio, session, calldata(studio, "transfer", to, 1_000_000),
                    value=hex(2 * 10**16))
    answer = send(studio, session, tx)
    assert_policy_denied(answer, "per_tx_limit_exceeded")
    assert answer["error"]["data"]["cost"] == "61.6"
    assert snapshot(studio, session["address"], to) == before


def test_unknown_function_on_the_token_is_refused_as_undecodable(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer,approve")
    before = snapshot(studio, session["address"])
    data = calldata(studio, "transferOwnership", session["address"])
    assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                         "undecodable_request")
    assert snapshot(studio, session["address"]) == before


def test_transfer_calldata_with_trailing_bytes_is_refused_as_undecodable(
        studio: Studio) -> None:
    session = studio.create_session(type_="app")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    data = calldata(studio, "transfer", to, 1_000_000) + abi_encode(["uint256"], [1]).hex()
    assert_policy_denied(send(studio, session, token_call(studio, session, data)),
                         "undecodable_request")
    assert snapshot(studio, session["address"], to) == before


# -- EIP-7702 ------------------------------------------------------------------------------
AUTHORIZATION = {"chainId": hex(PRIMARY_CHAIN), "address": "0x" + "42" * 20, "nonce": "0x1",
                 "yParity": "0x0", "r": "0x" + "11" * 32, "s": "0x" + "22" * 32}


EIP7702_SHAPES = [{"authorizationList": [AUTHORIZATION]}, {"type": "0x4"},
                  {"type": "0x4", "authorizationList": [AUTHORIZATION]}]


def test_eip7702_transaction_is_refused(studio: Studio) -> None:
    session = studio.create_session(
        type_="app", permissions="transfer,approve,swap,contract_call,sign_message")
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    for shape in EIP7702_SHAPES:
        tx = {**eth_transfer(session, to, 1), **shape}
        assert_policy_denied(send(studio, session, tx), "permission_denied")
    assert snapshot(studio, session["address"], to) == before


# -- session lifecycle -----------------------------------------------------------------------
def test_transfer_after_expiry_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", expires_in="1")
    # Wait for the server's own clock: an expired session leaves eth_accounts.
    deadline = time.monotonic() + 10
    while rpc(studio, session["credential"], "eth_accounts", [])["result"]:
        assert time.monotonic() < deadline, "session did not expire within 10 s"
        time.sleep(0.1)
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    assert_policy_denied(send(studio, session, eth_transfer(session, to)), "session_expired")
    assert snapshot(studio, session["address"], to) == before


def test_transfer_after_revoke_is_refused(studio: Studio) -> None:
    # An agent's token outlives one of its sessions, so the refusal names the revocation.
    session = studio.create_session()
    to = fresh_address()
    first = send(studio, session, eth_transfer(session, to))
    studio.chain_web3().eth.wait_for_transaction_receipt(first["result"])
    studio.cli("sessions", "revoke", session["key_hash"])
    before = snapshot(studio, session["address"], to)
    assert_policy_denied(send(studio, session, eth_transfer(session, to)), "session_revoked")
    assert snapshot(studio, session["address"], to) == before


def test_revoked_app_sessions_credential_is_unauthorized(studio: Studio) -> None:
    # An app session's token is revoked with it: the next request is a wrong credential.
    session = studio.create_session(type_="app")
    to = fresh_address()
    studio.cli("sessions", "revoke", session["key_hash"])
    before = snapshot(studio, session["address"], to)
    status, answer = post(studio, session["credential"], "eth_sendTransaction",
                          [eth_transfer(session, to)])
    assert status == 401
    assert_error(answer, 4100)
    assert snapshot(studio, session["address"], to) == before


# -- `from` spoofing -------------------------------------------------------------------------
def test_from_outside_the_credentials_sessions_is_unauthorized(studio: Studio) -> None:
    victim = studio.create_session()
    attacker = studio.create_session()
    to = fresh_address()
    before = snapshot(studio, victim["address"], attacker["address"], to)
    # Another agent's session, and an address that is nobody's session at all.
    for spoofed in (victim["address"], str(Account.create().address)):
        tx = {**eth_transfer(attacker, to), "from": spoofed}
        error = assert_error(send(studio, attacker, tx), 4100)
        assert spoofed.lower() in error["message"].lower()
    assert snapshot(studio, victim["address"], attacker["address"], to) == before


def test_from_in_another_case_still_signs_for_the_own_session(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    body = session["address"][2:]
    to = fresh_address()
    for sender in ("0x" + body.lower(), "0x" + body.upper()):
        answer = send(studio, session, {**eth_transfer(session, to, 777), "from": sender})
        receipt = studio.chain_web3().eth.wait_for_transaction_receipt(answer["result"])
        assert receipt["from"] == session["address"]
    assert studio.chain_web3().eth.get_balance(to) == 2 * 777


def test_from_with_a_broken_checksum_is_invalid_params(studio: Studio) -> None:
    session = studio.create_session(type_="app")
    address = session["address"]
    # Flip the case of one letter: still the same bytes, but no longer a valid EIP-55 checksum.
    index = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    broken = address[:index] + address[index].swapcase() + address[index + 1:]
    to = fresh_address()
    before = snapshot(studio, session["address"], to)
    assert_error(send(studio, session, {**eth_transfer(session, to), "from": broken}), -32602)
    assert snapshot(studio, session["address"], to) == before


def test_send_without_from_is_refused_when_the_credential_holds_two_sessions(
        studio: Studio) -> None:
    first = studio.create_session()
    second = studio.create_session(agent=first["agent"])
    assert first["credential"] == second["credential"]  # one agent token reaches both
    to = fresh_address()
    before = snapshot(studio, first["address"], second["address"], to)
    tx = {"to": to, "value": "0x1", **ETH_FEES}
    error = assert_error(send(studio, first, tx), -32602)
    assert "from" in error["message"]
    assert snapshot(studio, first["address"], second["address"], to) == before


# -- refused methods -------------------------------------------------------------------------
def test_eth_sign_is_refused_as_unsupported(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer,sign_message")
    # A raw 32-byte hash: could be the signing hash of any transaction.
    digest = "0x" + Web3.keccak(text="a transaction's signing hash").hex().removeprefix("0x")
    answer = rpc(studio, session["credential"], "eth_sign", [session["address"], digest])
    assert_error(answer, 4200)


def test_eth_send_raw_transaction_is_refused_as_unsupported(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    outsider = Account.create()
    fund_native(studio.chain_web3(), outsider.address, 10**18)
    to = fresh_address()
    raw = outsider.sign_transaction({"chainId": PRIMARY_CHAIN, "nonce": 0, "to": to,
                                     "value": 1, "gas": 21_000, "maxFeePerGas": 2 * GWEI,
                                     "maxPriorityFeePerGas": GWEI}).raw_transaction
    before = snapshot(studio, outsider.address, to)
    answer = rpc(studio, session["credential"], "eth_sendRawTransaction", ["0x" + raw.hex()])
    assert_error(answer, 4200)
    assert snapshot(studio, outsider.address, to) == before


MAIL_TYPED_DATA = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"},
                         {"name": "chainId", "type": "uint256"}],
        "Mail": [{"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Example", "chainId": PRIMARY_CHAIN},
    "message": {"contents": "hello"},
}


def test_opaque_typed_data_without_an_allowlisted_verifying_contract_is_refused(
        studio: Studio) -> None:
    session = studio.create_session(
        type_="app", permissions="transfer,approve,sign_message,sign_typed_data", fund=False)
    # As ethers and viem send it (a JSON string), and as dapp code often does (an object).
    for typed in (json.dumps(MAIL_TYPED_DATA), MAIL_TYPED_DATA):
        answer = rpc(studio, session["credential"], "eth_signTypedData_v4",
                     [session["address"], typed])
        assert_policy_denied(answer, "contract_not_allowed")


MAIL_APP = "0x00000000000000000000000000000000000a11ce"


def _mail_to(contract: str) -> dict[str, object]:
    typed = json.loads(json.dumps(MAIL_TYPED_DATA))
    typed["types"]["EIP712Domain"].append({"name": "verifyingContract", "type": "address"})
    typed["domain"]["verifyingContract"] = contract
    return typed


def test_opaque_typed_data_without_the_sign_typed_data_permission_is_refused(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer,sign_message",
                                    contracts=MAIL_APP, fund=False)
    answer = rpc(studio, session["credential"], "eth_signTypedData_v4",
                 [session["address"], json.dumps(_mail_to(MAIL_APP))])
    assert_policy_denied(answer, "permission_denied")


def test_opaque_typed_data_to_an_allowlisted_contract_is_signed_by_the_session(
        studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="sign_typed_data",
                                    contracts=MAIL_APP, fund=False)
    typed = _mail_to(MAIL_APP)
    answer = rpc(studio, session["credential"], "eth_signTypedData_v4",
                 [session["address"], json.dumps(typed)])
    signable = encode_typed_data(full_message=typed)
    assert Account.recover_message(signable, signature=answer["result"]) == session["address"]


def test_personal_sign_without_the_sign_message_permission_is_refused(studio: Studio) -> None:
    session = studio.create_session(type_="app", permissions="transfer", fund=False)
    answer = rpc(studio, session["credential"], "personal_sign",
                 ["0x" + b"hello".hex(), session["address"]])
    assert_policy_denied(answer, "permission_denied")
