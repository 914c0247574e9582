"""The SDK's side of approvals against a local HTTP server speaking the sidecar's wire shapes:
a held send (4001 `approval_required`), `studio_getApproval`, and the admin API's
`/approvals`. The polling logic (what a waiting agent gets for each decision, and that it never
waits past its deadline) is the SDK's alone, so it is pinned here without a chain; the same
flow through real `serve` + anvil is tests/e2e/test_sdk_approvals.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from session_studio.sdk import Approval, AsyncAgentWallet, AsyncStudioClient, RpcError
from session_studio.sdk._approval import decided_against
from session_studio.sdk._errors import raise_for_rpc_error
from session_studio.sdk._wallet import APPROVAL_POLL_S
from web3.exceptions import Web3RPCError

import session_studio
from session_studio import (
    AgentWallet,
    ApprovalPending,
    PolicyDenied,
    ServerError,
    StudioClient,
    ValidationError,
)

CHAIN = 8453
OTHER_CHAIN = 10
SESSION = "0x" + "11" * 32
ADDRESS = "0x" + "22" * 20
RECIPIENT = "0x" + "44" * 20
APPROVAL_ID = "apr_1"
SENT_HASH = "0x" + "ab" * 32
EXPIRES_AT = "2030-01-01T01:00:00Z"
HELD_DETAIL = "transfer 6 ETH to 0x4444... costs 6 USD, over the approval threshold of 5"

MakeServer = Callable[[web.Application], Awaitable[TestServer]]


def approval(status: str, **fields: Any) -> dict[str, Any]:
    return {"approval_id": APPROVAL_ID, "status": status, "result": None, "reason": None,
            "expires_at": EXPIRES_AT, "error": None, **fields}


@dataclass
class FakeSidecar:
    """The RPC plane as the SDK sees it. `answers` are the successive `studio_getApproval`
    results (the last one repeats); every poll's loop time is kept in `polls`."""

    answers: list[dict[str, Any]] = field(default_factory=lambda: [approval("pending")])
    hold: bool = True
    polls: list[float] = field(default_factory=list)
    polled_chains: list[int] = field(default_factory=list)
    receipts_asked: list[str] = field(default_factory=list)

    def reply(self, method: str, params: list[Any], chain: int) -> dict[str, Any]:
        if method == "studio_getSessionStatuses":
            return {"result": [{
                "key_hash": SESSION, "address": ADDRESS, "status": "active",
                "expires_at": "2030-01-01T00:00:00Z", "spent_in_window": "0",
                "limits": {"unit": "USD", "per_tx": "10", "daily": "100"}, "health": [],
                "chain_ids": [CHAIN, OTHER_CHAIN]}]}
        if method == "eth_sendTransaction" and self.hold:
            return {"error": {"code": 4001, "message": f"User denied the request: {HELD_DETAIL}",
                              "data": {"reason": "approval_required", "detail": HELD_DETAIL,
                                       "approval_id": APPROVAL_ID, "expires_at": EXPIRES_AT,
                                       "cost": "6", "unit": "USD"}}}
        if method == "eth_sendTransaction":
            return {"result": SENT_HASH}
        if method == "studio_getApproval":
            if params != [APPROVAL_ID]:
                return {"error": {"code": -32602,
                                  "message": f"invalid params: no approval {params[0]}"}}
            self.polls.append(asyncio.get_running_loop().time())
            self.polled_chains.append(chain)
            return {"result": self.answers[min(len(self.polls), len(self.answers)) - 1]}
        if method == "eth_getTransactionReceipt":
            self.receipts_asked.append(params[0])
            return {"result": receipt(params[0])}
        if method in FIXED:
            return {"result": FIXED[method]}
        return {"error": {"code": -32601, "message": f"the method {method} does not exist"}}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        answer = self.reply(body["method"], body.get("params") or [],
                            int(request.match_info["chain"]))
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], **answer})


