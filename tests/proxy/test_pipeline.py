"""The one signing pipeline (`proxy._pipeline`), every method through `RpcMethods.dispatch`.

The node is a `FakeUpstream` answering from a table, the ledger a `FakeLedger` that runs the
method's `decide` the way the store does, the keystore a `FakeKeystore`: what is tested here is
the pipeline's own order of steps and its answers, not the chain, SQLite or the key.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, cast

import pytest
from eth_utils import to_checksum_address
from session_studio.keystore import KeyUnsealError, LocalKeystore
from session_studio.policy import (
    Asset,
    ChainAssets,
    Permission,
    PriceBook,
    ReasonCode,
    SessionState,
)
from session_studio.proxy import Caller, ChainRuntime, FeeCache, RpcPlaneDeps
from session_studio.proxy._envelope import Call
from session_studio.proxy._errors import (
    InternalError,
    InvalidParams,
    PolicyDenied,
    UpstreamError,
)
from session_studio.proxy._methods import RpcMethods
from session_studio.store import CredentialOwner, ReservationStatus, Session, SessionType, Store

from .fakes import SILENT, Answer, FakeKeystore, FakeLedger, FakeUpstream, NodeError

CHAIN_ID = 31337
NOW = 1_749_988_830_000
ETHER = 10**18
RECIPIENT = "0x000000000000000000000000000000000000bEEF"
TOKEN = "0x00000000000000000000000000000000000000aa"
DAPP = "0x00000000000000000000000000000000000000bb"
_ETH = Asset(chain_id=CHAIN_ID, symbol="ETH", decimals=18)
_USDC = Asset(chain_id=CHAIN_ID, symbol="USDC", decimals=6)
ASSETS = ChainAssets(chain_id=CHAIN_ID, native=_ETH, tokens={TOKEN: _USDC})
USABLE = SessionState(revoked=False, expires_at_ms=NOW + 3_600_000, spent_in_window=0)
FILL: dict[str, Answer] = {
    "eth_estimateGas": hex(21_000),
    "eth_maxPriorityFeePerGas": hex(1),
    "eth_getBlockByNumber": {"baseFeePerGas": hex(1)},
    "eth_getTransactionCount": hex(7),
}
TYPED = {"types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                    {"name": "chainId", "type": "uint256"},
                                    {"name": "verifyingContract", "type": "address"}],
                   "Mail": [{"name": "contents", "type": "string"}]},
         "primaryType": "Mail",
         "domain": {"name": "demo", "chainId": CHAIN_ID, "verifyingContract": DAPP},
         "message": {"contents": "hello"}}


class NoPrices:
    async def price_book(self, chain_id: int) -> PriceBook:
        return PriceBook({})


def _session() -> Session:
    return Session(
        id="s1", workspace_id="w1", type=SessionType.APP, label="pipeline", agent_id=None,
        agent_name=None, key_hash="0x" + "00" * 32,
        address=to_checksum_address(os.urandom(20)),
        permissions=(Permission.TRANSFER, Permission.SIGN_MESSAGE, Permission.SIGN_TYPED_DATA),
        chain_ids=(CHAIN_ID,), tokens=("ETH", "USDC"), limit_unit="ETH",
        per_tx_limit=10 * ETHER, daily_limit=100 * ETHER, created_at_ms=NOW - 1000,
        expires_at_ms=NOW + 3_600_000, revoked_at_ms=None, lineage_id="s1",
        predecessor_id=None, credential_version=1, contracts={DAPP: None})


class Plane:
    """One RPC plane over fakes: the ledger's state, the node's table, the keystore's mood."""

    def __init__(self, table: dict[str, Answer] | None = None, *,
                 state: SessionState = USABLE, keystore: FakeKeystore | None = None) -> None:
        self.session = _session()
        self.upstream = FakeUpstream(table if table is not None else FILL)
        self.ledger = FakeLedger(state=state)
        self.keystore = keystore or FakeKeystore()
        self.chain = ChainRuntime(chain_id=CHAIN_ID, assets=ASSETS, upstream=self.upstream,
                         fees=FeeCache(self.upstream, ttl_s=0),
                                  max_fee_per_gas=None)
        self.deps = RpcPlaneDeps(
            store=cast(Store, self.ledger), keystore=cast(LocalKeystore, self.keystore),
            chains={CHAIN_ID: self.chain}, prices=NoPrices(), clock=lambda: NOW,
            window_mode="rolling_24h", max_outstanding_signed=4, max_body_bytes=1 << 20,
            max_batch_size=10, allow_raw_transactions=False)
        self.methods = RpcMethods(self.deps)

    def caller(self) -> Caller:
        return Caller(owner=CredentialOwner(workspace_id="w1", kind="session", owner_id="s1"),
                      sessions=(self.session,), chain=self.chain, chain_id=CHAIN_ID,
                      request_id="req-1")

    async def call(self, method: str, params: list[Any]) -> Any:
        return await self.methods.dispatch(self.caller(),
                                           Call(method=method, params=params, id=1))

    def transfer(self, **extra: Any) -> dict[str, Any]:
        return {"from": self.session.address, "to": RECIPIENT, "value": hex(10**15), **extra}

    def params(self, method: str) -> list[Any]:
        if method in ("eth_sendTransaction", "eth_signTransaction"):
            return [self.transfer()]
        if method == "personal_sign":
            return ["0x68656c6c6f", self.session.address]
        return [self.session.address, TYPED]


