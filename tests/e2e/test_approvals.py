"""Approvals through real `serve`, anvil, web3.py and the CLI (issue 14).

A session with `approve_above = 5` USD: a USDC transfer costing more is held (4001
approval_required) with its cost reserved; a person approves it with the CLI on the host, or
rejects it. Costs are exact: gas 100000 at a max fee of 2 gwei is 0.6 USD of worst-case gas
at 3000 USD/ETH, so a 20 USDC transfer costs 20.6 USD. The sidecar is the package's
(conftest.py); expiry has its own with a short wait (test_approval_expiry.py).
"""

from __future__ import annotations

import concurrent.futures
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from eth_account import Account
from web3.exceptions import Web3RPCError

from .harness import Studio

pytestmark = pytest.mark.e2e

GWEI = 10**9
FEES = {"gas": 100_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
USDC = 10**6


def fresh_address() -> str:
    return str(Account.create().address)


def held_session(studio: Studio, *, daily: str = "200", per_tx: str = "50") -> dict[str, Any]:
    return studio.create_session(per_tx=per_tx, daily=daily, approve_above="5")


def send_usdc(studio: Studio, session: dict[str, Any], to: str, amount: int) -> str:
    w3 = studio.web3(session)
    tx: str = studio.usdc_contract(w3).functions.transfer(to, amount).transact(
        {"from": session["address"], **FEES}).hex()
    return tx


def hold(studio: Studio, session: dict[str, Any], to: str, amount: int) -> dict[str, Any]:
    """Send a transfer that must be held; the 4001 error object."""
    with pytest.raises(Web3RPCError) as held:
        send_usdc(studio, session, to, amount)
    error: dict[str, Any] = held.value.rpc_response["error"]
    assert error["code"] == 4001
    assert error["data"]["reason"] == "approval_required"
    return error


def get_approval(studio: Studio, session: dict[str, Any], approval_id: str) -> dict[str, Any]:
    reply = studio.web3(session).provider.make_request("studio_getApproval", [approval_id])
    return dict(reply)


def wait_mined(studio: Studio, tx_hash: str) -> Any:
    return studio.chain_web3().eth.wait_for_transaction_receipt(tx_hash, timeout=30)


def admin_api(studio: Studio, method: str, path: str, token: str,
              body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{studio.admin_port}/api/v1{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_a_request_over_approve_above_is_held_and_nothing_is_sent(studio: Studio) -> None:
    session = held_session(studio)
    to = fresh_address()
    nonce_before = studio.chain_web3().eth.get_transaction_count(session["address"])

    error = hold(studio, session, to, 20 * USDC)

    assert error["message"].startswith("User denied")
    assert error["data"]["cost"] == "20.6"
    assert error["data"]["approve_above"] == "5"
    status = get_approval(studio, session, error["data"]["approval_id"])["result"]
    assert status["status"] == "pending"
    assert status["summary"].startswith(f"transfer 20 USDC to {to.lower()}")
    assert studio.chain_web3().eth.get_transaction_count(session["address"]) == nonce_before
    assert studio.usdc_balance(to) == 0


def test_a_request_within_approve_above_is_signed_at_once(studio: Studio) -> None:
    session = held_session(studio)
    to = fresh_address()

    tx_hash = send_usdc(studio, session, to, 4 * USDC)

    assert wait_mined(studio, tx_hash)["status"] == 1
    assert studio.usdc_balance(to) == 4 * USDC


def test_a_held_send_approved_with_the_cli_lands_with_its_exact_recipient_and_amount(
        studio: Studio) -> None:
    session = held_session(studio)
    to = fresh_address()
    approval_id = hold(studio, session, to, 20 * USDC)["data"]["approval_id"]

    approved = studio.cli("approvals", "approve", approval_id)

    assert approved["status"] == "approved"
    receipt = wait_mined(studio, approved["result"])
    assert receipt["status"] == 1
    assert receipt["from"].lower() == session["address"].lower()
    assert studio.usdc_balance(to) == 20 * USDC
    answer = get_approval(studio, session, approval_id)["result"]
    assert answer["status"] == "approved"
    assert answer["result"] == approved["result"]


def test_a_rejected_request_moves_nothing_and_frees_the_window(studio: Studio) -> None:
    session = held_session(studio, daily="30", per_tx="30")
    to = fresh_address()
    approval_id = hold(studio, session, to, 25 * USDC)["data"]["approval_id"]
    # 25.6 of 30 is reserved while it waits: a second one does not fit.
    with pytest.raises(Web3RPCError) as full:
        send_usdc(studio, session, to, 20 * USDC)
    assert full.value.rpc_response["error"]["data"]["reason"] == "daily_limit_exceeded"

    rejected = studio.cli("approvals", "reject", approval_id, "--reason", "not today")

    assert rejected["status"] == "rejected"
    assert rejected["reason"] == "not today"
    assert studio.usdc_balance(to) == 0
    # The window is free again: the same request is held anew, not refused.
    assert hold(studio, session, to, 25 * USDC)["data"]["approval_id"] != approval_id


def test_a_rejected_approval_can_no_longer_be_approved(studio: Studio) -> None:
    session = held_session(studio)
    approval_id = hold(studio, session, fresh_address(), 20 * USDC)["data"]["approval_id"]
    studio.cli("approvals", "reject", approval_id)

    late = studio.cli_raw("approvals", "approve", approval_id)

    assert late.returncode == 1
    assert "already rejected" in late.stderr


def test_revoking_a_session_rejects_its_pending_approvals(studio: Studio) -> None:
    session = held_session(studio)
    to = fresh_address()
    approval_id = hold(studio, session, to, 20 * USDC)["data"]["approval_id"]

    studio.cli("sessions", "revoke", session["key_hash"])

    shown = [a for a in studio.cli("approvals", "list") if a["approval_id"] == approval_id]
    assert shown[0]["status"] == "rejected"
    assert shown[0]["reason"] == "session_revoked"
    assert studio.cli_raw("approvals", "approve", approval_id).returncode == 1
    assert studio.usdc_balance(to) == 0


def test_an_api_token_can_reject_but_never_approve(studio: Studio) -> None:
    session = held_session(studio)
    first = hold(studio, session, fresh_address(), 20 * USDC)["data"]["approval_id"]
    second = hold(studio, session, fresh_address(), 21 * USDC)["data"]["approval_id"]
    token: str = studio.cli("tokens", "create", "--scope", "approvals:write")["token"]

    status, body = admin_api(studio, "POST", f"/approvals/{first}/approve", token)
    assert status == 403
    assert body["error"]["code"] == "passkey_required"
    status, body = admin_api(studio, "GET", "/approvals?status=pending", token)
    assert status == 200
    assert {first, second} <= {a["approval_id"] for a in body["items"]}
    status, body = admin_api(studio, "POST", f"/approvals/{second}/reject", token,
                             {"reason": "too much"})
    assert (status, body["status"]) == (200, "rejected")
    assert get_approval(studio, session, first)["result"]["status"] == "pending"


def test_another_credential_cannot_read_an_approval(studio: Studio) -> None:
    session = held_session(studio)
    approval_id = hold(studio, session, fresh_address(), 20 * USDC)["data"]["approval_id"]
    stranger = studio.create_session()

    answer = get_approval(studio, stranger, approval_id)

    assert answer["error"]["code"] == -32602


def test_approving_many_held_requests_at_once_never_overshoots_the_window(
        studio: Studio) -> None:
    """Hold until the window is full, then approve every held request in parallel (CLI
    processes racing each other): each signs once, at its own nonce, and what lands on chain
    is exactly what was held, within the daily limit."""
    session = held_session(studio, daily="100", per_tx="30")
    to = fresh_address()
    held: list[str] = []
    while True:
        try:
            send_usdc(studio, session, to, 20 * USDC)
        except Web3RPCError as refused:
            error = refused.rpc_response["error"]
            if error["data"]["reason"] != "approval_required":
                assert error["data"]["reason"] == "daily_limit_exceeded"
                break
            held.append(error["data"]["approval_id"])
    assert len(held) == 4  # 4 x 20.6 = 82.4 of 100 reserved; a fifth would be 103

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(held) * 2) as pool:
        # Every approval twice, concurrently: one of each pair wins, the other is refused.
        runs = list(pool.map(lambda a: studio.cli_raw("approvals", "approve", a, "--json"),
                             held + held))

    approved = [json.loads(r.stdout) for r in runs if r.returncode == 0]
    assert all("no longer pending" in r.stderr or "already approved" in r.stderr
               for r in runs if r.returncode != 0), [r.stderr for r in runs]
    assert sorted(a["approval_id"] for a in approved) == sorted(held)
    receipts = [wait_mined(studio, a["result"]) for a in approved]
    assert all(r["status"] == 1 for r in receipts)
    nonces = sorted(studio.chain_web3().eth.get_transaction(a["result"])["nonce"]
                    for a in approved)
    assert len(set(nonces)) == len(held)
    assert studio.usdc_balance(to) == 20 * USDC * len(held)