FIXED: dict[str, Any] = {
    "eth_chainId": hex(CHAIN), "eth_estimateGas": "0x5208", "eth_maxPriorityFeePerGas": "0x1",
    "eth_gasPrice": "0x2", "eth_getTransactionCount": "0x0",
    "eth_getBlockByNumber": {"number": "0x1", "baseFeePerGas": "0x1", "gasLimit": "0x1c9c380",
                             "hash": "0x" + "01" * 32, "timestamp": "0x1"}}


def receipt(tx_hash: str) -> dict[str, Any]:
    return {"transactionHash": tx_hash, "status": "0x1", "blockNumber": "0x2",
            "blockHash": "0x" + "02" * 32, "transactionIndex": "0x0", "from": ADDRESS,
            "to": RECIPIENT, "gasUsed": "0x5208", "cumulativeGasUsed": "0x5208",
            "effectiveGasPrice": "0x2", "logs": [], "logsBloom": "0x" + "00" * 256,
            "contractAddress": None, "type": "0x2"}


def agent_config(base: str) -> dict[str, Any]:
    return {"key_hash": SESSION, "address": ADDRESS, "type": "agent", "label": "payouts",
            "agent": "bot", "permissions": ["transfer"], "chain_ids": [CHAIN, OTHER_CHAIN],
            "tokens": ["ETH"], "limits": {"unit": "USD", "per_tx": "10", "daily": "100"},
            "expires_at": "2030-01-01T00:00:00Z", "credential": "sst_x",
            "rpc_url": f"{base}/{CHAIN}",
            "rpc_urls": {str(CHAIN): f"{base}/{CHAIN}",
                         str(OTHER_CHAIN): f"{base}/{OTHER_CHAIN}"}}


def sidecar_app(sidecar: FakeSidecar) -> web.Application:
    app = web.Application()
    app.router.add_post("/rpc/{chain}", sidecar.handle)
    return app


@dataclass
class Rig:
    sidecar: FakeSidecar
    wallet: AsyncAgentWallet


@pytest.fixture
async def rig(aiohttp_server: MakeServer) -> AsyncIterator[Rig]:
    sidecar = FakeSidecar()
    server = await aiohttp_server(sidecar_app(sidecar))
    async with AsyncAgentWallet(agent_config(str(server.make_url("/rpc")))) as wallet:
        yield Rig(sidecar=sidecar, wallet=wallet)


async def send_six_eth(wallet: AsyncAgentWallet, wait: float | None) -> Any:
    return await wallet.transfer(RECIPIENT, 6 * 10**18, "ETH", wait_for_approval=wait)


# -- the hold itself ---------------------------------------------------------------------------
def test_a_hold_is_approval_pending_with_its_id_and_expiry() -> None:
    answer = {"jsonrpc": "2.0", "id": 1, "error": {
        "code": 4001, "message": f"User denied the request: {HELD_DETAIL}",
        "data": {"reason": "approval_required", "detail": HELD_DETAIL,
                 "approval_id": APPROVAL_ID, "expires_at": EXPIRES_AT, "cost": "6"}}}

    with pytest.raises(ApprovalPending) as raised:
        raise_for_rpc_error(answer)

    assert (raised.value.approval_id, raised.value.expires_at) == (APPROVAL_ID, EXPIRES_AT)
    assert (raised.value.reason, raised.value.detail) == ("approval_required", HELD_DETAIL)
    assert raised.value.data["cost"] == "6"


def test_approval_pending_is_caught_as_a_policy_denial() -> None:
    assert issubclass(ApprovalPending, PolicyDenied)
    assert issubclass(ApprovalPending, Web3RPCError)
    assert session_studio.ApprovalPending is ApprovalPending


async def test_a_held_transfer_without_waiting_raises_at_once(rig: Rig) -> None:
    with pytest.raises(ApprovalPending) as raised:
        await send_six_eth(rig.wallet, None)

    assert raised.value.approval_id == APPROVAL_ID
    assert rig.sidecar.polls == []


async def test_an_unheld_transfer_with_a_wait_returns_its_receipt_without_polling(
        rig: Rig) -> None:
    rig.sidecar.hold = False

    sent = await send_six_eth(rig.wallet, 5)

    assert sent["transactionHash"].to_0x_hex() == SENT_HASH
    assert rig.sidecar.polls == []