SIGNING_METHODS = ["eth_sendTransaction", "eth_signTransaction", "personal_sign",
                   "eth_signTypedData_v4"]


def _with(answers: dict[str, Answer]) -> dict[str, Answer]:
    return {**FILL, **answers}


@pytest.mark.parametrize("method", SIGNING_METHODS)
async def test_every_signing_method_is_decided_once_inside_one_reservation(method: str) -> None:
    plane = Plane(_with({"eth_sendRawTransaction": FakeKeystore.TX_HASH}))
    await plane.call(method, plane.params(method))
    assert plane.ledger.decided == 1
    assert [row["method"] for row in plane.ledger.rows] == [method]


@pytest.mark.parametrize("method", SIGNING_METHODS)
async def test_a_refusal_in_the_reservation_signs_nothing_for_any_method(method: str) -> None:
    plane = Plane(state=SessionState(revoked=True, expires_at_ms=NOW + 1, spent_in_window=0))
    with pytest.raises(PolicyDenied) as refused:
        await plane.call(method, plane.params(method))
    assert refused.value.data["reason"] == ReasonCode.SESSION_REVOKED
    assert plane.keystore.signed == [] and plane.ledger.rows == []
    assert plane.upstream.asked("eth_sendRawTransaction") == 0


@pytest.mark.parametrize("method", SIGNING_METHODS)
async def test_a_keystore_failure_is_answered_internal_error_for_every_method(
        method: str) -> None:
    plane = Plane(keystore=FakeKeystore(failure=KeyUnsealError("sealed key does not open")))
    with pytest.raises(InternalError) as failed:
        await plane.call(method, plane.params(method))
    assert failed.value.message == "internal error: signing failed"
    assert failed.value.data == {"request_id": "req-1"}
    assert plane.ledger.rows == []


async def test_off_chain_signatures_are_answered_as_hex_and_reserve_no_nonce() -> None:
    plane = Plane({})  # neither needs the node
    for method in ("personal_sign", "eth_signTypedData_v4"):
        assert await plane.call(method, plane.params(method)) == "0x" + "1b" * 65
    assert [(row["nonce"], row["tx_hash"], row["raw_tx"]) for row in plane.ledger.rows] == [
        (None, None, None), (None, None, None)]
    assert plane.upstream.calls == []


async def test_a_send_the_node_accepts_answers_its_hash_and_is_broadcast() -> None:
    plane = Plane(_with({"eth_sendRawTransaction": FakeKeystore.TX_HASH}))
    answer = await plane.call("eth_sendTransaction", [plane.transfer()])
    assert answer == FakeKeystore.TX_HASH
    assert plane.upstream.calls[-1] == ("eth_sendRawTransaction",
                                        ["0x" + FakeKeystore.RAW_TX.hex()])
    assert plane.ledger.rows[0]["nonce"] == 7  # the node's pending count
    assert plane.ledger.rows[0]["raw_tx"] == FakeKeystore.RAW_TX  # kept for crash recovery
    assert plane.ledger.outcomes == [ReservationStatus.BROADCAST]


