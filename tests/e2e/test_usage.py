"""Usage (`last_used_at`, `request_count`) through a real `serve`: counted in memory, written in
batches about every second, and written once more on a graceful shutdown.

What counts as a request: every JSON-RPC call (each entry of a batch) made with an app
session's credential, reads included; a call made with an agent's credential counts for the
session it picks (`from`), and not at all when it picks none (a read).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from .harness import Studio, stop_studio
from .observability import eventually, start_observed_studio
from .rpc_client import rpc

pytestmark = pytest.mark.e2e

BURST = 50


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    # The default flush period (1 s): what an operator gets.
    running = start_observed_studio(tmp_path_factory.mktemp("usage"), "")
    try:
        yield running
    finally:
        stop_studio(running)


@pytest.fixture(scope="module")
def unflushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """A sidecar whose periodic flush never comes within a test: only shutdown writes usage."""
    running = start_observed_studio(tmp_path_factory.mktemp("unflushed"),
                                    "usage_flush_interval_s = 3600")
    try:
        yield running
    finally:
        stop_studio(running)


def shown(studio: Studio, session: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = studio.cli("sessions", "show", session["key_hash"])
    return result


def count_reaches(studio: Studio, session: dict[str, Any], expected: int) -> int:
    """The request count once it stops being below `expected` (it may not overshoot)."""

    def probe() -> int | None:
        count = int(shown(studio, session)["request_count"])
        return count if count >= expected else None

    return eventually(probe, what=f"request_count >= {expected}")


def block_number(studio: Studio, credential: str) -> None:
    assert "result" in rpc(studio, credential, "eth_blockNumber", [])


def test_request_count_is_exact_after_a_burst_of_concurrent_calls(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        list(pool.map(lambda _: block_number(studio, session["credential"]), range(BURST)))

    count_reaches(studio, session, BURST)
    time.sleep(1.5)  # one more flush period: nothing was counted twice

    assert shown(studio, session)["request_count"] == BURST


def test_last_used_at_is_the_time_of_the_last_call(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    assert shown(studio, session)["last_used_at"] is None
    before = time.time()
    block_number(studio, session["credential"])
    after = time.time()

    count_reaches(studio, session, 1)

    last_used = datetime.fromisoformat(shown(studio, session)["last_used_at"]).timestamp()
    # ISO timestamps may be cut to the second: allow that much either side.
    assert before - 1 <= last_used <= after + 1


def test_every_call_of_a_batch_counts(studio: Studio) -> None:
    session = studio.create_session(type_="app", fund=False)
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}
                       for i in range(4)]).encode()
    request = urllib.request.Request(
        studio.rpc_url(), data=body, method="POST",
        headers={"Authorization": f"Bearer {session['credential']}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert len(json.loads(response.read())) == 4

    assert count_reaches(studio, session, 4) == 4


def test_agent_calls_count_for_the_session_they_sign_for(studio: Studio) -> None:
    agent = studio.new_agent()
    used = studio.create_session(agent=agent, permissions="sign_message", fund=False)
    idle = studio.create_session(agent=agent, permissions="sign_message", fund=False)
    credential = used["credential"]  # the agent's: the same for both sessions
    for _ in range(3):
        answer = rpc(studio, credential, "personal_sign", ["0x68656c6c6f", used["address"]])
        assert "result" in answer, answer
    block_number(studio, credential)  # a read picks no session: counted for neither

    assert count_reaches(studio, used, 3) == 3
    time.sleep(1.5)
    assert (shown(studio, used)["request_count"], shown(studio, idle)["request_count"]) == (3, 0)


def test_counts_are_written_on_graceful_shutdown_and_survive_restarts(
        unflushed: Studio) -> None:
    session = unflushed.create_session(type_="app", fund=False)
    for _ in range(7):
        block_number(unflushed, session["credential"])
    assert shown(unflushed, session)["request_count"] == 0  # still in memory

    unflushed.stop_servers()  # SIGTERM
    assert shown(unflushed, session)["request_count"] == 7

    unflushed.start_server()
    for _ in range(5):
        block_number(unflushed, session["credential"])
    unflushed.stop_servers()

    assert shown(unflushed, session)["request_count"] == 12