# -- waiting for the decision -----------------------------------------------------------------
async def test_an_approved_transfer_returns_the_receipt_of_the_held_send(rig: Rig) -> None:
    rig.sidecar.answers = [approval("pending"), approval("pending"),
                           approval("approved", result=SENT_HASH)]

    sent = await send_six_eth(rig.wallet, 10)

    assert sent["transactionHash"].to_0x_hex() == SENT_HASH
    assert rig.sidecar.receipts_asked[-1] == SENT_HASH
    assert len(rig.sidecar.polls) == 3


async def test_a_rejected_transfer_raises_policy_denied_approval_rejected(rig: Rig) -> None:
    rig.sidecar.answers = [approval("pending"), approval("rejected", reason="not this vendor")]

    with pytest.raises(PolicyDenied) as raised:
        await send_six_eth(rig.wallet, 10)

    assert not isinstance(raised.value, ApprovalPending)
    assert raised.value.reason == "approval_rejected"
    assert "not this vendor" in raised.value.detail
    assert raised.value.data["approval_id"] == APPROVAL_ID
    assert rig.sidecar.receipts_asked == []


async def test_an_expired_transfer_raises_policy_denied_approval_expired(rig: Rig) -> None:
    rig.sidecar.answers = [approval("expired", reason="nobody decided within 1 hour")]

    with pytest.raises(PolicyDenied) as raised:
        await send_six_eth(rig.wallet, 10)

    assert raised.value.reason == "approval_expired"
    assert "nobody decided" in raised.value.detail


async def test_an_approved_send_the_node_refused_raises_the_nodes_error(rig: Rig) -> None:
    refusal = {"code": -32000, "message": "insufficient funds for gas * price + value"}
    rig.sidecar.answers = [approval("approved", error=refusal)]

    with pytest.raises(Web3RPCError) as raised:
        await send_six_eth(rig.wallet, 10)

    assert not isinstance(raised.value, PolicyDenied)
    assert raised.value.rpc_response is not None
    assert raised.value.rpc_response["error"] == refusal


async def test_still_pending_at_the_deadline_raises_the_original_hold(rig: Rig) -> None:
    with pytest.raises(ApprovalPending) as raised:
        await send_six_eth(rig.wallet, 0.7)

    assert raised.value.approval_id == APPROVAL_ID
    assert raised.value.detail == HELD_DETAIL  # what the request does, not "still pending"
    assert raised.value.data["cost"] == "6"


async def test_waiting_never_outlasts_its_deadline(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(ApprovalPending):
        await rig.wallet.wait_for_approval(APPROVAL_ID, 1.2)

    assert loop.time() - started < 1.2 + 0.4  # a poll's round trip, not another interval
    assert rig.sidecar.polls[-1] - started >= 1.2 - 0.05  # one last look at the deadline
    assert 3 <= len(rig.sidecar.polls) <= 4  # at 0, 0.5, 1.0 and 1.2 s on a quiet machine


async def test_polls_are_spaced_by_the_interval(rig: Rig) -> None:
    rig.sidecar.answers = [approval("pending")] * 3 + [approval("approved", result=SENT_HASH)]

    await rig.wallet.wait_for_approval(APPROVAL_ID, 10)

    gaps = [b - a for a, b in zip(rig.sidecar.polls, rig.sidecar.polls[1:], strict=False)]
    assert len(gaps) == 3
    assert all(gap >= APPROVAL_POLL_S - 0.02 for gap in gaps)


async def test_a_zero_wait_asks_once(rig: Rig) -> None:
    with pytest.raises(ApprovalPending):
        await rig.wallet.wait_for_approval(APPROVAL_ID, 0)

    assert len(rig.sidecar.polls) == 1


async def test_wait_for_approval_returns_the_decided_approval(rig: Rig) -> None:
    rig.sidecar.answers = [approval("approved", result=SENT_HASH)]

    decided = await rig.wallet.wait_for_approval(APPROVAL_ID, 5)

    assert (decided.status, decided.result, decided.decided) == ("approved", SENT_HASH, True)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True])
