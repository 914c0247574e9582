"""The SDK's approvals through real `serve` + anvil: an agent's `transfer(...,
wait_for_approval=)` blocks on a held payment while a person decides with the CLI, and gets the
receipt of exactly the held transfer, or `PolicyDenied(approval_rejected)` with nothing moved.
An operator's `StudioClient` (a token with `approvals:write`) sees the inbox and rejects.

The agent waits in a worker thread, as an agent process would wait while the operator acts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from web3 import Web3

from session_studio import AgentWallet, ApprovalPending, PolicyDenied, StudioClient

from .harness import PRIMARY_CHAIN, Studio
from .rpc_client import fresh_address

pytestmark = pytest.mark.e2e
USDC = 10**6
TRANSFER_TOPIC = Web3.keccak(text="Transfer(address,address,uint256)")
WAIT_S = 60  # how long the agent waits for a decision: far longer than the CLI takes


def held_session(studio: Studio, *, approve_above: str = "5") -> dict[str, Any]:
    """A funded agent session whose payments above `approve_above` USD wait for a person."""
    artifact: dict[str, Any] = studio.cli(
        "sessions", "create", "--type", "agent", "--label", "held", "--agent",
        studio.new_agent(), "--chains", str(PRIMARY_CHAIN), "--permissions", "transfer",
        "--tokens", "USDC,ETH", "--per-tx-limit", "50", "--daily-limit", "200",
        "--limit-unit", "USD", "--expires-in", "1h", "--approve-above", approve_above)
    studio.fund(artifact["address"])
    return artifact


def pending_approval_of(studio: Studio, key_hash: str, *, within_s: float = 30) -> str:
    """The id of the session's pending approval, once the held request has reached the
    inbox (the agent's thread sends it concurrently with the test)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        listed: list[dict[str, Any]] = studio.cli("approvals", "list", "--status", "pending")
        mine = [a for a in listed if a["key_hash"] == key_hash]
        if mine:
            assert len(mine) == 1
            return str(mine[0]["approval_id"])
        time.sleep(0.2)
    raise AssertionError(f"no pending approval for {key_hash} within {within_s} s")


def usdc_transfers(receipt: Any) -> list[tuple[str, int]]:
    """(recipient, amount) of each ERC-20 Transfer the receipt logged."""
    return [(Web3.to_checksum_address(log["topics"][2][-20:]), int.from_bytes(log["data"]))
            for log in receipt["logs"] if log["topics"][0] == TRANSFER_TOPIC]


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


def wait_in_thread(worker: ThreadPoolExecutor, wallet: AgentWallet, to: str,
                   amount: int) -> Future[Any]:
    return worker.submit(wallet.transfer, to, amount, "USDC", wait_for_approval=WAIT_S)


def test_a_held_transfer_approved_with_the_cli_returns_the_receipt(
        studio: Studio, worker: ThreadPoolExecutor) -> None:
    session = held_session(studio)
    to = Web3.to_checksum_address(fresh_address())

    with AgentWallet(config=session) as wallet:
        sent = wait_in_thread(worker, wallet, to, 6 * USDC)
        studio.cli("approvals", "approve", pending_approval_of(studio, session["key_hash"]))
        receipt = sent.result(timeout=WAIT_S + 30)

    assert receipt["status"] == 1
    assert usdc_transfers(receipt) == [(to, 6 * USDC)]  # exactly the held request
    assert studio.usdc_balance(to) == 6 * USDC


def test_a_held_transfer_rejected_with_the_cli_raises_approval_rejected(
        studio: Studio, worker: ThreadPoolExecutor) -> None:
    session = held_session(studio)
    to = fresh_address()

    with AgentWallet(config=session) as wallet:
        sent = wait_in_thread(worker, wallet, to, 6 * USDC)
        studio.cli("approvals", "reject", pending_approval_of(studio, session["key_hash"]),
                   "--reason", "not this vendor")
        with pytest.raises(PolicyDenied) as raised:
            sent.result(timeout=WAIT_S + 30)

    assert not isinstance(raised.value, ApprovalPending)
    assert raised.value.reason == "approval_rejected"
    assert "not this vendor" in raised.value.detail
    assert studio.usdc_balance(to) == 0


def test_a_payment_under_the_threshold_is_not_held(studio: Studio) -> None:
    session = held_session(studio)
    to = fresh_address()

    with AgentWallet(config=session) as wallet:
        receipt = wallet.transfer(to, 1 * USDC, "USDC", wait_for_approval=WAIT_S)

    assert receipt["status"] == 1
    assert studio.usdc_balance(to) == 1 * USDC


def test_without_waiting_the_hold_is_approval_pending_and_readable(studio: Studio) -> None:
    session = held_session(studio)

    with AgentWallet(config=session) as wallet:
        with pytest.raises(ApprovalPending) as raised:
            wallet.transfer(fresh_address(), 6 * USDC, "USDC")
        held = wallet.get_approval(raised.value.approval_id)

    assert raised.value.reason == "approval_required"
    assert raised.value.expires_at == held.expires_at
    assert (held.status, held.result) == ("pending", None)


def test_an_operator_token_lists_the_inbox_and_rejects(
        studio: Studio, worker: ThreadPoolExecutor) -> None:
    session = held_session(studio)
    created: dict[str, Any] = studio.cli("tokens", "create", "--name", "approvals-sdk",
                                         "--scope", "approvals:write")
    to = fresh_address()

    with AgentWallet(config=session) as wallet, \
            StudioClient(f"http://127.0.0.1:{studio.admin_port}", created["token"]) as ops:
        sent = wait_in_thread(worker, wallet, to, 6 * USDC)
        approval_id = pending_approval_of(studio, session["key_hash"])
        inbox = [a for a in ops.list_approvals(status="pending")
                 if a.key_hash == session["key_hash"]]
        rejected = ops.reject_approval(approval_id, "over budget this week")
        with pytest.raises(PolicyDenied) as raised:
            sent.result(timeout=WAIT_S + 30)

    assert [a.approval_id for a in inbox] == [approval_id]
    assert inbox[0].cost is not None and inbox[0].cost > 5
    assert (rejected.status, rejected.reason) == ("rejected", "over budget this week")
    assert raised.value.reason == "approval_rejected"
    assert studio.usdc_balance(to) == 0
