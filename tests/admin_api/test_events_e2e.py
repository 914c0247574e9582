"""The admin API of a real sidecar: two anvil chains and `session-studio serve` (the e2e
harness), real signing requests on the RPC plane, and the admin listener answering what they
did: recent decisions (events), usage, and a revoke that stops signing at once."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from e2e.harness import Studio, running_studio
from e2e.rpc_client import assert_policy_denied, eth_transfer, fresh_address, post, send

pytestmark = pytest.mark.e2e
T = TypeVar("T")


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with running_studio(tmp_path_factory.mktemp("admin-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def token(sidecar: Studio) -> str:
    created: dict[str, Any] = sidecar.cli("tokens", "create", "--name", "e2e",
                                          "--scope", "sessions:write")
    secret: str = created["token"]
    return secret


def admin_api(sidecar: Studio, token: str, method: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{sidecar.admin_port}/api/v1{path}", method=method,
        headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def eventually(probe: Callable[[], T | None], *, what: str, timeout_s: float = 20) -> T:
    """Poll until `probe` returns something (the deadline only stops a hanging test)."""
    deadline = time.monotonic() + timeout_s
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.1)
    return found


def test_events_list_the_decisions_of_real_signing_requests(sidecar: Studio,
                                                            token: str) -> None:
    session = sidecar.create_session(type_="app", per_tx="50", daily="200")
    to = fresh_address()
    allowed = send(sidecar, session, eth_transfer(session, to, value=10**15))  # ~3 USD
    refused = send(sidecar, session, eth_transfer(session, to, value=10**17))  # ~300 USD
    assert "result" in allowed, allowed
    assert_policy_denied(refused, "per_tx_limit_exceeded")

    status, events = admin_api(sidecar, token, "GET",
                               f"/sessions/{session['key_hash']}/events?limit=10")

    assert status == 200
    newest, oldest = events["items"]
    assert newest["method"] == oldest["method"] == "eth_sendTransaction"
    assert newest["allowed"] is False
    assert newest["reason"] == "per_tx_limit_exceeded"
    assert newest["tx_hash"] is None
    assert oldest["allowed"] is True
    assert oldest["reason"] is None
    assert oldest["tx_hash"] == allowed["result"]
    assert float(oldest["cost"]) > 0  # a decimal string: value plus worst-case gas
    assert newest["at"] >= oldest["at"]


def test_events_honour_the_limit(sidecar: Studio, token: str) -> None:
    session = sidecar.create_session(type_="app", per_tx="50", daily="200")
    for _ in range(3):
        send(sidecar, session, eth_transfer(session, fresh_address(), value=10**14))

    status, events = admin_api(sidecar, token, "GET",
                               f"/sessions/{session['key_hash']}/events?limit=2")

    assert status == 200
    assert len(events["items"]) == 2


def test_usage_counts_requests_and_spend_after_signing(sidecar: Studio, token: str) -> None:
    session = sidecar.create_session(type_="app", per_tx="50", daily="200")
    send(sidecar, session, eth_transfer(session, fresh_address(), value=10**15))

    def counted() -> dict[str, Any] | None:
        _, usage = admin_api(sidecar, token, "GET", f"/sessions/{session['key_hash']}/usage")
        return usage if usage["request_count"] >= 1 else None

    usage = eventually(counted, what="request_count >= 1")
    assert usage["last_used_at"] is not None
    assert float(usage["spent_in_window"]) > 0
    assert float(usage["utilization"]) > 0


def test_a_session_revoked_through_the_api_can_no_longer_sign(sidecar: Studio,
                                                             token: str) -> None:
    session = sidecar.create_session(type_="app", per_tx="50", daily="200")
    assert "result" in send(sidecar, session, eth_transfer(session, fresh_address()))

    status, revoked = admin_api(sidecar, token, "POST",
                                f"/sessions/{session['key_hash']}/revoke")
    http_status, answer = post(sidecar, session["credential"], "eth_sendTransaction",
                               [eth_transfer(session, fresh_address())])

    assert status == 200
    assert revoked["status"] == "revoked"
    assert http_status == 401  # an app session's credential dies with it
    assert answer["error"]["code"] == 4100


def test_an_agent_session_rotated_through_the_api_signs_with_the_new_key(
        sidecar: Studio, token: str) -> None:
    session = sidecar.create_session(type_="agent")

    status, successor = admin_api(sidecar, token, "POST",
                                  f"/sessions/{session['key_hash']}/rotate")
    sidecar.fund(successor["address"])
    old = send(sidecar, session, eth_transfer(session, fresh_address()))
    new = send(sidecar, successor, eth_transfer(successor, fresh_address()))

    assert status == 200
    assert successor["credential"] == session["credential"]
    assert "error" in old  # the old key is gone
    assert "result" in new, new