async def test_a_signed_transaction_is_handed_back_and_never_broadcast() -> None:
    plane = Plane()
    answer = await plane.call("eth_signTransaction", [plane.transfer()])
    assert answer == "0x" + FakeKeystore.RAW_TX.hex()
    assert plane.upstream.asked("eth_sendRawTransaction") == 0
    assert plane.ledger.outcomes == [] and plane.ledger.releases == []


@pytest.mark.parametrize(("explicit", "pooled"), [(None, True), (hex(7), False)])
async def test_a_send_the_node_refuses_is_released_and_the_nodes_error_answered(
        explicit: str | None, pooled: bool) -> None:
    plane = Plane(_with({"eth_sendRawTransaction": NodeError("insufficient funds for gas")}))
    tx = plane.transfer() if explicit is None else plane.transfer(nonce=explicit)
    with pytest.raises(UpstreamError, match="insufficient funds"):
        await plane.call("eth_sendTransaction", [tx])
    # The sidecar's own nonce goes back to the pool; a client's explicit one never does.
    assert plane.ledger.releases == [pooled]
    assert plane.ledger.outcomes == []


async def test_a_send_the_node_calls_already_known_stays_reserved_as_broadcast() -> None:
    plane = Plane(_with({"eth_sendRawTransaction": NodeError("already known")}))
    with pytest.raises(UpstreamError, match="already known"):
        await plane.call("eth_sendTransaction", [plane.transfer()])
    assert plane.ledger.outcomes == [ReservationStatus.BROADCAST]
    assert plane.ledger.releases == []


async def test_a_fresh_send_called_stale_is_released_without_pooling_its_nonce() -> None:
    plane = Plane(_with({"eth_sendRawTransaction": NodeError("nonce too low")}))
    with pytest.raises(UpstreamError):
        await plane.call("eth_sendTransaction", [plane.transfer()])
    assert plane.ledger.releases == [False]
    assert plane.upstream.asked("eth_getTransactionReceipt") == 0


async def test_a_silent_node_leaves_the_send_unknown_and_names_its_hash() -> None:
    plane = Plane(_with({"eth_sendRawTransaction": SILENT}))
    with pytest.raises(InternalError) as failed:
        await plane.call("eth_sendTransaction", [plane.transfer()])
    assert failed.value.data == {"tx_hash": FakeKeystore.TX_HASH, "request_id": "req-1"}
    assert plane.ledger.outcomes == [ReservationStatus.UNKNOWN]
    assert plane.ledger.releases == []


@pytest.mark.parametrize(("node", "asked"), [(FakeKeystore.TX_HASH, 1),
                                              (NodeError("replacement transaction underpriced"),
                                               2)])
async def test_the_pending_nonce_is_asked_again_only_after_the_node_refused(
        node: Answer, asked: int) -> None:
    plane = Plane(_with({"eth_sendRawTransaction": node}))
    for _ in range(2):
        with contextlib.suppress(UpstreamError):
            await plane.call("eth_sendTransaction", [plane.transfer()])
    assert plane.upstream.asked("eth_getTransactionCount") == asked


async def test_a_request_refused_whatever_the_fill_never_reaches_the_node() -> None:
    # transferFrom of someone else's allowance: estimating its gas would revert, and the client
    # would get the node's revert instead of the policy's reason (POLICY.md catalogue 2).
    plane = Plane({})  # any upstream call fails the test
    victim = "00" * 12 + "11" * 20
    data = "0x23b872dd" + victim + "00" * 12 + plane.session.address[2:].lower() + f"{5:064x}"
    tx = {"from": plane.session.address, "to": TOKEN, "data": data}
    with pytest.raises(PolicyDenied) as refused:
        await plane.call("eth_sendTransaction", [tx])
    assert refused.value.data["reason"] == ReasonCode.CONTRACT_NOT_ALLOWED
    assert plane.upstream.calls == []
    assert plane.ledger.decided == 1  # still decided (and recorded) in the reservation
    assert plane.keystore.signed == []


async def test_an_explicit_nonce_past_the_next_one_is_invalid_params_and_never_signed() -> None:
    plane = Plane()
    with pytest.raises(InvalidParams, match="would leave a gap"):
        await plane.call("eth_sendTransaction", [plane.transfer(nonce=hex(9))])  # next is 7
    assert plane.keystore.signed == [] and plane.ledger.rows == []
    assert plane.upstream.asked("eth_sendRawTransaction") == 0