async def test_a_wait_that_is_not_a_finite_duration_is_a_validation_error(
        rig: Rig, bad: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        await send_six_eth(rig.wallet, bad)

    assert raised.value.field == "wait_for_approval"
    assert rig.sidecar.polls == []


@pytest.fixture
def threaded_sidecar() -> Iterator[tuple[FakeSidecar, str]]:
    """The fake sidecar on a loop of its own, for the blocking `AgentWallet` (whose private
    loop must not be the test's)."""
    sidecar, loop = FakeSidecar(), asyncio.new_event_loop()
    runner = web.AppRunner(sidecar_app(sidecar))

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    port = runner.addresses[0][1]
    yield sidecar, f"http://127.0.0.1:{port}/rpc"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_the_blocking_wallet_waits_for_the_approval_too(
        threaded_sidecar: tuple[FakeSidecar, str]) -> None:
    sidecar, base = threaded_sidecar
    sidecar.answers = [approval("pending"), approval("approved", result=SENT_HASH)]

    with AgentWallet(agent_config(base)) as wallet:
        sent = wallet.transfer(RECIPIENT, 6 * 10**18, "ETH", wait_for_approval=10)
        decided = wallet.get_approval(APPROVAL_ID)

    assert sent["transactionHash"].to_0x_hex() == SENT_HASH
    assert decided.result == SENT_HASH


# -- get_approval -----------------------------------------------------------------------------
async def test_get_approval_reads_the_rpc_shape(rig: Rig) -> None:
    found = await rig.wallet.get_approval(APPROVAL_ID)

    assert found == Approval(approval_id=APPROVAL_ID, status="pending", expires_at=EXPIRES_AT)
    assert not found.decided


async def test_an_unknown_approval_is_an_invalid_params_rpc_error(rig: Rig) -> None:
    with pytest.raises(RpcError) as raised:
        await rig.wallet.get_approval("apr_someone_elses")

    assert raised.value.rpc_code == -32602


async def test_get_approval_on_another_chain_asks_that_chains_url(rig: Rig) -> None:
    await rig.wallet.get_approval(APPROVAL_ID, chain_id=OTHER_CHAIN)
    await rig.wallet.get_approval(APPROVAL_ID)

    assert rig.sidecar.polled_chains == [OTHER_CHAIN, CHAIN]


async def test_get_approval_on_a_chain_outside_the_config_is_a_validation_error(
        rig: Rig) -> None:
    with pytest.raises(ValidationError) as raised:
        await rig.wallet.get_approval(APPROVAL_ID, chain_id=1)

    assert raised.value.field == "chain_id"


@pytest.mark.parametrize("body", [None, [], {"approval_id": APPROVAL_ID, "status": "maybe",
                                              "expires_at": EXPIRES_AT},
                                  {"status": "pending", "expires_at": EXPIRES_AT},
                                  approval("pending", cost=6.5)])
def test_an_answer_that_is_not_an_approval_is_a_server_error(body: Any) -> None:
    with pytest.raises(ServerError):
        Approval.from_json(body)


def test_a_pending_approval_has_no_outcome_yet() -> None:
    with pytest.raises(ValueError, match="not decided"):
        decided_against(Approval.from_json(approval("pending")))


# -- the admin API (StudioClient) -------------------------------------------------------------
def admin_approval(number: int, status: str = "pending") -> dict[str, Any]:
    return {**approval(status), "approval_id": f"apr_{number}", "key_hash": SESSION,
            "session_label": "payouts", "agent": "bot", "method": "eth_sendTransaction",
            "chain_id": CHAIN, "cost": "6.5", "unit": "USD",
            "summary": "transfer 6 ETH to 0x4444...", "detail": {"to": RECIPIENT},
            "created_at": "2030-01-01T00:00:00Z", "decided_at": None, "decided_by": None}


@dataclass
class FakeAdmin:
    """`/api/v1/approvals`: `total` approvals served `page_size` at most per page."""

    total: int = 5
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    async def list(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path, dict(request.query), None))
        start = int(request.query.get("cursor", "0"))
        end = min(start + int(request.query["limit"]), self.total)
        return web.json_response({"items": [admin_approval(n) for n in range(start, end)],
                                  "next_cursor": str(end) if end < self.total else None})

    async def get(self, request: web.Request) -> web.Response:
        number = int(request.match_info["id"].removeprefix("apr_"))
        return web.json_response(admin_approval(number))

    async def reject(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(("POST", request.path, {}, body))
        number = int(request.match_info["id"].removeprefix("apr_"))
        return web.json_response({**admin_approval(number, "rejected"),
                                  "reason": body.get("reason"), "decided_by": "token:ops"})


@pytest.fixture
async def admin(aiohttp_server: MakeServer) -> AsyncIterator[tuple[FakeAdmin,
                                                                   AsyncStudioClient]]:
    fake = FakeAdmin()
    app = web.Application()
    app.router.add_get("/api/v1/approvals", fake.list)
    app.router.add_get("/api/v1/approvals/{id}", fake.get)
    app.router.add_post("/api/v1/approvals/{id}/reject", fake.reject)
    server = await aiohttp_server(app)
    async with AsyncStudioClient(str(server.make_url("/")), "sst_admin") as client:
        yield fake, client


async def test_list_approvals_follows_the_cursor_to_the_end(
        admin: tuple[FakeAdmin, AsyncStudioClient]) -> None:
    fake, client = admin

    found = await client.list_approvals(status="pending")

    assert [a.approval_id for a in found] == [f"apr_{n}" for n in range(5)]
    assert all(q["status"] == "pending" for _, _, q, _ in fake.requests)


async def test_list_approvals_with_a_limit_stops_there(
        admin: tuple[FakeAdmin, AsyncStudioClient]) -> None:
    fake, client = admin

    found = await client.list_approvals(limit=2)

    assert [a.approval_id for a in found] == ["apr_0", "apr_1"]
    assert [q["limit"] for _, _, q, _ in fake.requests] == ["2"]
    assert "status" not in fake.requests[0][2]


async def test_an_admin_approval_carries_its_figures_exactly(
        admin: tuple[FakeAdmin, AsyncStudioClient]) -> None:
    _, client = admin

    found = await client.get_approval("apr_3")

    assert str(found.cost) == "6.5" and found.unit == "USD"
    assert (found.key_hash, found.chain_id, found.method) == (SESSION, CHAIN,
                                                              "eth_sendTransaction")
    assert found.raw["summary"] == "transfer 6 ETH to 0x4444..."


async def test_reject_approval_sends_the_reason(
        admin: tuple[FakeAdmin, AsyncStudioClient]) -> None:
    fake, client = admin

    rejected = await client.reject_approval("apr_4", "not this vendor")

    assert fake.requests[-1][1:] == ("/api/v1/approvals/apr_4/reject", {},
                                     {"reason": "not this vendor"})
    assert (rejected.status, rejected.reason) == ("rejected", "not this vendor")


@pytest.mark.parametrize("bad", [0, -1, True])
async def test_a_list_limit_that_is_not_positive_is_a_validation_error(
        admin: tuple[FakeAdmin, AsyncStudioClient], bad: Any) -> None:
    _, client = admin

    with pytest.raises(ValidationError) as raised:
        await client.list_approvals(limit=bad)

    assert raised.value.field == "limit"


def test_a_token_client_has_no_way_to_approve() -> None:
    names = dir(StudioClient) + dir(AsyncStudioClient)

    assert [name for name in names if name.startswith("approve")] == []


def test_closing_the_wallet_ends_a_wait_in_another_thread(
        threaded_sidecar: tuple[FakeSidecar, str]) -> None:
    _, base = threaded_sidecar
    wallet = AgentWallet(agent_config(base))
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            wallet.wait_for_approval(APPROVAL_ID, 60)
        except BaseException as exc:  # whatever ends the wait is what the test checks
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    time.sleep(0.3)  # inside the wait
    wallet.close()
    waiter.join(timeout=5)

    assert not waiter.is_alive()  # stopping the loop under it would block it for ever
    assert isinstance(outcome[0], RuntimeError) and "closed" in str(outcome[0])
